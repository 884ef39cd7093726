"""ONNX files made to hurt (issue 19, "ONNX safely"): external data that leaves the model's
folder, constant subgraphs that would fold to gigabytes or never end, weights larger than
memory should hold, forged metadata and initializers whose data does not fit their shape.
Each is one line and status 2, in seconds and under 1 GB; a hypothesis search over small
hostile graphs keeps it so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import onnx_tokens  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnaccel.errors import NnaccelError  # noqa: E402
from nnaccel.onnxio.importer import import_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: Runs the CLI in a child and writes its peak memory (KiB) to the file named first: VmHWM,
#: which starts afresh at exec (ru_maxrss keeps the forking parent's peak).
_CHILD = """
import sys
out, args = sys.argv[1], sys.argv[2:]
try:
    from nnaccel.cli import main
    main(args)
finally:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    open(out, "w").write(hwm)
"""


def cli(*args: str, cwd: Path) -> tuple[int, str, float, float]:
    """Exit status, stderr, seconds and peak MiB of `nnaccel ARGS` in a fresh process."""
    rss = cwd / "rss.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, str(rss), *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    return done.returncode, done.stderr, seconds, int(rss.read_text()) / 1024


def _model(extra_nodes=(), inits=(), meta=None, c=4) -> onnx.ModelProto:
    """A 1x1 conv of a [1, c, 4, 4] image, beside `extra_nodes` of constants."""
    w = numpy_helper.from_array(np.ones((c, c, 1, 1), np.float32), "w")
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[1, 1])
    graph = helper.make_graph(
        [*extra_nodes, conv], "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, 4, 4])], [w, *inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    for key, value in (meta or {}).items():
        model.metadata_props.add(key=key, value=value)
    return model


def _int64(name: str, *values: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values if len(values) > 1 else values[0],
                                            np.int64), name)


def _fold_bomb(kind: str) -> onnx.ModelProto:
    if kind == "ConstantOfShape":
        node = helper.make_node("ConstantOfShape", ["n"], ["big"], name="mask")
        return _model([node], [numpy_helper.from_array(np.array([750_000_000], np.int64), "n")])
    if kind == "Range":
        node = helper.make_node("Range", ["a", "b", "d"], ["big"], name="positions")
        return _model([node], [_int64("a", 0), _int64("b", 400_000_000), _int64("d", 1)])
    if kind == "Expand":
        node = helper.make_node("Expand", ["one", "s"], ["big"], name="expand")
        return _model([node], [numpy_helper.from_array(np.ones((1, 1), np.float32), "one"),
                               numpy_helper.from_array(np.array([30000, 30000], np.int64), "s")])
    # a Loop of 10**12 iterations over a constant
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "one"], ["v_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1])])
    node = helper.make_node("Loop", ["trips", "", "v0"], ["v"], name="loop", body=body)
    return _model([node], [_int64("trips", 10**12),
                           numpy_helper.from_array(np.ones(1, np.float32), "v0"),
                           numpy_helper.from_array(np.ones(1, np.float32), "one")])


@pytest.mark.parametrize("kind, words", [
    ("ConstantOfShape", ("'mask' (ConstantOfShape)", "[7.5e+08]", "limit", "Limits")),
    ("Range", ("'positions' (Range)", "4e+08", "limit")),
    ("Expand", ("'expand' (Expand)", "9e+08", "limit")),
    ("Loop", ("'loop' (Loop)", "control flow")),
])
def test_constant_folding_is_bounded(tmp_path, kind, words):
    start = time.perf_counter()
    with pytest.raises(NnaccelError) as err:
        import_model(tmp_path / "bomb.onnx", model=_fold_bomb(kind))
    message = str(err.value)
    assert "\n" not in message and "bomb.onnx" in message
    for word in words:
        assert word in message, message
    assert time.perf_counter() - start < 10  # refused from its shape, before any work


def test_a_fold_bomb_costs_the_command_little(tmp_path):
    path = tmp_path / "bomb.onnx"
    onnx.save(_fold_bomb("Range"), str(path))
    status, err, seconds, mib = cli("import", path, cwd=tmp_path)
    assert status == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert seconds < 60 and mib < 1024, (seconds, mib)


def _external(tmp_path: Path, location: str, shape=(4, 4, 1, 1), **info) -> Path:
    """A model whose conv weight is stored at `location` (relative to the model's folder)."""
    model = _model()
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.ClearField("float_data")
    del w.dims[:]
    w.dims.extend(shape)
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    for key, value in info.items():
        w.external_data.add(key=key, value=str(value))
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    path = folder / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_external_data_beside_the_model_is_read(tmp_path):
    path = _external(tmp_path, "w.bin")
    w = np.zeros((4, 4, 1, 1), np.float32)
    w[0, 0] = 1
    (path.parent / "w.bin").write_bytes(w.tobytes())
    network = import_model(path, measured=True)
    assert network.layers[0].sparsity == 15 / 16


@pytest.mark.parametrize("case, words", [
    ("absolute", ("absolute path",)),
    ("dotdot", ("'..'",)),
    ("link", ("symbolic link",)),
    ("linked folder", ("symbolic link",)),
    ("short", ("holds 60 bytes", "needs 64")),
    ("offset", ("offset 1,000",)),
    ("fifo", ("not a regular file",)),
    ("missing", ("cannot read it",)),
])
def test_external_data_outside_the_folder_is_refused(tmp_path, case, words):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(64))
    location, info = {"absolute": (str(secret), {}), "dotdot": ("../secret.bin", {}),
                      "link": ("w.bin", {}), "linked folder": ("d/w.bin", {}),
                      "short": ("w.bin", {}), "offset": ("w.bin", {"offset": 1000}),
                      "fifo": ("w.bin", {}), "missing": ("nothing.bin", {})}[case]
    path = _external(tmp_path, location, **info)
    target = path.parent / "w.bin"
    if case == "link":
        target.symlink_to(secret)
    elif case == "linked folder":
        (path.parent / "d").symlink_to(tmp_path)
        (tmp_path / "w.bin").write_bytes(bytes(64))
    elif case == "short":
        target.write_bytes(bytes(60))
    elif case == "offset":
        target.write_bytes(bytes(64))
    elif case == "fifo":
        os.mkfifo(target)
    with pytest.raises(NnaccelError) as err:
        import_model(path, measured=True)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path))
    for word in words:
        assert word in message, message


