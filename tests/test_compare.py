"""`nnaccel compare`: configurations, the rows and their normalization, files, errors."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from types import MappingProxyType

import pytest
from bad_networks import GOOD
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.cli.compare_cmd import ENGINE_NAMES
from nnaccel.compare import COLUMNS, compare_rows, parse_config, parse_configs, run_configs
from nnaccel.energy import LEVELS
from nnaccel.engines import layout as L
from nnaccel.errors import HardwareError
from nnaccel.hardware import preset
from nnaccel.loader import load_network
from nnaccel.simulate import ENGINES, LayerResult, Result


def tiny(tmp_path: Path, name: str, width: int, paper: dict | None = None) -> Path:
    """GOOD with `width` channels in its convs (a bigger width, more cycles), as a file."""
    data = copy.deepcopy(GOOD)
    data["name"] = name
    data["paper"] = {"params_m": 0.001, **(paper or {})}
    for layer in data["layers"]:
        for shape in [*layer["input_shapes"], layer["output_shape"]]:
            if shape[0] in (4, 8) and layer["type"] != "fc":
                shape[0] = shape[0] // 4 * width
        if layer["type"] == "fc":
            layer["input_shapes"][0][0] = width
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    load_network(path)  # valid, or the test is wrong
    return path


@pytest.fixture(scope="module")
def nets(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("nets")
    return [
        tiny(d, "small", 4, {"time_8x8_32KB": 1.0, "energy_8x8_32KB": 1e5}),
        tiny(d, "large", 16, {"time_8x8_32KB": 2.5, "time_16x16_128KB": 1.5}),
        tiny(d, "unlisted", 8),
    ]


# -- configurations -----------------------------------------------------------------------

def test_parse_config():
    c = parse_config("paper-8x8")
    assert c.label == "paper-8x8" and c.hardware == preset("paper-8x8") and c.paper_key == "8x8_32KB"
    c = parse_config(" 16x16 : 256KB ")
    assert c.label == "16x16:256KB" and c.hardware.pes == 256 and c.hardware.buffer_bytes == 262144
    assert c.paper_key is None  # not a configuration of Table 3
    assert parse_config("16x16:128KB").paper_key == "16x16_128KB"  # equal to the preset
    assert [c.label for c in parse_configs([])] == ["paper-8x8", "paper-16x16"]
    assert [c.label for c in parse_configs(["8x8:32KB", "8x8:32KiB"])] == ["8x8:32KB"]


@pytest.mark.parametrize("text", ["8x8", "paper-4x4", "0x8:32KB", "8x8:12XB", "8x8:0", "8x8:32KB:1", ""])
def test_parse_config_rejects(text):
    with pytest.raises(HardwareError, match="config"):
        parse_config(text)


def test_engine_choices_match_simulate():
    assert ENGINE_NAMES == ENGINES


# -- the rows, on hand-made results (no engine) ----------------------------------------------

def fake_result(path: Path, cycles: int, hw) -> Result:
    net = load_network(path)
    counts = [0] * L.C_LEN
    counts[L.C_CYCLES] = counts[L.C_COMPUTE] = cycles
    counts[L.C_OPS] = net.macs
    energy = {lvl: 0.0 for lvl in LEVELS}
    first = LayerResult(net.layers[0], None, tuple(counts), MappingProxyType({**energy, "mac": 10.0}),
                        hw.pes)
    rest = [LayerResult(layer, None, (0,) * L.C_LEN, MappingProxyType(energy), hw.pes)
            for layer in net.layers[1:]]
    return Result(net, hw, (first, *rest))


def test_rows_normalize_per_configuration_and_compare_like_with_like(nets):
    c8, c16 = parse_config("paper-8x8"), parse_config("paper-16x16")
    runs = [(c8, [fake_result(nets[0], 100, c8.hardware), fake_result(nets[1], 160, c8.hardware),
                  fake_result(nets[2], 50, c8.hardware)]),
            (c16, [fake_result(nets[0], 70, c16.hardware), fake_result(nets[1], 140, c16.hardware),
                   fake_result(nets[2], 90, c16.hardware)])]
    rows = compare_rows(runs)
    assert [tuple(r) for r in rows] == [COLUMNS] * 6
    by = {(r["config"], r["model"]): r for r in rows}
    # normalized to the fastest of the run, per configuration: exactly 1.0 for it
    assert by["paper-8x8", "unlisted"]["time_normalized"] == 1.0
    assert by["paper-8x8", "small"]["time_normalized"] == 2.0
    assert by["paper-16x16", "small"]["time_normalized"] == 1.0
    assert by["paper-16x16", "unlisted"]["time_normalized"] == 90 / 70
    # errors: ours over the fastest listed network vs the paper's over the fastest listed one
    assert by["paper-8x8", "small"]["time_error_pct"] == pytest.approx(0.0)
    assert by["paper-8x8", "large"]["time_error_pct"] == pytest.approx(100 * (1.6 / 2.5 - 1))
    assert by["paper-16x16", "large"]["time_error_pct"] == pytest.approx(0.0)  # the only one listed
    assert by["paper-8x8", "unlisted"]["time_error_pct"] is None
    assert by["paper-8x8", "small"]["energy_error_pct"] == pytest.approx(100 * (10 / 1e5 - 1))
    assert by["paper-16x16", "small"]["paper_time"] is None


def test_rows_off_the_paper_configurations_have_no_paper_figures(nets):
    c = parse_config("8x8:64KB")
    rows = compare_rows([(c, [fake_result(nets[0], 10, c.hardware)])])
    assert rows[0]["paper_time"] is None and rows[0]["time_error_pct"] is None
    assert rows[0]["time_normalized"] == 1.0 and rows[0]["buffer_bytes"] == 65536


# -- the command, end to end -----------------------------------------------------------------

def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_compare_writes_csv_and_json(nets, tmp_path):
    out, js = tmp_path / "out.csv", tmp_path / "out.json"
    r = invoke("compare", *map(str, nets), "--csv", str(out), "--json", str(js))
    assert r.exit_code == 0, r.output + r.stderr
    assert r.stderr == ""  # no progress bar when stderr is not a terminal
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 6
    for cfg in ("paper-8x8", "paper-16x16"):
        times = [float(r["time_normalized"]) for r in rows if r["config"] == cfg]
        assert min(times) == 1.0 and times.count(1.0) >= 1
        fastest = min((r for r in rows if r["config"] == cfg), key=lambda r: int(r["cycles"]))
        assert fastest["time_normalized"] == "1.0"
    assert {r["file"] for r in rows} == {"small", "large", "unlisted"}
    data = json.loads(js.read_text())
    assert set(data["configs"]) == {"paper-8x8", "paper-16x16"}
    assert [r["cycles"] for r in data["rows"]] == [int(r["cycles"]) for r in rows]
    assert "small" in r.output and "paper-16x16" in r.output  # the terminal table


def test_workers_give_the_same_rows_as_one_process(nets):
    configs = parse_configs(["paper-8x8", "4x4:16KB"])
    networks = [load_network(p) for p in nets]
    one = compare_rows(run_configs(networks, configs, jobs=1))
    seen = []
    two = compare_rows(run_configs(networks, configs, jobs=2, progress=lambda c, n: seen.append((c, n))))
    assert one == two
    assert sorted(seen) == sorted((c.label, n.name) for c in configs for n in networks)


@pytest.mark.parametrize("args", [
    ("--config", "8x8:12XB"),
    ("--config", "paper-8x8", "--config", "banana"),
    ("--config", "8x8:64B", "--config", "paper-8x8"),  # a layer does not fit: fails mid-run
    ("--engine", "slow"),
])
def test_bad_input_one_line_exit_2_no_file(nets, tmp_path, args):
    out = tmp_path / "out.csv"
    r = invoke("compare", *map(str, nets[:2]), *args, "--csv", str(out))
    assert r.exit_code == 2, r.output + r.stderr
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr
    if args[0] != "--engine":  # click's own usage errors have a usage line too
        assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_networks_or_all_not_both(nets):
    for args in ((), (str(nets[0]), "--all")):
        r = invoke("compare", *args)
        assert r.exit_code == 2 and r.stderr.startswith("error: ")


def test_workers_only_with_idle_cores_and_enough_work(monkeypatch):
    from nnaccel import compare

    assert compare._use_workers(2, 25, jobs=1) == 0
    assert compare._use_workers(2, 2, jobs=2) == 2
    assert compare._use_workers(1, 25, jobs=2) == 0
    monkeypatch.setattr(compare, "_idle_cores", lambda: 1.9)
    assert compare._use_workers(2, 25, None) == 2
    assert compare._use_workers(2, compare.MIN_NETWORKS_FOR_WORKERS - 1, None) == 0
    monkeypatch.setattr(compare, "_idle_cores", lambda: 1.2)  # another program holds a core
    assert compare._use_workers(2, 25, None) == 0


def test_frames_hold_the_rows_the_commands_write(nets):
    # The commands write rows with the csv module; the pandas frames are for library users.
    from nnaccel.compare import compare_frame
    from nnaccel.report import layer_frame, layer_rows

    c8 = parse_config("paper-8x8")
    runs = [(c8, [fake_result(nets[0], 100, c8.hardware), fake_result(nets[1], 160, c8.hardware)])]
    df = compare_frame(runs)
    assert tuple(df.columns) == COLUMNS
    assert df["cycles"].tolist() == [r["cycles"] for r in compare_rows(runs)] == [100, 160]
    result = runs[0][1][0]
    layers = layer_frame(result)
    assert layers.to_dict(orient="records") == layer_rows(result)
    assert len(layers) == len(result.layers)
