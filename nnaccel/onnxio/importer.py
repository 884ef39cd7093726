"""Read an ONNX model into a Network, from its structure alone (the model is never run).

The graph is walked once in its (topological) node order. Every tensor becomes either a
constant (initializers, Constant nodes, and the Shape/Gather/Concat/... subgraphs that only
compute shapes, folded with onnx's reference operators) or an *activation*: the output of a
layer of the network, possibly seen through a view (flattened; a 5-D channel-group view on its
way to a channel shuffle; awaiting a Pad that the next conv or pooling absorbs). Operators map
to layers as docs/network-format.md, "ONNX", lists; activations, dropout and identities add no
layer. ONNX's own shape inference is checked against every layer's shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import external_data_helper, helper, shape_inference

from nnaccel import limits
from nnaccel.errors import NetworkError
from nnaccel.netformat import INPUT, parse_network_text
from nnaccel.network import Layer, Network
from nnaccel.onnxio.graph import Act, Builder, OpError, token_shape
from nnaccel.onnxio.names import layer_label
from nnaccel.onnxio.ops import HANDLERS, SUPPORTED
from nnaccel.onnxio.weights import External, WeightError, external, placeholder, to_array
from nnaccel.shapes import MAX_RANK
from nnaccel.sparsity import with_sparsity
from nnaccel.strictjson import loads_strict

META = "nnaccel."  # metadata_props keys written by the exporter
FLOATS = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
          onnx.TensorProto.BFLOAT16)
#: Protobuf's limit: a model larger than this keeps its weights in external data files.
MAX_MODEL_BYTES = 2**31


def light(model: onnx.ModelProto, limit: int = 4096) -> onnx.ModelProto:
    """`model` with its large initializers turned into typed inputs of the same shape.

    What the checker and shape inference read of a weight is its type and shape; copying
    VGG's 550 MB of weights through them (each serializes the model) would take seconds.
    Small initializers (shape vectors, scales) stay, for shape inference to propagate; those
    stored outside the model go too, whatever their size (nothing here reads another file).
    """
    big = [t for t in model.graph.initializer
           if int(np.prod(t.dims)) > limit or external_data_helper.uses_external_data(t)]
    if not big:
        return model
    names = {t.name for t in big}
    graph = onnx.GraphProto()
    graph.CopyFrom(onnx.GraphProto(name=model.graph.name))
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                       for t in big)
    graph.output.extend(model.graph.output)
    graph.value_info.extend(model.graph.value_info)
    graph.initializer.extend(t for t in model.graph.initializer if t.name not in names)
    out = onnx.ModelProto()
    for field in ("ir_version", "producer_name", "producer_version", "domain", "model_version"):
        setattr(out, field, getattr(model, field))
    out.opset_import.extend(model.opset_import)
    out.metadata_props.extend(model.metadata_props)
    out.graph.CopyFrom(graph)
    return out


def _fail(path: Path, message: str) -> NetworkError:
    return NetworkError(str(path), message)


def load(path: Path, weights: bool = False) -> onnx.ModelProto:
    """The model at `path`, its external data locations checked (`weights.external`) and,
    with `weights`, read in (onnxruntime needs them; the import reads them lazily)."""
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise _fail(path, f"the file has {size:,} bytes; an ONNX model holds at most 2 GiB "
                        "(larger weights go in external data files beside it)")
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(path, f"cannot read the file: {exc}") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises several kinds for bytes that are not a model
        raise _fail(path, f"not an ONNX model ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:120]})") from None
    del data
    _check_text(path, model)
    externals(path, model)
    if weights and any(external_data_helper.uses_external_data(t)
                       for t in model.graph.initializer):
        try:  # weights beside the model (files over 2 GB are saved so)
            external_data_helper.load_external_data_for_model(model, str(path.parent))
        except Exception as exc:
            raise _fail(path, f"cannot read the model's external weights: "
                        f"{' '.join(str(exc).split())[:120]}") from None
    return model


def _check_text(path: Path, model: onnx.ModelProto) -> None:
    """Every name of the model is text: protobuf hands a string field that is not valid
    UTF-8 back as bytes, which no later step expects (found by tests/test_fuzz.py)."""
    graph = model.graph
    named = [("the graph", graph.name), *((f"input #{i}", v.name) for i, v in
                                         enumerate(graph.input)),
             *((f"output #{i}", v.name) for i, v in enumerate(graph.output)),
             *((f"initializer #{i}", t.name) for i, t in enumerate(graph.initializer)),
             *((f"metadata #{i}", m.key) for i, m in enumerate(model.metadata_props)),
             *((f"metadata #{i}", m.value) for i, m in enumerate(model.metadata_props))]
    for i, node in enumerate(graph.node):
        named += [(f"node #{i}", x) for x in (node.name, node.op_type, node.domain,
                                                *node.input, *node.output,
                                                *(a.name for a in node.attribute))]
    for where, text in named:
        if not isinstance(text, str):
            raise _fail(path, f"{where}: a name that is not valid UTF-8 text")


def externals(path: Path, model: onnx.ModelProto) -> dict[str, External]:
    """Every external initializer's checked location (`weights.external`), by name."""
    out = {}
    for t in model.graph.initializer:
        if external_data_helper.uses_external_data(t):
            try:
                out[t.name] = external(t, path.parent)
            except WeightError as exc:
                raise _fail(path, str(exc)) from None
    return out


