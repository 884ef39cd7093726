"""One set of hardware options on every command that simulates (cli/hwopts.py)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.cli.hwopts import build_configs
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
    from nnaccel.network import networks_dir

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
