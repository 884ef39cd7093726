"""A numpy inference of any network, to check the files' shapes and MAC counts by doing the work.

Independent on purpose: it reads each layer's parameters (kernel, stride, padding, groups,
output channels of a conv/fc) but never its shapes. It slides real windows over real arrays
and takes the output shape from the result, and counts MACs from the sizes of the matrices it
multiplies. A file whose shapes or counts disagree with what numpy actually did is wrong.

Weights are seeded random numbers (He-scaled, with batch norm folded into a per-channel scale
and shift); activations are float32. Nothing here touches the simulator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnaccel.network import INPUT, Layer, Network

#: The most float32 values the reference may hold for one layer (1 GiB): it really allocates
#: the weights, the activations and the unfolded input windows of every layer.
MAX_ELEMENTS = 2**28


def layer_elements(layer: Layer) -> int:
    """About how many float32 values the reference holds while it runs `layer`: its weights,
    inputs and output, and for a conv the unfolded windows (Ho·Wo·Ci·kh·kw)."""
    c_out, ho, wo = layer.output_shape
    inputs = sum(c * h * w for c, h, w in layer.input_shapes)
    windows = ho * wo * layer.in_channels * layer.kernel[0] * layer.kernel[1] \
        if layer.type == "conv" else 0
    return layer.weights + inputs + c_out * ho * wo + windows


@dataclass(frozen=True)
class LayerCheck:
    """What the reference found for one layer, next to what the file says."""

    name: str
    file_shape: tuple[int, int, int]
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
         padding: tuple[int, int], groups: int) -> tuple[np.ndarray, int]:
    """Grouped 2-D convolution by im2col and one batched matmul; returns (output, MACs).

    ``weight`` is (Co, Ci/groups, kh, kw). MACs are M*K*N of the matmul actually performed.
    """
    co, cig, kh, kw = weight.shape
    win = _windows(_pad(x, padding, padding, 0.0), (kh, kw), stride)  # (Ci, Ho, Wo, kh, kw)
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
         padding: tuple[int, int], ceil_mode: bool) -> np.ndarray:
    """Max or average pooling as Caffe does it.

    Rounding up is done by letting the last window run past the padded edge by up to
    stride - 1 (extra padding on the far side), then dropping any window that starts in the
    far padding. Averages divide by the window's size clipped to the padded input, as Caffe.
    """
    c, h, w = x.shape
    extra = (stride[0] - 1, stride[1] - 1) if ceil_mode else (0, 0)
    after = (padding[0] + extra[0], padding[1] + extra[1])
    fill = -np.inf if kind == "maxpool" else 0.0
    win = _windows(_pad(x, padding, after, fill), kernel, stride)
    # A window must start inside the image or its near padding (Caffe's last-window rule).
    keep_h = np.arange(win.shape[1]) * stride[0] < h + padding[0]
    keep_w = np.arange(win.shape[2]) * stride[1] < w + padding[1]
    win = win[:, keep_h][:, :, keep_w]
    if kind == "maxpool":
        return win.max(axis=(3, 4))
    ones = _pad(np.ones((1, h + 2 * padding[0], w + 2 * padding[1]), x.dtype), (0, 0), extra,
                0.0)
    counts = _windows(ones, kernel, stride)[:, keep_h][:, :, keep_w].sum(axis=(3, 4))
    return win.sum(axis=(3, 4)) / counts


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


def run_layer(layer: Layer, inputs: list[np.ndarray], weights: _Weights
              ) -> tuple[np.ndarray, int]:
    """One layer on real arrays; returns (output, MACs performed)."""
    x = inputs[0]
    if layer.type == "conv":
        shape = (layer.out_channels, x.shape[0] // layer.groups, *layer.kernel)
        w, b = weights.make(layer, shape)
        y, macs = conv(x, w, layer.stride, layer.padding, layer.groups)
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
    raise ValueError(f"unknown layer type {layer.type!r}")


def run_reference(network: Network, seed: int = 0) -> ReferenceRun:
    """Run ``network`` on a seeded random input and check every layer's shape and MACs."""
    start = time.perf_counter()
    weights = _Weights(seed)
    values = {INPUT: weights.rng.standard_normal(network.input_shape, dtype=np.float32)}
    checks = []
    for layer in network.layers:
        y, macs = run_layer(layer, [values[name] for name in layer.inputs], weights)
        values[layer.name] = y.astype(np.float32, copy=False)
        checks.append(LayerCheck(layer.name, layer.output_shape, tuple(y.shape),
                                 layer.macs, macs))
    output = values[network.layers[-1].name]
    return ReferenceRun(network.name, tuple(checks), output, time.perf_counter() - start)
