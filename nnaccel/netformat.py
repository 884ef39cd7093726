"""The network file format: its tables of fields, and parsing and validating a file.

The values of single fields are checked in ``netfields``, JSON is read strictly by
``strictjson``, and ``netwrite`` writes a network back in the same format.

The format is described for people in ``docs/network-format.md`` and for tools in
``nnaccel/network.schema.json``; the tables below are the single source both are tested against.
Parsing returns plain, fully checked values (``nnaccel.network`` turns them into dataclasses),
so this module does not depend on the dataclasses and the two cannot import each other in a
circle.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnaccel import limits
from nnaccel.errors import NetworkError
from nnaccel.netfields import INPUT, FieldChecker, describe
from nnaccel.shapes import (
    LAYER_TYPES,
    MULTI_INPUT_TYPES,
    POOL_TYPES,
    TWO_INPUT_TYPES,
    Shape,
    ShapeError,
    output_shape,
    pads,
)
from nnaccel.strictjson import loads_strict

if TYPE_CHECKING:
    from nnaccel.network import Network


# Field kinds: each names a checker below.
_STR, _SHAPE, _SHAPES, _NAMES, _KERNEL, _PAD, _POSINT, _BOOL = (
    "string", "shape", "shapes", "names", "pair", "padding", "positive integer", "boolean")
_FRACTION, _RANGE, _MODE = "fraction", "range", "mode"
_AXIS, _AXES, _SHIFTS, _FUNCTION, _INPUTS = "axis", "axes", "shifts", "function", "inputs"

#: The default of a field that may be left out and then means "not given" (None): a layer's
#: own ``sparsity``, which falls back to the hardware's.
OPTIONAL = "optional"

#: Top-level fields: kind and whether they are required.
TOP_FIELDS: dict[str, tuple[str, bool]] = {
    "name": (_STR, True),
    "input_shape": (_SHAPE, True),
    "source": (_STR, True),
    "notes": (_STR, False),
    "inputs": (_INPUTS, False),
    "paper": ("object", False),
    "layers": ("array", True),
}

#: Fields every layer has, all required, in the order files are written.
COMMON_LAYER_FIELDS: dict[str, str] = {
    "name": _STR,
    "type": _STR,
    "inputs": _NAMES,
    "input_shapes": _SHAPES,
    "output_shape": _SHAPE,
}

#: Fields per layer type: kind and default (None = required), in the order files are written.
TYPE_FIELDS: dict[str, dict[str, tuple[str, Any]]] = {
    "conv": {
        "kernel": (_KERNEL, None),
        "stride": (_KERNEL, (1, 1)),
        "padding": (_PAD, (0, 0)),
        "groups": (_POSINT, 1),
        "bias": (_BOOL, False),
        "batch_norm": (_BOOL, False),
        "dilation": (_KERNEL, (1, 1)),
        "sparsity": (_FRACTION, OPTIONAL),
    },
    "fc": {"bias": (_BOOL, False), "batch_norm": (_BOOL, False),
           "sparsity": (_FRACTION, OPTIONAL)},
    "maxpool": {
        "kernel": (_KERNEL, None),
        "stride": (_KERNEL, (1, 1)),
        "padding": (_PAD, (0, 0)),
        "ceil_mode": (_BOOL, False),
    },
    "global_avgpool": {},
    "add": {},
    "concat": {"axis": (_AXIS, 0)},
    "mul": {},
    "affine": {"bias": (_BOOL, True)},
    "slice": {"channels": (_RANGE, None), "axis": (_AXIS, 0)},
    "shuffle": {"groups": (_POSINT, None)},
    "upsample": {"scale": (_KERNEL, None), "mode": (_MODE, "nearest")},
    # transformers (docs/network-format.md, "Tokens and transformers")
    "linear": {"bias": (_BOOL, False), "tied": (_BOOL, False),
               "sparsity": (_FRACTION, OPTIONAL)},
    "matmul": {"transpose_b": (_BOOL, False)},
    "layernorm": {"bias": (_BOOL, True)},
    "rmsnorm": {},
    "softmax": {},
    "activation": {"function": (_FUNCTION, None)},
    "reshape": {},
    "transpose": {"perm": (_AXES, None)},
    "roll": {"shifts": (_SHIFTS, None), "axes": (_AXES, None)},
    "embedding": {"vocab": (_POSINT, None)},
    "constant": {"learned": (_BOOL, True)},
}
TYPE_FIELDS["avgpool"] = TYPE_FIELDS["maxpool"]
#: Fields added after the first files were written: left out at their default, so that
#: writing an older network gives back the same bytes.
WRITTEN_IF_SET = ("dilation", "axis")
assert set(TYPE_FIELDS) == set(LAYER_TYPES)

#: The paper's figures a file may carry: kind of each.
PAPER_FIELDS: dict[str, str] = {
    "params_m": "number",
    "macs_m": "number",
    "top1": "number",
    "top5": "number",
    "depth": "depth",
    "time_8x8_32KB": "number",
    "energy_8x8_32KB": "number",
    "time_16x16_128KB": "number",
    "energy_16x16_128KB": "number",
}

_MULTI_INPUT = MULTI_INPUT_TYPES


def parse_network_text(text: str, path: str) -> dict[str, Any]:
    """Parse and validate a network file's text.

    Returns the keyword arguments of ``Network`` (without ``path``), with ``layers`` a list
    of keyword-argument dicts for ``Layer``. Raises NetworkError on the first problem.
    """
    check = FieldChecker(path)
    raw = loads_strict(text, path)
    if not isinstance(raw, dict):
        check.fail("expected a JSON object at the top level")

    top = _check_fields(check, raw, TOP_FIELDS, None)
    out: dict[str, Any] = {
        "name": top["name"],
        "input_shape": top["input_shape"],
        "source": top["source"],
        "notes": top.get("notes", ""),
        "paper": _check_paper(check, top.get("paper", {})),
        "inputs": top.get("inputs", ()),
    }
    produced: dict[str, Shape] = {INPUT: top["input_shape"], **dict(out["inputs"])}
    names_in_file = [
        layer.get("name") for layer in top["layers"] if isinstance(layer, dict)
    ]
    layers = []
    for index, raw_layer in enumerate(top["layers"]):
        layer = _check_layer(check, raw_layer, index, produced, names_in_file)
        produced[layer["name"]] = layer["output_shape"]
        layers.append(layer)
    out["layers"] = layers
    return out


def _check_fields(check: FieldChecker, raw: dict[str, Any], spec: dict[str, tuple[str, bool]],
                  layer: str | None) -> dict[str, Any]:
    for key in raw:
        if key not in spec:
            check.fail(f"unknown field (allowed: {', '.join(spec)})", layer, key)
    out = {}
    for key, (kind, required) in spec.items():
        if key not in raw:
            if required:
                check.fail("missing required field", layer, key)
            continue
        out[key] = check.value(kind, raw[key], layer, key)
    return out


def _check_paper(check: FieldChecker, paper: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in paper.items():
        if key not in PAPER_FIELDS:
            check.fail(f"unknown field in 'paper' (allowed: {', '.join(PAPER_FIELDS)})",
                       None, f"paper.{key}")
        out[key] = check.value(PAPER_FIELDS[key], value, None, f"paper.{key}")
    return out


def _check_layer(check: FieldChecker, raw: Any, index: int, produced: dict[str, Shape],
                 names_in_file: list[Any]) -> dict[str, Any]:
    label = f"#{index}"
    if not isinstance(raw, dict):
        check.fail(f"expected an object, got {describe(raw)}", label)
    if isinstance(raw.get("name"), str) and raw["name"]:
        label = raw["name"]
    if "type" not in raw:
        check.fail("missing required field", label, "type")
    ltype = raw["type"]
    if not isinstance(ltype, str) or ltype not in TYPE_FIELDS:
        check.fail(f"unknown layer type {describe(ltype)} (known: {', '.join(LAYER_TYPES)})",
                   label, "type")
    type_spec = TYPE_FIELDS[ltype]
    for key in raw:
        if key not in COMMON_LAYER_FIELDS and key not in type_spec:
            allowed = [*COMMON_LAYER_FIELDS, *type_spec]
            check.fail(f"unknown field for a {ltype} layer (allowed: {', '.join(allowed)})",
                       label, key)
    fields: dict[str, Any] = {}
    for key, kind in COMMON_LAYER_FIELDS.items():
        if key not in raw:
            check.fail("missing required field", label, key)
        fields[key] = check.value(kind, raw[key], label, key)
    for key, (kind, default) in type_spec.items():
        if key in raw:
            fields[key] = check.value(kind, raw[key], label, key)
        elif default is None:
            check.fail(f"missing required field (a {ltype} layer needs it)", label, key)
        elif default is OPTIONAL:
            fields[key] = None
        else:
            fields[key] = default

    name = fields["name"]
    if name == INPUT:
        check.fail(f"'{INPUT}' is reserved for the network input", label, "name")
    if name in produced:
        check.fail("a layer of this name comes earlier in the file", label, "name")
    _check_inputs(check, fields, produced, names_in_file, index)
    _check_output(check, fields)
    return fields


def _check_inputs(check: FieldChecker, fields: dict[str, Any], produced: dict[str, Shape],
                  names_in_file: list[Any], index: int) -> None:
    name, ltype, inputs = fields["name"], fields["type"], fields["inputs"]
    if ltype == "constant" and inputs:
        check.fail("a constant reads nothing: its inputs are []", name, "inputs")
    if ltype != "constant" and not inputs:
        check.fail("expected a non-empty list of layer names, got []", name, "inputs")
    if ltype != "constant" and not fields["input_shapes"]:
        check.fail("expected a non-empty list of shapes, got []", name, "input_shapes")
    if ltype in _MULTI_INPUT and len(inputs) < 2:
        check.fail(f"a {ltype} layer needs at least two inputs", name, "inputs")
    if ltype in TWO_INPUT_TYPES and len(inputs) != 2:
        check.fail(f"a {ltype} layer takes exactly two inputs, got {len(inputs)}",
                   name, "inputs")
    if (ltype not in (*_MULTI_INPUT, *TWO_INPUT_TYPES, "constant")) and len(inputs) != 1:
        check.fail(f"a {ltype} layer takes exactly one input, got {len(inputs)}",
                   name, "inputs")
    for producer in inputs:
        if producer in produced:
            continue
        if producer == name:
            check.fail("a layer cannot read its own output", name, "inputs")
        if producer in names_in_file[index:]:
            check.fail(f"input '{producer}' comes later in the file (layers must be in "
                       "topological order)", name, "inputs")
        check.fail(f"input '{producer}' is not a layer of this network (nor '{INPUT}' or "
                   "one of the top-level 'inputs')", name, "inputs")
    shapes = fields["input_shapes"]
    if len(shapes) != len(inputs):
        check.fail(f"has {len(shapes)} shapes for {len(inputs)} inputs", name, "input_shapes")
    for i, (producer, shape) in enumerate(zip(inputs, shapes, strict=True)):
        if produced[producer] != shape:
            check.fail(f"input_shapes[{i}] is {list(shape)} but '{producer}' outputs "
                       f"{list(produced[producer])}", name, "input_shapes")


def _check_output(check: FieldChecker, fields: dict[str, Any]) -> None:
    name, ltype = fields["name"], fields["type"]
    given = fields["output_shape"]
    if ltype == "shuffle" and fields["input_shapes"][0][0] % fields["groups"]:
        check.fail(f"{fields['input_shapes'][0][0]} channels do not divide into "
                   f"{fields['groups']} groups", name, "groups")
    if ltype == "conv":
        groups, cin, cout = fields["groups"], fields["input_shapes"][0][0], given[0]
        if cin % groups:
            check.fail(f"{cin} input channels do not divide into {groups} groups",
                       name, "groups")
        if cout % groups:
            check.fail(f"{cout} output channels do not divide into {groups} groups",
                       name, "groups")
    if ltype == "embedding" and len(given) < 2:
        check.fail("an embedding's output is [..., D]: the ids' shape and the vector width",
                   name, "output_shape")
    width = given[-1] if ltype in ("linear", "embedding") else given[0]
    try:
        expected = output_shape(
            ltype, fields["input_shapes"], width,
            kernel=fields.get("kernel", (1, 1)), stride=fields.get("stride", (1, 1)),
            padding=fields.get("padding", (0, 0)), ceil_mode=fields.get("ceil_mode", False),
            dilation=fields.get("dilation", (1, 1)), channels=fields.get("channels", (0, 0)),
            scale=fields.get("scale", (1, 1)), axis=fields.get("axis", 0),
            perm=fields.get("perm", ()), shifts=fields.get("shifts", ()),
            axes=fields.get("axes", ()), transpose_b=fields.get("transpose_b", False),
            target=given)
    except ShapeError as exc:
        check.fail(str(exc), name, exc.field)
    if expected != given:
        because = {"conv": "kernel, stride, padding and dilation (rounding down)",
                   "fc": "an fc layer (its output is [Co, 1, 1])",
                   "maxpool": "kernel, stride, padding and ceil_mode",
                   "global_avgpool": "a global pool (its output is [C, 1, 1])",
                   "add": "the inputs (add keeps their shape)",
                   "concat": "the inputs (concat sums their channels)",
                   "mul": "the inputs (mul keeps the first one's shape)",
                   "affine": "an affine layer (it keeps its input's shape)",
                   "slice": "the channel range",
                   "shuffle": "a shuffle (it keeps its input's shape)",
                   "upsample": "the scale",
                   "linear": "a linear layer (it keeps all but the last axis)",
                   "matmul": "the operands ([..., T, D] x [..., D, E] is [..., T, E])",
                   "layernorm": "a norm (it keeps its input's shape)",
                   "rmsnorm": "a norm (it keeps its input's shape)",
                   "softmax": "a softmax (it keeps its input's shape)",
                   "activation": "an activation (it keeps its input's shape)",
                   "reshape": "the input",
                   "transpose": "the permutation",
                   "roll": "a roll (it keeps its input's shape)",
                   "embedding": "the ids (one vector per id)",
                   "constant": "its shape"}
        if fields.get("axis", 0) and ltype in ("concat", "slice"):
            because[ltype] = f"the inputs along axis {fields['axis']}"
        because["avgpool"] = because["maxpool"]
        check.fail(f"is {list(given)} but {because[ltype]} give {list(expected)}",
                   name, "output_shape")
    work = _work(fields)
    if work > limits.MAX_WORK:
        check.fail(f"the layer's work (output channels x input channels per group x the "
                   f"larger of the padded input and the kernel positions of the output) is "
                   f"{work:.3g}, above the limit of 2**40 = {limits.MAX_WORK:.3g} "
                   "(docs/network-format.md, 'Limits')", name, "output_shape")


def _work(fields: dict[str, Any]) -> int:
    """The layer's work (`limits`): what bounds every count the engines make of it."""
    ltype, shapes, out = fields["type"], fields["input_shapes"], fields["output_shape"]
    if not shapes:
        return math.prod(out)
    if ltype == "linear":
        return math.prod(out) * shapes[0][-1]
    if ltype == "matmul":
        return math.prod(out) * shapes[0][-1] + limits.elements(shapes)
    if len(shapes[0]) != 3:
        return limits.elements(shapes) + limits.elements([out])
    c, h, w = shapes[0]
    (t, left), (b, r) = pads(fields.get("padding", (0, 0)))
    padding = (max(t, b), max(left, r))  # an upper bound of asymmetric padding
    if ltype == "conv":
        # a dilated kernel runs as its whole span (docs/model.md §1a)
        kernel = tuple(d * (k - 1) + 1 for k, d in zip(fields["kernel"], fields["dilation"],
                                                       strict=True))
        return limits.conv_work(out[0], c // fields["groups"], (h, w), kernel, padding, out[1:])
    if ltype in POOL_TYPES:
        return limits.conv_work(c, 1, (h, w), fields["kernel"], padding, out[1:])
    if ltype == "fc":
        return out[0] * c * h * w
    return limits.elements(shapes) + limits.elements([out])


def read_name(path: Path) -> str | None:
    """The ``name`` field of a network file, or None if it cannot be read."""
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def check_sizes(network: Network, where: str, seen: set | None = None) -> None:
    """The size limits of a network file (`limits`) applied to a network built in code (a
    generated family): layers, every shape's entries and elements, every layer's work.
    NetworkError naming `where`, the layer and the field. `seen`: layer shapes already
    checked, skipped (a family repeats a few shapes many times)."""
    if len(network.layers) > limits.MAX_LAYERS:
        raise NetworkError(where, f"{len(network.layers):,} layers, above the limit of"
                           f" {limits.MAX_LAYERS:,} (docs/network-format.md, 'Limits')")
    seen = set() if seen is None else seen
    for layer in network.layers:
        fields = {"type": layer.type, "input_shapes": layer.input_shapes,
                  "output_shape": layer.output_shape, "padding": layer.padding,
                  "kernel": layer.kernel, "dilation": layer.dilation, "groups": layer.groups}
        key = tuple(fields.values())
        if key in seen:
            continue
        for shape in (*layer.input_shapes, layer.output_shape):
            if max(shape) > limits.MAX_DIM or math.prod(shape) > limits.MAX_WORK:
                raise NetworkError(where, f"a shape {list(shape)} beyond the limits of a network"
                                   f" file (entries at most 2**30, elements at most 2**40;"
                                   " docs/network-format.md, 'Limits')", layer.name,
                                   "output_shape")
        work = _work(fields)
        if work > limits.MAX_WORK:
            raise NetworkError(where, f"the layer's work is {work:.3g}, above the limit of 2**40"
                               " (docs/network-format.md, 'Limits')", layer.name, "output_shape")
        seen.add(key)
