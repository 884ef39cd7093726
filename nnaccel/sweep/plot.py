"""The Pareto figure of a sweep: every configuration as a point, the front joined and labelled.

One panel per network asked for, or one for the network set (geometric mean over the set).
With three metrics the third colours the points; the front is the three-metric one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nnaccel.figlayout import Point, freeze_layout, place_labels, plain, readable_log_axis  # noqa: E402
from nnaccel.sweep.pareto import config_label, network_fronts, set_front, varying_columns  # noqa: E402

_NAMES = {"area_mm2": "area (mm²)", "cycles": "cycles", "energy_total": "energy",
          "edp": "energy × delay (energy·s)"}
#: At most this many front points get a text label (the rest are marked, not named).
MAX_LABELS = 8


def _axis_name(metric: str, rows: Sequence[Mapping[str, Any]]) -> str:
    name = _NAMES[metric]
    if metric in ("energy_total", "edp") and rows:
        unit = rows[0].get("energy_unit")
        name += " (MAC units)" if unit == "mac" else " (pJ)" if unit == "pJ" else ""
    return name


def _panel(ax: Any, rows: Sequence[Mapping[str, Any]], metrics: Sequence[str], title: str,
           varying: Sequence[str]) -> tuple[list[Point], list[Point]]:
    """Draw one panel; return the front points to label once the layout is fixed, and what
    their labels must not cover: the other markers and the front's staircase."""
    x, y = metrics[0], metrics[1]
    xs, ys = [r[x] for r in rows], [r[y] for r in rows]
    if len(metrics) == 3:
        sc = ax.scatter(xs, ys, c=[r[metrics[2]] for r in rows], s=14, cmap="viridis",
                        alpha=0.7, linewidths=0)
        ax.figure.colorbar(sc, ax=ax, label=_axis_name(metrics[2], rows))
    else:
        ax.scatter(xs, ys, c="0.6", s=14, alpha=0.7, linewidths=0, label="configurations")
    front = sorted((r for r in rows if r["pareto"]), key=lambda r: (r[x], r[y]))
    ax.scatter([r[x] for r in front], [r[y] for r in front], s=36, facecolors="none",
               edgecolors="C3", linewidths=1.2, label="Pareto front")
    if len(metrics) == 2:
        ax.step([r[x] for r in front], [r[y] for r in front], where="post", color="C3", lw=1)
    # log axes with at least three labelled ticks, none crowding the next, where every value
    # can be on one (an energy table of zeros gives zero energies: a linear axis then)
    log_x = _readable_axis(ax, "x", xs)
    log_y = _readable_axis(ax, "y", ys)
    ax.set_xlabel(_axis_name(x, rows))
    ax.set_ylabel(_axis_name(y, rows))
    ax.set_title(plain(title), fontsize=10, wrap=True)
    step = max(1, -(-len(front) // MAX_LABELS))  # every step-th front point is named
    named = [Point(r[x], r[y], plain(config_label(r, varying)), 3.4) for r in front[::step]]
    avoid = [Point(r[x], r[y], "", 2.0) for r in rows if not r["pareto"]]
    avoid += [Point(r[x], r[y], "", 3.4) for r in front]
    if len(metrics) == 2:  # the staircase, sampled along each step (as the axes scale)
        for a, b in zip(front, front[1:], strict=False):
            for k in range(1, 8):
                f = k / 8
                avoid.append(Point(_between(a[x], b[x], f, log_x), a[y], "", 1.0))
                avoid.append(Point(b[x], _between(a[y], b[y], f, log_y), "", 1.0))
    return named, avoid


def _readable_axis(ax: Any, which: str, values: Sequence[float]) -> bool:
    """A readable log axis over `values` when all are positive, else a linear one; True when
    logarithmic."""
    lo, hi = min(values, default=1.0), max(values, default=1.0)
    if lo > 0:
        return readable_log_axis(ax, which, lo, hi, 0.08)
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(plt.MaxNLocator(nbins=5, min_n_ticks=3))
    return False


def _between(a: float, b: float, f: float, log: bool) -> float:
    return a ** (1 - f) * b ** f if log and a > 0 and b > 0 else a + (b - a) * f


def plot_pareto(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str],
                networks: Sequence[str] = (), network_set: bool = False) -> Figure:
    """Panels for `networks` (default: all of the rows' if there are at most four, else the
    set) and, with `network_set`, one for the set."""
    names = list(dict.fromkeys(r["network"] for r in rows))
    unknown = [n for n in networks if n not in names]
    if unknown:
        from nnaccel.sweep.axes import SweepError

        raise SweepError(f"network {unknown[0]!r} is not in the rows; they have {', '.join(names)}")
    chosen = list(networks) or (names if len(names) <= 4 and not network_set else [])
    varying = varying_columns(rows)
    panels: list[tuple[str, list[dict[str, Any]]]] = []
    marked = [r for r in network_fronts(rows, metrics) if not r.get("error")]
    for n in chosen:
        panels.append((n, [r for r in marked if r["network"] == n]))
    if network_set or not chosen:
        set_rows = set_front(rows, metrics)
        panels.append((f"geometric mean over {len(names)} networks,"
                       f" {len(set_rows)} configurations all of them ran", set_rows))
    cols = min(2, len(panels))
    nrows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(6.4 * cols, 4.8 * nrows), squeeze=False,
                             layout="constrained")
    labels = []
    for ax, (title, panel_rows) in zip(axes.flat, panels, strict=False):
        for r in panel_rows:
            r.setdefault("energy_unit", rows[0].get("energy_unit"))
        labels.append((ax, *_panel(ax, panel_rows, metrics, title, varying)))
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=len(names), fontsize=9)
    freeze_layout(fig)
    for ax, points, others in labels:  # where each name overlaps no marker and no other name
        place_labels(ax, points, others, fontsize=8)
    return fig
