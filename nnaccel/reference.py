"""A numpy inference of any network, to check the files' shapes and MAC counts by doing the work.

Independent on purpose: it reads each layer's parameters (kernel, stride, padding, groups,
output channels of a conv/fc) but never its shapes. It slides real windows over real arrays
and takes the output shape from the result, and counts MACs from the sizes of the matrices it
multiplies. A file whose shapes or counts disagree with what numpy actually did is wrong.

Weights are seeded random numbers (He-scaled, with batch norm folded into a per-channel scale
and shift); activations are float32. Nothing here touches the simulator.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnaccel.network import INPUT, Layer, Network
from nnaccel.shapes import pads

#: The most float32 values the reference may hold for one layer (1 GiB): it really allocates
#: the weights, the activations and the unfolded input windows of every layer.
MAX_ELEMENTS = 2**28


def layer_elements(layer: Layer) -> int:
    """About how many float32 values the reference holds while it runs `layer`: its weights,
    inputs and output, and for a conv the unfolded windows (Ho·Wo·Ci·kh·kw)."""
    inputs = sum(math.prod(s) for s in layer.input_shapes)
    windows = 0
    if layer.type == "conv":
        _, ho, wo = layer.output_shape
        windows = ho * wo * layer.in_channels * layer.kernel[0] * layer.kernel[1]
    table = layer.vocab * layer.output_shape[-1] if layer.type == "embedding" else 0
    return layer.weights + inputs + math.prod(layer.output_shape) + windows + table


@dataclass(frozen=True)
class LayerCheck:
    """What the reference found for one layer, next to what the file says."""

    name: str
    file_shape: tuple[int, ...]
    computed_shape: tuple[int, ...]
    file_macs: int
    performed_macs: int

    @property
    def ok(self) -> bool:
        return self.file_shape == self.computed_shape and self.file_macs == self.performed_macs

    def problem(self) -> str:
        """A one-line description of the disagreement ('' if none)."""
        if self.file_shape != self.computed_shape:
            return (f"layer '{self.name}': the file says output {list(self.file_shape)}, "
                    f"the reference computed {list(self.computed_shape)}")
        if self.file_macs != self.performed_macs:
            return (f"layer '{self.name}': the file counts {self.file_macs} MACs, the "
                    f"reference performed {self.performed_macs}")
        return ""


@dataclass(frozen=True)
class ReferenceRun:
    network: str
    layers: tuple[LayerCheck, ...]
    output: np.ndarray
    seconds: float

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.layers)

    @property
    def problems(self) -> list[str]:
        return [check.problem() for check in self.layers if not check.ok]

    @property
    def macs(self) -> int:
        return sum(check.performed_macs for check in self.layers)


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Every kh x kw window of a padded (C, H, W) array at the given stride: (C, Ho, Wo, kh, kw).

    A view, not a copy (numpy's stride tricks), so im2col costs nothing until the matmul.
    """
    view = sliding_window_view(x, kernel, axis=(1, 2))
    return view[:, :: stride[0], :: stride[1]]


def _pad(x: np.ndarray, before: tuple[int, int], after: tuple[int, int],
         value: float) -> np.ndarray:
    widths = ((0, 0), (before[0], after[0]), (before[1], after[1]))
    return np.pad(x, widths, constant_values=value)


