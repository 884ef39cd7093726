"""One set of hardware options on every command that simulates (cli/hwopts.py)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.cli.hwopts import FIELD_FLAGS, build_configs
from nnaccel.errors import HardwareError
from nnaccel.hardware import PRESETS, Hardware


def test_defaults_flags_and_presets():
    (c,) = build_configs()
    assert c.hardware == Hardware(name="default") and c.dataflow == "auto"
    assert [c.label for c in build_configs(defaults=tuple(PRESETS))] == list(PRESETS)
    # --array/--buffer without --config describe one configuration, even where the default is two
    (c,) = build_configs(array="16x16", buffer="256KB", defaults=tuple(PRESETS))
    assert (c.hardware.Pr, c.hardware.buffer_bytes, c.label) == (16, 256 * 1024, "16x16:256KB")
    # flags apply on top of every configuration given
    cs = build_configs(config_specs=["paper-8x8", "16x16:256KB"], sparsity=0.0, objective="energy")
    assert [c.hardware.sparsity for c in cs] == [0.0, 0.0]
    assert [c.label for c in cs] == ["paper-8x8+sparsity=0", "16x16:256KB+sparsity=0"]
    assert all(c.objective == "energy" for c in cs)
    # unchanged presets keep their name, and with it the paper's Table 3 to compare against
    (c,) = build_configs(presets=["paper-16x16"])
    assert c.label == "paper-16x16" and c.paper_key == "16x16_128KB"


def test_a_toml_file_as_a_configuration_and_on_top_of_one(tmp_path):
    hw = tmp_path / "big.toml"
    hw.write_text('array = "32x32"\nbuffer = "1MB"\ndram_latency_cycles = 50\n')
    (c,) = build_configs(config_specs=[str(hw)])
    assert (c.label, c.hardware.Pr, c.hardware.dram_latency_cycles) == ("big", 32, 50)
    lat = tmp_path / "slow.toml"
    lat.write_text("dram_latency_cycles = 400\n")
    cs = build_configs(config_specs=["paper-8x8", "paper-16x16"], hw_file=str(lat))
    assert [c.hardware.dram_latency_cycles for c in cs] == [400, 400]
    assert [c.hardware.Pr for c in cs] == [8, 16] and cs[0].label == "paper-8x8+slow.toml"


@pytest.mark.parametrize("kwargs", [{"presets": ["paper-4x4"]}, {"config_specs": ["banana"]},
                                    {"array": "0x8"}, {"buffer": "12XB"}])
def test_bad_options_raise(kwargs):
    with pytest.raises(HardwareError):
        build_configs(**kwargs)


@pytest.mark.parametrize("command", [["run", "sqnxt23v5"], ["compare", "sqnxt23v5"],
                                     ["plot", "layers", "sqnxt23v5"], ["report", "sqnxt23v5"]])
def test_every_simulating_command_takes_the_same_options(command):
    r = CliRunner().invoke(main, [*command, "--help"])
    assert r.exit_code == 0
    for option in ("--config", "--preset", "--hw", "--array", "--buffer", "--sparsity",
                   "--dataflow", "--objective"):
        assert option in r.output, (command, option)


def test_run_on_two_configurations_and_compare_alias(tmp_path):
    out = tmp_path / "runs.json"
    r = CliRunner().invoke(main, ["run", "sqnxt23v5", "--config", "paper-8x8", "--config",
                                  "16x16:128KB", "--json", str(out), "--format", "csv"])
    assert r.exit_code == 0, r.output
    runs = json.loads(out.read_text())
    assert [x["config"] for x in runs] == ["paper-8x8", "16x16:128KB"]
    assert runs[0]["totals"]["cycles"] > runs[1]["totals"]["cycles"]
    assert r.output.splitlines()[0].startswith("config,layer,")
    r = CliRunner().invoke(main, ["compare", "sqnxt23v5", "--config", "16x16:128KB", "--dataflow",
                                  "ws", "--format", "json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.output)
    assert row["config"] == "16x16:128KB" and row["paper_time"] == 1.0  # the preset's paper figure


def test_validate_the_readme_glob():
    from nnaccel.loader import networks_dir

    files = sorted(str(p) for p in networks_dir().glob("*.json"))
    r = CliRunner().invoke(main, ["validate", *files])
    assert r.exit_code == 0, r.output
    assert len(r.output.splitlines()) == len(files) and all(
        line.startswith("ok ") for line in r.output.splitlines())


def test_warm_up_says_so_when_there_is_nothing_to_compile():
    from nnaccel.cli import progress
    from nnaccel.engines import warm

    warm.compile_search()
    r = CliRunner().invoke(main, ["warm-up"])
    assert r.exit_code == 0 and "already compiled" in r.output
    assert progress.warm_up() is None
    assert progress.estimate_seconds() > 0


# -- the integer field flags: --batch, --dma-outstanding, --word-bytes, --psum-bytes, ports ----

@pytest.mark.parametrize(("field", "value"), [
    ("batch", 3), ("dma_outstanding", 4), ("word_bytes", 1), ("psum_bytes", 8),
    ("buffer_read_port_words", 12), ("buffer_write_port_words", 6)])
def test_a_field_flag_reaches_the_hardware_of_every_configuration(field, value):
    cs = build_configs(config_specs=["paper-8x8", "paper-16x16"], **{field: value})
    assert [getattr(c.hardware, field) for c in cs] == [value, value]
    assert [(c.hardware.Pr, c.hardware.buffer_bytes) for c in cs] == [(8, 32 * 1024),
                                                                      (16, 128 * 1024)]
    flag = FIELD_FLAGS[field][0][2:]
    assert [c.label for c in cs] == [f"paper-8x8+{flag}={value}", f"paper-16x16+{flag}={value}"]
    # a flag equal to the configuration's own value changes nothing, not even the name
    (c,) = build_configs(presets=["paper-8x8"], **{field: getattr(PRESETS["paper-8x8"], field)})
    assert c.hardware == PRESETS["paper-8x8"] and c.label == "paper-8x8"


def test_field_flags_apply_over_the_hw_file_which_applies_over_the_configuration(tmp_path):
    hw = tmp_path / "wide.toml"
    hw.write_text("batch = 5\ndma_outstanding = 3\nword_bytes = 4\npsum_bytes = 8\n")
    (c,) = build_configs(presets=["paper-16x16"], hw_file=str(hw), batch=2)
    h = c.hardware
    assert (h.Pr, h.batch, h.dma_outstanding, h.word_bytes, h.psum_bytes) == (16, 2, 3, 4, 8)
    assert c.label == "paper-16x16+wide.toml+batch=2"
    # the word size checked against the psum of the file, not of the default hardware
    (c,) = build_configs(hw_file=str(hw), word_bytes=8, psum_bytes=16)
    assert (c.hardware.word_bytes, c.hardware.psum_bytes, c.hardware.batch) == (8, 16, 5)


def test_field_flags_on_the_command_line(tmp_path):
    out = tmp_path / "run.json"
    r = CliRunner().invoke(main, ["run", "sqnxt23v5", "--batch", "2", "--dma-outstanding", "2",
                                  "--word-bytes", "1", "--read-port-words", "40",
                                  "--write-port-words", "16", "--json", str(out), "-q"])
    assert r.exit_code == 0, r.output
    h = json.loads(out.read_text())["hardware"]
    assert (h["batch"], h["dma_outstanding"], h["word_bytes"], h["psum_bytes"]) == (2, 2, 1, 4)
    assert (h["buffer_read_port_words"], h["buffer_write_port_words"]) == (40, 16)


@pytest.mark.parametrize(("args", "flag", "needle"), [
    (["--batch", "0"], "--batch 0", "from 1 to 1,048,576"),
    (["--batch", str(2**20 + 1)], "--batch 1048577", "from 1 to 1,048,576"),
    (["--dma-outstanding", "0"], "--dma-outstanding 0", "from 1 to 1,024"),
    (["--dma-outstanding", "1025"], "--dma-outstanding 1025", "from 1 to 1,024"),
    (["--word-bytes", "9"], "--word-bytes 9", "from 1 to 8"),
    (["--psum-bytes", "17"], "--psum-bytes 17", "from 1 to 16"),
    (["--read-port-words", "-1"], "--read-port-words -1", "from 0 to 65,536"),
    (["--write-port-words", "65537"], "--write-port-words 65537", "from 0 to 65,536"),
    (["--word-bytes", "8"], "--word-bytes 8", "psum_bytes (4) must be a multiple of word_bytes (8)"),
    (["--word-bytes", "4", "--psum-bytes", "6"], "--word-bytes 4 --psum-bytes 6",
     "psum_bytes (6) must be a multiple of word_bytes (4); e.g. --psum-bytes 8"),
])
@pytest.mark.parametrize("command", [["run", "sqnxt23v5"], ["compare", "sqnxt23v5"]])
def test_a_bad_field_flag_is_one_line_naming_the_flag_and_its_range(command, args, flag, needle):
    r = CliRunner().invoke(main, [*command, *args])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {flag}: ") and needle in lines[0]


def test_a_field_flag_that_is_not_a_number_is_one_line(tmp_path):
    r = CliRunner().invoke(main, ["run", "sqnxt23v5", "--batch", "two"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "'--batch'" in r.output and "'two' is not a valid integer" in r.output


def test_run_batch_2_totals_are_the_batch_2_hardware_s(tmp_path):
    from nnaccel.loader import load_network
    from nnaccel.simulate import simulate

    out = tmp_path / "run.json"
    r = CliRunner().invoke(main, ["run", "sqnxt23v5", "--batch", "2", "--json", str(out), "-q"])
    assert r.exit_code == 0, r.output
    totals = json.loads(out.read_text())["totals"]
    net = load_network("sqnxt23v5")
    two, one = simulate(net, Hardware(batch=2)), simulate(net, Hardware())
    assert totals["cycles"] == two.cycles and totals["batch"] == 2
    assert totals["cycles_per_image"] == two.cycles / 2
    # the MACs are the batch's too, so MACs per cycle and utilization are not halved
    assert totals["macs"] == 2 * one.macs == two.macs
    # the printed totals say it is a batch and give the per-image figures beside
    first = r.output.splitlines()[0]
    assert f"batch of 2: {two.cycles:,} cycles" in first
    assert f"per image {round(two.cycles / 2):,} cycles" in first
    assert "per image)" in r.output


def test_the_field_flags_are_on_every_simulating_command():
    for command in (["run"], ["compare"], ["plot", "layers"], ["report"]):
        r = CliRunner().invoke(main, [*command, "--help"])
        assert r.exit_code == 0
        for flag, _ in FIELD_FLAGS.values():
            assert flag in r.output, (command, flag)