def test_a_constant_node_pointing_at_a_file_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(64))
    value = numpy_helper.from_array(np.zeros(16, np.float32), "v")
    value.ClearField("raw_data")
    value.data_location = TensorProto.EXTERNAL
    value.external_data.add(key="location", value=str(secret))
    node = helper.make_node("Constant", [], ["c"], name="leak", value=value)
    with pytest.raises(NnaccelError) as err:
        import_model(tmp_path / "m.onnx", model=_model([node]))
    assert "\n" not in str(err.value)


def test_a_1_gib_external_weight_is_read_lazily(tmp_path):
    """A [16384, 16384] fc weight of 1 GiB (a sparse file): the import reads it in chunks,
    and only for --sparsity measured."""
    n = 16384
    w = numpy_helper.from_array(np.zeros((1,), np.float32), "w")
    w.ClearField("raw_data")
    del w.dims[:]
    w.dims.extend([n, n])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="w.bin")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"])],
        "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n, 1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])], [w])
    path = tmp_path / "big.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), str(path))
    with open(tmp_path / "w.bin", "wb") as f:
        f.truncate(n * n * 4)
    status, err, seconds, mib = cli("import", path, "--sparsity", "measured", "-o",
                                    tmp_path / "big.json", cwd=tmp_path)
    assert status == 0, err
    layer = json.loads((tmp_path / "big.json").read_text())["layers"][0]
    assert layer["type"] == "fc" and layer["output_shape"] == [n, 1, 1]
    assert layer["sparsity"] == pytest.approx(1 - 1e-6)  # all zeros: the format's maximum
    assert mib < 1024, mib
    print(f"peak {mib:.0f} MiB")


