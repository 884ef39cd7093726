"""ONNX operators on token tensors: what transformer and modern-convnet exports contain
(docs/network-format.md, "ONNX"), as the layer kinds of "Tokens and transformers".

A tensor is any activation that is not one of the image views of ``ops.py``: its ONNX dims are
kept as they are (``Act.dims``) and its layer's shape is those dims without a batch axis of 1
in front (``token_shape``). Patterns are recognised by dataflow, never by node names:

* element-wise functions of one tensor (Erf, Tanh, Sigmoid, Pow, products and sums by
  scalars, and the product of such a chain with its own input) stay pending on the tensor
  (``Act.fns``) and become one ``activation`` layer when something else reads them: GELU as
  ``x·0.5·(1 + erf(x/√2))``, GPT-2's tanh GELU, SiLU as ``x·sigmoid(x)``;
* a ReduceMean over the last axis is a statistic (``Act.stat``): divided into its own
  tensor it is an ``rmsnorm`` (mean of squares) or, of a centred tensor, a ``layernorm``;
  scales and shifts per feature after a norm or a linear fold into it;
* a Transpose that moves only axes of size 1 is a reshape (the same bytes in the same order);
  other layout changes are ``reshape`` and ``transpose`` layers; Gather of rows of a learned
  table is an ``embedding``; constants an activation meets are ``constant`` layers (learned
  when they are an initializer moved around, fixed when computed: masks, rotary tables).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nnaccel.onnxio.graph import Act, Builder, OpError, attrs, ints, token_shape
from nnaccel.onnxio.names import module_label

#: Operators that pass a tensor on unchanged.
PASS = frozenset({"Identity", "Dropout", "Cast", "CastLike"})
#: The largest number of copies an Expand of an activation may make (grouped-query attention
#: repeats each key/value head for its query heads).
MAX_COPIES = 64


def is_tensor(*values) -> bool:
    """Whether any of `values` is a tensor (not an image view), or carries pending work."""
    return any(isinstance(v, Act) and (v.view == "tensor" or v.fns or v.stat) for v in values)


def axis_of(x: Act, axis: int) -> int | None:
    """The layer axis of ONNX axis `axis` of `x` (None: the batch axis of 1 in front)."""
    dims = x.onnx_dims()
    axis %= len(dims)
    if len(dims) > 1 and dims[0] == 1:
        return None if axis == 0 else axis - 1
    return axis


def seen_as(b: Builder, x: Act, dims: tuple[int, ...]) -> Act:
    """Tensor `x` seen with ONNX `dims` (same element count): a reshape layer unless the
    layer's shape already is theirs."""
    dims = tuple(int(d) for d in dims)
    if int(np.prod(dims)) != int(np.prod(x.onnx_dims())):
        raise OpError(f"a reshape of {list(x.onnx_dims())} to {list(dims)} changes the element "
                      "count")
    if token_shape(dims) == x.shape:
        return replace(x, view="tensor", dims=dims)
    y = b.add_layer(b.node_label, "reshape", [Act(x.layer, x.shape)], target=token_shape(dims))
    return b.as_tensor(y, dims)


def constant(b: Builder, name: str, value: np.ndarray, rank: int | None = None) -> Act:
    """The ``constant`` layer of the ONNX constant `name` (one per tensor): learned when it is
    an initializer moved around, fixed when computed. `rank` drops leading 1s down to it."""
    dims = tuple(int(d) for d in np.shape(value)) or (1,)
    if rank is not None:
        while len(dims) > max(rank, 1) and dims[0] == 1:
            dims = dims[1:]
    key = f"{name}{list(dims)}"
    if key not in b.constants:
        learned = name in b.learned
        label = _const_label(name, b.node_label)
        y = b.add_layer(label, "constant", [], target=token_shape(dims), learned=learned)
        if learned:
            b.weight_names.add(name)
        b.constants[key] = b.as_tensor(y, dims)
    return b.constants[key]


def _const_label(name: str, node_label: str) -> str:
    if name.startswith("/") or "::" in name or name.startswith("onnx"):
        return f"{node_label}.constant"
    return name


