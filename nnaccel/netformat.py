"""The network file format: parse and validate it, and write it back deterministically.

The format is described for people in ``docs/network-format.md`` and for tools in
``nnaccel/network.schema.json``; the tables below are the single source both are tested against.
Parsing returns plain, fully checked values (``nnaccel.network`` turns them into dataclasses),
so this module does not depend on the dataclasses and the two cannot import each other in a
circle.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnaccel import limits
from nnaccel.errors import NetworkError
from nnaccel.shapes import (
    ACTIVATIONS,
    LAYER_TYPES,
    MAX_RANK,
    MULTI_INPUT_TYPES,
    POOL_TYPES,
    TWO_INPUT_TYPES,
    UPSAMPLE_MODES,
    Shape,
    ShapeError,
    output_shape,
    pads,
)

if TYPE_CHECKING:
    from nnaccel.network import Network

INPUT = "input"

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


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError):  # nested hundreds deep: say what it is
        return f"a deeply nested {'list' if isinstance(value, list) else 'object'}"
    return text if len(text) <= 40 else text[:37] + "..."


class _Checker:
    """Checks values of one file, raising NetworkError with the file, layer and field."""

    def __init__(self, path: str):
        self.path = path
        self._checks: dict[str, Callable[[Any], Any]] = {}

    def fail(self, message: str, layer: str | None = None, field: str | None = None):
        raise NetworkError(self.path, message, layer=layer, field=field)

    def value(self, kind: str, value: Any, layer: str | None, field: str) -> Any:
        """Check ``value`` against ``kind``; return it normalized (lists become tuples)."""
        check = self._checks.get(kind)
        if check is None:  # looked up once per kind: a file has thousands of values
            check = self._checks[kind] = getattr(self, "_" + kind.replace(" ", "_"))
        result = check(value)
        if isinstance(result, str):
            self.fail(f"{result}, got {_describe(value)}", layer, field)
        return result[0]

    # Each checker returns (normalized,) or an error string.
    def _string(self, v: Any) -> Any:
        if not isinstance(v, str) or not v:
            return "expected a non-empty string"
        if len(v) > limits.MAX_TEXT:
            return f"expected at most {limits.MAX_TEXT:,} characters"
        if not v.isprintable() and not _encodable(v):
            return "expected text that is valid Unicode (no lone surrogate \\udXXX escapes)"
        return (v,)

    def _boolean(self, v: Any) -> Any:
        return (v,) if isinstance(v, bool) else "expected true or false"

    def _positive_integer(self, v: Any) -> Any:
        if not _is_int(v) or v < 1:
            return "expected a positive integer"
        if v > limits.MAX_DIM:
            return f"expected at most {limits.MAX_DIM:,} (2**30, docs/network-format.md)"
        return (v,)

    def _ints(self, v: Any, n: int, low: int, what: str) -> Any:
        # JSON numbers parse to plain int (or float); `type(...) is int` also rules out bool
        if not isinstance(v, list) or len(v) != n or not all(type(x) is int for x in v):
            return f"expected {what}: a list of {n} integers"
        if min(v) < low:
            return f"expected {what} with every entry >= {low}"
        if max(v) > limits.MAX_DIM:
            return (f"expected {what} with every entry at most {limits.MAX_DIM:,} "
                    "(2**30, docs/network-format.md)")
        return (tuple(v),)

    def _shape(self, v: Any) -> Any:
        what = "a shape ([C, H, W] for an image, [T, D] for tokens)"
        n = len(v) if isinstance(v, list) and 1 <= len(v) <= MAX_RANK else 3
        checked = self._ints(v, n, 1, what)
        if isinstance(checked, str) and isinstance(v, list) and not 1 <= len(v) <= MAX_RANK:
            return f"expected {what}: a list of 1 to {MAX_RANK} integers"
        if not isinstance(checked, str) and math.prod(v) > limits.MAX_WORK:
            return (f"expected a shape of at most {limits.MAX_WORK:,} elements (2**40, "
                    "docs/network-format.md)")
        return checked

    def _axis(self, v: Any) -> Any:
        ok = _is_int(v) and 0 <= v < MAX_RANK
        return (v,) if ok else f"expected an axis: an integer from 0 to {MAX_RANK - 1}"

    def _axes(self, v: Any) -> Any:
        if (not isinstance(v, list) or not 1 <= len(v) <= MAX_RANK
                or not all(_is_int(x) and 0 <= x < MAX_RANK for x in v)):
            return (f"expected a list of 1 to {MAX_RANK} axes, each an integer from 0 to "
                    f"{MAX_RANK - 1}")
        return (tuple(v),)

    def _shifts(self, v: Any) -> Any:
        if (not isinstance(v, list) or not 1 <= len(v) <= MAX_RANK
                or not all(_is_int(x) and abs(x) <= limits.MAX_DIM for x in v)):
            return (f"expected a list of 1 to {MAX_RANK} integer shifts, each at most "
                    f"{limits.MAX_DIM:,} either way")
        return (tuple(v),)

    def _function(self, v: Any) -> Any:
        ok = isinstance(v, str) and v in ACTIVATIONS
        return (v,) if ok else f"expected one of {', '.join(ACTIVATIONS)}"

    def _inputs(self, v: Any) -> Any:
        if not isinstance(v, dict) or not v:
            return "expected an object of input names and their shapes"
        out = []
        for key, shape in v.items():
            if not key or key == INPUT or len(key) > limits.MAX_TEXT:
                return (f"expected input names other than '{INPUT}' (which is input_shape's), "
                        f"non-empty, at most {limits.MAX_TEXT:,} characters")
            checked = self._shape(shape)
            if isinstance(checked, str):
                return f"input '{key[:40]}': {checked}"
            out.append((key, checked[0]))
        return (tuple(out),)

    def _pair(self, v: Any) -> Any:
        return self._ints(v, 2, 1, "a pair [h, w]")

    def _padding(self, v: Any) -> Any:
        if isinstance(v, list) and len(v) == 4:
            return self._ints(v, 4, 0, "a padding [top, left, bottom, right]")
        return self._ints(v, 2, 0, "a padding [ph, pw] or [top, left, bottom, right]")

    def _range(self, v: Any) -> Any:
        checked = self._ints(v, 2, 0, "a channel range [start, end)")
        if not isinstance(checked, str) and v[0] >= v[1]:
            return "expected a channel range [start, end) with start < end"
        return checked

    def _fraction(self, v: Any) -> Any:
        ok = _is_number(v) and 0 <= v <= limits.MAX_SPARSITY
        return (float(v),) if ok else ("expected a fraction of zero weights in [0, 1) (at most "
                                       f"{limits.MAX_SPARSITY}, docs/network-format.md)")

    def _mode(self, v: Any) -> Any:
        ok = isinstance(v, str) and v in UPSAMPLE_MODES
        return (v,) if ok else f"expected one of {', '.join(UPSAMPLE_MODES)}"

    def _names(self, v: Any) -> Any:
        # empty only for a constant, which reads nothing (checked with the type)
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            return "expected a non-empty list of layer names"
        return (tuple(v),)

    def _shapes(self, v: Any) -> Any:
        if not isinstance(v, list):
            return "expected a non-empty list of shapes [C, H, W]"
        out = []
        for item in v:
            checked = self._shape(item)
            if isinstance(checked, str):
                return checked
            out.append(checked[0])
        return (tuple(out),)

    def _number(self, v: Any) -> Any:
        if not _is_number(v) or not 0 <= v <= limits.MAX_PAPER_NUMBER:
            return f"expected a number from 0 to {limits.MAX_PAPER_NUMBER:g}"
        return (v,)

    def _depth(self, v: Any) -> Any:
        if (not isinstance(v, list) or not v
                or not all(_is_int(x) and 1 <= x <= limits.MAX_DIM for x in v)):
            return f"expected a list of integers from 1 to {limits.MAX_DIM:,}"
        return (tuple(v),)

    def _object(self, v: Any) -> Any:
        return (v,) if isinstance(v, dict) else "expected an object"

    def _array(self, v: Any) -> Any:
        if not isinstance(v, list) or not v:
            return "expected a non-empty list"
        if len(v) > limits.MAX_LAYERS:
            return (f"expected at most {limits.MAX_LAYERS:,} layers (2**20, "
                    "docs/network-format.md)")
        return (v,)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _BadLiteral(Exception):
    def __init__(self, message: str):
        self.message = message


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadLiteral(f"the number {text[:20]} is too large for a float")
    return value


def _parse_constant(text: str) -> Any:
    raise _BadLiteral(f"{text} is not a JSON number")


def loads_strict(text: str, path: str, field: str | None = None) -> Any:
    """`text` parsed as the network format parses JSON: no NaN or Infinity, no key twice, no
    float that overflows, nesting bounded; else NetworkError naming `path` (and `field`)."""
    what = "invalid JSON" if field else "invalid file"
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates,
                          parse_float=_parse_float, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    except _DuplicateKey as exc:
        message = f"{what}: the key '{exc.key}' appears twice in one object"
    except _BadLiteral as exc:
        message = f"{what}: {exc.message}"
    except ValueError:  # an integer literal of thousands of digits (Python's guard)
        message = f"{what}: an integer literal of more than 4,300 digits"
    except (RecursionError, MemoryError):
        message = "invalid JSON: nested too deeply"
    raise NetworkError(path, message, field=field)


def parse_network_text(text: str, path: str) -> dict[str, Any]:
    """Parse and validate a network file's text.

    Returns the keyword arguments of ``Network`` (without ``path``), with ``layers`` a list
    of keyword-argument dicts for ``Layer``. Raises NetworkError on the first problem.
    """
    check = _Checker(path)
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


def _check_fields(check: _Checker, raw: dict[str, Any], spec: dict[str, tuple[str, bool]],
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


def _check_paper(check: _Checker, paper: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in paper.items():
        if key not in PAPER_FIELDS:
            check.fail(f"unknown field in 'paper' (allowed: {', '.join(PAPER_FIELDS)})",
                       None, f"paper.{key}")
        out[key] = check.value(PAPER_FIELDS[key], value, None, f"paper.{key}")
    return out


def _check_layer(check: _Checker, raw: Any, index: int, produced: dict[str, Shape],
                 names_in_file: list[Any]) -> dict[str, Any]:
    label = f"#{index}"
    if not isinstance(raw, dict):
        check.fail(f"expected an object, got {_describe(raw)}", label)
    if isinstance(raw.get("name"), str) and raw["name"]:
        label = raw["name"]
    if "type" not in raw:
        check.fail("missing required field", label, "type")
    ltype = raw["type"]
    if not isinstance(ltype, str) or ltype not in TYPE_FIELDS:
        check.fail(f"unknown layer type {_describe(ltype)} (known: {', '.join(LAYER_TYPES)})",
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


def _check_inputs(check: _Checker, fields: dict[str, Any], produced: dict[str, Shape],
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


def _check_output(check: _Checker, fields: dict[str, Any]) -> None:
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
