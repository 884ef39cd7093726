"""Making figures readable: point labels that overlap nothing, log axes with enough labelled
ticks, and a figure's layout fixed once text is placed.

Label placement is greedy and deterministic: each label, in the order given, takes the first
of a ring of positions around its point (nearest ring first) where its box stays inside the
axes and clear of every marker and every label already placed; a label set away from its
point gets a thin leader line. matplotlib's own text extents decide what overlaps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator
from matplotlib.transforms import Bbox

#: Tick multipliers per decade, coarse to fine: the first that gives at least three labelled
#: ticks inside the axis' range is used.
_LOG_SUBS = ((1.0,), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
             (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0))
MIN_TICKS = 3


def plain(text: str) -> str:
    """User text (a network, layer or configuration name) as matplotlib shows it literally:
    every '$' escaped, so a name such as '$\\frac{$' is text, never mathtext to parse."""
    return str(text).replace("$", r"\$")


def _fmt(x: float, _pos: int | None = None) -> str:
    """1, 2.5, 300, 5000; then 2×10⁴, 1.5×10⁹."""
    if x < 1e4:
        return f"{x:.4g}"
    e = math.floor(math.log10(x) + 1e-9)
    m = x / 10**e
    return f"${m:.3g}\\times10^{{{e}}}$" if abs(m - 1) > 1e-9 else f"$10^{{{e}}}$"


def readable_log_axis(ax: Axes, which: str, lo: float, hi: float, pad: float = 0.05) -> bool:
    """A log axis from `lo` to `hi` (data units) with `pad` of the axis' length left free at
    each end (room for a marker's radius), and at least three labelled ticks; a range too
    narrow for that on a log scale becomes a linear axis. True when the axis is logarithmic."""
    span = math.log(hi / lo) if hi > lo else 0.5
    margin = math.exp(span * pad / (1 - 2 * pad))
    lo, hi = lo / margin, hi * margin
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xlim if which == "x" else ax.set_ylim)(lo, hi)
    for subs in _LOG_SUBS:
        ticks = [m * 10**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                 for m in subs if lo <= m * 10**e <= hi]
        if len(ticks) >= MIN_TICKS:
            (ax.set_xscale if which == "x" else ax.set_yscale)("log")
            (ax.set_xlim if which == "x" else ax.set_ylim)(lo, hi)
            axis.set_major_locator(FixedLocator(ticks))
            axis.set_major_formatter(FuncFormatter(_fmt))
            axis.set_minor_locator(NullLocator())
            return True
    axis.set_major_locator(MaxNLocator(nbins=5, min_n_ticks=MIN_TICKS))
    axis.set_major_formatter(FuncFormatter(_fmt))  # the full figure at each tick, no offset
    return False


@dataclass(frozen=True)
class Point:
    """A labelled point: data coordinates, label, and the marker's radius in points."""

    x: float
    y: float
    label: str
    radius_pt: float


def freeze_layout(fig: Figure) -> None:
    """Lay the figure out once (constrained layout) and keep it: text placed after this in
    display coordinates stays where it was put."""
    fig.canvas.draw()
    fig.set_layout_engine("none")


def place_labels(ax: Axes, points: Sequence[Point], obstacles: Sequence[Point] = (),
                 fontsize: float = 8) -> None:
    """Annotate each point with its label where the label overlaps no marker, no other label
    and stays inside the axes (call after `freeze_layout`)."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    blocked = [_marker_box(ax, p, px) for p in (*points, *obstacles)]
    for p in points:
        cx, cy = ax.transData.transform((p.x, p.y))
        probe = ax.annotate(p.label, (p.x, p.y), fontsize=fontsize)
        bb = probe.get_window_extent(renderer)
        probe.remove()
        w, h = bb.width, bb.height
        best = None
        for ring in range(1, 12):
            dist = p.radius_pt * px + 3 * px + (ring - 1) * max(h, 6 * px)
            for k in range(16):
                a = math.pi / 4 - 2 * math.pi * k / 16  # upper right first, then clockwise
                ox, oy = dist * math.cos(a), dist * math.sin(a)
                # the box's corner or edge nearest the point sits at the offset
                x0 = cx + ox - (w if ox < -1e-6 else 0 if ox > 1e-6 else w / 2)
                y0 = cy + oy - (h if oy < -1e-6 else 0 if oy > 1e-6 else h / 2)
                box = Bbox.from_bounds(x0, y0, w, h)
                inside = (box.x0 >= frame.x0 + 2 and box.x1 <= frame.x1 - 2
                          and box.y0 >= frame.y0 + 2 and box.y1 <= frame.y1 - 2)
                if inside and not any(box.overlaps(b) for b in blocked):
                    best = (box, ring)
                    break
            if best:
                break
        if best is None:  # nowhere free: at the point, as matplotlib would
            best = (Bbox.from_bounds(cx + 3 * px, cy + 3 * px, w, h), 1)
        box, ring = best
        blocked.append(box)
        far = ring > 1
        ax.annotate(p.label, (p.x, p.y), xycoords="data",
                    xytext=((box.x0 - cx) / px, (box.y0 - cy) / px), textcoords="offset points",
                    ha="left", va="bottom", fontsize=fontsize, annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.4",
                                "shrinkA": 0, "shrinkB": p.radius_pt} if far else None)


def _marker_box(ax: Axes, p: Point, px: float) -> Bbox:
    cx, cy = ax.transData.transform((p.x, p.y))
    r = p.radius_pt * px
    return Bbox.from_extents(cx - r, cy - r, cx + r, cy + r)
