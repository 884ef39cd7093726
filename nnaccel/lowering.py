"""Layers as array operations: the plain-number layer vectors the engines take.

docs/model.md §1. An FC layer is a 1x1 convolution on a 1x1 map; pooling, global pooling and
element-wise add are weightless *window* operations run the same way as a depthwise
convolution; concat moves no data (its producers write into its slices) and has no vector.
§3a: a pooling or a residual add whose input comes from a conv/fc that feeds nothing else is
fused into that conv's output path, when the hardware fuses them; so is a chain of an add
and then a pooling (the pooling's input is the fused add, which feeds nothing else).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .engines import layout as L
from .hardware import Hardware
from .network import Layer, Network
from .sparsity import density

_POOLS = ("maxpool", "avgpool", "global_avgpool")


@dataclass(frozen=True)
class Lowered:
    """A layer and the array operation that runs it: `vector` is None when the layer moves no
    data of its own (concat), or when it is fused into the output path of `fused_into`."""

    layer: Layer
    vector: np.ndarray | None
    fused_into: str | None = None
    density: Fraction | None = None  # the layer's weight density, where not the hardware's

    def hardware_vector(self, hw_vec: np.ndarray) -> np.ndarray:
        """The hardware vector this layer runs with: its own density in place of the global one."""
        if self.density is None:
            return hw_vec
        v = hw_vec.copy()
        v[L.H_DNUM], v[L.H_DDEN] = self.density.numerator, self.density.denominator
        return v


def lower_network(network: Network, hw: Hardware) -> tuple[Lowered, ...]:
    """Every layer of `network` as an array operation, with pooling and adds fused (§3a)."""
    consumers: dict[str, list[str]] = {}
    for layer in network.layers:
        for src in layer.inputs:
            consumers.setdefault(src, []).append(layer.name)
    by_name = {layer.name: layer for layer in network.layers}
    order = {layer.name: i for i, layer in enumerate(network.layers)}
    vectors = {layer.name: layer_vector(layer) for layer in network.layers}
    fused: dict[str, str] = {}  # fused layer -> the conv whose output path runs it
    posts: dict[str, set[str]] = {}  # conv -> the post-operations in its output path
    for layer in network.layers:
        # The producer computed last: the other operands of an add already sit in DRAM then.
        src = max(layer.inputs, key=lambda n: order.get(n, -1))
        if consumers.get(src) != [layer.name]:
            continue
        # A chain: a pooling after an add that is itself in a conv's output path joins it
        # there, after the add (the order the output path applies them, §3a).
        target = fused.get(src, src) if layer.type in _POOLS else src
        producer = by_name.get(target)
        if producer is None or producer.type not in ("conv", "fc"):
            continue
        done = posts.setdefault(target, set())
        v = vectors[target]
        if layer.type in _POOLS and hw.fuse_pool and len(layer.inputs) == 1 and "pool" not in done:
            pv = vectors[layer.name]
            v[[L.L_PKH, L.L_PKW, L.L_PSH, L.L_PSW, L.L_PPH, L.L_PPW, L.L_PHO, L.L_PWO]] = pv[
                [L.L_KH, L.L_KW, L.L_SH, L.L_SW, L.L_PH, L.L_PW, L.L_HO, L.L_WO]
            ]
            done.add("pool")
        elif layer.type == "add" and hw.fuse_add and target == src and not done:
            v[L.L_RES] = len(layer.inputs) - 1
            done.add("add")
        else:
            continue
        fused[layer.name] = target
    return tuple(
        Lowered(layer, None if layer.name in fused else _fitted(vectors[layer.name], layer, hw),
                fused.get(layer.name), layer_density(layer, hw))
        for layer in network.layers
    )


def _whole_map(layer: Layer) -> bool:
    c, h, w = layer.input_shape
    return layer.type == "global_avgpool" or (
        layer.type in ("maxpool", "avgpool") and layer.kernel == (h, w)
        and layer.output_shape == (c, 1, 1) and layer.padding in ((0, 0), (0, 0, 0, 0)))


def _map_bytes(layer: Layer, hw: Hardware) -> int:
    """The double buffer a whole-map pool needs to run as a window operation (`_fitted`)."""
    _, h, w = layer.input_shape
    return 2 * (h * w * hw.word_bytes + hw.psum_bytes)


def whole_maps(network: Network) -> tuple[Layer, ...]:
    """The network's pools over a whole map (their lowering depends on the buffer: `_fitted`)."""
    return tuple(x for x in network.layers if _whole_map(x))


def lowering_key(network: Network, hw: Hardware, pools: Sequence[Layer] | None = None) -> tuple:
    """What `lower_network(network, hw)` depends on of `hw`: equal keys, equal lowerings (a
    sweep lowers a network once per key, not once per hardware point). `pools`:
    `whole_maps(network)`, when the caller keeps it."""
    pools = whole_maps(network) if pools is None else pools
    fits = tuple(_map_bytes(x, hw) <= hw.buffer_bytes for x in pools)
    return (hw.fuse_pool, hw.fuse_add, hw.density, fits)


