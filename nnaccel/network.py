"""Networks as frozen values: layers with shapes, and how to count their parameters and MACs.

A Network is what every other part of nnaccel reads. This module holds the value types only:
the file formats (JSON in ``netformat``, ONNX in ``onnxio``, npz weights in ``sparsity``) sit
above it and build these values, and ``nnaccel.loader.load_network`` dispatches by file kind.
The loader validates a file completely, so code downstream may trust every shape it finds here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from nnaccel.shapes import ELEMENTWISE_TYPES, Shape, pads

#: Element-wise operations per output element of the output path's layers
#: (docs/network-format.md, "Counting"): softmax max, exp, sum, divide; layernorm mean, centre,
#: square and sum, normalise, scale, shift; rmsnorm square and sum, normalise, scale.
_VECTOR_OPS = {"softmax": 4, "layernorm": 6, "rmsnorm": 3, "activation": 1}

#: The name by which a layer refers to the network's input.
INPUT = "input"


@dataclass(frozen=True)
class Layer:
    """One layer. ReLU and batch norm are folded into the conv/fc before them.

    Shapes are tuples of 1 to 6 sizes: ``(C, H, W)`` for an image, ``(T, D)`` for tokens,
    ``(heads, T, Dh)`` for attention's operands (docs/network-format.md).
    """

    name: str
    type: str  # one of shapes.LAYER_TYPES
    inputs: tuple[str, ...]  # producer layer names, or 'input' for the network input
    input_shapes: tuple[Shape, ...]  # (C, H, W) of each input, in the order of `inputs`
    output_shape: Shape  # (C, H, W); an fc layer's is (Co, 1, 1)
    kernel: tuple[int, int] = (1, 1)  # (kh, kw)
    stride: tuple[int, int] = (1, 1)  # (sh, sw)
    padding: tuple[int, ...] = (0, 0)  # (ph, pw) on both sides, or (top, left, bottom, right)
    groups: int = 1  # conv: channel groups; shuffle: the groups it interleaves
    bias: bool = False
    batch_norm: bool = False  # a learned scale and shift per output channel
    ceil_mode: bool = False  # pooling rounds its output size up (Caffe does)
    dilation: tuple[int, int] = (1, 1)  # conv: spacing of the kernel taps
    channels: tuple[int, int] = (0, 0)  # slice: input channels [start, end)
    scale: tuple[int, int] = (1, 1)  # upsample: integer factors (sh, sw)
    mode: str = "nearest"  # upsample: 'nearest' or 'linear'
    sparsity: float | None = None  # conv/fc: fraction of zero weights; None: the hardware's
    sparsity_source: str = ""  # where `sparsity` comes from: 'file', 'measured: <file>'
    axis: int = 0  # concat, slice: the axis they join or cut
    perm: tuple[int, ...] = ()  # transpose: output axis i is input axis perm[i]
    shifts: tuple[int, ...] = ()  # roll: the shift along each of `axes`
    axes: tuple[int, ...] = ()  # roll
    transpose_b: bool = False  # matmul: B is stored [..., E, D] (attention's K)
    function: str = ""  # activation: one of shapes.ACTIVATIONS
    vocab: int = 0  # embedding: rows of the table
    learned: bool = True  # constant: learned (parameters) or a fixed table (rotary, mask)
    tied: bool = False  # linear: its weights are an embedding's table, counted there

    @property
    def pad_begin(self) -> tuple[int, int]:
        """Padding before the first row and column (top, left)."""
        return pads(self.padding)[0]

    @property
    def pad_end(self) -> tuple[int, int]:
        """Padding after the last row and column (bottom, right)."""
        return pads(self.padding)[1]

    @property
    def input_shape(self) -> Shape:
        """The first input's shape (the only one, except for add, concat, mul and matmul; a
        constant, which reads nothing, has its own)."""
        return self.input_shapes[0] if self.input_shapes else self.output_shape

    @property
    def in_channels(self) -> int:
        return self.input_shapes[0][0]

    @property
    def out_channels(self) -> int:
        return self.output_shape[0]

    @functools.cached_property  # asked for by params, macs and both MAC rules, per layer
    def weights(self) -> int:
        """Weights only: no bias, no batch norm."""
        if self.type == "conv":
            kh, kw = self.kernel
            return self.out_channels * (self.in_channels // self.groups) * kh * kw
        if self.type == "fc":
            c, h, w = self.input_shape
            return self.out_channels * c * h * w
        if self.type == "linear":
            return self.input_shape[-1] * self.output_shape[-1]
        return 0

    @property
    def tokens(self) -> int:
        """Vectors a linear layer multiplies by its weights: all but the last axis."""
        return math.prod(self.output_shape[:-1])

    @property
    def params(self) -> int:
        """Weights + bias + batch norm's scale and shift (the paper's count, docs/network-format.md).

        An affine layer (a batch norm with no conv before it) has a scale and, with ``bias``,
        a shift per channel.
        """
        if self.type == "affine":
            return self.out_channels * (2 if self.bias else 1)
        if self.type == "layernorm":
            return self.output_shape[-1] * (2 if self.bias else 1)
        if self.type == "rmsnorm":
            return self.output_shape[-1]
        if self.type == "embedding":
            return self.vocab * self.output_shape[-1]
        if self.type == "linear":
            return (0 if self.tied else self.weights) + (self.output_shape[-1] if self.bias
                                                           else 0)
        if self.type == "constant":
            return math.prod(self.output_shape) if self.learned else 0
        if self.type not in ("conv", "fc"):
            return 0
        extra = (1 if self.bias else 0) + (2 if self.batch_norm else 0)
        return self.weights + extra * self.out_channels

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the conv/fc/linear (every weight meets every output pixel
        or token once) and of a matmul, a product of two activations (every output element
        reduces the shared axis)."""
        if self.type == "linear":
            return self.weights * self.tokens
        if self.type == "matmul":
            a = self.input_shapes[0]
            return math.prod(self.output_shape) * a[-1]
        if self.type in ("conv", "fc"):
            _, ho, wo = self.output_shape
            return self.weights * ho * wo
        return 0

    @property
    def elementwise_ops(self) -> int:
        """Arithmetic of the element-wise layers, counted apart from conv/fc MACs.

        Per output element: an n-way add n - 1, a mul 1, an affine 1 (+1 with its shift), a
        linear upsample 4 (the weighted sum of four neighbours); nearest upsampling only copies.
        """
        if self.type in _VECTOR_OPS:
            per = _VECTOR_OPS[self.type] - (1 if self.type == "layernorm" and not self.bias
                                            else 0)
            return per * math.prod(self.output_shape)
        if self.type not in ELEMENTWISE_TYPES:
            return 0
        per = {"add": len(self.inputs) - 1, "mul": 1, "affine": 2 if self.bias else 1,
               "upsample": 4 if self.mode == "linear" else 0}[self.type]
        return per * math.prod(self.output_shape)

    @property
    def macs_paper_rule(self) -> int:
        """MACs plus one operation per output element of a conv/fc (docs/network-format.md, 'Counting').

        The paper counts (K*K*Cin/g + 1) per output, as if every layer had a bias or a
        batch-norm shift; with that rule its MAC column is matched within 0.1%.
        """
        if self.type not in ("conv", "fc", "linear"):
            return self.macs  # a matmul's products; 0 for the weightless kinds
        return self.macs + math.prod(self.output_shape)


