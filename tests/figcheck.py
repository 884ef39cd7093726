"""Readability checks of a matplotlib figure, through matplotlib's own text extents: no text
cut at the figure's edge, no two texts overlapping, no text under 8 pt, no legend over a data
point, at least three labelled ticks on every numeric axis, and no leader line (a label's line
to its point) crossing another leader line or another label."""

from __future__ import annotations

import itertools

from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FixedFormatter
from matplotlib.transforms import Bbox

TOLERANCE_PX = 1.0
#: The smallest text a figure may have at its default size, in points.
MIN_FONT_PT = 8.0


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


def _leaders(fig: Figure, renderer) -> list[tuple[str, tuple[float, float], tuple[float, float],
                                                   Bbox]]:
    """Each annotation's leader line as a segment from its label's centre to its point, in
    display pixels, with the label's box."""
    out = []
    for ax in fig.axes:
        for t in ax.texts:
            if isinstance(t, Annotation) and t.arrow_patch is not None and _shown(t):
                box = Text.get_window_extent(t, renderer)
                point = tuple(t._get_xy(renderer, t.xy, t.xycoords))  # the annotated point
                out.append((t.get_text()[:30], (box.x0 + box.width / 2, box.y0 + box.height / 2),
                            point, box))
    return out


def _cross(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float],
           d: tuple[float, float]) -> bool:
    """True when segments ab and cd properly cross (touching ends do not count)."""
    def side(p, q, r):
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    d1, d2, d3, d4 = side(c, d, a), side(c, d, b), side(a, b, c), side(a, b, d)
    return d1 * d2 < 0 and d3 * d4 < 0


def _segment_hits_box(a: tuple[float, float], b: tuple[float, float], box: Bbox) -> bool:
    """True when the segment ab passes through the inside of `box` (shrunk by the tolerance)."""
    inner = Bbox.from_extents(box.x0 + TOLERANCE_PX, box.y0 + TOLERANCE_PX,
                              box.x1 - TOLERANCE_PX, box.y1 - TOLERANCE_PX)
    if inner.width <= 0 or inner.height <= 0:
        return False
    if inner.contains(*a) or inner.contains(*b):
        return True
    corners = [(inner.x0, inner.y0), (inner.x1, inner.y0), (inner.x1, inner.y1),
               (inner.x0, inner.y1)]
    return any(_cross(a, b, corners[i], corners[(i + 1) % 4]) for i in range(4))


def leader_problems(fig: Figure) -> list[str]:
    """Leader lines that cross each other, or pass through another label."""
    renderer = fig.canvas.get_renderer()
    leaders = _leaders(fig, renderer)
    found = []
    for (n1, a1, b1, _), (n2, a2, b2, _) in itertools.combinations(leaders, 2):
        if _cross(a1, b1, a2, b2):
            found.append(f"leader lines cross: {n1!r} and {n2!r}")
    labels = [(t.get_text()[:30], Text.get_window_extent(t, renderer))
              for ax in fig.axes for t in ax.texts if _shown(t)]
    for name, a, b, own in leaders:
        for other, box in labels:
            if box is not own and box.bounds != own.bounds and _segment_hits_box(a, b, box):
                found.append(f"the leader line of {name!r} crosses the label {other!r}")
    return found


def small_text(fig: Figure) -> list[str]:
    """Texts drawn under MIN_FONT_PT."""
    found = []
    for t in fig.findobj(Text):
        if _shown(t) and t.get_fontsize() < MIN_FONT_PT - 1e-9:
            found.append(f"text under {MIN_FONT_PT:g} pt ({t.get_fontsize():g}):"
                         f" {t.get_text()[:30]!r}")
    return found


def problems(fig: Figure) -> list[str]:
    """What makes `fig` hard to read, as messages; empty when nothing does."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox
    found = small_text(fig) + leader_problems(fig)
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