def checked(path: Path, model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Check `model` with onnx.checker and return the shapes ONNX infers for its tensors."""
    if not model.graph.node or not model.opset_import:
        raise _fail(path, "not an ONNX model: no graph nodes or no opset (a truncated file, "
                    "or not ONNX at all?)")
    small = light(model)
    try:
        onnx.checker.check_model(small)
    except Exception as exc:  # the checker's errors are plain ValidationErrors
        raise _fail(path, f"not a valid ONNX model: {' '.join(str(exc).split())[:200]}") from None
    try:
        inferred = shape_inference.infer_shapes(small, strict_mode=True)
    except Exception as exc:
        raise _fail(path, "ONNX shape inference fails on this model: "
                    f"{' '.join(str(exc).split())[:200]}") from None
    return _inferred(inferred.graph)


@dataclass(frozen=True)
class Inputs:
    """The graph's inputs: the first is the network's `input` (an image [1, C, H, W] or token
    ids [1, T]); the others (a decode step's past keys and values) are named inputs."""

    first: str
    acts: dict[str, Act]
    extra: dict[str, list[int]]


def _inputs(path: Path, graph: onnx.GraphProto) -> Inputs:
    init = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in init]
    if not inputs:
        raise _fail(path, "the model has no input")
    acts: dict[str, Act] = {}
    extra: dict[str, list[int]] = {}
    for index, inp in enumerate(inputs):
        dims = inp.type.tensor_type.shape.dim
        shown = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
        where = f"input '{inp.name}' of shape {shown}"
        if not inp.type.HasField("tensor_type") or not dims:
            raise _fail(path, f"input '{inp.name}': not a tensor with a shape; supported: an "
                        "image [1, C, H, W], token ids [1, T] and tensors of a fixed shape")
        for axis, d in enumerate(dims):
            if not d.HasField("dim_value") or d.dim_value < 1:
                what = "batch" if axis == 0 else ("sequence length" if axis == 1 and
                                                  len(dims) == 2 else "dimension")
                raise _fail(path, f"{where}: dynamic {what} {axis} ('{shown[axis]}') the file "
                            "does not pin down; export with fixed shapes, batch 1 "
                            "(torch.onnx.export without dynamic_axes)")
        if dims[0].dim_value != 1 and len(dims) == 4:
            raise _fail(path, f"{where}: a batch of {dims[0].dim_value}; nnaccel simulates "
                        "one image, export with batch size 1")
        full = tuple(d.dim_value for d in dims)
        shape = token_shape(full)
        if len(shape) > MAX_RANK:
            raise _fail(path, f"{where}: rank {len(full)}; supported: at most {MAX_RANK} axes "
                        "besides the batch")
        if index == 0 and len(full) == 4:
            acts[inp.name] = Act(INPUT, shape)  # an image, as the CNN views expect it
        else:
            name = INPUT if index == 0 else inp.name
            acts[inp.name] = Act(name, shape, view="tensor", dims=full)
            if index:
                extra[inp.name] = list(shape)
    return Inputs(inputs[0].name, acts, extra)


def _inferred(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    out = {}
    for vi in [*graph.value_info, *graph.output]:
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            out[vi.name] = tuple(d.dim_value for d in dims)
    return out


#: Graph names exporters give every model: the file's name says more.
GENERIC_GRAPH_NAMES = frozenset({"main_graph", "torch_jit", "torch-jit-export", "graph", "model",
                                 "tf2onnx", "onnx"})


@dataclass(frozen=True)
class Imported:
    """What the walk finds: the network's file fields (metadata checked and in place) and the
    builder, which holds each weighted layer's weights."""

    fields: dict[str, Any]
    builder: Builder
    tensors: dict[str, tuple[str, tuple[int, ...]]]  # layer -> ONNX tensor and its dims
    input_name: str


def _metadata(path: Path, model: onnx.ModelProto, layers: list[dict[str, Any]],
              fields: dict[str, Any]) -> None:
    """The exporter's `nnaccel.*` metadata into `fields`, parsed as strictly as a network file
    (its values are then validated with the file's own rules: a sparsity of 5, "x" or NaN is
    refused naming the layer and the field)."""
    meta = {p.key: p.value for p in model.metadata_props}
    for key in ("name", "source", "notes"):
        if meta.get(META + key):
            fields[key] = meta[META + key]
    if meta.get(META + "paper"):
        fields["paper"] = loads_strict(meta[META + "paper"], str(path), f"metadata {META}paper")
    if meta.get(META + "sparsity"):
        where = f"metadata {META}sparsity"
        own = loads_strict(meta[META + "sparsity"], str(path), where)
        if not isinstance(own, dict):
            raise NetworkError(str(path), "expected an object of layer name: sparsity",
                               field=where)
        by_name = {layer["name"]: layer for layer in layers}
        for name, value in own.items():
            if name not in by_name:
                raise NetworkError(str(path), f"names layer '{name[:80]}', which the model "
                                   "does not have", field=where)
            by_name[name]["sparsity"] = value


def network_name(path: Path, graph: onnx.GraphProto) -> str:
    """The graph's name when it is a real one, else the file's (never 'main_graph')."""
    name = graph.name.strip()
    return path.stem if not name or name.lower() in GENERIC_GRAPH_NAMES else name


def walk(path: Path, model: onnx.ModelProto) -> Imported:
    """Map every node of `model` to layers; raise NetworkError naming the failing node."""
    graph = model.graph
    b = Builder(opset=max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          default=13))
    outside = externals(path, model)
    try:  # before the checker, which would say less about data that does not fit its shape
        for tensor in graph.initializer:
            if tensor.name in outside:
                array = b.values[tensor.name] = placeholder(outside[tensor.name])
                b.external[id(array)] = outside[tensor.name]
            else:
                b.values[tensor.name] = to_array(tensor)
            b.sources[id(b.values[tensor.name])] = tensor.name
    except WeightError as exc:
        raise _fail(path, str(exc)) from None
    b.learned.update(t.name for t in graph.initializer
                     if t.data_type in FLOATS and int(np.prod(t.dims)) > 1)
    inferred = checked(path, model)
    inputs = _inputs(path, graph)
    b.values.update(inputs.acts)
    b.reserved.update(inputs.extra)
    b.count_uses(graph)
    for index, node in enumerate(graph.node):
        label = layer_label(node, index)
        try:
            b.run(node, label, HANDLERS.get(node.op_type))
            b.check_inferred(node, inferred)
        except OpError as exc:
            supported = "" if not exc.list_supported else f"; supported: {', '.join(SUPPORTED)}"
            raise _fail(path, f"node '{label}' ({node.op_type}): {exc}{supported}") from None
    for out in graph.output:
        value = b.values.get(out.name)
        if not isinstance(value, Act) or value.layer == INPUT or value.layer in inputs.extra:
            raise _fail(path, f"output '{out.name}' is not computed by any layer nnaccel models")
        if value.fns or value.stat:  # a function the output ends with (BERT's pooler tanh)
            b.node_label = value.origin or out.name
            try:
                b.tensor(value)
            except OpError as exc:
                raise _fail(path, f"output '{out.name}': {exc}") from None
    if not b.layers:
        raise _fail(path, "the model has no layer nnaccel models (conv, gemm, pooling, ...)")
    fields: dict[str, Any] = {
        "name": network_name(path, graph),
        "input_shape": list(inputs.acts[inputs.first].shape),
        "source": f"onnx: {path.name}",
    }
    if inputs.extra:
        fields["inputs"] = inputs.extra
    _metadata(path, model, b.layers, fields)
    fields["layers"] = b.layers
    return Imported(fields, b, b.tensors, inputs.first)


def import_model(path: str | Path, measured: bool | str = False,
                 model: onnx.ModelProto | None = None, name: str | None = None) -> Network:
    """The Network of the ONNX model at `path` (or of `model`, already in memory, named so).

    With `measured`, each conv/fc layer's sparsity is the fraction of zeros in its weight
    initializer. A sparsity the exporter recorded (metadata) comes back as the file's own.
    `measured="auto"` measures only real weights: not those `nnaccel export` made up (zeros
    or seeded noise, producer 'nnaccel'), nor a model whose weights of some layer are all
    zero (placeholders, which no trained layer has).
    `name` replaces the network's name (else the metadata's, the graph's or the file's).
    """
    path = Path(path)
    model = model if model is not None else load(path)
    imported = walk(path, model)
    if name is not None:
        imported.fields["name"] = name
    zeros = None  # each weighted layer's zeros, read once (external weights in chunks)
    if measured == "auto":
        zeros = imported.builder.zero_fractions()
        measured = (model.producer_name != "nnaccel" and bool(zeros)
                    and all(z < limits.MAX_SPARSITY for z in zeros.values()))
    data = parse_network_text(json.dumps(imported.fields), str(path))
    layers = tuple(Layer(**f, sparsity_source="file" if f.get("sparsity") is not None else "")
                   for f in data.pop("layers"))
    network = Network(layers=layers, path=str(path), **data)
    if measured:
        network = with_sparsity(network, zeros if zeros is not None
                                else imported.builder.zero_fractions(), f"measured: {path.name}")
    return replace(network, path=str(path))
