"""Operators that add no layer but change how a tensor is seen: flattened for a classifier, or
the 5-D channel-group view of a channel shuffle, which the last Reshape turns into one
``shuffle`` layer; Shape of an activation is a constant (its static dims)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nnaccel.onnxio.graph import Builder, OpError, attrs, ints


def on_flatten(b: Builder, node, label, ins):
    x = b.act(ins[0], views=("", "flat"))
    if attrs(node).get("axis", 1) != 1:
        raise OpError("Flatten on an axis other than 1; supported: [1, C, H, W] -> [1, C·H·W]")
    return [replace(x, view="flat")]


def on_squeeze(b: Builder, node, label, ins):
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
    x = b.act(ins[0], views=("flat", "channel"))
    if x.view == "channel":  # back to [1, 1, H, W]
        return [replace(x, view="")]
    if x.shape[1:] != (1, 1):
        raise OpError(f"Unsqueeze of a flattened {list(x.shape)} map; supported: back to "
                      "[1, C, 1, 1]")
    return [replace(x, view="")]


def on_reshape(b: Builder, node, label, ins):
    x = b.act(ins[0], views=("", "flat", "shuffled"))
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
    raise OpError(f"Reshape of {list(dims)} to {target}; supported: flattening, and the "
                  "Reshape-Transpose-Reshape of a channel shuffle")


def on_transpose(b: Builder, node, label, ins):
    x = b.act(ins[0], views=("", "groups"))
    perm = ints(attrs(node).get("perm", []))
    if x.view == "groups" and perm == [0, 2, 1, 3, 4]:
        return [replace(x, view="shuffled")]
    if x.view == "" and perm == [0, 1, 2, 3]:
        return [x]
    raise OpError(f"Transpose {perm}; supported: the channel-group swap [0, 2, 1, 3, 4] of a "
                  "channel shuffle")


def on_shape(b: Builder, node, label, ins):
    return [np.asarray(b.act(ins[0], views=("", "flat", "groups", "shuffled"), pad_ok=True)
                       .onnx_dims(), dtype=np.int64)]
