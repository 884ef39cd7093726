"""Layers as array operations: the plain-number layer vectors the engines take.

docs/model.md §1. An FC layer is a 1x1 convolution on a 1x1 map; pooling, global pooling and
element-wise add are weightless *window* operations run the same way as a depthwise
convolution; concat moves no data (its producers write into its slices) and has no vector.
§3a: a pooling or a residual add whose input comes from a conv/fc that feeds nothing else is
fused into that conv's output path, when the hardware fuses them; so is a chain of an add
and then a pooling (the pooling's input is the fused add, which feeds nothing else).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import limits
from .engines import layout as L
from .hardware import Hardware
from .network import Layer, Network
from .sparsity import density

_POOLS = ("maxpool", "avgpool", "global_avgpool")
#: Producers whose output path can run a post-operation: the array's products.
_PRODUCTS = ("conv", "fc", "linear", "matmul")


def output_path_work(layer: Layer, hw: Hardware) -> tuple[int, int]:
    """(lane cycles per output value, lane cycles per row) of a layer's output-path work.

    docs/model.md §1b: a lane does an add, a compare or a multiply in a cycle, an exp, a divide
    or an rsqrt in the hardware's `exp_cycles`, `divide_cycles`, `rsqrt_cycles`. A softmax or a
    norm reduces each row (the last axis) and then passes over it again; the reciprocal of a
    softmax's sum and a norm's rsqrt are done once per row.
    """
    e, div, rsq = hw.exp_cycles, hw.divide_cycles, hw.rsqrt_cycles
    t = layer.type
    if t == "softmax":  # max; subtract, exp; sum; times the sum's reciprocal
        return 1 + 1 + e + 1 + 1, div
    if t == "layernorm":  # sum; centre, square, sum; times rstd, times scale (plus shift)
        return 1 + 3 + 2 + (1 if layer.bias else 0), rsq + 2
    if t == "rmsnorm":  # square, sum; times the rms's rsqrt, times scale
        return 2 + 2, rsq + 1
    if t == "activation":
        sigmoid = e + div + 1  # exp(-x), 1 + it, its reciprocal
        return {"relu": 1, "scale": 1, "sigmoid": sigmoid, "silu": sigmoid + 1,
                # 2·sigmoid(2x) - 1
                "tanh": sigmoid + 2,
                # 0.5·x·(1 + tanh(0.7978846·(x + 0.044715·x³))): x³, the polynomial, the
                # tanh, the final product
                "gelu_tanh": sigmoid + 2 + 7,
                # 0.5·x·(1 + erf(x/√2)), erf by Abramowitz-Stegun 7.1.26: t = 1/(1 + p·|x|),
                # a degree-5 polynomial in t, exp(-x²), and their product
                "gelu": e + div + 14}[layer.function], 0
    return 0, 0


@dataclass(frozen=True)
class Lowered:
    """A layer and the array operation that runs it: `vector` is None when the layer moves no
    data of its own (concat), or when it is fused into the output path of `fused_into`."""

    layer: Layer
    vector: np.ndarray | None
    fused_into: str | None = None
    density: Fraction | None = None  # the layer's weight density, where not the hardware's
    # The array's "weights" are the image's own values (a matmul's second operand, a
    # squeeze-and-excitation multiply's factors), not the layer's: a batch shares none.
    own_weights: bool = False

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
        if not layer.inputs:
            continue  # a constant
        # The producer computed last: the other operands of an add already sit in DRAM then.
        src = max(layer.inputs, key=lambda n: order.get(n, -1))
        if consumers.get(src) != [layer.name]:
            continue
        # A chain: a pooling after an add that is itself in a conv's output path joins it
        # there, after the add (the order the output path applies them, §3a).
        target = fused.get(src, src) if layer.type in _POOLS else src
        producer = by_name.get(target)
        if producer is None or producer.type not in _PRODUCTS:
            continue
        if producer.type in ("linear", "matmul") and layer.type in _POOLS:
            continue
        if layer.type == "add" and len(set(layer.input_shapes)) > 1:
            continue  # a broadcast operand is not one value per output: not the output path's
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
        elif layer.type == "activation" and hw.fuse_activation and target == src and not done:
            # §1b: a GELU, SiLU or scale after a product is done as its outputs are stored
            v[L.L_VE] = output_path_work(layer, hw)[0]
            done.add("activation")
        else:
            continue
        fused[layer.name] = target
    for layer in network.layers:
        v = vectors[layer.name]
        if v is not None and layer.name not in fused and v[L.L_VE] == 0:
            v[L.L_VE], v[L.L_VR] = output_path_work(layer, hw)
    return tuple(
        Lowered(layer, None if layer.name in fused else _fitted(vectors[layer.name], layer, hw),
                fused.get(layer.name), layer_density(layer, hw),
                _own_weights(layer, vectors[layer.name]))
        for layer in network.layers
    )


def _own_weights(layer: Layer, vec: np.ndarray | None) -> bool:
    """Whether the array's weights of `layer` are its image's own values (`Lowered`)."""
    return vec is not None and vec[L.L_KIND] == L.KIND_CONV and layer.type in ("matmul", "mul")


def batch_vector(low: Lowered, batch: int) -> np.ndarray | None:
    """The layer vector of a whole batch run as one layer, or None where that is not the
    same work as the images one by one (docs/model.md §5, "Batch").

    A layer whose windows are single pixels (a 1x1 kernel, stride 1, no padding, no fused
    pooling) computes each output pixel from the same pixel of its input and the layer's
    weights: `batch` images side by side along the map's width (H x W·batch) are then exactly
    the batch's work, and one weight tile serves every image in it. A kernel, a stride or a
    padding wider than a pixel, or a fused pooling window, would straddle two images; a layer
    whose "weights" are the image's own values (`Lowered.own_weights`) has none to share.
    """
    vec = low.vector
    if vec is None or batch == 1 or low.own_weights:
        return None
    single = (vec[L.L_KH] == vec[L.L_KW] == vec[L.L_SH] == vec[L.L_SW] == 1
              and vec[L.L_PH] == vec[L.L_PW] == vec[L.L_PKH] == 0
              and vec[L.L_HO] == vec[L.L_H] and vec[L.L_WO] == vec[L.L_W])
    if not single:
        return None
    g, cgi, cgo, h, w = (int(vec[s]) for s in (L.L_G, L.L_CGI, L.L_CGO, L.L_H, L.L_W))
    # the engines count in int64: the batch as one layer stays within the loader's bounds
    if w * batch > limits.MAX_DIM or g * max(cgi, cgo) * h * w * batch > limits.MAX_WORK:
        return None
    v = vec.copy()
    v[L.L_W] = v[L.L_WO] = w * batch
    v[L.L_WRES] = 0
    return v


def _whole_map(layer: Layer) -> bool:
    if len(layer.input_shape) != 3:  # a token layer (docs/model.md §1b) pools no map
        return False
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
    # the output path's work too (docs/model.md §1b)
    return (hw.fuse_pool, hw.fuse_add, hw.fuse_activation, hw.exp_cycles, hw.divide_cycles,
            hw.rsqrt_cycles, hw.density, fits)


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
    if layer.type in ("mul", "affine", "matmul"):
        return Fraction(1)  # factors and activations, not pruned weights (docs/model.md §1b)
    if layer.type not in ("conv", "fc", "linear"):
        return None
    own = None if layer.sparsity is None else density(layer.sparsity)
    if layer.type == "conv" and layer.dilation != (1, 1):
        (kh, kw), (dh, dw) = layer.kernel, layer.dilation
        base = hw.density if own is None else own
        return base * Fraction(kh * kw, _span(kh, dh) * _span(kw, dw))
    return own

#: Layer types that become an array operation; concat, slice and shuffle do not.
ARRAY_TYPES = ("conv", "fc", "maxpool", "avgpool", "global_avgpool", "add", "mul", "affine",
               "upsample", "linear", "matmul", "layernorm", "rmsnorm", "softmax", "activation",
               "embedding")
#: Layer types that are addressing only: the consumer reads its producer's data in place.
#: A constant lives in DRAM with the weights; its consumers read it there.
ADDRESS_TYPES = ("concat", "slice", "shuffle", "reshape", "roll", "constant")


def is_address_only(layer: Layer) -> bool:
    """Whether `layer` moves no data: its consumer reads the producer's values where they are.

    docs/model.md §1b: a reshape keeps the row-major order (the same bytes); a roll or a
    transpose that keeps the last axis last moves whole rows, which the DMA's strided
    transfers gather as they read. A transpose that moves the last axis is a timed move.
    """
    if layer.type == "transpose":
        return layer.perm[-1] == len(layer.perm) - 1
    return layer.type in ADDRESS_TYPES


#: Kinds that work on rows of the last axis whatever their rank.
_LAST_AXIS = ("layernorm", "rmsnorm", "softmax", "activation", "embedding", "transpose")


def token_view(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """A tensor as the engines see it, (C, H, W): an image as it is; anything else with its
    last axis as the channels and every other axis as pixels (docs/model.md §1b)."""
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    return (shape[-1], math.prod(shape[:-1]), 1)


def layer_vector(layer: Layer) -> np.ndarray | None:
    """The layer vector of `layer` (layout.L_*), or None for a layer that moves no data."""
    if is_address_only(layer):
        return None
    c, h, w = token_view(layer.input_shape)
    co, ho, wo = token_view(layer.output_shape)
    if layer.type in _LAST_AXIS:  # heads [h, T, D] are rows of D too, not an image
        o = layer.output_shape
        co, ho, wo = o[-1], math.prod(o[:-1]), 1
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
    elif t == "linear":
        # §1b: a weight product over tokens is a 1x1 conv over T pixels
        kind, g, cgi, cgo = L.KIND_CONV, 1, layer.input_shape[-1], layer.output_shape[-1]
        h, w, ho, wo = layer.tokens, 1, layer.tokens, 1
        kh = kw = sh = sw = 1
        ph = pw = 0
    elif t == "matmul":
        # §1b: A [..., T, D] x B [..., D, E]: a grouped 1x1 conv, one group per head, whose
        # "weights" are B, an activation fetched from DRAM like weights
        a = layer.input_shape
        kind, g, cgi, cgo = L.KIND_CONV, math.prod(a[:-2]), a[-1], layer.output_shape[-1]
        h, w, ho, wo = a[-2], 1, a[-2], 1
        kh = kw = sh = sw = 1
        ph = pw = 0
    elif t in ("layernorm", "rmsnorm", "softmax", "activation", "embedding", "transpose"):
        # §1b: every value passes the array once on its way to the output path (a copy, as
        # a nearest upsample); an embedding copies the T rows it gathers
        kind, g, cgi, cgo = L.KIND_WINDOW, co, 1, 1
        h, w = ho, wo
        kh = kw = sh = sw = 1
        ph = pw = 0
    else:  # the loader admits no other type; a new one must be lowered explicitly
        raise ValueError(f"layer {layer.name!r}: no lowering for type {t!r}")
    v = [0] * L.L_LEN  # a list first: numpy's per-call overhead dominates on ~25 slots
    for slot, x in ((L.L_KIND, kind), (L.L_G, g), (L.L_CGI, cgi), (L.L_CGO, cgo), (L.L_H, h),
                    (L.L_W, w), (L.L_KH, kh), (L.L_KW, kw), (L.L_SH, sh), (L.L_SW, sw),
                    (L.L_PH, ph), (L.L_PW, pw), (L.L_HO, ho), (L.L_WO, wo)):
        v[slot] = x
    if t == "upsample":  # its DMA fetches the source values, not the output grid (§1a)
        v[L.L_UH], v[L.L_UW] = layer.scale
        v[L.L_UN] = 1 if layer.mode == "nearest" else 2
    return np.array(v, dtype=np.int64)
