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
    and stays inside the axes, and a leader line, where one is needed, crosses no other
    leader line and no label (call after `freeze_layout`).

    Labels are placed one by one, in a few orders (the most crowded points first, as given,
    by x, by y, and each of these backwards); the first order that places every label by all
    these rules wins, else the one that breaks them for the fewest labels."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    markers = [_marker_box(ax, p, px) for p in (*points, *obstacles)]
    centres = [tuple(ax.transData.transform((p.x, p.y))) for p in points]
    sizes = []
    for p in points:
        probe = ax.annotate(p.label, (p.x, p.y), fontsize=fontsize)
        bb = probe.get_window_extent(renderer)
        probe.remove()
        sizes.append((bb.width, bb.height))
    near = 40 * px
    crowd = [sum(1 for o in centres if math.dist(c, o) < near) for c in centres]
    n = len(points)
    orders = [sorted(range(n), key=lambda i: -crowd[i]), list(range(n)),
              sorted(range(n), key=lambda i: centres[i][0]),
              sorted(range(n), key=lambda i: -centres[i][1])]
    orders += [order[::-1] for order in orders]  # each read from its other end
    best: tuple[int, dict[int, tuple[Bbox, int]]] | None = None
    for order in orders:
        placed, relaxed = _place(order, points, centres, sizes, markers, frame, px)
        if best is None or relaxed < best[0]:
            best = (relaxed, placed)
        if relaxed == 0:
            break
    assert best is not None or not points
    for i, (box, ring) in (best[1].items() if best else ()):
        p = points[i]
        cx, cy = centres[i]
        far = ring > 1
        ax.annotate(p.label, (p.x, p.y), xycoords="data",
                    xytext=((box.x0 - cx) / px, (box.y0 - cy) / px), textcoords="offset points",
                    ha="left", va="bottom", fontsize=fontsize, annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.4",
                                "shrinkA": 0, "shrinkB": p.radius_pt} if far else None)


def _place(order: Sequence[int], points: Sequence[Point], centres: Sequence[tuple[float, float]],
           sizes: Sequence[tuple[float, float]], markers: Sequence[Bbox], frame: Bbox,
           px: float) -> tuple[dict[int, tuple[Bbox, int]], int]:
    """Each label's box and ring, placed greedily in `order`; and how many labels found no
    place by every rule (placed where only their box is free, or at their point)."""
    blocked = list(markers)
    labels: list[Bbox] = []
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []
    placed: dict[int, tuple[Bbox, int]] = {}
    relaxed = 0
    for i in order:
        p = points[i]
        cx, cy = centres[i]
        w, h = sizes[i]
        best = None
        # first where its leader line, if it needs one, crosses no line and no label;
        # then anywhere its box is free
        for strict in (True, False):
            for ring in range(1, 40):
                dist = p.radius_pt * px + 3 * px + (ring - 1) * max(h, 6 * px)
                steps = 16 * ring  # the farther the ring, the more places on it
                for k in range(steps):
                    a = math.pi / 4 - 2 * math.pi * k / steps  # upper right first, clockwise
                    ox, oy = dist * math.cos(a), dist * math.sin(a)
                    # the box's corner or edge nearest the point sits at the offset
                    x0 = cx + ox - (w if ox < -1e-6 else 0 if ox > 1e-6 else w / 2)
                    y0 = cy + oy - (h if oy < -1e-6 else 0 if oy > 1e-6 else h / 2)
                    box = Bbox.from_bounds(x0, y0, w, h)
                    inside = (box.x0 >= frame.x0 + 2 and box.x1 <= frame.x1 - 2
                              and box.y0 >= frame.y0 + 2 and box.y1 <= frame.y1 - 2)
                    if (inside and not any(box.overlaps(b) for b in blocked)
                            and (not strict or (
                                (ring == 1 or _leader_clear(box, (cx, cy), labels, leaders))
                                and not any(_segment_hits(s, e, box) for s, e in leaders)))):
                        best = (box, ring)
                        break
                if best:
                    break
            if best:
                relaxed += not strict
                break
        if best is None:  # nowhere free: at the point, as matplotlib would
            best = (Bbox.from_bounds(cx + 3 * px, cy + 3 * px, w, h), 1)
            relaxed += 1
        box, ring = best
        blocked.append(box)
        labels.append(box)
        if ring > 1:
            leaders.append(((box.x0 + box.width / 2, box.y0 + box.height / 2), (cx, cy)))
        placed[i] = best
    return placed, relaxed


def _leader_clear(box: Bbox, point: tuple[float, float], labels: Sequence[Bbox],
                  leaders: Sequence[tuple[tuple[float, float], tuple[float, float]]]) -> bool:
    """True when a leader line from `box`'s centre to `point` crosses no other leader line
    and passes through no label already placed."""
    start = (box.x0 + box.width / 2, box.y0 + box.height / 2)
    return (not any(_crosses(start, point, a, b) for a, b in leaders)
            and not any(_segment_hits(start, point, other) for other in labels))


def _crosses(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float],
             d: tuple[float, float]) -> bool:
    """True when segments ab and cd properly cross."""
    def side(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    return (side(c, d, a) * side(c, d, b) < 0) and (side(a, b, c) * side(a, b, d) < 0)


def _segment_hits(a: tuple[float, float], b: tuple[float, float], box: Bbox) -> bool:
    """True when segment ab passes through `box`."""
    if box.contains(*a) or box.contains(*b):
        return True
    corners = [(box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1)]
    return any(_crosses(a, b, corners[i], corners[(i + 1) % 4]) for i in range(4))


def _marker_box(ax: Axes, p: Point, px: float) -> Bbox:
    cx, cy = ax.transData.transform((p.x, p.y))
    r = p.radius_pt * px
    return Bbox.from_extents(cx - r, cy - r, cx + r, cy + r)
