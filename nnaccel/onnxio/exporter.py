"""Write a Network as an ONNX model that onnx.checker accepts and onnxruntime runs.

Each layer becomes the nodes an exporter such as torch.onnx writes for it, named so that the
importer gives back the same layer: the node that defines the layer carries its name (a Conv,
Gemm, pooling, Add/Sum, Concat, Mul, Slice, Resize, or the last Reshape of a channel shuffle),
a folded batch norm is a BatchNormalization after it, an affine layer a Mul by per-channel
factors (and an Add of per-channel shifts). Weights are zeros or seeded random numbers; with
random weights a layer's own sparsity is made real by zeroing its smallest weights. The
network's name, source, notes, paper figures and per-layer sparsity travel in the model's
metadata, so that import(export(x)) == x.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnaccel.errors import NnaccelError
from nnaccel.netformat import INPUT, PAPER_FIELDS
from nnaccel.network import Layer, Network

OPSET = 17
IR_VERSION = 8  # what onnxruntime releases of the last years all read
WEIGHTS = ("zeros", "random")
META = "nnaccel."


class _Graph:
    def __init__(self, weights: str, seed: int):
        self.nodes: list[onnx.NodeProto] = []
        # in order: a tensor, or (name, shape) of float zeros not yet made
        self.inits: list[onnx.TensorProto | tuple[str, tuple[int, ...]]] = []
        self.random = weights == "random"
        self.rng = np.random.default_rng(seed)
        self.flat: set[str] = set()  # tensors of rank 2 (an fc's output)
        self.four_d: dict[str, str] = {}  # rank-2 tensor -> its [1, C, 1, 1] reshape

    def node(self, op: str, inputs: list[str], output: str, name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def init(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def weights(self, name: str, shape: tuple[int, ...], sparsity: float | None) -> str:
        if not self.random:  # zeros: written straight into the model by `_initializers`
            self.inits.append((name, shape))
            return name
        fan_in = int(np.prod(shape[1:]))
        w = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2 / fan_in))
        if sparsity:  # magnitude pruning: the smallest weights become the zeros
            k = round(sparsity * w.size)
            if k:
                flat = w.reshape(-1)
                flat[np.argpartition(np.abs(flat), k - 1)[:k]] = 0
        return self.init(name, w)

    def vector(self, name: str, n: int, fill: float, shape: tuple[int, ...] | None = None) -> str:
        v = np.full(n, fill, np.float32)
        if self.random:
            v += np.float32(0.1) * self.rng.standard_normal(n, dtype=np.float32)
        return self.init(name, v.reshape(shape or (n,)))

    def as_4d(self, tensor: str, channels: int) -> str:
        if tensor not in self.flat:
            return tensor
        if tensor not in self.four_d:
            shape = self.init(f"{tensor}:shape4", np.array([1, channels, 1, 1], np.int64))
            self.four_d[tensor] = self.node("Reshape", [tensor, shape], f"{tensor}:4d",
                                            f"{tensor}/reshape")
        return self.four_d[tensor]


def _pads(layer: Layer) -> list[int]:
    return [*layer.pad_begin, *layer.pad_end]


def _conv(g: _Graph, layer: Layer, x: str) -> str:
    n = layer.name
    shape = (layer.out_channels, layer.in_channels // layer.groups, *layer.kernel)
    ins = [x, g.weights(f"{n}.weight", shape, layer.sparsity)]
    if layer.bias:
        ins.append(g.vector(f"{n}.bias", layer.out_channels, 0.0))
    extra = {"dilations": list(layer.dilation)} if layer.dilation != (1, 1) else {}
    return g.node("Conv", ins, f"{n}:conv", n, kernel_shape=list(layer.kernel),
                  strides=list(layer.stride), pads=_pads(layer), group=layer.groups, **extra)


def _fc(g: _Graph, layer: Layer, x: str) -> str:
    n = layer.name
    if x not in g.flat:
        x = g.node("Flatten", [x], f"{n}:flat", f"{n}/flatten", axis=1)
    k = int(np.prod(layer.input_shape))
    ins = [x, g.weights(f"{n}.weight", (layer.out_channels, k), layer.sparsity)]
    if layer.bias:
        ins.append(g.vector(f"{n}.bias", layer.out_channels, 0.0))
    return g.node("Gemm", ins, f"{n}:gemm", n, transB=1)


def _batch_norm(g: _Graph, layer: Layer, y: str) -> str:
    n, c = layer.name, layer.out_channels
    ins = [y, g.vector(f"{n}.bn.scale", c, 1.0), g.vector(f"{n}.bn.bias", c, 0.0),
           g.vector(f"{n}.bn.mean", c, 0.0), g.init(f"{n}.bn.var", np.ones(c, np.float32))]
    return g.node("BatchNormalization", ins, f"{n}:bn", f"{n}/bn")


def _layer_nodes(g: _Graph, layer: Layer, xs: list[str]) -> str:
    """The nodes of one layer; returns its output tensor (before the name it is known by)."""
    n, t = layer.name, layer.type
    if t == "fc":
        return _fc(g, layer, xs[0])
    xs = [g.as_4d(x, s[0]) for x, s in zip(xs, layer.input_shapes, strict=True)]
    if t == "conv":
        return _conv(g, layer, xs[0])
    if t in ("maxpool", "avgpool"):
        op = "MaxPool" if t == "maxpool" else "AveragePool"
        extra = {"count_include_pad": 1} if t == "avgpool" else {}
        return g.node(op, xs, f"{n}:pool", n, kernel_shape=list(layer.kernel),
                      strides=list(layer.stride), pads=_pads(layer),
                      ceil_mode=int(layer.ceil_mode), **extra)
    if t == "global_avgpool":
        return g.node("GlobalAveragePool", xs, f"{n}:pool", n)
    if t == "add":
        return g.node("Add" if len(xs) == 2 else "Sum", xs, f"{n}:add", n)
    if t == "concat":
        return g.node("Concat", xs, f"{n}:concat", n, axis=1)
    if t == "mul":
        return g.node("Mul", xs, f"{n}:mul", n)
    if t == "affine":
        c = layer.out_channels
        y = g.node("Mul", [xs[0], g.vector(f"{n}.scale", c, 1.0, (1, c, 1, 1))], f"{n}:scale", n)
        if layer.bias:
            y = g.node("Add", [y, g.vector(f"{n}.shift", c, 0.0, (1, c, 1, 1))], f"{n}:shift",
                       f"{n}/shift")
        return y
    if t == "slice":
        s, e = layer.channels
        ins = [g.init(f"{n}.{k}", np.array([v], np.int64))
               for k, v in (("starts", s), ("ends", e), ("axes", 1))]
        return g.node("Slice", [xs[0], *ins], f"{n}:slice", n)
    if t == "shuffle":
        c, h, w = layer.input_shape
        grp = layer.groups
        s5 = g.init(f"{n}.shape5", np.array([1, grp, c // grp, h, w], np.int64))
        s4 = g.init(f"{n}.shape4", np.array([1, c, h, w], np.int64))
        y = g.node("Reshape", [xs[0], s5], f"{n}:groups", f"{n}/groups")
        y = g.node("Transpose", [y], f"{n}:swap", f"{n}/transpose", perm=[0, 2, 1, 3, 4])
        return g.node("Reshape", [y, s4], f"{n}:shuffle", n)
    if t == "upsample":
        scales = g.init(f"{n}.scales", np.array([1, 1, *layer.scale], np.float32))
        return g.node("Resize", [xs[0], "", scales], f"{n}:resize", n, mode=layer.mode)
    raise NnaccelError(f"layer '{n}': no ONNX export for type '{t}'")


def build_model(network: Network, weights: str = "zeros", seed: int = 0) -> onnx.ModelProto:
    """`network` as an ONNX ModelProto (opset 17), weights zeros or seeded random."""
    if weights not in WEIGHTS:
        raise NnaccelError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHTS)}")
    g = _Graph(weights, seed)
    tensor = {INPUT: INPUT}
    for layer in network.layers:
        y = _layer_nodes(g, layer, [tensor[i] for i in layer.inputs])
        if layer.batch_norm:
            y = _batch_norm(g, layer, y)
        if layer.type in ("conv", "add"):  # the ReLU the numpy reference applies too
            y = g.node("Relu", [y], f"{layer.name}:relu", f"{layer.name}/relu")
        g.nodes[-1].output[0] = tensor[layer.name] = layer.name  # the layer's last node
        if layer.type == "fc":
            g.flat.add(layer.name)
    read = {i for layer in network.layers for i in layer.inputs}
    outputs = [helper.make_tensor_value_info(
        layer.name, TensorProto.FLOAT,
        [1, layer.out_channels] if layer.type == "fc" else [1, *layer.output_shape])
        for layer in network.layers if layer.name not in read]
    graph = helper.make_graph(
        g.nodes, network.name, [helper.make_tensor_value_info(
            INPUT, TensorProto.FLOAT, [1, *network.input_shape])], outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="nnaccel", ir_version=IR_VERSION)
    _initializers(model.graph, g.inits)
    meta = {"name": network.name, "source": network.source, "notes": network.notes}
    if network.paper:
        meta["paper"] = json.dumps({k: list(v) if isinstance(v, tuple) else v
                                    for k, v in network.paper.items() if k in PAPER_FIELDS})
    own = {layer.name: layer.sparsity for layer in network.layers if layer.sparsity is not None}
    if own:
        meta["sparsity"] = json.dumps(own)
    helper.set_model_props(model, {META + k: v for k, v in meta.items() if v})
    from nnaccel.onnxio.importer import light

    onnx.checker.check_model(light(model))  # the weights' shapes, not 550 MB of them
    return model


def _initializers(graph: onnx.GraphProto, inits: list) -> None:
    """Move `inits` into `graph` one by one, so a model's weights exist once, not once per
    proto they pass through (make_graph and make_model each copy them: VGG-19's 574 MB of
    zeros took 2.1 GB). Zeros come from calloc'd bytes, whose pages are never touched."""
    for i, entry in enumerate(inits):
        if isinstance(entry, onnx.TensorProto):
            graph.initializer.append(entry)
        else:
            name, shape = entry
            t = graph.initializer.add()
            t.name, t.data_type = name, TensorProto.FLOAT
            t.dims.extend(shape)
            t.raw_data = bytes(4 * int(np.prod(shape)))
        inits[i] = None  # the copy in the graph is the one kept


def write_model(network: Network, path: str | Path, weights: str = "zeros", seed: int = 0) -> None:
    """Write the ONNX model of `network` to `path`, whole or not at all."""
    from nnaccel.outputs import write_atomic

    data = build_model(network, weights, seed).SerializeToString()
    # beside the target, renamed into place: a replaced model keeps its mode
    write_atomic(path, lambda f: f.write(data), binary=True)