def _frozen(value: Any) -> Any:
    """Lists become tuples so that a Network stays immutable all the way down."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


@dataclass(frozen=True)
class Network:
    """A whole network: layers in topological order, and where its definition comes from.

    ``paper`` is a read-only mapping (``types.MappingProxyType``) of the paper's figures for
    this network: ``params_m``, ``macs_m``, ``top1``, ``top5``, ``depth`` (a tuple) and the
    Table 3 columns ``time_8x8_32KB``, ``energy_8x8_32KB``, ``time_16x16_128KB``,
    ``energy_16x16_128KB``, each present only where the paper gives it.
    """

    name: str
    input_shape: Shape
    layers: tuple[Layer, ...]
    source: str
    paper: MappingProxyType = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
    path: str = ""
    notes: str = ""
    #: The network's inputs beyond ``input`` (a decode step's past keys and values, ...):
    #: (name, shape) pairs, in the file's order. They live in DRAM.
    inputs: tuple[tuple[str, Shape], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.paper, MappingProxyType):
            frozen = {k: _frozen(v) for k, v in dict(self.paper).items()}
            object.__setattr__(self, "paper", MappingProxyType(frozen))

    def __reduce__(self) -> tuple:
        # MappingProxyType does not pickle; a plain dict does, and __post_init__ freezes it
        # again. Sweeps send networks to worker processes and Dask workers.
        return (Network, (self.name, self.input_shape, self.layers, self.source,
                          dict(self.paper), self.path, self.notes, self.inputs))

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def macs_paper_rule(self) -> int:
        return sum(layer.macs_paper_rule for layer in self.layers)

    @property
    def elementwise_ops(self) -> int:
        return sum(layer.elementwise_ops for layer in self.layers)

    @property
    def inferred(self) -> bool:
        """True when no public definition exists and the project chose one."""
        return self.source.startswith("inferred")

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape

    def layer(self, name: str) -> Layer:
        """The layer called ``name``; KeyError if there is none."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"network '{self.name}' has no layer '{name}'")
