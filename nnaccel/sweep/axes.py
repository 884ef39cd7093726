"""The hardware axes of a sweep: their names, how their values are written, and ranges.

An axis is written as a comma-separated list of values or ranges, on the command line
(``--buffer 16KB..512KB``) or in a sweep file (a string or a TOML list). A range ``A..B``
doubles from A while it does not pass B (for an array both dimensions double); ``A..B+S``
adds S, ``A..B*F`` multiplies by F. A range that goes down, is empty or never moves is an error.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nnaccel.errors import HardwareError, NnaccelError
from nnaccel.hardware import Hardware, format_size, parse_array, parse_size
from nnaccel.simulate import DATAFLOWS, OBJECTIVES

#: A range never yields more values than this (a typo such as ``1..1e12+1`` fails fast).
MAX_RANGE_VALUES = 10_000

_RATE_UNITS = {"": 1, "B/S": 1, "KB/S": 1e3, "MB/S": 1e6, "GB/S": 1e9, "TB/S": 1e12}


class SweepError(NnaccelError):
    """A sweep file, axis or point that cannot be swept."""


def parse_rate(text: str | int | float) -> float:
    """'16GB/s' -> 16e9 bytes per second. Bandwidth units are decimal (GB/s = 1e9 B/s), as
    DRAM bandwidths are quoted and as the paper's 16 GB/s at 1 GHz is 16 bytes per cycle."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*([A-Za-z/]*)\s*", str(text))
        unit = m.group(2).upper() if m else None
        if not m or unit not in _RATE_UNITS:
            raise HardwareError(f"bandwidth {text!r} is not a number with a unit B/s, MB/s or GB/s"
                                " (e.g. 16GB/s)")
        value = float(m.group(1)) * _RATE_UNITS[unit]
    if not value > 0:
        raise HardwareError(f"bandwidth {text!r} must be positive")
    return value


def _number(kind: type) -> Callable[[Any], Any]:
    def parse(text: Any) -> Any:
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            value = text
        else:
            try:
                value = float(str(text).strip())  # 1e9 is a whole number too
            except ValueError:
                what = "whole number" if kind is int else "number"
                raise HardwareError(f"{text!r} is not a {what}") from None
        if not math.isfinite(value):
            raise HardwareError(f"{text!r} is not a finite number")
        if kind is int and value != int(value):
            raise HardwareError(f"{text!r} is not a whole number")
        return kind(value)
    return parse


def _word_bits(text: Any) -> int:
    bits = _number(int)(text)
    if bits < 8 or bits % 8:
        raise HardwareError(f"word width {text!r} must be a multiple of 8 bits")
    return bits


def _choice(names: Sequence[str], what: str) -> Callable[[Any], str]:
    def parse(text: Any) -> str:
        t = str(text).strip()
        if t not in names:
            raise HardwareError(f"unknown {what} {text!r}; choose from {', '.join(names)}")
        return t
    return parse


@dataclass(frozen=True)
class Axis:
    """One axis: how a value is parsed, applied to a Hardware (or kept for the run) and named."""

    name: str
    help: str
    parse: Callable[[Any], Any]
    apply: Callable[[Hardware, Any], Hardware] | None  # None: not a hardware field
    label: Callable[[Any], str] = str
    ranged: bool = True  # ranges allowed


def _set_word(hw: Hardware, bits: int) -> Hardware:
    # Partial sums stay twice the word wide, as the default 16-bit words with 32-bit sums.
    word = bits // 8
    return hw.with_(word_bytes=word, psum_bytes=2 * word)


AXES: dict[str, Axis] = {a.name: a for a in (
    Axis("array", "PE array RxC, e.g. 8x8,16x16,12x4 or 4x4..32x32", parse_array,
         lambda hw, v: hw.with_(Pr=v[0], Pc=v[1]), lambda v: f"{v[0]}x{v[1]}"),
    Axis("buffer", "global buffer, e.g. 32KB,128KB or 16KB..512KB", parse_size,
         lambda hw, v: hw.with_(buffer_bytes=v), format_size),
    Axis("bandwidth", "DRAM bandwidth, e.g. 8GB/s,16GB/s", parse_rate,
         lambda hw, v: hw.with_(dram_bandwidth_bytes_per_s=v), lambda v: f"{v / 1e9:g}GB/s"),
    Axis("latency", "DRAM latency in cycles, e.g. 50,100,200", _number(int),
         lambda hw, v: hw.with_(dram_latency_cycles=v)),
    Axis("sparsity", "fraction of zero weights, e.g. 0,0.4 or 0..0.6+0.2", _number(float),
         lambda hw, v: hw.with_(sparsity=v)),
    Axis("word_bits", "word width in bits, e.g. 8,16", _word_bits, _set_word),
    Axis("dataflow", "auto, ws, os", _choice(DATAFLOWS, "dataflow"), None, ranged=False),
    Axis("objective", "what the tiler minimises: cycles, energy, edp",
         _choice(OBJECTIVES, "objective"), None, ranged=False),
)}


def _step(axis: str, spec: str) -> tuple[str, str, str]:
    m = re.fullmatch(r"(.+?)\.\.(.+?)(?:([+*])([^+*]+))?", spec.strip())
    if not m:
        raise SweepError(f"axis {axis}: {spec!r} is not a value or a range A..B")
    return m.group(1), m.group(2), (m.group(3) or "*") + (m.group(4) or "2")


