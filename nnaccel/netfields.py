"""The values of a network file's fields, checked one kind at a time.

Each field of the format (``netformat``'s tables) has a kind (a string, a shape, a padding, a
fraction, ...); ``FieldChecker.value`` checks a value against its kind and returns it
normalized, or raises NetworkError naming the file, the layer and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from nnaccel import limits
from nnaccel.errors import NetworkError
from nnaccel.shapes import ACTIVATIONS, MAX_RANK, UPSAMPLE_MODES

#: The name by which a layer refers to the network's input.
INPUT = "input"


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def describe(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError):  # nested hundreds deep: say what it is
        return f"a deeply nested {'list' if isinstance(value, list) else 'object'}"
    return text if len(text) <= 40 else text[:37] + "..."


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True



class FieldChecker:
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
            self.fail(f"{result}, got {describe(value)}", layer, field)
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
        if not is_int(v) or v < 1:
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
        ok = is_int(v) and 0 <= v < MAX_RANK
        return (v,) if ok else f"expected an axis: an integer from 0 to {MAX_RANK - 1}"

    def _axes(self, v: Any) -> Any:
        if (not isinstance(v, list) or not 1 <= len(v) <= MAX_RANK
                or not all(is_int(x) and 0 <= x < MAX_RANK for x in v)):
            return (f"expected a list of 1 to {MAX_RANK} axes, each an integer from 0 to "
                    f"{MAX_RANK - 1}")
        return (tuple(v),)

    def _shifts(self, v: Any) -> Any:
        if (not isinstance(v, list) or not 1 <= len(v) <= MAX_RANK
                or not all(is_int(x) and abs(x) <= limits.MAX_DIM for x in v)):
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
        ok = is_number(v) and 0 <= v <= limits.MAX_SPARSITY
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
        if not is_number(v) or not 0 <= v <= limits.MAX_PAPER_NUMBER:
            return f"expected a number from 0 to {limits.MAX_PAPER_NUMBER:g}"
        return (v,)

    def _depth(self, v: Any) -> Any:
        if (not isinstance(v, list) or not v
                or not all(is_int(x) and 1 <= x <= limits.MAX_DIM for x in v)):
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
