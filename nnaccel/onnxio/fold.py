"""Folding the nodes whose inputs are all constants, within a budget (docs/network-format.md,
"Limits"): the shape and mask subgraphs exporters write (Shape, Range, Where, Expand, Equal,
ConstantOfShape, ScatterND, Cos/Sin of rotary angles, ...).

The model is never run, but these nodes are evaluated with onnx's reference operators. Before a
node is, ONNX's own shape inference, given the small constant inputs as data, says how large
its outputs will be; a node beyond `limits.MAX_FOLD_ELEMENTS`, or whose size cannot be bounded,
is refused before anything is allocated. Control flow (Loop, Scan, If and any node carrying a
subgraph) is never folded: its cost is not known before it runs.
"""

from __future__ import annotations

import math
import time

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

from nnaccel import limits
from nnaccel.onnxio.operror import OpError

#: Operators whose time grows with the size of their inputs and outputs, not faster: folded up
#: to the element budget. Others fold only when small (`limits.SMALL_FOLD`).
LINEAR = frozenset("""
Abs Add And ArgMax ArgMin BitShift Cast CastLike Ceil Clip Concat Constant ConstantOfShape Cos
CumSum Div Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements GatherND Greater
GreaterOrEqual Identity IsInf IsNaN Less LessOrEqual Log Max Mean Min Mod Mul Neg NonZero Not
OneHot Or Pad Pow Range Reciprocal ReduceL1 ReduceL2 ReduceMax ReduceMean ReduceMin ReduceProd
ReduceSum Relu Reshape Round ScatterElements ScatterND Shape Sigmoid Sign Sin Size Slice
Softmax Split Sqrt Squeeze Sub Sum Tanh Tile Transpose Trilu Unsqueeze Where Xor
""".split())
#: Products of two constants (rotary embeddings' inv_freq @ positions): bounded by their work.
PRODUCTS = frozenset({"MatMul", "Gemm"})
#: Operators whose output is no larger than their inputs even when shape inference leaves a
#: size open (a data-dependent count): bounded by rank × the inputs' elements.
BOUNDED_BY_INPUTS = frozenset({"NonZero", "Compress", "Unique", "Slice", "Gather",
                               "GatherElements", "GatherND", "Squeeze", "Reshape", "Identity",
                               "Cast", "Transpose", "TopK"})
#: Constant inputs handed to shape inference as data (a shape vector, a scalar bound).
_DATA_ELEMENTS = 1024


def _gather_elements(node: onnx.NodeProto, ins: list) -> list[np.ndarray]:
    data, index = np.asarray(ins[0]), np.asarray(ins[1])
    axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 0)
    axis %= data.ndim
    return [np.take_along_axis(data, np.where(index < 0, index + data.shape[axis], index), axis)]


#: Operators folded with numpy where onnx's reference operator fails on what exporters write
#: (onnx 1.23's GatherElements cannot gather [1, 128] positions from a [1, 512] buffer).
_NUMPY = {"GatherElements": _gather_elements}


