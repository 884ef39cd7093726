"""Inputs that help: 'did you mean' for networks, presets and options; a range that stops
short of its end says so, a range too fine or stuck at 0 suggests a step; sweeps keep their own
stores; pareto --set says what it combined; no number split across lines at 80 columns."""

from __future__ import annotations

import warnings

import pytest
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.cli.sweep_cmd import default_store
from nnaccel.sweep.axes import RangeNote, SweepError, parse_axis
from nnaccel.sweep.export import write_rows


def invoke(*args: object, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], **kw)


def one_line_error(r) -> str:
    assert r.exit_code == 2, r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


@pytest.mark.parametrize("args, hint", [
    (["run", "sqnxt23v6"], "did you mean sqnxt23v5?"),
    (["run", "1.0-SqNxt-23V5"], "did you mean 1.0-SqNxt-23v5?"),
    (["run", "mobilnet"], "did you mean mobilenet?"),
    (["run", "sqnxt23", "--preset", "paper-16"], "did you mean paper-16x16?"),
    (["compare", "sqnxt23", "--config", "paper-8x9"], "did you mean paper-8x8?"),
    (["run", "sqnxt23", "--arary", "8x8"], "Did you mean '--array'?"),
    (["sweep", "sqnxt23", "--db", "x.db"], "did you mean '--store'?"),
    (["run", "--network", "sqnxt23"], "give the network as an argument (NET)"),
])
def test_a_misspelling_gets_a_suggestion(args, hint):
    assert hint in one_line_error(invoke(*args))


def test_no_suggestion_when_nothing_is_close():
    assert "did you mean" not in one_line_error(invoke("run", "qqqqqqqq")).lower()


@pytest.mark.parametrize("spec, values, note", [
    ("4x4..30x30", [(4, 4), (8, 8), (16, 16)], "stops at 16x16, short of 30x30 (the next step,"
                                                " 32x32, passes it); write 4x4..32x32"),
    ("4x4..32x32", [(4, 4), (8, 8), (16, 16), (32, 32)], None),
])
def test_a_range_that_stops_short_says_so(spec, values, note):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert parse_axis("array", spec) == values
    notes = [str(w.message) for w in caught if issubclass(w.category, RangeNote)]
    assert (notes == []) if note is None else (len(notes) == 1 and note in notes[0])


def test_a_range_keeps_its_step_in_the_suggestion():
    with pytest.warns(RangeNote, match=r"write 0\.\.0\.6\+0\.2 to include"):
        assert parse_axis("sparsity", "0..0.5+0.2") == [0.0, 0.2, 0.4]


@pytest.mark.parametrize("axis, spec, hint", [
    ("sparsity", "0..0.6", "starts at 0, which multiplying by 2 never moves; give a step to"
                           " add, e.g. 0..0.6+0.1"),
    ("latency", "1..100000+1", "more than 10,000 values; a coarser step, e.g. 1..100000+10000"),
])
def test_a_range_too_fine_or_stuck_suggests_a_step(axis, spec, hint):
    with pytest.raises(SweepError, match=hint.replace("+", r"\+").replace(".", r"\.")):
        parse_axis(axis, spec)


def test_each_sweep_has_a_store_named_after_it():
    assert default_store(("all",), None) == "sweep-all.db"
    assert default_store(("sqnxt:blocks=21,layout=v5,conv1=5",), None) == \
        "sweep-sqnxt-blocks-21-layout-v5-conv1-5.db"
    assert default_store((), "plans/big.toml") == "plans/big.db"
    many = tuple(f"networks/net{i}.json" for i in range(40))
    name = default_store(many, None)
    assert len(name) < 80 and name != default_store(many[:-1], None)


def test_a_sweep_without_store_writes_its_own_and_notes_a_short_range(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("sweep", "squeezenet-v1.1", "--array", "8x8..12x12", "--buffer", "64KB", "-j", "1")
    assert r.exit_code == 0, r.output
    assert "note: axis array: range '8x8..12x12' stops at 8x8" in r.stderr
    assert (tmp_path / "sweep-squeezenet-v1.1.db").is_file()


def _rows() -> list[dict]:
    from nnaccel.sweep.pareto import CONFIG_COLUMNS

    rows = []
    for net, arrays in (("a", ("4x4", "8x8", "16x16")), ("b", ("4x4", "8x8", "32x32"))):
        for k, array in enumerate(arrays):
            row = dict.fromkeys(CONFIG_COLUMNS, 0)
            row.update(network=net, array=array, area_mm2=1.0 + k, energy_total=10.0 - k,
                       cycles=5.0 - k, edp=1.0, error="", buffer_bytes=32768,
                       dram_bandwidth_bytes_per_s=16e9, word_bits=16, dataflow="auto",
                       objective="cycles")
            rows.append(row)
    return rows


def test_pareto_set_says_what_it_combined_and_takes_format(tmp_path):
    src = tmp_path / "rows.csv"
    write_rows(src, _rows(), list(_rows()[0]))
    r = invoke("pareto", src, "--set")
    assert r.exit_code == 0, r.output
    assert ("the set's front combines 2 networks over the 2 configurations every one of them"
            " ran (4 points); 2 other configurations left out, not run by every network") \
        in " ".join(r.stderr.split())
    r = invoke("pareto", src, "--format", "csv")
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and lines[0].startswith("network,configuration,area_mm2,energy_total")
    assert len(lines) == 1 + 6  # every configuration is on its network's front here
    r = invoke("pareto", src, "--format", "json")
    assert r.exit_code == 0 and r.stdout.lstrip().startswith(("[", "{"))
    r = invoke("plot", "pareto", src, "--set", "-o", tmp_path / "front.png")
    assert r.exit_code == 0 and "2 other configurations left out" in " ".join(r.stderr.split())


def test_validate_never_splits_a_number_at_80_columns():
    r = invoke("validate", "sqnxt23", "sqnxt23v5", "mobilenet",
               env={"TTY_COMPATIBLE": "1", "COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert len(lines) > 3 and all(len(line) <= 80 for line in lines)
    # a line may end in the space it broke at: words joined by one space, whatever the
    # paths' lengths put where; a number split across lines would come out as two words
    text = " ".join(" ".join(lines).split())
    for figure in ("277,999,808 MACs", "717,280 params", "568,740,352 MACs"):
        assert figure in text
