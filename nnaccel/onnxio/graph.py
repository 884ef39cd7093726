"""The importer's state: the value of every tensor (a constant or an activation seen through a
view) and the layers found so far; ``OpError`` for a node it cannot map."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper

from nnaccel import limits
from nnaccel.netformat import INPUT
from nnaccel.shapes import ShapeError, output_shape
from nnaccel.sparsity import zero_fraction


class OpError(Exception):
    """A node the importer cannot map; `list_supported` adds the supported operators."""

    def __init__(self, message: str, list_supported: bool = False):
        super().__init__(message)
        self.list_supported = list_supported


@dataclass(frozen=True)
class Act:
    """An activation tensor: the output of `layer` (C, H, W), possibly seen through a view.

    ``pure``: nothing (activation, batch norm) applied since the layer computed it, so a batch
    norm or a bias may still fold into the layer. ``view``: '' (the [1, C, H, W] tensor),
    'flat' ([1, C·H·W]), 'groups' ([1, g, C/g, H, W]), 'shuffled' ([1, C/g, g, H, W]) or
    'channel' ([1, H, W]: one channel, its axis gathered away).
    ``pad``: a pending Pad (top, left, bottom, right) for the next conv or pooling to absorb.
    """

    layer: str
    shape: tuple[int, int, int]
    pure: bool = True
    view: str = ""
    groups: int = 1
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)

    def onnx_dims(self) -> tuple[int, ...]:
        c, h, w = self.shape
        h, w = h + self.pad[0] + self.pad[2], w + self.pad[1] + self.pad[3]
        g = self.groups
        return {"": (1, c, h, w), "flat": (1, c * h * w), "groups": (1, g, c // g, h, w),
                "shuffled": (1, c // g, g, h, w), "channel": (1, h, w)}[self.view]


Value = Act | np.ndarray | None


def attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


class Builder:
    """The layers found so far, the value of every tensor, and each weighted layer's zeros."""

    def __init__(self, opset: int):
        from nnaccel.onnxio.fold import Folder  # fold imports OpError from here

        self.opset = opset
        self.fold = Folder(opset)
        self.values: dict[str, Value] = {}
        self.layers: list[dict[str, Any]] = []
        self.by_name: dict[str, dict[str, Any]] = {}
        self.weights: dict[str, np.ndarray] = {}  # weighted layer -> its weight tensor
        self.external: dict[int, Any] = {}  # id of a placeholder array -> weights.External
        self.uses: dict[str, int] = {}
        self.tensors: dict[str, tuple[str, tuple[int, ...]]] = {}  # layer -> first tensor, dims

    def count_uses(self, graph: onnx.GraphProto) -> None:
        for node in graph.node:
            for name in node.input:
                self.uses[name] = self.uses.get(name, 0) + 1
        for out in graph.output:
            self.uses[out.name] = self.uses.get(out.name, 0) + 1

    def run(self, node: onnx.NodeProto, label: str, handler: Callable | None) -> None:
        ins: list[Value] = []
        for name in node.input:
            if name and name not in self.values:
                raise OpError(f"input '{name}' is not produced by an earlier node")
            value = self.values[name] if name else None
            ext = self.external.get(id(value))
            if ext is not None and ext.size <= limits.SMALL_FOLD:  # a shape, a scale: read it
                value = self.values[name] = ext.read()
            ins.append(value)
        if all(not isinstance(v, Act) for v in ins) and node.op_type != "Shape":
            outs = self.fold(node, [self.read(v) for v in ins])
        elif handler is None:
            raise OpError("unsupported operator", list_supported=True)
        else:
            try:
                outs = handler(self, node, label, ins)
            except OpError:
                raise
            except Exception as exc:  # a malformed node the checker let through
                raise OpError(f"cannot map this node ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:120]})") from None
        for name, value in zip(node.output, outs, strict=False):
            if name:
                self.values[name] = value
            if isinstance(value, Act) and value.layer in self.by_name and name and \
                    value.layer not in self.tensors:
                self.tensors[value.layer] = (name, value.onnx_dims())

    def read(self, value: Value) -> Value:
        """`value` with the data of an external tensor read in (for a fold, within its budget)."""
        ext = self.external.get(id(value))
        if ext is None:
            return value
        if ext.size > limits.MAX_FOLD_ELEMENTS:
            raise OpError(f"folding reads a constant of {ext.size:,} elements, above the limit "
                          f"of {limits.MAX_FOLD_ELEMENTS:,} (docs/network-format.md, 'Limits')")
        return ext.read()

    def weigh(self, layer: str, weight: np.ndarray) -> None:
        """Keep `layer`'s weight tensor, whose zeros `--sparsity measured` may count."""
        self.weights[layer] = weight

    def zero_fractions(self) -> dict[str, float]:
        """Each weighted layer's fraction of zero weights (external ones read in chunks); all
        zeros counts as the format's largest sparsity, `limits.MAX_SPARSITY`."""
        out = {}
        for layer, w in self.weights.items():
            ext = self.external.get(id(w))
            zeros = ext.zero_fraction() if ext is not None else zero_fraction(w)
            out[layer] = min(zeros, limits.MAX_SPARSITY)
        return out

    def check_inferred(self, node: onnx.NodeProto, inferred: dict[str, tuple[int, ...]]) -> None:
        for name in node.output:
            value = self.values.get(name)
            if isinstance(value, Act) and name in inferred and inferred[name] != value.onnx_dims():
                raise OpError(f"ONNX shape inference gives '{name}' the shape "
                              f"{list(inferred[name])}, nnaccel's rules {list(value.onnx_dims())}")

    # --- helpers for handlers -----------------------------------------------------------
    def act(self, value: Value, what: str = "its input", views: tuple[str, ...] = ("",),
            pad_ok: bool = False) -> Act:
        if not isinstance(value, Act):
            raise OpError(f"{what} must be an activation, not a constant")
        if value.view not in views:
            raise OpError(f"{what} is a {value.view or '4-D'} view of '{value.layer}', which "
                          "this operator does not take here")
        if any(value.pad) and not pad_ok:
            raise OpError("reads a Pad's output; supported: Pad before Conv, MaxPool or "
                          "AveragePool")
        return value

    def const(self, value: Value, what: str) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise OpError(f"{what} must be a constant (an initializer), not computed by the model")
        return value

    def add_layer(self, label: str, ltype: str, inputs: list[Act], out_channels: int = 0,
                  **fields: Any) -> Act:
        name, n = label if label != INPUT else f"{label}_", 1
        while name in self.by_name:
            n += 1
            name = f"{label}_{n}"
        shapes = tuple(a.shape for a in inputs)
        try:
            shape = output_shape(ltype, shapes, out_channels,
                                 **{k: tuple(v) for k, v in fields.items()
                                    if k in ("kernel", "stride", "padding", "dilation",
                                             "channels", "scale")},
                                 ceil_mode=fields.get("ceil_mode", False))
        except ShapeError as exc:
            raise OpError(str(exc)) from None
        layer = {"name": name, "type": ltype, "inputs": [a.layer for a in inputs],
                 "input_shapes": [list(s) for s in shapes], "output_shape": list(shape), **fields}
        self.layers.append(layer)
        self.by_name[name] = layer
        return Act(name, shape)

    def foldable(self, x: Act, tensor: str, types: tuple[str, ...]) -> dict[str, Any] | None:
        """The layer `x` is the untouched, sole-consumer output of, if of one of `types`."""
        layer = self.by_name.get(x.layer)
        if x.pure and layer is not None and layer["type"] in types and self.uses.get(tensor) == 1:
            return layer
        return None


def ints(v: Any) -> list[int]:
    return [int(i) for i in np.asarray(v).reshape(-1)]
