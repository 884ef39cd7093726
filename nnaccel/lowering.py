"""Layers as array operations: the plain-number layer vectors the engines take.

docs/model.md §1. An FC layer is a 1x1 convolution on a 1x1 map; pooling, global pooling and
element-wise add are weightless *window* operations run the same way as a depthwise
convolution; concat moves no data (its producers write into its slices) and has no vector.
"""

from __future__ import annotations

import numpy as np

from .engines import layout as L
from .network import Layer

#: Layer types that become an array operation; concat is the one that does not.
ARRAY_TYPES = ("conv", "fc", "maxpool", "avgpool", "global_avgpool", "add")


def layer_vector(layer: Layer) -> np.ndarray | None:
    """The layer vector of `layer` (layout.L_*), or None for a layer that moves no data."""
    v = np.zeros(L.L_LEN, dtype=np.int64)
    c, h, w = layer.input_shape
    co, ho, wo = layer.output_shape
    kh, kw = layer.kernel
    sh, sw = layer.stride
    ph, pw = layer.padding
    t = layer.type
    if t == "conv":
        g = layer.groups
        v[[L.L_KIND, L.L_G, L.L_CGI, L.L_CGO]] = (L.KIND_CONV, g, c // g, co // g)
    elif t == "fc":
        v[[L.L_KIND, L.L_G, L.L_CGI, L.L_CGO]] = (L.KIND_CONV, 1, c * h * w, co)
        h = w = ho = wo = kh = kw = sh = sw = 1
        ph = pw = 0
    elif t in ("maxpool", "avgpool"):
        v[[L.L_KIND, L.L_G, L.L_CGI, L.L_CGO]] = (L.KIND_WINDOW, c, 1, 1)
    elif t == "global_avgpool":
        v[[L.L_KIND, L.L_G, L.L_CGI, L.L_CGO]] = (L.KIND_WINDOW, c, 1, 1)
        kh, kw, sh, sw, ph, pw = h, w, 1, 1, 0, 0
    elif t == "add":
        # Each output value reads one value of each operand: the operands are the group's
        # input channels, so an n-way add is a grouped 1x1 window op with CGI = n.
        v[[L.L_KIND, L.L_G, L.L_CGI, L.L_CGO]] = (L.KIND_WINDOW, co, len(layer.inputs), 1)
        kh = kw = sh = sw = 1
        ph = pw = 0
    elif t == "concat":
        return None
    else:  # the loader admits no other type; a new one must be lowered explicitly
        raise ValueError(f"layer {layer.name!r}: no lowering for type {t!r}")
    v[[L.L_H, L.L_W, L.L_KH, L.L_KW, L.L_SH, L.L_SW, L.L_PH, L.L_PW, L.L_HO, L.L_WO]] = (
        h, w, kh, kw, sh, sw, ph, pw, ho, wo,
    )
    return v