def _fitted(v: np.ndarray | None, layer: Layer, hw: Hardware) -> np.ndarray | None:
    """A global pool (a pool over the whole map) whose one-channel map cannot sit in the double
    buffer runs as a reduction.

    docs/model.md §1a: the map's pixels become the group's input channels of a 1x1 window
    operation on a 1x1 map (the same values and operations), which the c loop can tile.
    """
    if v is None or not _whole_map(layer):
        return v
    if _map_bytes(layer, hw) <= hw.buffer_bytes:
        return v
    v[L.L_CGI] = v[L.L_H] * v[L.L_W]
    v[[L.L_H, L.L_W, L.L_KH, L.L_KW]] = 1
    return v


def _span(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def layer_density(layer: Layer, hw: Hardware) -> Fraction | None:
    """The weight density the engines count with for `layer`, or None for the hardware's.

    docs/model.md §1a: a layer's own sparsity replaces the hardware's. The factors of a mul
    or affine layer are not pruned weights: dense. A dilated kernel runs as the dense kernel
    of its whole span with zeros between the taps, so its density shrinks by taps / span.
    """
    if layer.type in ("mul", "affine"):
        return Fraction(1)
    if layer.type not in ("conv", "fc"):
        return None
    own = None if layer.sparsity is None else density(layer.sparsity)
    if layer.type == "conv" and layer.dilation != (1, 1):
        (kh, kw), (dh, dw) = layer.kernel, layer.dilation
        base = hw.density if own is None else own
        return base * Fraction(kh * kw, _span(kh, dh) * _span(kw, dw))
    return own

#: Layer types that become an array operation; concat, slice and shuffle do not.
ARRAY_TYPES = ("conv", "fc", "maxpool", "avgpool", "global_avgpool", "add", "mul", "affine",
               "upsample")
#: Layer types that are addressing only: the consumer reads its producer's data in place.
ADDRESS_TYPES = ("concat", "slice", "shuffle")


def layer_vector(layer: Layer) -> np.ndarray | None:
    """The layer vector of `layer` (layout.L_*), or None for a layer that moves no data."""
    c, h, w = layer.input_shape
    co, ho, wo = layer.output_shape
    kh, kw = _span(layer.kernel[0], layer.dilation[0]), _span(layer.kernel[1], layer.dilation[1])
    sh, sw = layer.stride
    ph, pw = layer.pad_begin  # the far padding is implicit in the output size
    t = layer.type
    if t == "conv":
        g = layer.groups
        kind, g, cgi, cgo = L.KIND_CONV, g, c // g, co // g
    elif t == "fc":
        kind, g, cgi, cgo = L.KIND_CONV, 1, c * h * w, co
        h = w = ho = wo = kh = kw = sh = sw = 1
        ph = pw = 0
    elif t in ("maxpool", "avgpool"):
        kind, g, cgi, cgo = L.KIND_WINDOW, c, 1, 1
    elif t == "global_avgpool":
        kind, g, cgi, cgo = L.KIND_WINDOW, c, 1, 1
        kh, kw, sh, sw, ph, pw = h, w, 1, 1, 0, 0
    elif t == "add":
        # Each output value reads one value of each operand: the operands are the group's
        # input channels, so an n-way add is a grouped 1x1 window op with CGI = n.
        kind, g, cgi, cgo = L.KIND_WINDOW, co, len(layer.inputs), 1
        kh = kw = sh = sw = 1
        ph = pw = 0
    elif t == "mul" and layer.input_shapes[1][1:] == (1, 1):
        # §1a: the squeeze-and-excitation multiply scales each channel by one factor, which
        # the array holds as a weight: a depthwise 1x1 conv whose weights are the factors.
        kind, g, cgi, cgo = L.KIND_CONV, co, 1, 1
        kh = kw = sh = sw = 1
        ph = pw = 0
    elif t == "mul":  # like add: each output reads one value of each operand
        kind, g, cgi, cgo = L.KIND_WINDOW, co, len(layer.inputs), 1
        kh = kw = sh = sw = 1
        ph = pw = 0
    elif t == "affine":  # §1a: a per-channel scale (and shift), a depthwise 1x1 conv
        kind, g, cgi, cgo = L.KIND_CONV, co, 1, 1
        kh = kw = sh = sw = 1
        ph = pw = 0
    elif t == "upsample":
        # §1a: run on the output grid; each output reads its 1 (nearest) or 4 (linear) source
        # values, fetched by repeated addresses, like the operands of an add.
        kind, g, cgi, cgo = L.KIND_WINDOW, co, 1 if layer.mode == "nearest" else 4, 1
        h, w = ho, wo
        kh = kw = sh = sw = 1
        ph = pw = 0
    elif t in ADDRESS_TYPES:
        return None
    else:  # the loader admits no other type; a new one must be lowered explicitly
        raise ValueError(f"layer {layer.name!r}: no lowering for type {t!r}")
    v = [0] * L.L_LEN  # a list first: numpy's per-call overhead dominates on ~25 slots
    for slot, x in ((L.L_KIND, kind), (L.L_G, g), (L.L_CGI, cgi), (L.L_CGO, cgo), (L.L_H, h),
                    (L.L_W, w), (L.L_KH, kh), (L.L_KW, kw), (L.L_SH, sh), (L.L_SW, sw),
                    (L.L_PH, ph), (L.L_PW, pw), (L.L_HO, ho), (L.L_WO, wo)):
        v[slot] = x
    return np.array(v, dtype=np.int64)