def _pending(x: Act, op: str, label: str) -> Act:
    return replace(x, fns=(*x.fns, op), origin=x.origin or label, pure=False)


def _broadcast(*dims: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*dims))
    except ValueError:
        raise OpError(f"operands of shapes {' and '.join(str(list(d)) for d in dims)} do not "
                      "broadcast") from None


def merge(b: Builder, kind: str, label: str, xs: list[Act]) -> Act:
    """An add or mul layer of tensors (the largest first; the others broadcast to it)."""
    out = _broadcast(*(x.onnx_dims() for x in xs))
    xs = sorted(xs, key=lambda x: -int(np.prod(x.onnx_dims())))
    rank = len(xs[0].shape)
    for i, x in enumerate(xs[1:], 1):  # a lower-rank operand aligns from the last axis
        if len(x.shape) > rank:
            xs[i] = seen_as(b, x, x.onnx_dims()[len(x.shape) - rank:])
    y = b.add_layer(label, kind, xs)
    return seen_as(b, b.as_tensor(y, xs[0].onnx_dims()), out)


# --- element-wise ---------------------------------------------------------------------------
def unary(b: Builder, node, label, ins):
    x = ins[0]
    if node.op_type in PASS:
        return [x] + [None] * (len(node.output) - 1)
    if x.stat:
        return [x]  # sqrt, reciprocal of a mean: still the statistic
    return [_pending(x, node.op_type, label)]


def binary(b: Builder, node, label, ins):
    op = node.op_type
    x, y = ins[0], ins[1]
    if isinstance(x, Act) and isinstance(y, Act):
        return [_two(b, node, label, op, x, y)]
    a, k = (x, y) if isinstance(x, Act) else (y, x)
    k = np.asarray(k)
    if a.stat:
        return [a]  # + eps, 1 / mean: still the statistic
    if k.size == 1:
        return [_pending(a, "Pow" if op == "Pow" else op, label)]
    if op == "Pow":
        raise OpError("Pow by a tensor of exponents; supported: by a scalar")
    kind = "add" if op in ("Add", "Sub") else "mul"
    tensor = node.input[0] if a is x else node.input[1]
    features = a.onnx_dims()[-1]
    name = node.input[1] if isinstance(x, Act) else node.input[0]
    if not a.fns and k.size == features and k.shape[-1] == features:
        if _absorb(b, a, tensor, kind):
            b.weight_names.add(name)
            return [a]
    a = b.tensor(a)
    return [merge(b, kind, label, [a, constant(b, name, k, len(a.onnx_dims()))])]


def _absorb(b: Builder, a: Act, tensor: str, kind: str) -> bool:
    """A scale or shift per feature into the norm or linear it alone follows."""
    layer = b.foldable(a, tensor, ("linear", "layernorm", "rmsnorm"))
    if layer is None:
        return False
    if kind == "add" and layer["type"] in ("linear", "layernorm") and not layer.get("bias"):
        layer["bias"] = True
        return True
    if kind == "mul" and layer["type"] in ("layernorm", "rmsnorm") and \
            layer["name"] not in b.scaled:
        b.scaled.add(layer["name"])
        return True
    return False


def _two(b: Builder, node, label, op: str, x: Act, y: Act) -> Act:
    for s, t in ((x, y), (y, x)):  # normalisations: a tensor over its own statistic
        if s.stat and not t.stat and s.layer == t.layer:
            if op == "Sub" and s.stat == "mean" and t is x and not t.fns:
                return replace(t, fns=("centre",), origin=t.origin or label, pure=False)
            if op in ("Mul", "Div") and (s.stat, t.fns) in (("meansq", ()),
                                                             ("var", ("centre",))):
                kind = "rmsnorm" if s.stat == "meansq" else "layernorm"
                base = b.tensor(replace(t, fns=()))
                extra = {"bias": False} if kind == "layernorm" else {}
                y = b.add_layer(module_label(label), kind, [base], **extra)
                return b.as_tensor(y, base.dims)
    if x.stat or y.stat:
        raise OpError("a mean over the last axis meets another tensor; supported: the "
                      "LayerNorm and RMSNorm patterns")
    if x.layer == y.layer and x.onnx_dims() == y.onnx_dims() and x.view == y.view:
        tag = "self" if op == "Mul" else op
        return replace(x, fns=(*x.fns, *y.fns, tag), origin=x.origin or y.origin or label,
                       pure=False)
    if op == "Pow":
        raise OpError("Pow of two activations; supported: by a scalar")
    kind = "add" if op in ("Add", "Sub") else "mul"
    return merge(b, kind, label, [b.tensor(x), b.tensor(y)])


