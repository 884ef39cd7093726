"""What a sweep covers: networks, hardware axes (crossed) or explicit points, a base hardware.

From the command line or a TOML sweep file::

    networks = ["all", "sqnxt:blocks=21,layout=v5,conv1=5"]
    hardware = "base.toml"     # optional: the hardware every point starts from (or preset = ...)
    [axes]                     # crossed; an axis not given keeps the base hardware's value
    array = "8x8,16x16,32x32"
    buffer = "16KB..512KB"
    bandwidth = ["8GB/s", "16GB/s"]

or, instead of ``[axes]``, an explicit list of points, each a table of axis values::

    [[points]]
    array = "8x8"
    buffer = "32KB"

Everything is parsed and checked here, before any point is simulated.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnaccel.errors import HardwareError
from nnaccel.hardware import Hardware, load_toml, preset, read_toml
from nnaccel.sweep.axes import AXES, SweepError, parse_axis
from nnaccel.sweep.point import HwPoint

FILE_KEYS = ("networks", "hardware", "preset", "axes", "points")
#: Most hardware points, and most points in all, one sweep may have: each point's key and
#: row are held in memory (about 2 KB a point, so 2 GB at the limit).
MAX_POINTS = 1_000_000
#: Most points a sweep runs without `--max-points`: about 11 minutes at 150 points/s on two
#: cores. A larger sweep is more often a typo than a plan; the flag confirms it.
DEFAULT_MAX_POINTS = 100_000


@dataclass(frozen=True)
class SweepSpec:
    """Networks (items as `netaxis.resolve_networks` takes them) and the hardware points."""

    networks: tuple[str, ...]
    axes: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # axis -> parsed values
    points: tuple[Mapping[str, Any], ...] = ()  # explicit points: axis -> parsed value
    base: Hardware = field(default_factory=lambda: Hardware(name="default"))

    def hw_count(self) -> int:
        """How many hardware points there are, without building them."""
        if self.points:
            return len(self.points)
        return math.prod(len(v) for v in self.axes.values())

    def hw_points(self) -> list[HwPoint]:
        """The points: the explicit list, or the cross product of the axes (array outermost)."""
        if self.points:
            return [_point(self.base, p, i + 1) for i, p in enumerate(self.points)]
        names = [a for a in AXES if a in self.axes]
        count = math.prod(len(self.axes[a]) for a in names)
        if count > MAX_POINTS:
            raise SweepError(f"the axes cross to {count:,} hardware points, more than {MAX_POINTS:,}")
        combos = itertools.product(*(self.axes[a] for a in names))
        return [_point(self.base, dict(zip(names, c, strict=True))) for c in combos]


def _point(base: Hardware, values: Mapping[str, Any], index: int | None = None) -> HwPoint:
    hw = base
    try:
        for name in AXES:
            if name in values and AXES[name].apply is not None:
                hw = AXES[name].apply(hw, values[name])
    except HardwareError as e:
        where = f"point {index}" if index else ", ".join(
            f"{k}={AXES[k].label(v)}" for k, v in values.items())
        raise SweepError(f"{where}: {e}") from None
    return HwPoint(hw, values.get("dataflow", "auto"), values.get("objective", "cycles"))


def parse_point(text: str | Mapping[str, Any], index: int) -> dict[str, Any]:
    """One explicit point: 'array=8x8 buffer=32KB' or a mapping; one value per axis."""
    if isinstance(text, Mapping):
        pairs = list(text.items())
    else:
        pairs = []
        for part in str(text).split():
            key, eq, value = part.partition("=")
            if not eq:
                raise SweepError(f"point {index}: {part!r} is not AXIS=VALUE")
            pairs.append((key, value))
    if not pairs:
        raise SweepError(f"point {index} is empty")
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key not in AXES:
            raise SweepError(f"point {index}: unknown key {key!r}; known: {', '.join(AXES)}")
        values = parse_axis(key, value if isinstance(value, (list, str)) else [value])
        if len(values) != 1:
            raise SweepError(f"point {index}: {key} has {len(values)} values; a point has one")
        out[key] = values[0]
    return out


def load_sweep_file(path: str | Path) -> dict[str, Any]:
    """A sweep file's networks, base hardware, axes and points, checked."""
    path = Path(path)
    data = read_toml(path, "sweep file", SweepError)
    try:
        return _from_mapping(data, path.parent)
    except SweepError as e:
        raise SweepError(f"{path}: {e}") from None


def _from_mapping(data: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise SweepError(f"unknown key {unknown[0]!r}; known keys: {', '.join(FILE_KEYS)}")
    out: dict[str, Any] = {}
    nets = data.get("networks", [])
    if isinstance(nets, str):
        nets = [nets]
    if not isinstance(nets, list) or not all(isinstance(n, str) for n in nets):
        raise SweepError("networks must be a list of names, files, globs or sqnxt:... families")
    out["networks"] = [n if "/" not in n or Path(n).is_absolute() or n.startswith("sqnxt:")
                       else str(folder / n) for n in nets]
    examples = {"preset": '"paper-16x16"', "hardware": '"base.toml"'}
    for key, example in examples.items():
        if key in data and not isinstance(data[key], str):
            raise SweepError(f"{key} must be a string (e.g. {key} = {example}),"
                             f" got {str(data[key])[:40]}")
    try:
        base = preset(data["preset"]) if "preset" in data else Hardware(name="default")
        if "hardware" in data:
            base = load_toml(folder / data["hardware"], base)
    except HardwareError as e:
        raise SweepError(str(e)) from None
    out["base"] = base
    axes = data.get("axes", {})
    if not isinstance(axes, dict):
        raise SweepError("axes must be a table: [axes] with array = \"8x8,16x16\" ...")
    out["axes"] = {k: tuple(parse_axis(k, v)) for k, v in axes.items()}
    points = data.get("points", [])
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise SweepError("points must be a list of tables: [[points]] with array = \"8x8\" ...")
    if points and axes:
        raise SweepError("give [axes] (crossed) or [[points]] (listed), not both")
    out["points"] = [parse_point(p, i + 1) for i, p in enumerate(points)]
    return out


def build_spec(networks: Sequence[str], axes: Mapping[str, Any], points: Sequence[str] = (),
               file: str | Path | None = None, base: Hardware | None = None) -> SweepSpec:
    """A spec from the command line's pieces; the file's values are overridden by the flags
    (networks: given NETs replace the file's list; axes: per axis)."""
    loaded = load_sweep_file(file) if file else {"networks": [], "base": None, "axes": {},
                                                   "points": []}
    parsed_axes = dict(loaded["axes"])
    for name, spec in axes.items():
        if spec is not None:
            parsed_axes[name] = tuple(parse_axis(name, spec))
    parsed_points = [parse_point(p, i + 1) for i, p in enumerate(points)] or loaded["points"]
    if parsed_points and parsed_axes:
        raise SweepError("give axes (crossed) or --point (listed), not both")
    nets = tuple(networks) or tuple(loaded["networks"])
    hw = base or loaded["base"] or Hardware(name="default")
    return SweepSpec(nets, parsed_axes, tuple(parsed_points), hw)