def conv(x: np.ndarray, weight: np.ndarray, stride: tuple[int, int],
         padding: tuple[int, ...], groups: int, dilation: tuple[int, int] = (1, 1)
         ) -> tuple[np.ndarray, int]:
    """Grouped, dilated 2-D convolution by im2col and one batched matmul; (output, MACs).

    ``weight`` is (Co, Ci/groups, kh, kw). MACs are M*K*N of the matmul actually performed.
    """
    co, cig, kh, kw = weight.shape
    begin, end = pads(padding)
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    # a dilated window is the full span's window with every dilation-th tap kept
    win = _windows(_pad(x, begin, end, 0.0), span, stride)[..., :: dilation[0], :: dilation[1]]
    _, ho, wo, _, _ = win.shape
    # (g, Ci/g, Ho, Wo, kh, kw) -> (g, Ho*Wo, Ci/g*kh*kw): the im2col matrix of each group.
    cols = win.reshape(groups, cig, ho, wo, kh, kw).transpose(0, 2, 3, 1, 4, 5)
    cols = cols.reshape(groups, ho * wo, cig * kh * kw)
    w = weight.reshape(groups, co // groups, cig * kh * kw).transpose(0, 2, 1)
    out = np.matmul(cols, w)  # (g, Ho*Wo, Co/g)
    g, m, k = cols.shape
    macs = g * m * k * w.shape[2]
    return out.transpose(0, 2, 1).reshape(co, ho, wo), macs


def pool(x: np.ndarray, kind: str, kernel: tuple[int, int], stride: tuple[int, int],
         padding: tuple[int, ...], ceil_mode: bool) -> np.ndarray:
    """Max or average pooling as Caffe does it.

    Rounding up is done by letting the last window run past the padded edge by up to
    stride - 1 (extra padding on the far side), then dropping any window that starts in the
    far padding. Averages divide by the window's size clipped to the padded input, as Caffe.
    """
    c, h, w = x.shape
    begin, end = pads(padding)
    extra = (stride[0] - 1, stride[1] - 1) if ceil_mode else (0, 0)
    after = (end[0] + extra[0], end[1] + extra[1])
    fill = -np.inf if kind == "maxpool" else 0.0
    win = _windows(_pad(x, begin, after, fill), kernel, stride)
    # A window must start inside the image or its near padding (Caffe's last-window rule).
    keep_h = np.arange(win.shape[1]) * stride[0] < h + begin[0]
    keep_w = np.arange(win.shape[2]) * stride[1] < w + begin[1]
    win = win[:, keep_h][:, :, keep_w]
    if kind == "maxpool":
        return win.max(axis=(3, 4))
    ones = _pad(np.ones((1, h + begin[0] + end[0], w + begin[1] + end[1]), x.dtype), (0, 0),
                extra, 0.0)
    counts = _windows(ones, kernel, stride)[:, keep_h][:, :, keep_w].sum(axis=(3, 4))
    return win.sum(axis=(3, 4)) / counts


def _upsample(x: np.ndarray, scale: tuple[int, int], mode: str) -> np.ndarray:
    """Nearest: each value repeated; linear: half-pixel bilinear interpolation (ONNX's default)."""
    if mode == "nearest":
        return x.repeat(scale[0], axis=1).repeat(scale[1], axis=2)
    for axis, f in ((1, scale[0]), (2, scale[1])):
        n = x.shape[axis]
        pos = np.clip((np.arange(n * f) + 0.5) / f - 0.5, 0, n - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        t = (pos - lo).astype(x.dtype)
        shape = [1, 1, 1]
        shape[axis] = -1
        t = t.reshape(shape)
        x = np.take(x, lo, axis=axis) * (1 - t) + np.take(x, hi, axis=axis) * t
    return x


class _Weights:
    """Seeded random parameters, batch norm folded into a scale and shift per channel."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def make(self, layer: Layer, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        fan_in = int(np.prod(shape[1:]))
        # In place: VGG's fc6 alone has 103M weights, and copies of it would dominate the run.
        weight = self.rng.standard_normal(shape, dtype=np.float32)
        weight *= np.float32(np.sqrt(2.0 / fan_in))
        co = shape[0]
        bias = (self.rng.standard_normal(co, dtype=np.float32) * 0.01 if layer.bias
                else np.zeros(co, np.float32))
        if layer.batch_norm:
            gamma = 1 + 0.1 * self.rng.standard_normal(co, dtype=np.float32)
            beta = 0.1 * self.rng.standard_normal(co, dtype=np.float32)
            mean = 0.1 * self.rng.standard_normal(co, dtype=np.float32)
            var = 1 + 0.1 * np.abs(self.rng.standard_normal(co, dtype=np.float32))
            scale = gamma / np.sqrt(var + 1e-5)
            weight *= scale.reshape(-1, *([1] * (len(shape) - 1)))
            bias = (bias - mean) * scale + beta
        return weight, bias.astype(np.float32, copy=False)


def _image_op(inputs: list[np.ndarray]) -> bool:
    """An add or mul of images (a residual sum, a squeeze-and-excitation gate), not of tokens:
    its ReLU or gate belongs to it (docs/network-format.md)."""
    first = inputs[0].shape
    return len(first) == 3 and all(x.shape in (first, (first[0], 1, 1)) for x in inputs)


def _normalised(x: np.ndarray, centre: bool) -> np.ndarray:
    if centre:
        x = x - x.mean(axis=-1, keepdims=True)
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + np.float32(1e-5))


def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7): numpy has none of its own."""
    t = 1 / (1 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (
        -1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1 - poly * np.exp(-x * x))


def _activation(x: np.ndarray, function: str) -> np.ndarray:
    sigmoid = 1 / (1 + np.exp(-np.clip(x, -30, 30)))
    return {
        "relu": lambda: np.maximum(x, 0),
        "gelu": lambda: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
        "gelu_tanh": lambda: 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3))),
        "silu": lambda: x * sigmoid,
        "sigmoid": lambda: sigmoid,
        "tanh": lambda: np.tanh(x),
        "scale": lambda: x * np.float32(1 / np.sqrt(x.shape[-1])),
    }[function]()


