"""A small helper that lays down layers one by one and works out their shapes.

Builders describe a network as a chain of calls (``x = b.conv('conv1', 'input', 64, 7, 2)``);
the builder applies the same shape rules the loader checks, so a builder cannot write a file
the loader would reject for its shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nnaccel.network import INPUT, Layer, Network
from nnaccel.shapes import Shape, output_shape


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


class NetBuilder:
    """Collects layers for one network; used inside a single builder function only."""

    def __init__(self, input_shape: Shape, inputs: Mapping[str, Shape] | None = None):
        self.input_shape = input_shape
        self.inputs = tuple((inputs or {}).items())
        self._layers: list[Layer] = []
        self._shapes: dict[str, Shape] = {INPUT: input_shape, **dict(self.inputs)}

    def shape(self, name: str) -> Shape:
        return self._shapes[name]

    def _add(self, name: str, type: str, inputs: tuple[str, ...], out_channels: int = 0,
             **params: Any) -> str:
        if name in self._shapes:
            raise ValueError(f"duplicate layer name {name!r}")
        in_shapes = tuple(self._shapes[i] for i in inputs)
        params.setdefault("target", None)
        window = {k: params[k] for k in ("kernel", "stride", "padding", "ceil_mode", "axis",
                                         "perm", "shifts", "axes", "transpose_b", "channels")
                  if k in params}
        out = output_shape(type, in_shapes, out_channels, target=params.pop("target", None),
                           **window)
        layer = Layer(name=name, type=type, inputs=inputs, input_shapes=in_shapes,
                      output_shape=out, **params)
        self._layers.append(layer)
        self._shapes[name] = out
        return name

    def conv(self, name: str, x: str, out: int, kernel: int | tuple[int, int],
             stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
             groups: int = 1, bias: bool = False, batch_norm: bool = True) -> str:
        return self._add(name, "conv", (x,), out, kernel=_pair(kernel), stride=_pair(stride),
                         padding=_pair(padding), groups=groups, bias=bias,
                         batch_norm=batch_norm)

    def fc(self, name: str, x: str, out: int, bias: bool = True,
           batch_norm: bool = False) -> str:
        return self._add(name, "fc", (x,), out, bias=bias, batch_norm=batch_norm)

    def maxpool(self, name: str, x: str, kernel: int, stride: int, padding: int = 0,
                ceil_mode: bool = True) -> str:
        return self._add(name, "maxpool", (x,), kernel=_pair(kernel), stride=_pair(stride),
                         padding=_pair(padding), ceil_mode=ceil_mode)

    def avgpool(self, name: str, x: str, kernel: int, stride: int, padding: int = 0,
                ceil_mode: bool = True) -> str:
        return self._add(name, "avgpool", (x,), kernel=_pair(kernel), stride=_pair(stride),
                         padding=_pair(padding), ceil_mode=ceil_mode)

    def global_avgpool(self, name: str, x: str) -> str:
        return self._add(name, "global_avgpool", (x,))

    def add(self, name: str, *xs: str) -> str:
        return self._add(name, "add", tuple(xs))

    def concat(self, name: str, *xs: str) -> str:
        return self._add(name, "concat", tuple(xs))

    # -- tokens and transformers (docs/network-format.md, "Tokens and transformers") -----------
    def linear(self, name: str, x: str, out: int, bias: bool = True, tied: bool = False) -> str:
        return self._add(name, "linear", (x,), out, bias=bias, tied=tied)

    def constant(self, name: str, shape: Shape, learned: bool = True) -> str:
        return self._add(name, "constant", (), target=tuple(shape), learned=learned)

    def matmul(self, name: str, a: str, b: str, transpose_b: bool = False) -> str:
        return self._add(name, "matmul", (a, b), transpose_b=transpose_b)

    def layernorm(self, name: str, x: str, bias: bool = True) -> str:
        return self._add(name, "layernorm", (x,), bias=bias)

    def rmsnorm(self, name: str, x: str) -> str:
        return self._add(name, "rmsnorm", (x,))

    def softmax(self, name: str, x: str) -> str:
        return self._add(name, "softmax", (x,))

    def activation(self, name: str, x: str, function: str) -> str:
        return self._add(name, "activation", (x,), function=function)

    def mul(self, name: str, *xs: str) -> str:
        return self._add(name, "mul", tuple(xs))

    def reshape(self, name: str, x: str, shape: Shape) -> str:
        return self._add(name, "reshape", (x,), target=tuple(shape))

    def transpose(self, name: str, x: str, perm: tuple[int, ...]) -> str:
        return self._add(name, "transpose", (x,), perm=tuple(perm))

    def roll(self, name: str, x: str, shifts: tuple[int, ...], axes: tuple[int, ...]) -> str:
        return self._add(name, "roll", (x,), shifts=tuple(shifts), axes=tuple(axes))

    def slice(self, name: str, x: str, start: int, end: int, axis: int = 0) -> str:
        return self._add(name, "slice", (x,), channels=(start, end), axis=axis)

    def concat_axis(self, name: str, axis: int, *xs: str) -> str:
        return self._add(name, "concat", tuple(xs), axis=axis)

    def embedding(self, name: str, ids: str, vocab: int, width: int) -> str:
        return self._add(name, "embedding", (ids,), width, vocab=vocab)

    def network(self, name: str, source: str, paper: Mapping[str, Any],
                notes: str = "") -> Network:
        return Network(name=name, input_shape=self.input_shape, layers=tuple(self._layers),
                       source=source, paper=dict(paper), notes=notes, inputs=self.inputs)