@pytest.mark.parametrize("key, value, words", [
    ("nnaccel.sparsity", '{"conv": 5}', ("layer 'conv'", "field 'sparsity'", "fraction")),
    ("nnaccel.sparsity", '{"conv": "x"}', ("layer 'conv'", "field 'sparsity'", "fraction")),
    ("nnaccel.sparsity", '{"conv": NaN}', ("nnaccel.sparsity", "NaN is not a JSON number")),
    ("nnaccel.sparsity", '{"conv": 0.5', ("nnaccel.sparsity", "invalid JSON")),
    ("nnaccel.sparsity", '[0.5]', ("nnaccel.sparsity", "expected an object")),
    ("nnaccel.sparsity", '{"nope": 0.5}', ("nnaccel.sparsity", "'nope'")),
    ("nnaccel.sparsity", "[" * 100_000, ("nnaccel.sparsity", "nested too deeply")),
    ("nnaccel.paper", '{"top1": NaN}', ("nnaccel.paper", "NaN")),
    ("nnaccel.paper", '{"top1": ' + "[" * 900 + "]" * 900 + "}", ("paper.top1", "a number")),
    ("nnaccel.paper", "not json", ("nnaccel.paper", "invalid JSON")),
    ("nnaccel.name", "x" * 20_000, ("field 'name'", "10,000 characters")),
])
def test_forged_metadata_is_validated_as_a_network_file(tmp_path, key, value, words):
    path = tmp_path / "meta.onnx"
    onnx.save(_model(meta={key: value}), str(path))
    with pytest.raises(NnaccelError) as err:
        import_model(path)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_own_sparsity_in_metadata_is_kept():
    network = import_model("m.onnx", model=_model(meta={"nnaccel.sparsity": '{"conv": 0.25}'}))
    assert (network.layers[0].sparsity, network.layers[0].sparsity_source) == (0.25, "file")


@pytest.mark.parametrize("dims", [[4, 4, 1, 2], [4, 4, 2, 2], [10**9, 10**9]])
def test_initializer_data_not_matching_its_shape(dims):
    model = _model()
    del model.graph.initializer[0].dims[:]
    model.graph.initializer[0].dims.extend(dims)
    with pytest.raises(NnaccelError) as err:
        import_model("m.onnx", model=model)
    assert "initializer 'w'" in str(err.value) and "\n" not in str(err.value)


def test_import_refuses_a_missing_output_folder_before_any_work(tmp_path):
    path = tmp_path / "bomb.onnx"
    onnx.save(_fold_bomb("ConstantOfShape"), str(path))
    status, err, seconds, mib = cli("import", path, "-o", tmp_path / "missing" / "x.json",
                                    cwd=tmp_path)
    assert status == 2 and "does not exist" in err and "ConstantOfShape" not in err, err


def test_import_name_and_graph_names():
    model = _model()
    assert import_model("file.onnx", model=model).name == "hostile"
    model.graph.name = "main_graph"
    assert import_model("file.onnx", model=model).name == "file"
    assert import_model("file.onnx", model=model, name="Mine").name == "Mine"


# --- hypothesis: small hostile graphs ------------------------------------------------------
_OPS = ["Relu", "Softmax", "Transpose", "Reshape", "Add", "Mul", "MatMul", "Conv", "Gather",
        "Slice", "Concat", "ConstantOfShape", "Range", "Expand", "Tile", "Where", "Flatten",
        "Squeeze", "Unsqueeze", "ReduceMean", "Hardmax", "Split", "LayerNormalization"]
_DIMS = st.sampled_from([0, 1, 2, 3, 4, -1, 7, 10**6, 10**10])