def where(b: Builder, node, label, ins):
    cond, x, y = ins
    if isinstance(cond, Act) or (isinstance(x, Act) == isinstance(y, Act)):
        raise OpError("Where of computed conditions or of two activations; supported: a "
                      "constant mask selecting between an activation and a constant")
    a, other = (x, y) if isinstance(x, Act) else (y, x)
    mask = np.zeros(np.broadcast_shapes(np.shape(cond), np.shape(other)), np.float32)
    a = b.tensor(a)
    name = f"{node.output[0]}.mask"
    return [merge(b, "add", label, [a, constant(b, name, mask, len(a.onnx_dims()))])]


def softmax(b: Builder, node, label, ins):
    x = b.tensor(ins[0])
    rank = len(x.dims)
    axis = attrs(node).get("axis", -1 if b.opset >= 13 else 1) % rank
    if axis != rank - 1:
        raise OpError(f"Softmax over axis {axis} of {list(x.dims)}; supported: the last axis")
    return [b.as_tensor(b.add_layer(label, "softmax", [x]), x.dims)]


def layer_norm(b: Builder, node, label, ins):
    x = b.tensor(ins[0])
    axis = attrs(node).get("axis", -1) % len(x.dims)
    if axis != len(x.dims) - 1:
        raise OpError(f"LayerNormalization from axis {axis} of {list(x.dims)}; supported: "
                      "over the last axis")
    bias = len(ins) > 2 and ins[2] is not None
    b.weight_names.update(n for n in node.input[1:3] if n)
    y = b.add_layer(label, "layernorm", [x], bias=bias)
    b.scaled.add(y.layer)
    return [b.as_tensor(y, x.dims), None, None][:len(node.output)]


def reduce_mean(b: Builder, node, label, ins):
    x = ins[0]
    a = attrs(node)
    axes = a.get("axes") if len(ins) < 2 or ins[1] is None else ints(b.const(ins[1], "axes"))
    dims = x.onnx_dims()
    if axes is None or [ax % len(dims) for ax in axes] != [len(dims) - 1]:
        raise OpError(f"ReduceMean over axes {axes} of {list(dims)}; supported: over the last "
                      "axis (a LayerNorm or RMSNorm), or height and width of an image")
    fns = set(x.fns)
    if not fns:
        stat = "mean"
    elif fns <= {"Pow", "self"} and len(x.fns) == 1:
        stat = "meansq"
    elif fns == {"centre", "Pow"} or fns == {"centre", "self"}:
        stat = "var"
    else:
        raise OpError("ReduceMean of an element-wise function; supported: of a tensor, its "
                      "square, or its centred square (LayerNorm and RMSNorm)")
    out = (*dims[:-1], 1) if a.get("keepdims", 1) else dims[:-1]
    base = b.tensor(replace(x, fns=()))
    return [replace(base, stat=stat, dims=tuple(out), pure=False)]


# --- weights --------------------------------------------------------------------------------
def linear(b: Builder, label: str, x: Act, w: np.ndarray, weight: str, bias: bool) -> Act:
    """[..., D] x [D, E]: a ``linear`` layer (a weight product over tokens)."""
    x = b.tensor(x)
    if w.ndim != 2 or w.shape[0] != x.dims[-1]:
        raise OpError(f"a weight of shape {list(w.shape)} for {list(x.dims)}; supported: a "
                      f"[{x.dims[-1]}, E] matrix")
    tied = _tied(b, w)
    y = b.add_layer(label, "linear", [x], int(w.shape[1]), bias=bias, tied=tied)
    b.weigh(y.layer, w)
    if not tied:
        b.weight_names.add(weight)
    return b.as_tensor(y, (*x.dims[:-1], int(w.shape[1])))


