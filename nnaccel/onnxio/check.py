"""The second, independent engine: onnxruntime runs the ONNX model, and every tensor that
nnaccel models must have the shape onnxruntime produces, and the network's parameters must be
the initializers' element count.

Parameters are counted as the paper counts them (docs/network-format.md, "Counting"): every
weight, bias and per-channel factor in the initializers, and of a batch norm its scale and
shift but not its running mean and variance (statistics, not learned parameters). Scalars
(the 3 and 6 of a hard sigmoid) and integer tensors (shapes, indices) are not parameters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from nnaccel.errors import NetworkError
from nnaccel.network import Network
from nnaccel.onnxio.importer import load, walk

_WEIGHTED_OPS = ("Conv", "Gemm", "MatMul", "Mul", "Add", "Sub", "Div")
_FLOATS = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
           onnx.TensorProto.BFLOAT16)


@dataclass(frozen=True)
class OrtCheck:
    tensors: int
    params: int
    problems: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems


def initializer_params(model: onnx.ModelProto) -> int:
    """The initializers' element count as the paper counts parameters (module docstring)."""
    learned = set()
    for n in model.graph.node:
        if n.op_type == "BatchNormalization":
            learned.update(n.input[1:3])
        elif n.op_type in _WEIGHTED_OPS:
            learned.update(n.input)
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer
               if t.name in learned and t.data_type in _FLOATS and int(np.prod(t.dims)) > 1)


def weight_params(imported, network: Network) -> int:
    """The elements of the tensors the import took as a transformer's parameters (each ONNX
    tensor once: a tied LM head's not again), plus the image layers' (conv, fc, affine) as the
    paper counts them: held against the layers' formulas, this checks the formulas against the
    real tensors."""
    b = imported.builder
    image = sum(layer.params for layer in network.layers
                if layer.type in ("conv", "fc", "affine"))
    return image + sum(int(np.size(b.values[name])) for name in b.weight_names)


def feeds(model: onnx.ModelProto, seed: int) -> dict[str, np.ndarray]:
    """One input for every graph input: token ids 0 (a valid row of any table), float tensors
    seeded normal numbers."""
    rng = np.random.default_rng(seed)
    init = {t.name for t in model.graph.initializer}
    out = {}
    for inp in model.graph.input:
        if inp.name in init:
            continue
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type)
        out[inp.name] = np.zeros(dims, dtype) if np.issubdtype(dtype, np.integer) else \
            rng.standard_normal(dims).astype(dtype)
    return out


def check_with_onnxruntime(path: str | Path, network: Network, seed: int = 0) -> OrtCheck:
    """Run the model at `path` in onnxruntime and hold `network` (its import) against it."""
    from nnaccel.onnxio import require

    require("onnxruntime", path)
    import onnxruntime as ort

    start = time.perf_counter()
    path = Path(path)
    model = load(path, weights=True)
    imported = walk(path, model)
    wanted = {t for t, _ in imported.tensors.values()}
    present = {o.name for o in model.graph.output}
    model.graph.output.extend(helper.make_empty_tensor_value_info(t) for t in sorted(wanted - present))
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        values = dict(zip(names, session.run(names, feeds(model, seed)), strict=True))
    except Exception as exc:  # onnxruntime raises its own exception types
        raise NetworkError(str(path), f"onnxruntime cannot run the model: "
                           f"{' '.join(str(exc).split())[:200]}") from None
    problems = []
    for layer in network.layers:
        if layer.name not in imported.tensors:  # a constant, or a move inside one node
            continue
        tensor, dims = imported.tensors[layer.name]
        got = tuple(values[tensor].shape)
        if got != dims:
            problems.append(f"layer '{layer.name}': nnaccel models tensor '{tensor}' as "
                            f"{list(dims)}, onnxruntime computes {list(got)}")
    params = initializer_params(model) if not imported.builder.weight_names else \
        weight_params(imported, network)
    if params != network.params:
        problems.append(f"the network has {network.params:,} params, the initializers "
                        f"{params:,} (batch norm's running statistics not counted)")
    return OrtCheck(len(imported.tensors), params, tuple(problems), time.perf_counter() - start)
