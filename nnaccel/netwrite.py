"""Writing a network file: fixed key order, one layer per line, final newline, so that a file
written twice is the same file (docs/network-format.md). ``netformat`` reads what this writes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nnaccel.netformat import OPTIONAL, PAPER_FIELDS, TYPE_FIELDS, WRITTEN_IF_SET

if TYPE_CHECKING:
    from nnaccel.network import Network


def layer_to_dict(layer: Any) -> dict[str, Any]:
    """A layer as the file writes it: the common fields, then its type's, in fixed order."""
    out: dict[str, Any] = {
        "name": layer.name,
        "type": layer.type,
        "inputs": list(layer.inputs),
        "input_shapes": [list(s) for s in layer.input_shapes],
        "output_shape": list(layer.output_shape),
    }
    for key, (_, default) in TYPE_FIELDS[layer.type].items():
        value = getattr(layer, key)
        if value is None and default is OPTIONAL:
            continue
        if key in WRITTEN_IF_SET and value == default:
            continue
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def dumps_network(network: Network) -> str:
    """The file text of a network: fixed key order, one layer per line, final newline."""
    head: list[tuple[str, Any]] = [
        ("name", network.name),
        ("input_shape", list(network.input_shape)),
        ("source", network.source),
    ]
    if network.notes:
        head.append(("notes", network.notes))
    if network.inputs:
        head.append(("inputs", {k: list(v) for k, v in network.inputs}))
    if network.paper:
        paper = {k: network.paper[k] for k in PAPER_FIELDS if k in network.paper}
        head.append(("paper", {k: list(v) if isinstance(v, tuple) else v
                               for k, v in paper.items()}))
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head]
    lines.append('  "layers": [')
    body = [f"    {json.dumps(layer_to_dict(layer))}" for layer in network.layers]
    lines.append(",\n".join(body))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"
