"""JSON as network files and their metadata are read: strictly.

No NaN or Infinity, no key twice in one object, no float that overflows, nesting bounded; every
refusal is one NetworkError naming the file (and the field). The network format (``netformat``)
and the ONNX importer's metadata both read JSON this way.
"""

from __future__ import annotations

import json
import math
from typing import Any

from nnaccel.errors import NetworkError


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
