"""ONNX in and out through the CLI: export -> import gives back every bundled network, bad
models fail on one line with exit status 2, onnxruntime checks an import, and measured weight
sparsity reaches the timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from click.testing import CliRunner  # noqa: E402
from onnx_build import Net, external_zeros  # noqa: E402

from nnaccel.cli import main  # noqa: E402
from nnaccel.loader import bundled_networks, load_network  # noqa: E402
from nnaccel.netwrite import dumps_network  # noqa: E402
from nnaccel.onnxio.exporter import build_model  # noqa: E402
from nnaccel.onnxio.importer import import_model  # noqa: E402

_BIG = ("alexnet", "vgg19")
BUNDLED = [pytest.param(p, marks=pytest.mark.slow) if p.stem in _BIG else p
           for p in bundled_networks()]


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: Path(p).stem)
def test_export_then_import_gives_back_the_network(path, tmp_path):
    network = load_network(path)
    model = build_model(network)
    if network.params > 10**7:  # its zero weights read from a sparse file, as a large
        # model's are: in memory the importer's copy of VGG-19's took the suite over 1.5 GB
        external_zeros([t for t in model.graph.initializer if len(t.dims) > 1], tmp_path)
    back = import_model(tmp_path / f"{path.stem}.onnx", model=model)
    assert dumps_network(back) == dumps_network(network)


def test_export_writes_a_model_the_checker_and_onnxruntime_accept(tmp_path):
    out = tmp_path / "net.onnx"
    result = invoke("export", "sqnxt23v5", "-o", out, "--weights", "random")
    assert result.exit_code == 0
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    result = invoke("validate", out, "--reference")
    assert result.exit_code == 0 and "onnxruntime ok" in result.stdout
    assert f"{load_network('sqnxt23v5').params:,} params in the initializers" in result.stdout


def test_new_layer_kinds_round_trip(tmp_path):
    n = Net(8, 8, 8)
    x = n.se(n.cba("input", 8, 3), 2, "relu", "sigmoid")
    a, b = n.split(x, [4, 4])
    x = n.shuffle(n.concat([b, n.cba(a, 4, 3)]), 2)
    x = n.concat([n.resize(n.conv(x, 4, 3, 2, d=1), 2, "linear"), n.act(n.bn(x))])
    x = n.conv(x, 4, 3, d=2, pads=[2, 2, 2, 2])
    path = tmp_path / "m.onnx"
    onnx.save(n.model(x), str(path))
    first = load_network(path)
    back = import_model(path, model=build_model(first))
    assert dumps_network(back) == dumps_network(first)
    assert {"mul", "slice", "shuffle", "upsample", "affine", "concat"} <= {
        lay.type for lay in first.layers}
    result = invoke("validate", path, "--reference")
    assert result.exit_code == 0, result.output


def test_import_command_is_deterministic(tmp_path):
    model = tmp_path / "m.onnx"
    invoke("export", "squeezenet-v1.1", "-o", model)
    for name in ("a.json", "b.json"):
        assert invoke("import", model, "-o", tmp_path / name).exit_code == 0
    text = (tmp_path / "a.json").read_text()
    assert text == (tmp_path / "b.json").read_text()
    assert text == Path(load_network("squeezenet-v1.1").path).read_text()


@pytest.mark.parametrize("command", [("info",), ("validate",), ("run", "-q")])
def test_every_network_command_reads_onnx(tmp_path, command):
    model = tmp_path / "m.onnx"
    invoke("export", "squeezenet-v1.1", "-o", model)
    result = invoke(*command, model)
    assert result.exit_code == 0 and "SqueezeNet v1.1" in result.stdout


def _model_file(tmp_path: Path, name: str, model) -> Path:
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _bad_models(tmp_path: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    good = Net(3, 8, 8)
    good_model = good.model(good.conv("input", 4, 3))
    data = good_model.SerializeToString()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "text.onnx"
    text.write_text("this is a README, not a model\n" * 20)
    n = Net(3, 8, 8)
    unsupported = n.model(n.node("Erfc", [n.conv("input", 4, 3)], (1, 4, 8, 8)))
    unsupported.graph.node[-1].op_type = "Hardmax"
    unsupported.graph.node[-1].attribute.append(onnx.helper.make_attribute("axis", 1))
    dynamic = good.model(good.nodes[-1].output[0])
    dynamic.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    dynamic.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "N"
    ids = onnx.helper.make_graph(
        [onnx.helper.make_node("Gather", ["table", "ids"], ["y"], name="/embed/Gather")], "lm",
        [onnx.helper.make_tensor_value_info("ids", onnx.TensorProto.INT64, [1, "seq"])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, "seq", 4])],
        [onnx.numpy_helper.from_array(np.zeros((10, 4), np.float32), "table")])
    two_model = onnx.helper.make_model(ids, opset_imports=[onnx.helper.make_opsetid("", 17)])
    batch = good.model(good.nodes[-1].output[0])
    batch.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2
    batch.graph.output[0].type.tensor_type.shape.dim[0].dim_value = 2
    transposed = Net(3, 8, 8)
    perm = transposed.node("Softmax", [transposed.node(
        "Transpose", [transposed.conv("input", 4, 3)], (1, 8, 8, 4), perm=[0, 2, 3, 1])],
        (1, 8, 8, 4), axis=1)
    return {
        "truncated": (truncated, ("truncated.onnx",)),
        "text": (text, ("text.onnx", "not")),
        "unsupported op": (_model_file(tmp_path, "op.onnx", unsupported),
                           ("op.onnx", "Hardmax", "unsupported", "supported: ", "Conv")),
        "dynamic batch": (_model_file(tmp_path, "dyn.onnx", dynamic),
                          ("dyn.onnx", "dynamic batch", "'N'")),
        "dynamic sequence": (_model_file(tmp_path, "two.onnx", two_model),
                             ("two.onnx", "dynamic sequence length 1 ('seq')")),
        "batch of 2": (_model_file(tmp_path, "b2.onnx", batch), ("b2.onnx", "a batch of 2")),
        "softmax axis": (_model_file(tmp_path, "tr.onnx", transposed.model(perm)),
                         ("tr.onnx", "(Softmax)", "supported: the last axis")),
    }


@pytest.mark.parametrize("case", ["truncated", "text", "unsupported op", "dynamic batch",
                                  "dynamic sequence", "batch of 2", "softmax axis"])
@pytest.mark.parametrize("command", ["info", "run", "import"])
def test_bad_models_fail_on_one_line(tmp_path, case, command):
    path, words = _bad_models(tmp_path)[case]
    assert_one_line_error(invoke(command, path), *words)


def test_import_leaves_no_file_when_it_fails(tmp_path):
    path, _ = _bad_models(tmp_path)["unsupported op"]
    out = tmp_path / "out.json"
    assert_one_line_error(invoke("import", path, "-o", out))
    assert not out.exists()


def _pruned(tmp_path: Path, fraction: float) -> Path:
    n = Net(3, 32, 32, prune=fraction)
    x = n.cba("input", 32, 3, 2)
    x = n.cba(x, 64, 3)
    x = n.act(n.add(n.bn(n.conv(x, 64, 3)), x))
    return _model_file(tmp_path, "pruned.onnx", n.model(n.gemm(n.flatten(n.gap(x)), 10)))


def test_measured_sparsity_of_a_pruned_model(tmp_path):
    path = _pruned(tmp_path, 0.6)
    info = json.loads(invoke("info", path, "--json", "--sparsity", "measured").stdout)
    for layer in info["layers"]:
        if layer["type"] in ("conv", "fc"):
            assert layer["sparsity"] == pytest.approx(0.6, abs=1e-3)
            assert layer["sparsity_source"] == "measured: pruned.onnx"
    table = invoke("info", path, "--sparsity", "measured").stdout
    assert "60.0%" in table and "measured: pruned.onnx" in table

    def cycles(*flags: str) -> int:
        out = json.loads(invoke("run", path, "-q", "--preset", "paper-16x16", "--dataflow",
                                "os", "--json", tmp_path / "r.json", *flags).exit_code == 0
                         and (tmp_path / "r.json").read_text())
        return out["totals"]["cycles"]
    assert cycles("--sparsity", "measured") < cycles("--sparsity", "0")


def test_measured_sparsity_from_an_npz_beside_a_json_network(tmp_path, npz_beside_json):
    path = npz_beside_json
    info = json.loads(invoke("info", path, "--json", "--sparsity", "measured").stdout)
    conv = next(lay for lay in info["layers"] if lay["type"] == "conv")
    assert conv["sparsity"] == pytest.approx(0.25, abs=0.01)
    assert conv["sparsity_source"] == "measured: sq.npz"
    assert_one_line_error(invoke("info", path, "--sparsity", f"measured={tmp_path / 'no.npz'}"),
                          "no.npz")


def test_without_onnx_the_other_commands_work_and_onnx_says_how_to_install(tmp_path):
    model = tmp_path / "m.onnx"
    invoke("export", "squeezenet-v1.1", "-o", model)
    block = "import sys; sys.modules['onnx'] = None; from nnaccel.cli import main; main()"
    ok = subprocess.run([sys.executable, "-c", block, "info", "sqnxt23"], capture_output=True,
                        text=True)
    assert ok.returncode == 0
    bad = subprocess.run([sys.executable, "-c", block, "info", str(model)], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "pip install 'nnaccel[onnx]'" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1


def test_info_shows_every_weighted_layers_sparsity_and_its_source(tmp_path):
    data = json.loads(invoke("info", "squeezenet-v1.1", "--json", "--sparsity", "0.3").stdout)
    weighted = [lay for lay in data["layers"] if lay["type"] in ("conv", "fc")]
    assert weighted and all(lay["sparsity"] == 0.3 and lay["sparsity_source"] == "hardware"
                            for lay in weighted)
    assert all("sparsity" not in lay for lay in data["layers"] if lay["type"] == "concat")


def test_compare_plot_and_report_take_measured_sparsity(tmp_path):
    path = _pruned(tmp_path, 0.6)
    rows = {}
    for flag in ("measured", "0"):
        out = tmp_path / f"{flag}.csv"
        assert invoke("compare", path, "--config", "paper-8x8", "--sparsity", flag, "-q",
                      "--csv", out).exit_code == 0
        rows[flag] = int(out.read_text().splitlines()[1].split(",")[7])
    assert rows["measured"] < rows["0"]
    fig = tmp_path / "f.png"
    assert invoke("plot", "roofline", path, "--config", "paper-8x8", "--sparsity", "measured",
                  "-o", fig).exit_code == 0
    assert fig.read_bytes().startswith(b"\x89PNG")
    pages = {}
    for flag in ("measured", "0"):
        page = tmp_path / f"{flag}.html"
        assert invoke("report", path, "--config", "paper-8x8", "--sparsity", flag,
                      "-o", page).exit_code == 0
        pages[flag] = page.read_text()
    # the page's totals come from the run: measured zeros change them
    assert pages["measured"] != pages["0"]


def test_import_and_export_never_overwrite_their_input(tmp_path):
    model = tmp_path / "m.onnx"
    invoke("export", "squeezenet-v1.1", "-o", model)
    before = model.read_bytes()
    assert_one_line_error(invoke("import", model, "-o", model), "input")
    net = tmp_path / "n.json"
    invoke("import", model, "-o", net)
    assert_one_line_error(invoke("export", net, "-o", net), "input")
    assert model.read_bytes() == before and json.loads(net.read_text())["name"]
