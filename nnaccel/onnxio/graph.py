"""The importer's state: the value of every tensor (a constant or an activation seen through a
view) and the layers found so far; ``OpError`` for a node it cannot map."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import onnx
from onnx import helper

from nnaccel import limits
from nnaccel.netformat import INPUT
from nnaccel.onnxio.fold import Folder
from nnaccel.onnxio.names import activation_label
from nnaccel.onnxio.operror import OpError
from nnaccel.shapes import ShapeError, output_shape
from nnaccel.sparsity import zero_fraction

#: Folded operators that move a constant without computing new values: a learned tensor
#: (a class token, a position embedding) stays learned through them.
MOVES = frozenset({"Identity", "Cast", "Expand", "Reshape", "Unsqueeze", "Squeeze", "Transpose",
                   "Slice", "Concat", "Flatten", "Tile"})


@dataclass(frozen=True)
class Act:
    """An activation tensor: the output of `layer`, possibly seen through a view.

    ``shape`` is the layer's output shape. ``pure``: nothing (activation, batch norm) applied
    since the layer computed it, so a batch norm or a bias may still fold into the layer.
    ``view``: '' (the image [1, C, H, W]), 'flat' ([1, C·H·W]), 'groups' ([1, g, C/g, H, W]),
    'shuffled' ([1, C/g, g, H, W]), 'channel' ([1, H, W]: one channel, its axis gathered
    away), or 'tensor': any other tensor, whose ONNX dims are ``dims`` and whose shape is
    ``token_shape(dims)`` (the batch axis of 1 in front dropped).
    ``pad``: a pending Pad (top, left, bottom, right) for the next conv or pooling to absorb.
    On a tensor, ``fns`` are element-wise functions applied since the layer (ONNX op types, and
    'self' where the result was multiplied by its own input), not yet a layer: an exporter
    spells GELU or SiLU as several nodes, which become one ``activation`` layer when something
    else reads them. ``stat`` marks a statistic of the layer's tensor over its last axis on its
    way to a normalisation ('mean', 'meansq', 'var'). ``origin``: the node that began `fns`.
    ``tensor``: the ONNX tensor name this value was last seen as.
    """

    layer: str
    shape: tuple[int, ...]
    pure: bool = True
    view: str = ""
    groups: int = 1
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)
    dims: tuple[int, ...] = ()
    fns: tuple[str, ...] = ()
    stat: str = ""
    origin: str = ""
    tensor: str = ""

    def onnx_dims(self) -> tuple[int, ...]:
        if self.view == "tensor":
            return self.dims
        c, h, w = self.shape
        h, w = h + self.pad[0] + self.pad[2], w + self.pad[1] + self.pad[3]
        g = self.groups
        return {"": (1, c, h, w), "flat": (1, c * h * w), "groups": (1, g, c // g, h, w),
                "shuffled": (1, c // g, g, h, w), "channel": (1, h, w)}[self.view]


def token_shape(dims: tuple[int, ...]) -> tuple[int, ...]:
    """nnaccel's shape of an ONNX tensor: its dims without the batch axis of 1 in front."""
    return tuple(dims[1:]) if len(dims) > 1 and dims[0] == 1 else tuple(dims)


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
        self.opset = opset
        self.fold = Folder(opset)
        self.values: dict[str, Value] = {}
        self.layers: list[dict[str, Any]] = []
        self.by_name: dict[str, dict[str, Any]] = {}
        self.weights: dict[str, np.ndarray] = {}  # weighted layer -> its weight tensor
        self.external: dict[int, Any] = {}  # id of a placeholder array -> weights.External
        self.uses: dict[str, int] = {}
        self.tensors: dict[str, tuple[str, tuple[int, ...]]] = {}  # layer -> first tensor, dims
        self.reserved: set[str] = set()  # the names of the network's other inputs
        self.learned: set[str] = set()  # constants that are learned tensors (moved, not computed)
        self.constants: dict[str, Act] = {}  # constant tensor name -> its constant layer
        self.weight_names: set[str] = set()  # the ONNX tensors that are layers' parameters
        self.scaled: set[str] = set()  # norms whose per-feature scale is already counted
        self.tables: list[np.ndarray] = []  # the embeddings' tables, for tied weights
        self.sources: dict[int, str] = {}  # id of a constant -> the initializer it shows
        self.keep: list[np.ndarray] = []
        self.node_label = ""  # the node being mapped, for names of the layers it adds

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
        self.node_label = label
        if node.op_type in ("Transpose", "Identity") and isinstance(ins[0], np.ndarray) and \
                ins[0].size > limits.SMALL_FOLD:
            outs = [self.view(node, ins[0])]  # a weight seen transposed (a tied LM head)
        elif all(not isinstance(v, Act) for v in ins) and not self.is_table_lookup(node, ins):
            outs = self.fold(node, [self.read(v) for v in ins])
            if node.op_type in MOVES and any(n in self.learned for n in node.input[:1]):
                self.learned.update(node.output)
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
            if isinstance(value, Act) and name:
                value = replace(value, tensor=name)
            if name:
                self.values[name] = value
            if isinstance(value, Act) and value.layer in self.by_name and name and \
                    value.layer not in self.tensors and not value.fns and not value.stat:
                self.tensors[value.layer] = (name, value.onnx_dims())

    def view(self, node: onnx.NodeProto, x: np.ndarray) -> np.ndarray:
        """A large constant transposed or passed on, as a numpy view: nothing is computed or
        read, and the view remembers the initializer it shows (`sources`)."""
        perm = ints(attrs(node).get("perm", list(range(x.ndim))[::-1])) \
            if node.op_type == "Transpose" else list(range(x.ndim))
        if sorted(perm) != list(range(x.ndim)):
            raise OpError(f"perm {perm} is not an order of the constant's {x.ndim} axes")
        y = np.transpose(x, perm)
        ext = self.external.get(id(x))
        if ext is not None:
            self.external[id(y)] = Transposed(ext, tuple(perm))
        self.sources[id(y)] = self.sources.get(id(x), node.input[0])
        self.keep.append(y)  # ids stay unique while the walk holds them
        if node.input[0] in self.learned:
            self.learned.update(node.output)
        return y

    def is_table_lookup(self, node: onnx.NodeProto, ins: list[Value]) -> bool:
        """A Gather of rows of a learned table (an embedding), even by constant indices
        (position ids): a layer, not a fold, so that the table counts as parameters."""
        return node.op_type == "Gather" and node.input[0] in self.learned and \
            isinstance(ins[0], np.ndarray) and ins[0].ndim == 2 and attrs(node).get("axis", 0) == 0

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
        if value.view == "tensor" and "tensor" not in views:
            value = self.tensor(value, what)
            if "" in views and len(value.dims) == 4 and value.dims[0] == 1:
                return Act(value.layer, value.shape, tensor=value.tensor)  # an image again
        if value.view not in views:
            raise OpError(f"{what} is a {value.view or '4-D'} view of '{value.layer}', which "
                          "this operator does not take here")
        if any(value.pad) and not pad_ok:
            raise OpError("reads a Pad's output; supported: Pad before Conv, MaxPool or "
                          "AveragePool")
        return value

    def tensor(self, value: Value, what: str = "its input") -> Act:
        """`value` as a tensor whose layer outputs exactly it: pending element-wise functions
        become one ``activation`` layer, a view that is not the layer's shape a ``reshape``."""
        if not isinstance(value, Act):
            raise OpError(f"{what} must be an activation, not a constant")
        if any(value.pad):
            raise OpError("reads a Pad's output; supported: Pad before Conv, MaxPool or "
                          "AveragePool, or a Pad of nothing")
        if value.stat:
            raise OpError(f"reads a mean over the last axis ({value.stat}) other than to "
                          "normalise by it; supported: the LayerNorm and RMSNorm patterns")
        dims = value.onnx_dims()
        x = Act(value.layer, value.shape, view="tensor", dims=dims, tensor=value.tensor)
        if token_shape(dims) != value.shape:
            y = self.add_layer(self.node_label, "reshape", [Act(value.layer, value.shape)],
                               target=token_shape(dims))
            x = self.as_tensor(y, dims)
            self.tensors.setdefault(y.layer, (value.tensor, dims))
        if value.fns:
            function = function_of(value.fns)
            label = activation_label(value.origin, function) if value.origin else \
                self.node_label
            y = self.add_layer(label, "activation", [x], function=function)
            x = self.as_tensor(y, dims)
            self.tensors.setdefault(y.layer, (value.tensor, dims))
        return x

    def const(self, value: Value, what: str) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise OpError(f"{what} must be a constant (an initializer), not computed by the model")
        return value

    def add_layer(self, label: str, ltype: str, inputs: list[Act], out_channels: int = 0,
                  target: tuple[int, ...] | None = None, **fields: Any) -> Act:
        name, n = label if label not in (INPUT, *self.reserved) else f"{label}_", 1
        while name in self.by_name or name in self.reserved:
            n += 1
            name = f"{label}_{n}"
        shapes = tuple(a.shape for a in inputs)
        rules = {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in fields.items()
                 if k in ("kernel", "stride", "padding", "dilation", "channels", "scale",
                          "axis", "perm", "shifts", "axes", "transpose_b")}
        try:
            shape = output_shape(ltype, shapes, out_channels, **rules, target=target,
                                 ceil_mode=fields.get("ceil_mode", False))
        except ShapeError as exc:
            raise OpError(str(exc)) from None
        layer = {"name": name, "type": ltype, "inputs": [a.layer for a in inputs],
                 "input_shapes": [list(s) for s in shapes], "output_shape": list(shape), **fields}
        self.layers.append(layer)
        self.by_name[name] = layer
        return Act(name, shape)

    def add_tensor_layer(self, label: str, ltype: str, inputs: list[Act], lead: bool = True,
                         **fields: Any) -> Act:
        """A layer over tensors, its output seen as an ONNX tensor with a batch axis of 1 in
        front (`lead`) or not."""
        y = self.add_layer(label, ltype, inputs, **fields)
        return self.as_tensor(y, (1, *y.shape) if lead else y.shape)

    def as_tensor(self, y: Act, dims: tuple[int, ...]) -> Act:
        return Act(y.layer, y.shape, view="tensor", dims=tuple(int(d) for d in dims))

    def foldable(self, x: Act, tensor: str, types: tuple[str, ...]) -> dict[str, Any] | None:
        """The layer `x` is the untouched, sole-consumer output of, if of one of `types`."""
        layer = self.by_name.get(x.layer)
        if x.pure and layer is not None and layer["type"] in types and self.uses.get(tensor) == 1:
            return layer
        return None