def _tied(b: Builder, w: np.ndarray) -> bool:
    """Whether `w` is an embedding's table, transposed (GPT-2's LM head): exporters write the
    tied weight a second time, so it is recognised by its values."""
    source = b.sources.get(id(w))
    for table in b.tables:
        if source is not None and b.sources.get(id(table)) == source:
            return True  # the table itself, seen transposed (the dynamo exporter)
        if table.shape == w.shape[::-1] and id(table) not in b.external and \
                id(w) not in b.external and np.array_equal(table.T, w):
            return True
    return False


def matmul_acts(b: Builder, label: str, x: Act, y: Act, y_name: str = "") -> Act:
    """A product of two activations, batched over the leading (head) axes."""
    x, y = b.tensor(x), b.tensor(y)
    xd, yd = x.dims, y.dims
    if len(xd) < 2 or len(yd) < 2:
        raise OpError(f"MatMul of {list(xd)} and {list(yd)}; supported: of matrices, batched")
    out = (*_broadcast(xd[:-2], yd[:-2]), xd[-2], yd[-1])
    rank = max(len(x.shape), len(y.shape), 2)
    x = seen_as(b, x, (1,) * (rank + 1 - len(xd)) + xd) if len(x.shape) < rank else x
    y = seen_as(b, y, (1,) * (rank + 1 - len(yd)) + yd) if len(y.shape) < rank else y
    stored = _stored_transposed(b, y, y_name)
    if stored is not None:  # attention's K as it is stored: B [..., E, D]
        z = b.add_layer(label, "matmul", [x, stored], transpose_b=True)
    else:
        z = b.add_layer(label, "matmul", [x, y])
    return seen_as(b, b.as_tensor(z, (1, *z.shape)), out)


def _stored_transposed(b: Builder, y: Act, name: str) -> Act | None:
    """When B is a transpose layer read by nothing else that moves the last axis of its input
    to the second-to-last place (K transposed for Q·Kᵀ), the product reads B as the rest of
    the reordering leaves it, its last axis in place (often no transpose at all), with
    ``transpose_b``."""
    layer = b.by_name.get(y.layer)
    if layer is None or layer["type"] != "transpose" or b.uses.get(name) != 1 or \
            y.shape != tuple(layer["output_shape"]):
        return None
    perm = list(layer["perm"])
    rest = perm[:-2] + [perm[-1], perm[-2]]
    if rest[-1] != len(rest) - 1:  # the rest would move the last axis: no better than before
        return None
    source = Act(layer["inputs"][0], tuple(layer["input_shapes"][0]))
    b.layers.remove(layer)
    del b.by_name[layer["name"]]
    b.tensors.pop(layer["name"], None)
    if rest == sorted(rest):
        return source
    return b.add_layer(layer["name"], "transpose", [source], perm=rest)


def embedding(b: Builder, node, label, ins):
    table, ids = ins
    if attrs(node).get("axis", 0) != 0 or np.ndim(table) != 2:
        raise OpError("Gather of a constant other than rows of a matrix; supported: an "
                      "embedding (rows of a [vocab, D] table)")
    if isinstance(ids, Act):
        ids = b.tensor(ids)
    else:
        ids = constant(b, node.input[1], np.asarray(ids))
    vocab, width = (int(d) for d in np.shape(table))
    y = b.add_layer(label, "embedding", [ids], width, vocab=vocab)
    b.tables.append(table)
    b.weight_names.add(node.input[0])
    return [b.as_tensor(y, (*ids.onnx_dims(), width))]


# --- layout ---------------------------------------------------------------------------------
def reshape_to(b: Builder, x: Act, dims: list[int]) -> Act:
    x = b.tensor(x)
    have = x.dims
    target = [have[i] if t == 0 and i < len(have) else t for i, t in enumerate(dims)]
    if target.count(-1) > 1:
        raise OpError(f"Reshape to {dims}: more than one -1")
    if -1 in target:
        known = int(np.prod([t for t in target if t != -1]))
        if not known or int(np.prod(have)) % known:
            raise OpError(f"Reshape of {list(have)} to {dims} does not keep the element count")
        target[target.index(-1)] = int(np.prod(have)) // known
    if any(t < 1 for t in target):
        raise OpError(f"Reshape of {list(have)} to {dims}")
    return seen_as(b, x, tuple(target))


