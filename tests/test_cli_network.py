"""`nnaccel list`, `info` and `validate`, and how the CLI reports bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bad_networks import BAD, GOOD, mutate
from click.testing import CliRunner

from nnaccel import __version__
from nnaccel.cli import main
from nnaccel.loader import load_network

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_clean_failure(result, *words: str) -> None:
    """Exit status 2, nothing on stdout, one line on stderr that says what is wrong."""
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_version_and_help():
    assert invoke("--version").stdout.strip().endswith(__version__)
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("list", "info", "validate"):
        assert command in result.stdout


def test_list_shows_every_network_and_its_deviation():
    result = invoke("list")
    assert result.exit_code == 0
    out = result.stdout
    for name in ("AlexNet", "SqueezeNet v1.0", "Tiny Darknet", "MobileNet", "VGG-19",
                 "1.0-SqNxt-23v5", "2.0-SqNxt-23v4", "1.0-SqNxt-44-IDA", "1.5-SqNxt-34"):
        assert name in out
    row = next(line for line in out.splitlines() if "1.0-SqNxt-34 " in line)
    assert "inferred" in row and "1,039,792" in row and "+4.0%" in row
    row = next(line for line in out.splitlines() if "1.0-SqNxt-23 " in line)
    assert "public" in row and "717,280" in row and "282.0" in row and "-0.4%" in row


def test_list_json():
    rows = json.loads(invoke("list", "--json").stdout)
    assert len(rows) == 25
    row = next(r for r in rows if r["file"] == "sqnxt23v5")
    assert row["params"] == 930_016 and row["paper_macs_m"] == 228
    assert abs(row["macs_paper_rule_deviation_pct"]) < 0.1


def test_info_table():
    result = invoke("info", "sqnxt23v5")
    assert result.exit_code == 0
    out = result.stdout
    assert "1.0-SqNxt-23v5" in out and "s1b1_trans" in out and "64x56x56" in out
    total = next(line for line in out.splitlines() if " total " in line)
    assert "930,016" in total and "224,916,480" in total
    assert "228,018,984" in out  # MACs by the paper's rule


def test_info_json():
    data = json.loads(invoke("info", "alexnet", "--json").stdout)
    net = load_network("alexnet")
    for key in ("name", "input", "params", "macs", "macs_paper_rule", "layers"):
        assert key in data
    assert data["name"] == "AlexNet" and data["input"] == [3, 227, 227]
    assert data["params"] == net.params and data["macs_paper_rule"] == net.macs_paper_rule
    conv2 = next(layer for layer in data["layers"] if layer["name"] == "conv2")
    assert conv2 == {**conv2, "type": "conv", "inputs": ["pool1"], "input": [96, 27, 27],
                     "output": [256, 27, 27], "kernel": [5, 5], "stride": [1, 1],
                     "padding": [2, 2], "groups": 2, "params": 307_456,
                     "macs": 223_948_800}
    assert sum(layer["params"] for layer in data["layers"]) == data["params"]


def test_validate_good_files(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(GOOD))
    result = invoke("validate", "sqnxt23", str(path), "--reference")
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("ok ") for line in lines)
    assert "reference ok" in lines[0] and "277,999,808 MACs performed" in lines[0]


def test_validate_reports_each_bad_file_and_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(mutate(BAD[0][1])))
    result = invoke("validate", "sqnxt23", str(bad), "nonexistent")
    assert result.exit_code == 2
    assert result.stdout.startswith("ok ") and len(result.stdout.splitlines()) == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 2 and all(e.startswith("error: ") for e in errors)


@pytest.mark.parametrize(("mutation", "layer", "field", "words"),
                         [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_every_bad_file_through_the_cli(tmp_path, mutation, layer, field, words):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(mutate(mutation)))
    expected = [str(path), words]
    expected += [f"layer '{layer}'"] if layer else []
    expected += [f"field '{field}'"] if field else []
    for command in ("info", "validate"):
        assert_clean_failure(invoke(command, str(path)), *expected)


def test_bad_json_and_unknown_network(tmp_path):
    path = tmp_path / "syntax.json"
    path.write_text('{"name": "x",\n "layers": [}\n')
    assert_clean_failure(invoke("info", str(path)), "invalid JSON at line 2, column 13")
    assert_clean_failure(invoke("info", "no-such-net"), "no bundled network")


def test_usage_errors_exit_2():
    result = invoke("info")
    assert result.exit_code == 2 and "Missing argument" in result.stderr
    assert invoke("validate").exit_code == 2
    assert invoke("list", "--bogus").exit_code == 2


def test_console_script_has_no_traceback(tmp_path):
    """The real entry point, in a fresh process: one line, exit 2."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(mutate(BAD[-1][1])))
    proc = subprocess.run([sys.executable, "-c", "from nnaccel.cli import main; main()",
                           "info", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "layer 'gap': field 'output_shape'" in proc.stderr
