"""Readability checks of a matplotlib figure, through matplotlib's own text extents: no text
cut at the figure's edge, no two texts overlapping, no legend over a data point, and at least
three labelled ticks on every numeric axis."""

from __future__ import annotations

import itertools

from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import FixedFormatter
from matplotlib.transforms import Bbox

TOLERANCE_PX = 1.0


def _shown(t: Text) -> bool:
    return t.get_visible() and bool(t.get_text().strip())


def _tick_labels(axis) -> list[Text]:
    """The labels of the ticks inside the axis' view (matplotlib keeps others, undrawn)."""
    lo, hi = sorted(axis.get_view_interval())
    eps = (hi - lo) * 1e-9
    out = []
    for tick in axis.get_major_ticks():
        for t in (tick.label1, tick.label2):
            if _shown(t) and lo - eps <= tick.get_loc() <= hi + eps:
                out.append(t)
    return out


def _texts(fig: Figure, renderer) -> list[tuple[str, Bbox]]:
    """Every drawn text (a legend counts as one box), with a name for messages."""
    out: list[tuple[str, Bbox]] = []
    for name in ("_suptitle", "_supxlabel", "_supylabel"):
        t = getattr(fig, name, None)
        if t is not None and _shown(t):
            out.append((f"figure {name[1:]} {t.get_text()[:30]!r}", t.get_window_extent(renderer)))
    legends = list(fig.legends)
    for ax in fig.axes:
        for t in (ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                  *ax.texts):
            if _shown(t):
                # the text itself: an annotation's extent would include its leader line
                out.append((f"{t.get_text()[:30]!r}", Text.get_window_extent(t, renderer)))
        for axis in (ax.xaxis, ax.yaxis):
            for t in _tick_labels(axis):
                out.append((f"tick {t.get_text()!r}", t.get_window_extent(renderer)))
        if ax.get_legend() is not None:
            legends.append(ax.get_legend())
    out += [(f"legend {n}", leg.get_window_extent(renderer)) for n, leg in enumerate(legends)]
    return out


def _points(fig: Figure) -> list[tuple[float, float]]:
    """Display coordinates of every data marker (scatter points, line markers)."""
    pts = []
    for ax in fig.axes:
        for c in ax.collections:
            if isinstance(c, PathCollection) and len(c.get_offsets()):
                pts += [tuple(p) for p in c.get_offset_transform().transform(c.get_offsets())]
        for line in ax.lines:
            if isinstance(line, Line2D) and line.get_marker() not in (None, "None", "", " "):
                xy = line.get_xydata()
                pts += [tuple(p) for p in ax.transData.transform(xy)]
    return [p for p in pts if p[0] == p[0] and p[1] == p[1]]  # NaN: a gap, not a point


def problems(fig: Figure) -> list[str]:
    """What makes `fig` hard to read, as messages; empty when nothing does."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox
    found = []
    texts = _texts(fig, renderer)
    for name, bb in texts:
        if (bb.x0 < frame.x0 - TOLERANCE_PX or bb.y0 < frame.y0 - TOLERANCE_PX
                or bb.x1 > frame.x1 + TOLERANCE_PX or bb.y1 > frame.y1 + TOLERANCE_PX):
            found.append(f"clipped at the figure's edge: {name}")
    for (n1, b1), (n2, b2) in itertools.combinations(texts, 2):
        inter = Bbox.intersection(b1, b2)
        if inter is not None and inter.width > TOLERANCE_PX and inter.height > TOLERANCE_PX:
            found.append(f"overlap: {n1} and {n2}")
    legends = [bb for name, bb in texts if name.startswith("legend")]
    for x, y in _points(fig):
        for bb in legends:
            if bb.contains(x, y):
                found.append(f"a legend covers the data point at ({x:.0f}, {y:.0f}) px")
    for i, ax in enumerate(fig.axes):
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            labels = _tick_labels(axis)
            if isinstance(axis.get_major_formatter(), FixedFormatter) or not axis.get_visible():
                continue  # names (layer groups), not numbers
            if not labels and axis.get_label_text() == "":
                continue  # a shared axis, labelled on its twin
            if len(labels) < 3:
                found.append(f"axes {i} ({ax.get_title()[:30]!r}) {which}: {len(labels)} labelled"
                             " ticks")
    return found