def transpose(b: Builder, label: str, x: Act, perm: list[int]) -> Act:
    x = b.tensor(x)
    dims = x.dims
    if sorted(perm) != list(range(len(dims))):
        raise OpError(f"Transpose {perm} of {list(dims)}: not an order of its axes")
    out = tuple(dims[p] for p in perm)
    moved = [p for p in perm if dims[p] != 1]
    if moved == sorted(moved):  # only axes of size 1 move: the same bytes in the same order
        return seen_as(b, x, out)
    if len(dims) > 1 and dims[0] == 1 and perm[0] == 0:
        y = b.add_layer(label, "transpose", [x], perm=[p - 1 for p in perm[1:]])
        return b.as_tensor(y, out)
    keep = [i for i, d in enumerate(dims) if d != 1]
    squeezed = seen_as(b, x, (1, *(dims[i] for i in keep)))
    y = b.add_layer(label, "transpose", [squeezed], perm=[keep.index(p) for p in moved])
    return seen_as(b, b.as_tensor(y, (1, *y.shape)), out)


def squeeze_dims(x: Act, node, ins, b: Builder) -> list[int]:
    dims = list(x.onnx_dims())
    axes = attrs(node).get("axes") if len(ins) < 2 or ins[1] is None else \
        ints(b.const(ins[1], "axes"))
    if node.op_type == "Squeeze":
        drop = {a % len(dims) for a in axes} if axes is not None else \
            {i for i, d in enumerate(dims) if d == 1}
        if any(dims[a] != 1 for a in drop):
            raise OpError(f"Squeeze of axes {sorted(drop)} of {dims}: not of size 1")
        return [d for i, d in enumerate(dims) if i not in drop]
    rank = len(dims) + len(axes)
    for a in sorted(ax % rank for ax in axes):
        dims.insert(a, 1)
    return dims


def concat(b: Builder, node, label, ins):
    first = next(v for v in ins if isinstance(v, Act))
    rank = len(first.onnx_dims())
    xs = [b.tensor(v) if isinstance(v, Act) else constant(b, n, np.asarray(v))
          for n, v in zip(node.input, ins, strict=True)]
    if any(len(x.onnx_dims()) != rank for x in xs):
        raise OpError("Concat of tensors of different ranks")
    axis = attrs(node).get("axis", 0) % rank
    out = list(xs[0].onnx_dims())
    out[axis] = sum(x.onnx_dims()[axis] for x in xs)
    xs = [x for x in xs if x.onnx_dims()[axis]]
    if len(xs) == 1:
        return [seen_as(b, xs[0], tuple(out))]
    layer_axis = axis_of(xs[0], axis)
    if layer_axis is None or any(axis_of(x, axis) != layer_axis for x in xs):
        raise OpError(f"Concat along axis {axis} of {[list(x.onnx_dims()) for x in xs]}; "
                      "supported: along an axis other than the batch's")
    rolled = _roll(b, label, xs, layer_axis, node.input)
    if rolled is not None:
        return [seen_as(b, b.as_tensor(rolled, (1, *rolled.shape)), tuple(out))]
    y = b.add_layer(label, "concat", xs, axis=layer_axis)
    return [seen_as(b, b.as_tensor(y, (1, *y.shape)), tuple(out))]