@dataclass(frozen=True)
class Transposed:
    """An external tensor seen transposed: read in, it is transposed; its zeros are its own."""

    ext: Any
    perm: tuple[int, ...]

    @property
    def size(self) -> int:
        return self.ext.size

    def read(self) -> np.ndarray:
        return np.transpose(self.ext.read(), self.perm)

    def zero_fraction(self) -> float:
        return self.ext.zero_fraction()


#: Element-wise ONNX operators, by the ``activation`` function a chain of them amounts to.
_FUNCTIONS = {"Relu": "relu", "Clip": "relu", "LeakyRelu": "relu", "Elu": "relu",
              "Selu": "relu", "PRelu": "relu", "Sigmoid": "sigmoid", "HardSigmoid": "sigmoid",
              "Softplus": "sigmoid", "HardSwish": "silu", "Mish": "silu", "Tanh": "tanh"}


def function_of(fns: tuple[str, ...]) -> str:
    """The ``activation`` function of a chain of element-wise operators: Erf is GELU, Tanh of
    a cube GPT-2's GELU, a Sigmoid times its input SiLU, a chain of scalar products and sums
    a scale."""
    ops = set(fns)
    if "Erf" in ops or "Gelu" in ops:
        return "gelu"
    if "Tanh" in ops and ("Pow" in ops or "self" in ops):
        return "gelu_tanh"
    if "Sigmoid" in ops and "self" in ops:
        return "silu"
    for op in fns:
        if op in _FUNCTIONS:
            return _FUNCTIONS[op]
    return "scale"


def ints(v: Any) -> list[int]:
    return [int(i) for i in np.asarray(v).reshape(-1)]