@st.composite
def hostile_graphs(draw) -> onnx.ModelProto:
    c, h = draw(st.sampled_from([1, 2, 4])), draw(st.sampled_from([1, 2, 4]))
    inits, nodes, x = [], [], "x"
    for i in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(_OPS))
        k = f"k{i}"
        const = np.array(draw(st.lists(_DIMS, min_size=0, max_size=4)), np.int64)
        inputs = {"ConstantOfShape": [k], "Range": [f"{k}a", f"{k}b", f"{k}c"],
                  "Expand": [x, k], "Tile": [x, k], "Reshape": [x, k], "Where": [k, x, x],
                  "Add": [x, k], "Mul": [x, x], "MatMul": [x, k], "Conv": [x, k],
                  "Gather": [x, k], "Slice": [x, k, k], "Concat": [x, x],
                  "Split": [x], "LayerNormalization": [x, k]}.get(op, [x])
        if op == "Range":
            for j, s in zip("abc", const.tolist() + [5, 9, 1], strict=False):
                inits.append(numpy_helper.from_array(np.array(s, np.int64), f"{k}{j}"))
        elif op in ("Add", "MatMul", "Conv", "LayerNormalization"):
            shape = [min(abs(d), 5) for d in const.tolist()]
            inits.append(numpy_helper.from_array(np.zeros(shape, np.float32), k))
        elif op == "Where":
            inits.append(numpy_helper.from_array(np.ones(min(abs(int(const.sum())), 9), bool),
                                                 k))
        else:
            inits.append(numpy_helper.from_array(const, k))
        attrs = {}
        if op == "Transpose":
            attrs["perm"] = draw(st.permutations(range(4)))
        if op in ("Concat", "Gather", "Softmax", "Split", "Flatten"):
            attrs["axis"] = draw(st.integers(-4, 3))
        y = f"t{i}"
        nodes.append(helper.make_node(op, inputs, [y], name=f"n{i}", **attrs))
        x = y
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, h])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_graphs())
def test_a_hostile_graph_imports_or_fails_on_one_line(model):
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        try:
            import_model(Path(folder) / "h.onnx", model=model)
        except NnaccelError as exc:
            assert "\n" not in str(exc)
    assert time.perf_counter() - start < 20


# --- hypothesis: exporter-shaped transformer graphs, one thing changed ------------------------
_SMALL = {"bert": lambda: onnx_tokens.bert(layers=1), "gpt2": lambda: onnx_tokens.gpt2(layers=1),
          "decode": lambda: onnx_tokens.gpt2(layers=1, t=1, past=3),
          "llama": lambda: onnx_tokens.llama(layers=1), "vit": lambda: onnx_tokens.vit(layers=1),
          "convnext": lambda: onnx_tokens.convnext(blocks=1), "swin": onnx_tokens.swin}
_MODELS = {name: build()[0] for name, build in _SMALL.items()}


@st.composite
def mutated_transformers(draw) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.CopyFrom(_MODELS[draw(st.sampled_from(sorted(_MODELS)))])
    graph = model.graph
    what = draw(st.sampled_from(["attribute", "constant", "op", "input"]))
    ints = [t for t in graph.initializer if t.data_type == TensorProto.INT64]
    if what == "constant" and ints:
        t = draw(st.sampled_from(ints))
        values = numpy_helper.to_array(t).copy().reshape(-1)
        if values.size:
            values[draw(st.integers(0, values.size - 1))] = draw(_DIMS)
        t.CopyFrom(numpy_helper.from_array(values.reshape(numpy_helper.to_array(t).shape),
                                           t.name))
        return model
    node = draw(st.sampled_from(list(graph.node)))
    if what == "attribute" and node.attribute:
        a = draw(st.sampled_from(list(node.attribute)))
        if a.type == onnx.AttributeProto.INT:
            a.i = draw(st.integers(-5, 5))
        elif a.type == onnx.AttributeProto.INTS and a.ints:
            a.ints[draw(st.integers(0, len(a.ints) - 1))] = draw(st.integers(-1, 6))
    elif what == "op":
        node.op_type = draw(st.sampled_from(_OPS))
    elif node.input:
        node.input[draw(st.integers(0, len(node.input) - 1))] = draw(
            st.sampled_from([i.name for i in graph.input] + [""]))
    return model


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_transformers())
def test_a_changed_transformer_graph_imports_or_fails_on_one_line(model):
    try:
        import_model("t.onnx", model=model)
    except NnaccelError as exc:
        assert "\n" not in str(exc)