def _range(axis: Axis, spec: str) -> list[Any]:
    lo_t, hi_t, step = _step(axis.name, spec)
    lo, hi = axis.parse(lo_t), axis.parse(hi_t)
    op, by_t = step[0], step[1:]
    try:
        by = float(by_t)
    except ValueError:
        if op != "+" or isinstance(lo, tuple):  # a factor, or an array's step, is a number
            raise SweepError(
                f"axis {axis.name}: the step {op}{by_t} of {spec!r} is not a number") from None
        by = float(axis.parse(by_t))  # e.g. +16KB
    dims = list(lo) if isinstance(lo, tuple) else [lo]
    ends = list(hi) if isinstance(hi, tuple) else [hi]
    if any(b < a for a, b in zip(dims, ends, strict=True)):
        raise SweepError(f"axis {axis.name}: range {spec!r} goes down; write it from the smaller"
                         " value to the larger")
    if not (by > 0 if op == "+" else by > 1):
        raise SweepError(f"axis {axis.name}: range {spec!r} never moves (step {op}{by_t})")
    if op == "*" and any(d == 0 for d in dims) and any(e > 0 for e in ends):
        raise SweepError(f"axis {axis.name}: range {spec!r} starts at 0, which multiplying by"
                         f" {by_t} never moves; give a step to add, e.g."
                         f" {lo_t.strip()}..{hi_t.strip()}+{_nice_step(dims, ends)}")
    values = []
    while all(d <= e * (1 + 1e-12) for d, e in zip(dims, ends, strict=True)):
        # keep the type of the range's start, so 8e9 from a range and 8e9 written out are
        # the same hardware (and the same store key)
        if isinstance(lo, tuple):
            values.append(tuple(int(round(d)) for d in dims))
        else:
            values.append(axis.parse(type(lo)(_round(dims[0]))))
        if len(values) > MAX_RANGE_VALUES:
            hint = (f"; a coarser step, e.g. {lo_t.strip()}..{hi_t.strip()}+"
                    f"{_nice_step(list(lo) if isinstance(lo, tuple) else [lo], ends)}"
                    if op == "+" and not isinstance(lo, tuple) else "")
            raise SweepError(f"axis {axis.name}: range {spec!r} has more than"
                             f" {MAX_RANGE_VALUES:,} values{hint}")
        dims = [d + by if op == "+" else d * by for d in dims]
    last = values[-1] if isinstance(lo, tuple) else dims[0] - by if op == "+" else dims[0] / by
    lasts = list(last) if isinstance(last, tuple) else [last]
    if any(abs(v - e) > 1e-9 * max(1.0, abs(e)) for v, e in zip(lasts, ends, strict=True)):
        nxt = (tuple(int(round(d)) for d in dims) if isinstance(lo, tuple)
               else type(lo)(_round(dims[0])))
        warnings.warn(RangeNote(
            f"axis {axis.name}: range {spec!r} stops at {axis.label(values[-1])}, short of"
            f" {hi_t.strip()} (the next step, {axis.label(nxt)}, passes it); write"
            f" {lo_t.strip()}..{axis.label(nxt)}{_step_text(spec, hi_t)} to include that,"
            " or list the values"),
            stacklevel=2)
    return values


def _step_text(spec: str, hi_t: str) -> str:
    """The step as written after a range's end ('+0.2', '*4'), or '' for the default."""
    text = spec.strip()
    return text[text.index("..") + 2 + len(hi_t):].strip()


class RangeNote(UserWarning):
    """A range that does not land on its end: it stops at the last value before it."""


def _nice_step(lo: Sequence[float], hi: Sequence[float]) -> str:
    """A round step (1, 2 or 5 times a power of ten) that splits lo..hi into about ten."""
    span = max(float(h) - float(x) for x, h in zip(lo, hi, strict=True)) / 10 or 1.0
    power = 10 ** math.floor(math.log10(span))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= span)
    return f"{step:g}"


def _round(v: float) -> float:
    """Undo float drift of repeated steps (0.1 + 0.2) so ranges give the values written."""
    return round(v, 9) if abs(v) < 1e6 else round(v)


def parse_axis(name: str, spec: Any) -> list[Any]:
    """The values of axis `name` from a comma-separated string or a list of values/ranges;
    duplicates dropped, order kept."""
    if name not in AXES:
        raise SweepError(f"unknown axis {name!r}; known axes: {', '.join(AXES)}")
    axis = AXES[name]
    items = spec if isinstance(spec, (list, tuple)) else str(spec).split(",")
    if not items or all(str(i).strip() == "" for i in items):
        raise SweepError(f"axis {name} is empty; give at least one value")
    values: list[Any] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            raise SweepError(f"axis {name}: empty value in {spec!r}")
        try:
            if isinstance(item, str) and ".." in item:
                if not axis.ranged:
                    raise SweepError(f"axis {name} takes a list, not a range ({item!r})")
                values += _range(axis, item)
            else:
                values.append(axis.parse(item))
        except HardwareError as e:
            raise SweepError(f"axis {name}: {e}") from None
    return list(dict.fromkeys(values))
