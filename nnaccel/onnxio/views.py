"""Operators that add no layer but change how a tensor is seen: flattened for a classifier, or
the 5-D channel-group view of a channel shuffle, which the last Reshape turns into one
``shuffle`` layer; Shape of an activation is a constant (its static dims)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nnaccel.onnxio import tensors as t
from nnaccel.onnxio.graph import Act, Builder, OpError, attrs, ints


def on_flatten(b: Builder, node, label, ins):
    axis = attrs(node).get("axis", 1)
    if isinstance(ins[0], Act) and ins[0].view in ("", "flat") and axis == 1 and \
            not t.is_tensor(ins[0]):
        return [replace(b.act(ins[0], views=("", "flat")), view="flat")]
    x = b.tensor(ins[0])
    if x.dims == (1, *x.shape) and len(x.dims) == 4 and axis == 1:  # an image again
        return [Act(x.layer, x.shape, view="flat")]
    axis %= len(x.dims) + 1
    return [t.seen_as(b, x, (int(np.prod(x.dims[:axis])), int(np.prod(x.dims[axis:]))))]


def on_squeeze(b: Builder, node, label, ins):
    if t.is_tensor(ins[0]) or isinstance(ins[0], Act) and ins[0].view != "" or \
            isinstance(ins[0], Act) and ins[0].shape[1:] != (1, 1):
        return [t.seen_as(b, b.tensor(ins[0]), tuple(t.squeeze_dims(ins[0], node, ins, b)))]
    x = b.act(ins[0])
    if x.shape[1:] != (1, 1):
        raise OpError(f"Squeeze of a {list(x.shape)} map; supported: of a [C, 1, 1] map")
    return [replace(x, view="flat")]


def on_gather(b: Builder, node, label, ins):
    """x[:, i] of an image: one channel (torchvision's GoogLeNet normalizes its input so)."""
    x = b.act(ins[0])
    index = np.asarray(b.const(ins[1], "the indices"))
    axis = attrs(node).get("axis", 0) % 4
    c = x.shape[0]
    if axis != 1 or index.ndim > 1:
        raise OpError(f"Gather on axis {axis} of an activation; supported: channels (axis 1) "
                      "by one index or a range")
    picked = [int(i) % c for i in index.reshape(-1)]
    if picked != list(range(picked[0], picked[0] + len(picked))):
        raise OpError(f"Gather of channels {picked}; supported: one channel or a range")
    y = b.add_layer(label, "slice", [x], channels=[picked[0], picked[-1] + 1])
    return [replace(y, view="channel") if index.ndim == 0 else y]


def on_unsqueeze(b: Builder, node, label, ins):
    if t.is_tensor(ins[0]) or isinstance(ins[0], Act) and (
            ins[0].view not in ("flat", "channel") or
            ins[0].view == "flat" and ins[0].shape[1:] != (1, 1)):
        return [t.seen_as(b, b.tensor(ins[0]), tuple(t.squeeze_dims(ins[0], node, ins, b)))]
    x = b.act(ins[0], views=("flat", "channel"))
    if x.view == "channel":  # back to [1, 1, H, W]
        return [replace(x, view="")]
    if x.shape[1:] != (1, 1):
        raise OpError(f"Unsqueeze of a flattened {list(x.shape)} map; supported: back to "
                      "[1, C, 1, 1]")
    return [replace(x, view="")]


def on_reshape(b: Builder, node, label, ins):
    if t.is_tensor(ins[0]):
        return [t.reshape_to(b, ins[0], ints(b.const(ins[1], "the shape")))]
    x = b.act(ins[0], views=("", "flat", "shuffled", "groups", "channel"))
    dims, target = x.onnx_dims(), ints(b.const(ins[1], "the shape"))
    target = [dims[i] if t == 0 and i < len(dims) else t for i, t in enumerate(target)]
    if -1 in target:
        known = int(np.prod([t for t in target if t != -1]))
        target[target.index(-1)] = int(np.prod(dims)) // max(known, 1)
    c, h, w = x.shape
    if x.view == "shuffled" and target == [1, c, h, w]:
        return [b.add_layer(label, "shuffle", [replace(x, view="")], groups=x.groups)]
    if x.view != "shuffled":
        if len(target) == 2 and target[0] == 1:
            return [replace(x, view="flat")]
        if target == [1, c, h, w]:
            return [replace(x, view="")]
        if len(target) == 5 and target[0] == 1 and target[3:] == [h, w] and \
                target[1] * target[2] == c and x.view == "":
            return [replace(x, view="groups", groups=target[1])]
    if x.view in ("shuffled", "groups"):
        raise OpError(f"Reshape of {list(dims)} to {target}; supported: after the channel "
                      "groups' swap, back to [1, C, H, W] (a channel shuffle)")
    return [t.reshape_to(b, x, ints(b.const(ins[1], "the shape")))]


def on_transpose(b: Builder, node, label, ins):
    x = b.act(ins[0], views=("", "flat", "groups", "shuffled", "channel", "tensor"), pad_ok=True)
    # no perm: ONNX reverses the axes
    perm = ints(attrs(node).get("perm", [])) or list(range(len(x.onnx_dims())))[::-1]
    if isinstance(x, Act) and x.view == "groups" and perm == [0, 2, 1, 3, 4] and \
            not t.is_tensor(x):
        return [replace(x, view="shuffled")]
    return [t.transpose(b, label, x, perm)]


def on_shape(b: Builder, node, label, ins):
    x = b.act(ins[0], views=("", "flat", "groups", "shuffled", "channel", "tensor"), pad_ok=True)
    dims = x.onnx_dims()
    a = attrs(node)
    start, end = a.get("start", 0), a.get("end", len(dims))
    return [np.asarray(dims[start:end] if "start" in a or "end" in a else dims, dtype=np.int64)]