def _tensor_layer(layer: Layer, inputs: list[np.ndarray], weights: _Weights
                  ) -> tuple[np.ndarray, int] | None:
    """The transformer's kinds (docs/network-format.md, "Tokens and transformers")."""
    t = layer.type
    if t == "constant":
        return 0.1 * weights.rng.standard_normal(layer.output_shape, dtype=np.float32), 0
    x = inputs[0]
    if t == "linear":
        d, e = x.shape[-1], layer.output_shape[-1]
        w, b = weights.make(layer, (e, d))
        flat = x.reshape(-1, d)
        return (flat @ w.T + b).reshape(*x.shape[:-1], e), flat.shape[0] * d * e
    if t == "matmul":
        b = inputs[1].swapaxes(-1, -2) if layer.transpose_b else inputs[1]
        for axis, (na, nb) in enumerate(zip(x.shape[:-2], b.shape[:-2], strict=True)):
            b = np.repeat(b, na // nb, axis=axis)  # grouped-query: each key head serves several
        y = np.matmul(x, b)
        return y, y.size * x.shape[-1]
    if t in ("layernorm", "rmsnorm"):
        d = x.shape[-1]
        y = _normalised(x, t == "layernorm") * (1 + 0.1 * weights.rng.standard_normal(
            d, dtype=np.float32))
        if t == "layernorm" and layer.bias:
            y = y + 0.1 * weights.rng.standard_normal(d, dtype=np.float32)
        return y, 0
    if t == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True), 0
    if t == "activation":
        return _activation(x, layer.function), 0
    if t == "reshape":
        return x.reshape(layer.output_shape), 0
    if t == "transpose":
        return x.transpose(layer.perm), 0
    if t == "roll":
        return np.roll(x, layer.shifts, axis=layer.axes), 0
    if t == "embedding":
        d = layer.output_shape[-1]
        ids = (np.abs(x) * 1000).astype(np.int64) % layer.vocab
        table = weights.rng.standard_normal((layer.vocab, d), dtype=np.float32)
        return table[ids], 0
    if t == "concat":
        return np.concatenate(inputs, axis=layer.axis), 0
    if t == "slice":
        start, end = layer.channels
        return np.take(x, np.arange(start, end), axis=layer.axis), 0
    if t in ("add", "mul") and not _image_op(inputs):
        y = inputs[0]
        for other in inputs[1:]:
            y = y + other if t == "add" else y * other
        return y, 0
    return None


