"""A layer's timeline (`nnaccel.trace.Timeline`) as a Gantt figure: one row per unit, time in
cycles, the buffer ports' use as a step line in words per cycle. Text is at least 8 pt."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .trace import (
    ARRAY,
    COMPUTE,
    DRAIN,
    LATENCY,
    OUTPUT,
    QUEUED,
    READ,
    READ_PORT,
    STALL,
    WRITE,
    WRITE_PORT,
    Counter,
    Timeline,
)

#: Colour of each span category, and its legend text.
STYLE = {
    COMPUTE: ("#2b7bba", "array computes (a tile)"),
    STALL: ("#d7301f", "array stalls"),
    LATENCY: ("#fdae6b", "DRAM latency"),
    QUEUED: ("#cccccc", "queued behind a request"),
    READ: ("#41ab5d", "DMA reads (load)"),
    WRITE: ("#807dba", "DMA writes (store)"),
    OUTPUT: ("#e7298a", "output path works (add, pool, softmax, ...)"),
    DRAIN: ("#fdd0a2", "a tile's partial-sum drains"),
}
_FONT = 9
_FEW_TILES = 120  # up to this many tiles in view, each is drawn with its own edge
_BINS = 300  # the ports' use is averaged over this many equal slices of the time axis


def _binned(counters: list[Counter], edges: np.ndarray) -> np.ndarray:
    """Words per cycle over each slice [edges[i], edges[i+1]): a tile's words spread evenly
    over its compute, nothing while the array stalls. The counters do not overlap."""
    if not counters:
        return np.zeros(len(edges) - 1)
    start = np.array([k.start for k in counters], np.int64)
    end = np.array([k.end for k in counters], np.int64)
    rate = np.array([k.value for k in counters])
    cum = np.concatenate([[0.0], np.cumsum(rate * (end - start))])
    i = np.searchsorted(end, edges, side="right")  # tiles ended by each edge
    inside = np.minimum(i, len(counters) - 1)
    part = np.where((i < len(counters)) & (start[inside] < edges),
                    rate[inside] * (edges - start[inside]), 0.0)
    words = cum[i] + part
    return np.diff(words) / np.diff(edges)


def plot_timeline(tl: Timeline) -> Figure:
    """The Gantt figure of `tl`: spans per track, the ports' use below."""
    bars = [t for t in tl.tracks if t not in (READ_PORT, WRITE_PORT)]
    fig = Figure(figsize=(11, 1.2 + 0.55 * len(bars) + 1.6), layout="constrained")
    FigureCanvasAgg(fig)  # files only, never a window
    gantt, ports = fig.subplots(2, 1, sharex=True, height_ratios=[len(bars), 2.2])
    row = {name: len(bars) - 1 - i for i, name in enumerate(bars)}
    # Spans of one colour that touch are drawn as one bar: a layer of 30,000 tiles is a
    # few thousand bars, not 150,000 (the figure is 1,200 pixels wide).
    bars_of: dict[tuple[str, str], list[list[int]]] = {}
    few = sum(s.cat == COMPUTE for s in tl.spans) <= _FEW_TILES  # then each tile shows apart
    for s in tl.spans:
        runs = bars_of.setdefault((s.track, s.cat), [])
        if runs and s.start <= runs[-1][1] and not (s.cat == COMPUTE and few):
            runs[-1][1] = max(runs[-1][1], s.end)
        else:
            runs.append([s.start, s.end])
    for (track, cat), runs in bars_of.items():
        height = 0.7 if track == ARRAY else 0.5
        apart = cat == COMPUTE and few
        gantt.broken_barh([(a, b - a) for a, b in runs], (row[track] - height / 2, height),
                          facecolors=STYLE[cat][0], edgecolors="white" if apart else "none",
                          linewidth=0.8 if apart else 0)
    used = {cat for _, cat in bars_of}
    gantt.set_yticks(list(row.values()), list(row), fontsize=_FONT)
    gantt.set_ylim(-0.6, len(bars) - 0.4)
    gantt.tick_params(axis="x", labelsize=_FONT)
    gantt.grid(axis="x", color="#dddddd", linewidth=0.6)
    gantt.set_axisbelow(True)
    handles = [Patch(color=STYLE[c][0], label=STYLE[c][1]) for c in STYLE if c in used]
    gantt.legend(handles=handles, fontsize=_FONT, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                 frameon=False)
    hw = tl.hardware
    m = tl.mapping
    lat = tl.count("stall_cycles") - tl.stall_bandwidth_cycles
    layer = tl.layer + (f" (fused into {tl.traced})" if tl.traced != tl.layer else "")
    window = f", cycles {tl.window[0]:,}–{tl.window[1]:,}" if tl.window else ""
    gantt.set_title(
        f"{tl.network} / {layer} on {hw.name} ({hw.array_label} PEs, {hw.buffer_label}),"
        f" {m.dataflow.upper()} {m.loop_order} tiles x{m.tx}·y{m.ty}·c{m.tc}·k{m.tk}{window}\n"
        f"{tl.cycles:,} cycles: {tl.count('compute_cycles'):,} computing,"
        f" {tl.count('stall_cycles'):,} stalled ({lat:,} added by latency,"
        f" {tl.stall_bandwidth_cycles:,} with none); {tl.count('tiles'):,} tiles",
        fontsize=_FONT + 1, loc="left")
    lo, hi = tl.window if tl.window else (0, tl.cycles)
    edges = np.unique(np.linspace(lo, hi, _BINS + 1).round().astype(np.int64))
    for track, width, color in ((READ_PORT, hw.read_port_words, "#2b7bba"),
                                (WRITE_PORT, hw.write_port_words, "#e6550d")):
        mine = [k for k in tl.counters if k.track == track]
        rate = _binned(mine, edges)
        ports.stairs(rate, edges, color=color, linewidth=1.3, label=f"{track} (array side)")
        ports.axhline(width, color=color, linestyle=":", linewidth=1.0,
                      label=f"its width, {width} words")
    ports.set_ylabel("words / cycle", fontsize=_FONT)
    ports.set_ylim(bottom=0)
    ports.yaxis.set_major_locator(MaxNLocator(nbins=4, min_n_ticks=3))
    ports.tick_params(labelsize=_FONT)
    ports.grid(color="#dddddd", linewidth=0.6)
    ports.legend(fontsize=_FONT, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ports.set_xlabel("cycle", fontsize=_FONT)
    gantt.set_xlim(lo, hi)
    ports.xaxis.set_major_locator(MaxNLocator(nbins=8, min_n_ticks=3, integer=True))
    ports.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{int(x):,}"))
    return fig
