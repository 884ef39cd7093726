"""`nnaccel run`: the per-layer table and files, the step engine's equal totals, and bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from nnaccel.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, ["run", *args])


def test_run_writes_csv_and_json_and_step_gives_the_same_totals(tmp_path):
    files = {}
    for engine in ("fast", "step"):
        csv, js = tmp_path / f"{engine}.csv", tmp_path / f"{engine}.json"
        r = _run("sqnxt23v5", "--array", "8x8", "--buffer", "32KB", "--engine", engine,
                 "--csv", str(csv), "--json", str(js), "-q")
        assert r.exit_code == 0, r.output
        files[engine] = (pd.read_csv(csv), json.loads(js.read_text()))
    df, data = files["fast"]
    for col in ("layer", "type", "dataflow", "loop_order", "tile_x", "tile_y", "tile_c", "tile_k",
                "macs", "cycles", "compute_cycles", "stall_cycles", "utilization",
                "dram_read_bytes", "dram_write_bytes", "buffer_reads", "buffer_writes",
                "energy_mac_mac_units", "energy_dram_mac_units", "energy_total_mac_units"):
        assert col in df.columns, col
    assert len(df) == len(data["layers"])
    assert data["hardware"]["Pr"] == 8 and data["hardware"]["buffer_bytes"] == 32768
    assert data["totals"]["cycles"] == df["cycles"].sum()
    assert files["step"][1]["totals"] == data["totals"]
    assert (files["step"][0]["cycles"] == df["cycles"]).all()


@pytest.mark.parametrize(
    "flags,message",
    [(["--array", "0x8"], "array '0x8'"), (["--array", "8"], "array '8'"),
     (["--buffer", "12XB"], "12XB"), (["--buffer", "0"], "size '0'"),
     (["--sparsity", "1.5"], "sparsity"), (["--buffer", "64B"], "does not fit")],
)
def test_bad_flags_exit_2_with_one_line_and_no_file(tmp_path, flags, message):
    out = tmp_path / "out.csv"
    r = _run("sqnxt23v5", *flags, "--csv", str(out))
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_buffer_too_small_names_the_layer_and_the_buffer_needed():
    r = _run("sqnxt23v5", "--buffer", "64B")
    assert r.exit_code == 2
    assert "layer 'conv1'" in r.output or "layer '" in r.output
    assert "smallest tile needs a buffer of" in r.output


@pytest.mark.parametrize("text", ["arrays = '8x8'\n", "Pr = 'eight'\n", "[energy]\nsram = 1\n"])
def test_bad_hardware_file(tmp_path, text):
    hw = tmp_path / "hw.toml"
    hw.write_text(text)
    r = _run("sqnxt23v5", "--hw", str(hw))
    assert r.exit_code == 2 and str(hw) in r.output and "Traceback" not in r.output