def _roll(b: Builder, label: str, xs: list[Act], axis: int, names) -> Act | None:
    """A Concat of a tensor's tail and head along one axis is a ``roll`` (torch.roll exports
    so: Swin's shifted windows); the two slices, read by nothing else, give way to it."""
    if len(xs) != 2 or len(names) != 2:
        return None
    tail, head = (b.by_name.get(x.layer) for x in xs)
    if tail is None or head is None or tail["type"] != "slice" or head["type"] != "slice" or \
            tail["inputs"] != head["inputs"] or tail.get("axis", 0) != axis or \
            head.get("axis", 0) != axis or tail["input_shapes"] != head["input_shapes"]:
        return None
    n = tail["input_shapes"][0][axis]
    (s, e), (s2, e2) = tail["channels"], head["channels"]
    if (e, s2, e2) != (n, 0, s) or any(b.uses.get(t) != 1 for t in names) or \
            xs[0].layer == xs[1].layer:
        return None
    for layer in (tail, head):
        b.layers.remove(layer)
        del b.by_name[layer["name"]]
        b.tensors.pop(layer["name"], None)
    source = Act(tail["inputs"][0], tuple(tail["input_shapes"][0]))
    return b.add_layer(label, "roll", [source], shifts=[n - s], axes=[axis])


def slice_axis(b: Builder, label: str, x: Act, axis: int, start: int, end: int,
               step: int = 1) -> Act:
    """x[start:end:step] along ONNX `axis` (a step divides the axis: a strided view, as Swin's
    patch merging takes every other row and column)."""
    dims = list(x.onnx_dims())
    axis %= len(dims)
    n = dims[axis]
    if step < 1:
        raise OpError(f"Slice with step {step}; supported: forward steps")
    start = min(max(start + n if start < 0 else start, 0), n)
    end = min(max(end + n if end < 0 else end, 0), n)
    if (start, end, step) == (0, n, 1):
        return x
    if step > 1:
        if n % step or start >= step or end < n - (step - 1 - start):
            raise OpError(f"Slice [{start}:{end}:{step}] of an axis of {n}; supported: every "
                          "step-th element from one of the first step")
        split = seen_as(b, b.tensor(x), (*dims[:axis], n // step, step, *dims[axis + 1:]))
        one = slice_axis(b, label, split, axis + 1, start, start + 1)
        return seen_as(b, one, (*dims[:axis], n // step, *dims[axis + 1:]))
    x = b.tensor(x)
    layer_axis = axis_of(x, axis)
    if layer_axis is None:
        raise OpError("Slice of the batch axis")
    if end <= start:
        raise OpError(f"an empty Slice [{start}:{end}] of axis {axis}")
    y = b.add_layer(label, "slice", [x], channels=[start, end], axis=layer_axis)
    dims[axis] = end - start
    return seen_as(b, b.as_tensor(y, (1, *y.shape)), tuple(dims))


def gather_slice(b: Builder, node, label, x: Act, index: np.ndarray) -> Act:
    axis = attrs(node).get("axis", 0) % len(x.onnx_dims())
    n = x.onnx_dims()[axis]
    picked = [int(i) % n for i in index.reshape(-1)]
    if not picked or picked != list(range(picked[0], picked[0] + len(picked))):
        raise OpError(f"Gather of {picked[:8]} along axis {axis}; supported: one index or a "
                      "range")
    y = slice_axis(b, label, x, axis, picked[0], picked[-1] + 1)
    dims = list(y.onnx_dims())
    if index.ndim == 0:
        del dims[axis]
    else:
        dims[axis:axis + 1] = list(index.shape)
    return seen_as(b, b.tensor(y), tuple(dims))


def expand(b: Builder, node, label, ins):
    x = b.tensor(ins[0])
    target = tuple(ints(b.const(ins[1], "the shape")))
    dims = x.dims
    out = _broadcast(dims, target)
    if len(out) > len(dims):
        x = seen_as(b, x, (1,) * (len(out) - len(dims)) + dims)
        dims = x.dims
    grown = [i for i, (d, o) in enumerate(zip(dims, out, strict=True)) if d != o]
    if not grown:
        return [x]
    if len(grown) > 1 or out[grown[0]] > MAX_COPIES:
        raise OpError(f"Expand of {list(dims)} to {list(out)}; supported: copies (at most "
                      f"{MAX_COPIES}) along one axis, as grouped-query attention repeats heads")
    axis = grown[0]
    layer_axis = axis_of(x, axis)
    if layer_axis is None:
        raise OpError("Expand of the batch axis")
    y = b.add_layer(label, "concat", [x] * out[axis], axis=layer_axis)
    return [b.as_tensor(y, out)]
