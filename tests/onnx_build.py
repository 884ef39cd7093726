"""Build ONNX models with onnx.helper the way exporters write them (torch.onnx's node patterns:
Conv + BatchNormalization + Relu/Clip/HardSwish, Sigmoid·Mul for SiLU, Shape/Gather/Concat
subgraphs feeding the Reshapes of a channel shuffle, Flatten + Gemm classifiers, ...).

Weights are zeros unless `prune` is given: then seeded random weights of which that fraction,
the smallest, are zeros (magnitude pruning). Zero weights take no memory until `model` writes
them: in the model itself, or (`external=DIR`) as external data in a sparse file of zeros, as an
exporter writes a large model, so a VGG-16 costs a test no more than its structure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Net:
    def __init__(self, c: int = 3, h: int = 224, w: int = 224, prune: float | None = None,
                 opset: int = 17, name: str = "net"):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.dims: dict[str, tuple[int, ...]] = {"input": (1, c, h, w)}
        self.opset, self.name, self.prune = opset, name, prune
        self.rng = np.random.default_rng(0)
        self.n = 0
        self.zeros: list[int] = []  # indices in `inits` of zero weights not yet written

    # --- plumbing --------------------------------------------------------------------------
    def init(self, array: np.ndarray, dtype=np.float32) -> str:
        name = f"onnx::w{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype), name))
        return name

    def weight(self, shape: tuple[int, ...]) -> str:
        if self.prune is None:  # zeros: only the shape until `model` says where they go
            name = f"onnx::w{len(self.inits)}"
            t = TensorProto(name=name, data_type=TensorProto.FLOAT)
            t.dims.extend(shape)
            self.inits.append(t)
            self.zeros.append(len(self.inits) - 1)
            return name
        w = self.rng.standard_normal(shape).astype(np.float32)
        k = round(self.prune * w.size)
        if k:
            flat = w.reshape(-1)
            flat[np.argpartition(np.abs(flat), k - 1)[:k]] = 0
        return self.init(w)

    def node(self, op: str, ins: list[str], dims: tuple[int, ...] | None, n_out: int = 1,
             **attrs) -> str:
        self.n += 1
        outs = [f"/{op}_{self.n}_output_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, ins, outs, name=f"/{op}_{self.n}", **attrs))
        if dims is not None:
            self.dims[outs[0]] = dims
        return outs[0] if n_out == 1 else outs

    def c(self, x: str) -> int:
        return self.dims[x][1]

    def model(self, out: str, external: Path | None = None) -> onnx.ModelProto:
        """The model; its zero weights in it, or with `external` as external data in the
        sparse file `DIR/zeros.bin` (no page of it is written)."""
        zeros = [self.inits[i] for i in self.zeros]
        if external is None:
            for t in zeros:
                t.raw_data = bytes(int(np.prod(t.dims)) * 4)
        else:
            external_zeros(zeros, Path(external))
        self.zeros = []
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(self.dims["input"]))],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, list(self.dims[out]))],
            self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                 ir_version=8)

    # --- layers ----------------------------------------------------------------------------
    def conv(self, x: str, co: int, k: int | tuple[int, int], s: int = 1, p: int | None = None,
             g: int = 1, d: int = 1, bias: bool = False, pads: list[int] | None = None) -> str:
        kh, kw = (k, k) if isinstance(k, int) else k
        p = (kh // 2) * d if p is None else p
        pads = pads or [p, p, p, p]
        _, c, h, w = self.dims[x]
        ho = (h + pads[0] + pads[2] - d * (kh - 1) - 1) // s + 1
        wo = (w + pads[1] + pads[3] - d * (kw - 1) - 1) // s + 1
        ins = [x, self.weight((co, c // g, kh, kw))]
        if bias:
            ins.append(self.init(np.zeros(co)))
        return self.node("Conv", ins, (1, co, ho, wo), kernel_shape=[kh, kw], strides=[s, s],
                         pads=pads, group=g, dilations=[d, d])

    def bn(self, x: str) -> str:
        c = self.c(x)
        ins = [x, *(self.init(np.ones(c) if i in (0, 3) else np.zeros(c)) for i in range(4))]
        return self.node("BatchNormalization", ins, self.dims[x], epsilon=1e-5)

    def act(self, x: str, kind: str = "relu") -> str:
        d = self.dims[x]
        if kind == "relu":
            return self.node("Relu", [x], d)
        if kind == "relu6":  # opset 11+: min and max as inputs
            return self.node("Clip", [x, self.init(0.0), self.init(6.0)], d)
        if kind == "hswish":
            return self.node("HardSwish", [x], d)
        if kind == "hsigmoid":
            return self.node("HardSigmoid", [x], d, alpha=1 / 6)
        if kind == "sigmoid":
            return self.node("Sigmoid", [x], d)
        if kind == "silu":  # torch.onnx writes SiLU as x * Sigmoid(x)
            return self.node("Mul", [x, self.node("Sigmoid", [x], d)], d)
        if kind == "leaky":
            return self.node("LeakyRelu", [x], d, alpha=0.1)
        if kind == "tanh":
            return self.node("Tanh", [x], d)
        if kind == "none":
            return x
        raise ValueError(kind)

    def cba(self, x: str, co: int, k: int | tuple[int, int] = 1, s: int = 1, g: int = 1,
            act: str = "relu", p: int | None = None) -> str:
        return self.act(self.bn(self.conv(x, co, k, s, p=p, g=g)), act)

    def pool(self, x: str, op: str, k: int, s: int, p: int = 0, ceil: bool = False) -> str:
        _, c, h, w = self.dims[x]

        def size(n: int) -> int:
            span = n + 2 * p - k
            out = (-(-span // s) if ceil else span // s) + 1
            return out - 1 if ceil and (out - 1) * s >= n + p else out
        return self.node(op, [x], (1, c, size(h), size(w)), kernel_shape=[k, k], strides=[s, s],
                         pads=[p] * 4, ceil_mode=int(ceil))

    def maxpool(self, x: str, k: int, s: int, p: int = 0, ceil: bool = False) -> str:
        return self.pool(x, "MaxPool", k, s, p, ceil)

    def avgpool(self, x: str, k: int, s: int, p: int = 0, ceil: bool = False) -> str:
        return self.pool(x, "AveragePool", k, s, p, ceil)

    def gap(self, x: str) -> str:
        return self.node("GlobalAveragePool", [x], (1, self.c(x), 1, 1))

    def mean_hw(self, x: str, keepdims: int = 0) -> str:
        c = self.c(x)
        return self.node("ReduceMean", [x], (1, c, 1, 1) if keepdims else (1, c), axes=[2, 3],
                         keepdims=keepdims)

    def flatten(self, x: str) -> str:
        return self.node("Flatten", [x], (1, int(np.prod(self.dims[x][1:]))), axis=1)

    def gemm(self, x: str, n: int, bias: bool = True) -> str:
        k = self.dims[x][1]
        ins = [x, self.weight((n, k))] + ([self.init(np.zeros(n))] if bias else [])
        return self.node("Gemm", ins, (1, n), transB=1, alpha=1.0, beta=1.0)

    def add(self, a: str, b: str) -> str:
        return self.node("Add", [a, b], self.dims[a])

    def mul(self, a: str, b: str) -> str:
        return self.node("Mul", [a, b], self.dims[a])

    def concat(self, xs: list[str]) -> str:
        _, _, h, w = self.dims[xs[0]]
        return self.node("Concat", xs, (1, sum(self.c(x) for x in xs), h, w), axis=1)

    def split(self, x: str, sizes: list[int]) -> list[str]:
        _, _, h, w = self.dims[x]
        outs = self.node("Split", [x, self.init(sizes, np.int64)], None, n_out=len(sizes), axis=1)
        for o, c in zip(outs, sizes, strict=True):
            self.dims[o] = (1, c, h, w)
        return outs

    def slice_c(self, x: str, start: int, end: int) -> str:
        _, _, h, w = self.dims[x]
        ins = [x, *(self.init([v], np.int64) for v in (start, end, 1))]
        return self.node("Slice", ins, (1, end - start, h, w))

    def shape_of(self, x: str, axis: int) -> str:
        """Gather(Shape(x), axis), unsqueezed: how exporters spell x.size(axis)."""
        s = self.node("Shape", [x], None)
        g = self.node("Gather", [s, self.init(axis, np.int64)], None, axis=0)
        return self.node("Unsqueeze", [g, self.init([0], np.int64)], None)

    def shuffle(self, x: str, groups: int) -> str:
        _, c, h, w = self.dims[x]
        shape5 = self.node("Concat", [self.shape_of(x, 0), self.init([groups], np.int64),
                                      self.init([c // groups], np.int64), self.shape_of(x, 2),
                                      self.shape_of(x, 3)], None, axis=0)
        y = self.node("Reshape", [x, shape5], (1, groups, c // groups, h, w))
        y = self.node("Transpose", [y], (1, c // groups, groups, h, w), perm=[0, 2, 1, 3, 4])
        shape4 = self.node("Concat", [self.shape_of(x, 0), self.init([-1], np.int64),
                                      self.shape_of(x, 2), self.shape_of(x, 3)], None, axis=0)
        return self.node("Reshape", [y, shape4], (1, c, h, w))

    def se(self, x: str, squeeze: int, act: str = "relu", gate: str = "hsigmoid") -> str:
        c = self.c(x)
        s = self.act(self.conv(self.gap(x), squeeze, 1, bias=True), act)
        s = self.act(self.conv(s, c, 1, bias=True), gate)
        return self.mul(x, s)

    def resize(self, x: str, f: int, mode: str = "nearest") -> str:
        _, c, h, w = self.dims[x]
        scales = self.init([1, 1, f, f])
        return self.node("Resize", [x, "", scales], (1, c, h * f, w * f), mode=mode)

    def pad(self, x: str, t: int, left: int, b: int, r: int) -> str:
        _, c, h, w = self.dims[x]
        pads = self.init([0, 0, t, left, 0, 0, b, r], np.int64)
        return self.node("Pad", [x, pads], (1, c, h + t + b, w + left + r), mode="constant")


def external_zeros(tensors: list[onnx.TensorProto], folder: Path) -> None:
    """Point each float tensor's data at its own range of the sparse file `folder/zeros.bin`
    (no page of it written): zeros stored the way an exporter stores a large model's weights,
    which the importer reads lazily. Any data a tensor held in the model is dropped."""
    offset = 0
    for t in tensors:
        n = int(np.prod(t.dims)) * 4
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "zeros.bin"), ("offset", str(offset)),
                           ("length", str(n))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        offset += n
    with open(folder / "zeros.bin", "wb") as f:
        f.truncate(offset)