def run_layer(layer: Layer, inputs: list[np.ndarray], weights: _Weights
              ) -> tuple[np.ndarray, int]:
    """One layer on real arrays; returns (output, MACs performed)."""
    x = inputs[0] if inputs else None
    done = _tensor_layer(layer, inputs, weights)
    if done is not None:
        return done
    if layer.type == "conv":
        shape = (layer.out_channels, x.shape[0] // layer.groups, *layer.kernel)
        w, b = weights.make(layer, shape)
        y, macs = conv(x, w, layer.stride, layer.padding, layer.groups, layer.dilation)
        return np.maximum(y + b.reshape(-1, 1, 1), 0), macs
    if layer.type == "fc":
        flat = x.reshape(1, -1)
        w, b = weights.make(layer, (layer.out_channels, flat.shape[1]))
        y = flat @ w.T
        return (y + b).reshape(-1, 1, 1), flat.shape[0] * flat.shape[1] * w.shape[0]
    if layer.type in ("maxpool", "avgpool"):
        return pool(x, layer.type, layer.kernel, layer.stride, layer.padding,
                    layer.ceil_mode), 0
    if layer.type == "global_avgpool":
        return x.mean(axis=(1, 2), keepdims=True), 0
    if layer.type == "add":
        return np.maximum(sum(inputs[1:], inputs[0]), 0), 0
    if layer.type == "concat":
        return np.concatenate(inputs, axis=0), 0
    if layer.type == "mul":
        # numpy broadcasting is the [C, 1, 1] channel scale itself; the factors pass a sigmoid,
        # as a squeeze-and-excitation gate does, so that values stay finite through many blocks
        gates = [1 / (1 + np.exp(-np.clip(g, -30, 30))) for g in inputs[1:]]
        return np.prod(np.broadcast_arrays(inputs[0], *gates), axis=0), 0
    if layer.type == "affine":
        c = x.shape[0]
        scale = 1 + 0.1 * weights.rng.standard_normal((c, 1, 1), dtype=np.float32)
        shift = (0.1 * weights.rng.standard_normal((c, 1, 1), dtype=np.float32) if layer.bias
                 else np.float32(0))
        return np.maximum(x * scale + shift, 0), 0
    if layer.type == "slice":
        return x[layer.channels[0] : layer.channels[1]], 0
    if layer.type == "shuffle":  # ShuffleNet: channels as a (g, C/g) matrix, transposed
        c, h, w = x.shape
        g = layer.groups
        return x.reshape(g, c // g, h, w).transpose(1, 0, 2, 3).reshape(c, h, w), 0
    if layer.type == "upsample":
        return _upsample(x, layer.scale, layer.mode), 0
    raise ValueError(f"unknown layer type {layer.type!r}")


def run_reference(network: Network, seed: int = 0) -> ReferenceRun:
    """Run ``network`` on a seeded random input and check every layer's shape and MACs."""
    start = time.perf_counter()
    weights = _Weights(seed)
    values = {INPUT: weights.rng.standard_normal(network.input_shape, dtype=np.float32)}
    for name, shape in network.inputs:  # a decode step's cache
        values[name] = weights.rng.standard_normal(shape, dtype=np.float32)
    checks = []
    for layer in network.layers:
        y, macs = run_layer(layer, [values[name] for name in layer.inputs], weights)
        values[layer.name] = y.astype(np.float32, copy=False)
        checks.append(LayerCheck(layer.name, layer.output_shape, tuple(y.shape),
                                 layer.macs, macs))
    output = values[network.layers[-1].name]
    return ReferenceRun(network.name, tuple(checks), output, time.perf_counter() - start)
