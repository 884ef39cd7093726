"""Every result says the weight sparsity it used and where it came from; a network carrying
its own weights (an ONNX model, an .npz beside a JSON file) is timed with its measured zeros
unless --sparsity says otherwise, and a weightless JSON network keeps the paper's 40%."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnaccel.assumptions import DEFAULT_SOURCE, sparsity_use
from nnaccel.cli import main
from nnaccel.loader import load_network
from nnaccel.sparsity import with_sparsity


def invoke(*args: object):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r


def _onnx_model(tmp_path: Path, prune: float, name: str = "own.onnx") -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx_build import Net

    n = Net(3, 32, 32, prune=prune)
    x = n.cba("input", 32, 3, 2)
    x = n.cba(x, 64, 3)
    path = tmp_path / name
    onnx.save(n.model(n.gemm(n.flatten(n.gap(x)), 10)), str(path))
    return path


def _run_json(tmp_path: Path, net: object, *flags: str) -> dict:
    out = tmp_path / "run.json"
    invoke("run", net, "-q", "--preset", "paper-16x16", "--dataflow", "os", "--json", out, *flags)
    return json.loads(out.read_text())


def test_sparsity_use_weighs_layers_by_their_weights_and_names_every_source():
    net = load_network("squeezenet-v1.1")
    weighted = [layer for layer in net.layers if layer.type in ("conv", "fc")]
    assert sparsity_use(net, 0.4).text == "40% zero weights (the default, paper §3)"
    first = weighted[0]
    mixed = with_sparsity(net, {first.name: 0.9}, "measured: w.npz")
    use = sparsity_use(mixed, 0.4)
    total = sum(layer.weights for layer in weighted)
    assert use.overall == pytest.approx((0.9 * first.weights + 0.4 * (total - first.weights))
                                        / total)
    assert "1 layers measured in w.npz (90% of their weights)" in use.text
    assert f"{len(weighted) - 1} layers at the hardware's 40% ({DEFAULT_SOURCE})" in use.text


def test_a_model_with_weights_runs_with_its_measured_zeros_unless_the_flag_says(tmp_path):
    path = _onnx_model(tmp_path, 0.6)
    auto = _run_json(tmp_path, path)
    assert auto["totals"] == _run_json(tmp_path, path, "--sparsity", "measured")["totals"]
    assert auto["sparsity"]["overall"] == pytest.approx(0.6, abs=1e-3)
    assert auto["sparsity"]["source"] == "measured in own.onnx"
    flagged = _run_json(tmp_path, path, "--sparsity", "0.4")
    assert flagged["sparsity"] == {"overall": 0.4, "source": "--sparsity",
                                   "text": "40% zero weights (--sparsity)"}
    assert flagged["totals"]["cycles"] > auto["totals"]["cycles"]  # 60% zeros skipped, not 40%
    table = invoke("run", path, "--preset", "paper-16x16").stdout
    assert "measured in own.onnx" in table.split("\n")[0] + table  # title and totals


def test_a_dense_model_is_timed_dense_and_a_weightless_json_at_40_percent(tmp_path):
    dense = _run_json(tmp_path, _onnx_model(tmp_path, 0.0))
    assert dense["sparsity"]["overall"] == 0
    assert dense["totals"] == _run_json(tmp_path, _onnx_model(tmp_path, 0.0), "--sparsity",
                                        "0")["totals"]
    bundled = _run_json(tmp_path, "sqnxt23v5")
    assert bundled["sparsity"]["overall"] == 0.4
    assert bundled["hardware"]["sparsity_source"] == DEFAULT_SOURCE
    # a model nnaccel exported carries made-up weights (zeros): nothing real to measure
    exported = tmp_path / "exported.onnx"
    invoke("export", "squeezenet-v1.1", "-o", exported)
    assert (_run_json(tmp_path, exported)["totals"]
            == _run_json(tmp_path, "squeezenet-v1.1")["totals"])


def test_an_npz_beside_a_json_network_is_measured_by_default(tmp_path, npz_beside_json):
    path = npz_beside_json
    out = _run_json(tmp_path, path)
    assert out["sparsity"]["overall"] == pytest.approx(0.25, abs=0.01)
    assert out["sparsity"]["source"] == "measured in sq.npz"


def test_every_file_and_title_says_the_sparsity(tmp_path):
    table = invoke("run", "sqnxt23v5", "--sparsity", "0.2").stdout
    assert "20% zero weights (--sparsity)" in " ".join(table.split())
    rows = tmp_path / "layers.csv"
    invoke("run", "sqnxt23v5", "-q", "--csv", rows)
    with rows.open() as f:
        layers = list(csv.DictReader(f))
    conv = next(r for r in layers if r["type"] == "conv")
    assert float(conv["sparsity"]) == 0.4 and conv["sparsity_source"] == DEFAULT_SOURCE
    out = tmp_path / "compare.csv"
    shown = invoke("compare", "sqnxt23", "sqnxt23v5", "--config", "paper-8x8", "--csv",
                   out).stdout
    assert "weight sparsity: 40% (the default, paper §3)" in " ".join(shown.split())
    with out.open() as f:
        assert {(r["sparsity"], r["sparsity_source"]) for r in csv.DictReader(f)} == {
            ("0.4", DEFAULT_SOURCE)}


def test_runs_title_names_the_configuration_it_ran():
    # the default hardware set again by flags is named by them, not 'default'
    title = invoke("run", "sqnxt23v5", "--array", "8x8", "--buffer", "32KB").stdout
    assert "on 8x8:32KB: 8x8 PEs, 32KB buffer" in " ".join(title.split())
    assert "on default" not in title
