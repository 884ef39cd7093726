"""Names people can read: a layer is named after the module that computed it
(``encoder.layer.3.attention.self.query``, ``features.1.0.block.0``), not ``node_MatMul_123``.

Exporters say where a node comes from in three ways, read in this order: torch.onnx's
TorchScript exporter scopes the node name (``/encoder/layer.3/attention/self/query/MatMul``);
the dynamo exporter records the module scopes in the node's metadata; and a weight's
initializer is named after its module (``encoder.layer.3.attention.self.query.weight``).
A node named any other way keeps its own name (an nnaccel export names nodes after layers).
"""

from __future__ import annotations

import ast
import re

import onnx

#: The operator that is a module's own work: the module's name alone names its layer; the
#: module's other operators add their type (``attention.self.softmax``).
PRIMARY = frozenset({"Conv", "MatMul", "Gemm", "LayerNormalization", "Gather"})
#: Names that say nothing of where a node comes from (dynamo's ``node_MatMul_12``).
_GENERATED = re.compile(r"^(node_)?[A-Za-z]+(_\d+)*$")


def _path(parts: list[str]) -> str:
    """Module scopes as one dotted path: ``features``, ``features.1``, ``features.1.0``
    (TorchScript repeats each parent) become ``features.1.0``."""
    out: list[str] = []
    for part in parts:
        if out and part.startswith(out[-1] + "."):
            out[-1] = part
        elif part:
            out.append(part)
    return ".".join(out)


def _scopes(node: onnx.NodeProto) -> tuple[str, str]:
    """(module, operation) from the dynamo exporter's name scopes: the qualified names of the
    modules around the node, outermost first, then the torch operation (``linear``, ``add_1``)."""
    for prop in node.metadata_props:
        if "name_scopes" in prop.key and len(prop.value) < 10_000:
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return "", ""
            if isinstance(scopes, list) and scopes and all(isinstance(x, str) for x in scopes):
                return _path(scopes[:-1]), scopes[-1]
    return "", ""


def _op_label(op: str) -> str:
    return op.lower()


def layer_label(node: onnx.NodeProto, index: int) -> str:
    """The name a layer mapped from `node` gets (made unique by the builder)."""
    name = node.name
    if name.startswith("/") and len(name) > 1:
        parts = name.strip("/").split("/")
        path = _path(parts[:-1])
        op = parts[-1]
        base = op.split("_")[0]
        if not path:  # the model's own top-level operators: /Reshape, /Concat
            return _op_label(op)
        return path if base in PRIMARY and op == base else f"{path}.{_op_label(op)}"
    module, op = _scopes(node)
    if module:
        return module if node.op_type in PRIMARY else f"{module}.{op or _op_label(node.op_type)}"
    if op:
        return op
    if not name or _GENERATED.match(name):
        for inp in node.input:
            if inp.endswith(".weight") and "::" not in inp and not inp.startswith("/"):
                return inp.removesuffix(".weight")
    return name or (node.output[0] if node.output else f"#{index}")


def module_label(label: str) -> str:
    """The module of a layer label that names an operator of it (``...input_layernorm.mul``
    is ``...input_layernorm``): a normalisation spelled out is its module's work."""
    head, dot, last = label.rpartition(".")
    return head if dot and re.fullmatch(r"[a-z]+(_\d+)?", last) else label


def activation_label(origin: str, function: str) -> str:
    """The name of an activation layer begun by the node labelled `origin`: its module and
    the function (``encoder.layer.3.intermediate.intermediate_act_fn.gelu``)."""
    head, dot, last = origin.rpartition(".")
    if dot and re.fullmatch(r"[a-z]+(_\d+)?", last):
        return f"{head}.{function}"
    return origin
