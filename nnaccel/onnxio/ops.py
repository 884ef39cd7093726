"""ONNX operators as network layers: one handler per operator type.

A handler gets the node's inputs as values, constants (numpy arrays) or activations (``Act``),
and returns the values of its outputs, adding layers to the ``Builder`` as it goes. What a
handler cannot map raises ``OpError``, which the importer turns into one line naming the file,
the node and its op type. The handlers of views (Flatten, Reshape, Transpose, ...) are in
``views.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from nnaccel.onnxio import tensors as t
from nnaccel.onnxio.graph import Act, Builder, OpError, attrs, ints
from nnaccel.onnxio.views import (
    on_flatten,
    on_gather,
    on_reshape,
    on_shape,
    on_squeeze,
    on_transpose,
    on_unsqueeze,
)


def _padding(t: int, left: int, b: int, r: int) -> list[int]:
    return [t, left] if (t, left) == (b, r) else [t, left, b, r]


def _window_pads(a: dict[str, Any], x: Act, kernel: list[int], strides: list[int],
                 dilations: list[int]) -> tuple[int, int, int, int]:
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for n, k, s, d in zip(x.shape[1:], kernel, strides, dilations, strict=True):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            small = total // 2
            out.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
        pads = (out[0][0], out[1][0], out[0][1], out[1][1])
    elif auto == "VALID":
        pads = (0, 0, 0, 0)
    else:
        pads = tuple(ints(a.get("pads", [0, 0, 0, 0])))
        if len(pads) != 4:
            raise OpError(f"pads {list(pads)} are not those of a 2-D window")
    return tuple(p + q for p, q in zip(pads, x.pad, strict=True))


def _conv(b: Builder, node, label, ins):
    x = b.act(ins[0], pad_ok=True)
    w = b.const(ins[1], "the weight")
    a = attrs(node)
    if w.ndim != 4:
        raise OpError(f"a {w.ndim - 2}-D convolution; supported: 2-D (an [N, C, H, W] input)")
    group = int(a.get("group", 1))
    if w.shape[1] * group != x.shape[0]:
        raise OpError(f"weights {list(w.shape)} with group {group} do not fit "
                      f"{x.shape[0]} input channels")
    kernel = list(w.shape[2:])
    strides = ints(a.get("strides", [1, 1]))
    dilations = ints(a.get("dilations", [1, 1]))
    pads = _window_pads(a, x, kernel, strides, dilations)
    y = b.add_layer(label, "conv", [replace(x, pad=(0, 0, 0, 0))], int(w.shape[0]),
                    kernel=kernel, stride=strides, padding=_padding(*pads), groups=group,
                    bias=len(ins) > 2 and ins[2] is not None, batch_norm=False,
                    **({"dilation": dilations} if dilations != [1, 1] else {}))
    b.weigh(y.layer, w)
    return [y]


def _pool(kind: str):
    def handler(b: Builder, node, label, ins):
        x = b.act(ins[0], pad_ok=True)
        a = attrs(node)
        if any(d != 1 for d in ints(a.get("dilations", [1, 1]))):
            raise OpError("dilated pooling; supported: dilations 1")
        if len(node.output) > 1 and node.output[1] and b.uses.get(node.output[1]):
            raise OpError("its Indices output is used; supported: MaxPool's values only")
        kernel = ints(a["kernel_shape"])
        strides = ints(a.get("strides", [1, 1]))
        pads = _window_pads(a, x, kernel, strides, [1, 1])
        return [b.add_layer(label, kind, [replace(x, pad=(0, 0, 0, 0))], kernel=kernel,
                            stride=strides, padding=_padding(*pads),
                            ceil_mode=bool(a.get("ceil_mode", 0)))]
    return handler


def _global_avg(b: Builder, node, label, ins):
    return [b.add_layer(label, "global_avgpool", [b.act(ins[0])])]


def _global_max(b: Builder, node, label, ins):
    x = b.act(ins[0])
    return [b.add_layer(label, "maxpool", [x], kernel=list(x.shape[1:]), stride=[1, 1],
                        padding=[0, 0], ceil_mode=False)]


def _reduce_mean(b: Builder, node, label, ins):
    a = attrs(node)
    axes = a.get("axes") if len(ins) < 2 or ins[1] is None else ints(b.const(ins[1], "axes"))
    if t.is_tensor(ins[0]) or (axes is not None and len(axes) == 1 and axes[0] % 4 == 3):
        return t.reduce_mean(b, node, label, ins)
    x = b.act(ins[0])
    if axes is None or sorted(ax % 4 for ax in axes) != [2, 3]:
        raise OpError(f"ReduceMean over axes {axes}; supported: over height and width [2, 3]")
    y = b.add_layer(label, "global_avgpool", [x])
    return [y if a.get("keepdims", 1) else replace(y, view="flat")]


def _fc(b: Builder, x: Act, label: str, w: np.ndarray, trans_b: bool, bias: bool) -> Act:
    if w.ndim != 2:
        raise OpError(f"a weight of rank {w.ndim}; supported: a matrix")
    k, co = (w.shape[1], w.shape[0]) if trans_b else w.shape
    if k != int(np.prod(x.shape)):
        raise OpError(f"weights {list(w.shape)} do not fit {int(np.prod(x.shape))} features")
    y = b.add_layer(label, "fc", [x], int(co), bias=bias, batch_norm=False)
    b.weigh(y.layer, w)
    return replace(y, view="flat")


def _gemm(b: Builder, node, label, ins):
    a = attrs(node)
    if a.get("transA", 0):
        raise OpError("transA = 1; supported: Gemm of the activation by a weight matrix")
    if t.is_tensor(ins[0]):
        w = b.const(ins[1], "the weight B")
        has_bias = len(ins) > 2 and ins[2] is not None
        if has_bias:
            b.weight_names.add(node.input[2])
        return [t.linear(b, label, ins[0], w.T if a.get("transB", 0) else w, node.input[1],
                         has_bias)]
    x = b.act(ins[0], views=("", "flat"))
    has_bias = len(ins) > 2 and ins[2] is not None
    return [_fc(b, x, label, b.const(ins[1], "the weight B"), bool(a.get("transB", 0)), has_bias)]


def _matmul(b: Builder, node, label, ins):
    if isinstance(ins[0], Act) and isinstance(ins[1], Act):
        return [t.matmul_acts(b, label, ins[0], ins[1], node.input[1])]
    if not isinstance(ins[0], Act):
        raise OpError("a constant times an activation; supported: MatMul of an activation by "
                      "a weight matrix, or of two activations")
    if t.is_tensor(ins[0]) or ins[0].view not in ("", "flat") or np.ndim(ins[1]) != 2:
        return [t.linear(b, label, ins[0], ins[1], node.input[1], False)]
    return [_fc(b, b.act(ins[0], views=("", "flat")), label, ins[1], False, False)]


def _batch_norm(b: Builder, node, label, ins):
    x = b.act(ins[0], views=("", "flat"))
    producer = b.foldable(x, node.input[0], ("conv", "fc"))
    if producer is not None and not producer["batch_norm"]:
        producer["batch_norm"] = True
        return [replace(x, pure=False)]
    # no conv of its own (DenseNet's pre-activation on a concat): a per-channel scale and shift
    y = b.add_layer(label, "affine", [replace(x, view="")], bias=True)
    return [replace(y, view=x.view)]


def _elementwise(b: Builder, node, label, ins):
    """An activation or another function applied value by value: on an image folded, no layer
    (as the format folds ReLU); on a tensor pending, for the activation it is part of."""
    if t.is_tensor(ins[0]):
        if node.op_type in ("Softmax", "LogSoftmax"):
            return t.softmax(b, node, label, ins)
        return t.unary(b, node, label, ins)
    return [replace(b.act(ins[0], views=("", "flat", "channel")), pure=False)]


def _per_channel(k: np.ndarray, x: Act) -> bool:
    c = x.shape[0]
    if x.view == "flat":
        return k.size == c and k.shape[-1] == c
    return k.size == c and k.ndim >= 3 and k.shape[-3] == c


def _scale_or_shift(b: Builder, node, label, ins, shift: bool):
    x, k = (ins[0], ins[1]) if isinstance(ins[0], Act) else (ins[1], ins[0])
    x = b.act(x, views=("", "flat", "channel"))
    if k.size == 1:
        return [replace(x, pure=False)]  # HardSwish's x·relu6(x+3)/6 and the like
    if not _per_channel(k, x):
        raise OpError(f"a constant operand of shape {list(k.shape)}; supported: a scalar, or "
                      "one value per channel")
    tensor = node.input[0] if x is ins[0] else node.input[1]
    if shift:  # a bias: into the conv/fc or scale before it, when nothing else reads them
        producer = b.foldable(x, tensor, ("conv", "fc", "affine"))
        if producer is not None and not producer["bias"]:
            producer["bias"] = True
            return [x]
    y = b.add_layer(label, "affine", [replace(x, view="")], bias=shift)
    return [replace(y, view=x.view)]


def _binary(kind: str):
    def handler(b: Builder, node, label, ins):
        if t.is_tensor(*ins[:2]) or node.op_type == "Pow":
            if node.op_type == "Pow" and not t.is_tensor(*ins[:2]):
                return [replace(b.act(ins[0], views=("", "flat", "channel")), pure=False)]
            return t.binary(b, node, label, ins)
        if not all(isinstance(v, Act) for v in ins[:2]):
            return _scale_or_shift(b, node, label, ins, shift=kind == "add")
        x, y = b.act(ins[0]), b.act(ins[1])
        if x.layer == y.layer and x.shape == y.shape and kind == "mul":
            return [replace(x, pure=False)]  # x·f(x): SiLU as Sigmoid·Mul, HardSwish, Mish
        if kind == "mul" and x.shape[1:] == (1, 1) and y.shape[1:] != (1, 1):
            x, y = y, x  # the full tensor first, the per-channel factors second
        return [b.add_layer(label, kind, [x, y])]
    return handler


def _sum(b: Builder, node, label, ins):
    if t.is_tensor(*ins):
        xs = [b.tensor(v) for v in ins]
        return [xs[0] if len(xs) == 1 else t.merge(b, "add", label, xs)]
    xs = [b.act(v) for v in ins]
    return [xs[0] if len(xs) == 1 else b.add_layer(label, "add", xs)]


def _concat(b: Builder, node, label, ins):
    if t.is_tensor(*ins) or not all(isinstance(v, Act) for v in ins) or \
            attrs(node).get("axis", 1) % 4 != 1:
        return t.concat(b, node, label, ins)
    xs = [b.act(v, "every input") for v in ins]
    if attrs(node).get("axis", 1) % 4 != 1:
        raise OpError(f"Concat on axis {attrs(node).get('axis')}; supported: on channels (1)")
    return [xs[0] if len(xs) == 1 else b.add_layer(label, "concat", xs)]


def _slices(b: Builder, label: str, x: Act, ranges: list[tuple[int, int]]) -> list[Act]:
    out = []
    for i, (start, end) in enumerate(ranges):
        if (start, end) == (0, x.shape[0]):
            out.append(x)
        else:
            name = label if len(ranges) == 1 else f"{label}_{i}"
            out.append(b.add_layer(name, "slice", [x], channels=[start, end]))
    return out


def _split(b: Builder, node, label, ins):
    a = attrs(node)
    sizes = a.get("split") if len(ins) < 2 or ins[1] is None else ints(b.const(ins[1], "split"))
    n = len(node.output)
    if t.is_tensor(ins[0]) or a.get("axis", 0) % 4 != 1:
        x = b.tensor(ins[0])
        axis = a.get("axis", 0) % len(x.dims)
        size = x.dims[axis]
        sizes = sizes or [min(-(-size // n), size - i * -(-size // n)) for i in range(n)]
        edges = np.cumsum([0, *sizes])
        return [t.slice_axis(b, f"{label}_{i}" if n > 1 else label, x, axis, int(s), int(e))
                for i, (s, e) in enumerate(zip(edges, edges[1:], strict=False))]
    x = b.act(ins[0])
    if sizes is None:
        c = x.shape[0]
        per = -(-c // n)
        sizes = [min(per, c - i * per) for i in range(n)]
    edges = np.cumsum([0, *sizes])
    return _slices(b, label, x, [(int(s), int(e)) for s, e in zip(edges, edges[1:], strict=False)])


def _slice(b: Builder, node, label, ins):
    starts, ends = ints(b.const(ins[1], "starts")), ints(b.const(ins[2], "ends"))
    axes = ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    if t.is_tensor(ins[0]) or isinstance(ins[0], Act) and ins[0].view == "" and not any(
            ins[0].pad) and (any(st != 1 for st in steps) or any(ax % 4 != 1 for ax in axes)):
        x = ins[0]
        for ax, s, e, st in zip(axes, starts, ends, steps, strict=True):
            x = t.slice_axis(b, label, x, ax, s, e, st)
        return [x]
    x = b.act(ins[0])
    dims = (1, *x.shape)
    rng = {1: (0, x.shape[0])}
    for ax, s, e, st in zip(axes, starts, ends, steps, strict=True):
        n = dims[ax % 4]
        s, e = max(0, s + n if s < 0 else s), min(n, e + n if e < 0 else e)
        if st != 1 or (ax % 4 != 1 and (s, e) != (0, n)):
            raise OpError(f"Slice of axis {ax} [{s}:{e}:{st}]; supported: a range of channels")
        rng[ax % 4] = (min(s, n), e)
    return _slices(b, label, x, [rng[1]])


def _pad(b: Builder, node, label, ins):
    a = attrs(node)
    pads = ints(b.const(ins[1], "pads")) if len(ins) > 1 and ins[1] is not None else \
        ints(a.get("pads", []))
    if t.is_tensor(ins[0]):
        if any(pads):
            raise OpError(f"Pad {pads} of a tensor; supported: zero padding of an image's "
                          "height and width, or a Pad of nothing")
        return [ins[0]]
    x = b.act(ins[0])
    value = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("value", 0.0)
    if a.get("mode", "constant") != "constant" or np.any(np.asarray(value) != 0):
        raise OpError("a Pad other than with zeros; supported: zero padding of height and width")
    if len(ins) > 3 and ins[3] is not None:
        full = [0] * 8
        for i, ax in enumerate(ints(ins[3])):
            full[ax % 4], full[ax % 4 + 4] = pads[i], pads[i + len(pads) // 2]
        pads = full
    if len(pads) != 8 or pads[0] or pads[1] or pads[4] or pads[5] or min(pads) < 0:
        raise OpError(f"pads {pads}; supported: zero padding of height and width only")
    return [replace(x, pure=False, pad=(pads[2], pads[3], pads[6], pads[7]))]


def _resize(b: Builder, node, label, ins):
    x = b.act(ins[0])
    a = attrs(node)
    scales = sizes = None
    if node.op_type == "Upsample":
        scales = ins[1] if len(ins) > 1 else np.asarray(a.get("scales", []))
    elif len(ins) == 2:  # opset 10: X, scales
        scales = ins[1]
    else:
        scales = ins[2] if len(ins) > 2 else None
        sizes = ins[3] if len(ins) > 3 else None
    c, h, w = x.shape
    if scales is not None and np.asarray(scales).size:
        f = np.asarray(b.const(scales, "scales"), dtype=float).reshape(-1)
    elif sizes is not None:
        f = np.asarray(b.const(sizes, "sizes"), dtype=float).reshape(-1) / [1, c, h, w]
    else:
        raise OpError("neither scales nor sizes given")
    mode = {"bilinear": "linear"}.get(a.get("mode", "nearest"), a.get("mode", "nearest"))
    if len(f) != 4 or list(f[:2]) != [1, 1] or any(v < 1 or v != int(v) for v in f[2:]) or \
            mode not in ("nearest", "linear"):
        raise OpError(f"Resize by {list(f)} ({mode}); supported: nearest or linear upsampling of "
                      "height and width by whole factors")
    return [b.add_layer(label, "upsample", [x], scale=[int(f[2]), int(f[3])], mode=mode)]


ACTIVATIONS = ("Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
               "Softmax", "LogSoftmax", "Elu", "Selu", "Softplus", "Gelu", "Mish", "Erf",
               "Dropout", "Identity", "Cast", "CastLike", "Sqrt", "Reciprocal", "Neg", "Exp",
               "Log", "Abs", "PRelu")


def _gather(b: Builder, node, label, ins):
    if not isinstance(ins[0], Act):
        return t.embedding(b, node, label, ins)
    if isinstance(ins[1], Act):
        raise OpError("Gather by computed indices; supported: an embedding (rows of a learned "
                      "table) or constant indices")
    if t.is_tensor(ins[0]) or attrs(node).get("axis", 0) % 4 != 1:
        return [t.gather_slice(b, node, label, b.tensor(ins[0]), np.asarray(ins[1]))]
    return on_gather(b, node, label, ins)

HANDLERS: dict[str, Callable] = {
    "Conv": _conv, "MaxPool": _pool("maxpool"), "AveragePool": _pool("avgpool"),
    "GlobalAveragePool": _global_avg, "GlobalMaxPool": _global_max, "ReduceMean": _reduce_mean,
    "Gemm": _gemm, "MatMul": _matmul, "BatchNormalization": _batch_norm,
    "Add": _binary("add"), "Sub": _binary("add"), "Mul": _binary("mul"), "Div": _binary("mul"),
    "Sum": _sum, "Concat": _concat, "Split": _split, "Slice": _slice, "Pad": _pad,
    "Flatten": on_flatten, "Squeeze": on_squeeze, "Unsqueeze": on_unsqueeze, "Reshape": on_reshape,
    "Transpose": on_transpose, "Resize": _resize, "Upsample": _resize, "Shape": on_shape,
    "Gather": _gather, "Pow": _binary("mul"), "LayerNormalization": t.layer_norm,
    "Where": t.where, "Expand": t.expand,
    **{op: _elementwise for op in ACTIVATIONS},
}

#: For error messages: what a model may contain.
SUPPORTED = (*sorted(HANDLERS), "and any operator whose inputs are all constants (folded)")
