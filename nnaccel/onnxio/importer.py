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
from onnx import external_data_helper, helper, numpy_helper, shape_inference

from nnaccel.errors import NetworkError
from nnaccel.netformat import INPUT, parse_network_text
from nnaccel.network import Layer, Network
from nnaccel.onnxio.graph import Act, Builder, OpError
from nnaccel.onnxio.ops import HANDLERS, SUPPORTED
from nnaccel.sparsity import with_sparsity

META = "nnaccel."  # metadata_props keys written by the exporter


def light(model: onnx.ModelProto, limit: int = 4096) -> onnx.ModelProto:
    """`model` with its large initializers turned into typed inputs of the same shape.

    What the checker and shape inference read of a weight is its type and shape; copying
    VGG's 550 MB of weights through them (each serializes the model) would take seconds.
    Small initializers (shape vectors, scales) stay, for shape inference to propagate.
    """
    big = [t for t in model.graph.initializer if int(np.prod(t.dims)) > limit]
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


def load(path: Path) -> onnx.ModelProto:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(path, f"cannot read the file: {exc}") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises several kinds for bytes that are not a model
        raise _fail(path, f"not an ONNX model ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:120]})") from None
    if any(external_data_helper.uses_external_data(t) for t in model.graph.initializer):
        try:  # weights beside the model (files over 2 GB are saved so)
            external_data_helper.load_external_data_for_model(model, str(path.parent))
        except Exception as exc:
            raise _fail(path, f"cannot read the model's external weights: "
                        f"{' '.join(str(exc).split())[:120]}") from None
    return model


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


def _input_shape(path: Path, graph: onnx.GraphProto) -> tuple[str, tuple[int, int, int]]:
    init = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in init]
    if len(inputs) != 1:
        names = ", ".join(f"'{i.name}'" for i in inputs) or "none"
        raise _fail(path, f"the model has {len(inputs)} inputs ({names}); nnaccel simulates "
                    "networks of one input, an image [1, C, H, W]")
    inp = inputs[0]
    dims = inp.type.tensor_type.shape.dim
    shown = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
    where = f"input '{inp.name}' of shape {shown}"
    if len(dims) != 4:
        raise _fail(path, f"{where}: not one image [1, C, H, W] (rank {len(dims)}); "
                    "supported: a 4-D image input")
    for axis, d in enumerate(dims):
        if not d.HasField("dim_value") or d.dim_value < 1:
            what = "batch" if axis == 0 else "dimension"
            raise _fail(path, f"{where}: dynamic {what} {axis} ('{shown[axis]}') the file does "
                        "not pin down; export with a fixed shape [1, C, H, W] (torch.onnx.export "
                        "without dynamic_axes)")
    if dims[0].dim_value != 1:
        raise _fail(path, f"{where}: a batch of {dims[0].dim_value}; nnaccel simulates one "
                    "image, export with batch size 1")
    return inp.name, (dims[1].dim_value, dims[2].dim_value, dims[3].dim_value)


def _inferred(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    out = {}
    for vi in [*graph.value_info, *graph.output]:
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            out[vi.name] = tuple(d.dim_value for d in dims)
    return out


def _node_label(node: onnx.NodeProto, index: int) -> str:
    return node.name or (node.output[0] if node.output else f"#{index}")


@dataclass(frozen=True)
class Imported:
    """What the walk finds: the network's file fields and each weighted layer's zero fraction."""

    fields: dict[str, Any]
    zeros: dict[str, float]
    own_sparsity: dict[str, float]
    tensors: dict[str, tuple[str, tuple[int, ...]]]  # layer -> ONNX tensor and its dims
    input_name: str


def walk(path: Path, model: onnx.ModelProto) -> Imported:
    """Map every node of `model` to layers; raise NetworkError naming the failing node."""
    inferred = checked(path, model)
    graph = model.graph
    input_name, input_shape = _input_shape(path, graph)
    meta = {p.key: p.value for p in model.metadata_props}
    b = Builder(opset=max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          default=13))
    for tensor in graph.initializer:
        b.values[tensor.name] = numpy_helper.to_array(tensor)
    b.values[input_name] = Act(INPUT, input_shape)
    b.count_uses(graph)
    for index, node in enumerate(graph.node):
        label = _node_label(node, index)
        try:
            b.run(node, label, HANDLERS.get(node.op_type))
            b.check_inferred(node, inferred)
        except OpError as exc:
            supported = "" if not exc.list_supported else f"; supported: {', '.join(SUPPORTED)}"
            raise _fail(path, f"node '{label}' ({node.op_type}): {exc}{supported}") from None
    for out in graph.output:
        value = b.values.get(out.name)
        if not isinstance(value, Act) or value.layer == INPUT:
            raise _fail(path, f"output '{out.name}' is not computed by any layer nnaccel models")
    if not b.layers:
        raise _fail(path, "the model has no layer nnaccel models (conv, gemm, pooling, ...)")
    fields: dict[str, Any] = {
        "name": meta.get(META + "name") or graph.name or path.stem,
        "input_shape": list(input_shape),
        "source": meta.get(META + "source") or f"onnx: {path.name}",
    }
    if meta.get(META + "notes"):
        fields["notes"] = meta[META + "notes"]
    if meta.get(META + "paper"):
        fields["paper"] = json.loads(meta[META + "paper"])
    fields["layers"] = b.layers
    return Imported(fields, b.zeros, json.loads(meta.get(META + "sparsity", "{}")), b.tensors,
                    input_name)


def import_model(path: str | Path, measured: bool | str = False,
                 model: onnx.ModelProto | None = None) -> Network:
    """The Network of the ONNX model at `path` (or of `model`, already in memory, named so).

    With `measured`, each conv/fc layer's sparsity is the fraction of zeros in its weight
    initializer. A sparsity the exporter recorded (metadata) comes back as the file's own.
    `measured="auto"` measures only real weights: not those `nnaccel export` made up (zeros
    or seeded noise, producer 'nnaccel'), nor a model whose weights of some layer are all
    zero (placeholders, which no trained layer has).
    """
    path = Path(path)
    model = model if model is not None else load(path)
    imported = walk(path, model)
    if measured == "auto":
        measured = (model.producer_name != "nnaccel" and bool(imported.zeros)
                    and all(z < 1.0 for z in imported.zeros.values()))
    data = parse_network_text(json.dumps(imported.fields), str(path))
    layers = tuple(Layer(**f) for f in data.pop("layers"))
    network = Network(layers=layers, path=str(path), **data)
    if imported.own_sparsity:
        network = with_sparsity(network, imported.own_sparsity, "file")
    if measured:
        network = with_sparsity(network, imported.zeros, f"measured: {path.name}")
    return replace(network, path=str(path))