class Folder:
    """Evaluates nodes of constants one at a time, keeping count of the budget spent."""

    def __init__(self, opset: int):
        self.opset = opset
        self.elements = 0
        self.seconds = 0.0

    def __call__(self, node: onnx.NodeProto, ins: list[np.ndarray | None]) -> list[np.ndarray]:
        if node.op_type in ("Loop", "Scan", "If") or any(
                a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                for a in node.attribute):
            raise OpError("control flow of constants; nnaccel folds no Loop, Scan or If (their "
                          "cost is not known before they run): export with static shapes")
        for a in node.attribute:  # a Constant's value may name a file: never read it
            tensors = [a.t] if a.type == onnx.AttributeProto.TENSOR else list(a.tensors)
            if any(t.data_location == onnx.TensorProto.EXTERNAL for t in tensors) or \
                    a.type in (onnx.AttributeProto.SPARSE_TENSOR,
                               onnx.AttributeProto.SPARSE_TENSORS):
                raise OpError("a constant attribute stored outside the model (or sparse); "
                              "nnaccel reads external data only for initializers")
        sizes = [0 if v is None else int(np.size(v)) for v in ins]
        out = self._bound(node, ins, sizes)
        if node.op_type not in LINEAR and node.op_type not in PRODUCTS and \
                sum(sizes) + out > limits.SMALL_FOLD:
            raise OpError(f"folding {node.op_type} of constants of {sum(sizes):,} elements; "
                          f"nnaccel folds it up to {limits.SMALL_FOLD:,} elements "
                          "(docs/network-format.md, 'Limits')")
        if node.op_type in PRODUCTS and ins[0] is not None and np.ndim(ins[0]):
            work = out * int(np.shape(ins[0])[-1])
            if work > limits.MAX_FOLD_WORK:
                raise OpError(f"folding this product of constants takes {work:.3g} "
                              f"multiply-adds, above the limit of {limits.MAX_FOLD_WORK:.3g} "
                              "(docs/network-format.md, 'Limits')")
        start = time.perf_counter()
        try:
            if node.op_type in _NUMPY:
                outs = _NUMPY[node.op_type](node, ins)
            else:
                evaluator = ReferenceEvaluator(node, opsets={"": self.opset})
                feeds = {n: v for n, v in zip(node.input, ins, strict=True) if n}
                outs = list(evaluator.run(None, feeds))
        except Exception as exc:  # the reference ops raise many kinds on bad constants
            raise OpError(f"cannot fold this node of constants: "
                          f"{' '.join(str(exc).split())[:120]}") from None
        self.seconds += time.perf_counter() - start
        self.elements += sum(int(np.size(v)) for v in outs)
        if self.elements > limits.MAX_FOLD_TOTAL:
            raise OpError(f"the folded constants reach {self.elements:,} elements, above the "
                          f"limit of {limits.MAX_FOLD_TOTAL:,} (docs/network-format.md, "
                          "'Limits')")
        if self.seconds > limits.MAX_FOLD_SECONDS:
            raise OpError(f"folding the model's constants has taken {self.seconds:.1f} s, "
                          f"above the limit of {limits.MAX_FOLD_SECONDS:g} s "
                          "(docs/network-format.md, 'Limits')")
        return outs

    def _bound(self, node: onnx.NodeProto, ins: list[np.ndarray | None],
               sizes: list[int]) -> int:
        """The elements of the node's largest output, from shape inference; OpError when
        beyond the budget or unknown."""
        shapes = _inferred_shapes(node, ins, self.opset)
        largest = 0
        for name in node.output:
            if not name:
                continue
            shape = shapes.get(name)
            if shape is None:
                if node.op_type not in BOUNDED_BY_INPUTS:
                    raise OpError(f"cannot bound the size of {node.op_type}'s output before "
                                  "folding it (ONNX shape inference leaves it open)")
                rank = max((np.ndim(v) for v in ins if v is not None), default=1)
                n = max(rank, 1) * sum(sizes)
            else:
                n = math.prod(shape)
                if n > limits.MAX_FOLD_ELEMENTS:
                    raise OpError(f"{node.op_type} {_short(shape)} would fold to {n:.3g} "
                                  f"elements, above the limit of {limits.MAX_FOLD_ELEMENTS:,} "
                                  "(docs/network-format.md, 'Limits'); nnaccel never runs "
                                  "the model")
            largest = max(largest, n)
        return largest


def _short(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(f"{d:.3g}" if d >= 10**6 else str(d) for d in shape) + "]"


def _inferred_shapes(node: onnx.NodeProto, ins: list[np.ndarray | None],
                     opset: int) -> dict[str, tuple[int, ...]]:
    """Output shapes ONNX infers for `node` given its constant inputs ({} for any not known)."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except Exception:
        domain = f" of domain '{node.domain}'" if node.domain else ""
        raise OpError(f"cannot fold this node of constants: no ONNX operator {node.op_type}"
                      f"{domain} in opset {opset}", list_supported=True) from None
    types, data = {}, {}
    for name, value in zip(node.input, ins, strict=False):
        if not name or value is None:
            continue
        array = np.asarray(value) if np.size(value) <= _DATA_ELEMENTS else None
        try:
            dtype = helper.np_dtype_to_tensor_dtype(np.asarray(value).dtype if array is not None
                                                    else value.dtype)
        except Exception:
            return {}
        types[name] = helper.make_tensor_type_proto(dtype, list(np.shape(value)))
        if array is not None:
            data[name] = numpy_helper.from_array(array, name)
    try:
        inferred = shape_inference.infer_node_outputs(
            schema, node, types, data, opset_imports=[helper.make_opsetid(node.domain, opset)])
    except Exception:  # inference rejects the node: the evaluator will say why
        return {}
    out = {}
    for name, tp in inferred.items():
        dims = tp.tensor_type.shape.dim if tp.HasField("tensor_type") else []
        if tp.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            out[name] = tuple(d.dim_value for d in dims)
    return out
