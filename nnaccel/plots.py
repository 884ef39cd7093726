"""The paper's figures redrawn from our results: Figure 6 (per-layer cycles and efficiency),
Figure 7 (accuracy against energy and time) and a roofline per configuration.

matplotlib with the Agg backend (no display needed). Each function returns a Figure;
`save_figure` writes it atomically as PNG and/or SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation, NullFormatter, ScalarFormatter  # noqa: E402

from .compare import Config  # noqa: E402
from .errors import NnaccelError  # noqa: E402
from .network import Layer  # noqa: E402
from .outputs import write_atomic  # noqa: E402
from .simulate import Result  # noqa: E402

FORMATS = ("png", "svg")

Runs = Sequence[tuple[Config, Sequence[Result]]]


# -- Figure 6: layers of the same configuration summed ------------------------------------

def layer_signature(layer: Layer) -> tuple:
    """What makes two layers 'the same configuration' in Figure 6: type, kernel, stride,
    padding, groups and the shapes in and out (so Conv8, Conv13, ... of one stage merge)."""
    return (layer.type, layer.kernel, layer.stride, layer.padding, layer.groups,
            layer.input_shapes, layer.output_shape)


@dataclass
class LayerGroup:
    """Layers of one network with one signature, summed."""

    signature: tuple
    names: list[str] = field(default_factory=list)
    macs: int = 0
    cycles: int = 0

    @property
    def label(self) -> str:
        return self.names[0] + (f" ×{len(self.names)}" if len(self.names) > 1 else "")

    @property
    def efficiency(self) -> float:
        """MACs per cycle (Figure 6's right axis); NaN for layers without MACs."""
        return self.macs / self.cycles if self.macs and self.cycles else math.nan


def layer_groups(result: Result) -> list[LayerGroup]:
    """The network's layers grouped by signature, in order of first appearance; layers that
    take no cycles (concat) are left out, as they have nothing to show."""
    groups: dict[tuple, LayerGroup] = {}
    for r in result.layers:
        if r.cycles == 0:
            continue
        sig = layer_signature(r.layer)
        g = groups.setdefault(sig, LayerGroup(sig))
        g.names.append(r.layer.name)
        g.macs += r.macs
        g.cycles += r.cycles
    return list(groups.values())


def _merged_order(per_net: Sequence[Sequence[LayerGroup]]) -> list[str]:
    """One x axis for several networks, keyed by each group's first layer name (variants of
    one network share names even where their shapes differ, e.g. after v2's 5x5 conv1):
    the first network's order, with each other network's new groups inserted after the
    last group they follow."""
    order: list[str] = []
    for groups in per_net:
        pos = 0
        for g in groups:
            key = g.names[0]
            if key in order:
                pos = order.index(key) + 1
            else:
                order.insert(pos, key)
                pos += 1
    return order


def _axis_label(key: str, per_net: Sequence[Sequence[LayerGroup]]) -> str:
    counts = [len(g.names) for gs in per_net for g in gs if g.names[0] == key]
    if set(counts) == {1}:
        return key
    return f"{key} ×{'/'.join(map(str, counts)) if len(set(counts)) > 1 else counts[0]}"


def plot_layers(runs: Runs) -> Figure:
    """Figure 6: cycles per layer group as bars, networks side by side, efficiency (MACs per
    cycle) as markers on the right axis; one panel per configuration. A group is named by its
    first layer; ×n is how many layers it sums (per network, when they differ)."""
    if not runs or not runs[0][1]:
        raise NnaccelError("plot layers: nothing to plot")
    n_nets = len(runs[0][1])
    per_cfg = [[layer_groups(r) for r in results] for _, results in runs]
    widest = max(len(_merged_order(p)) for p in per_cfg)
    fig, axes = plt.subplots(len(runs), 1, squeeze=False,
                             figsize=(min(40, max(10, widest * (0.18 + 0.09 * n_nets))),
                                      4.8 * len(runs)))
    colors = _colors(n_nets)
    width = 0.8 / n_nets
    for ax, (config, results), groups in zip(axes[:, 0], runs, per_cfg, strict=True):
        order = _merged_order(groups)
        ax2 = ax.twinx()
        for i, (res, gs) in enumerate(zip(results, groups, strict=True)):
            by_key = {g.names[0]: g for g in gs}
            xs = [k + (i - (n_nets - 1) / 2) * width for k in range(len(order))]
            cyc = [by_key[k].cycles if k in by_key else 0 for k in order]
            eff = [by_key[k].efficiency if k in by_key else math.nan for k in order]
            ax.bar(xs, [c / 1e6 for c in cyc], width, color=colors[i], label=f"{res.network.name} cycles")
            ax2.plot(xs, eff, ":", marker="o", markersize=3, lw=0.7, color=colors[i],
                     markeredgecolor="black", markeredgewidth=0.3,
                     label=f"{res.network.name} efficiency")
        hw = config.hardware
        ax.set_title(f"{config.label}: {hw.array_label} PEs, {hw.buffer_label} buffer")
        ax.set_ylabel("cycles per layer group (millions)")
        ax2.set_ylabel("efficiency (MACs per cycle)")
        ax2.axhline(hw.pes, color="grey", lw=0.8, ls="--")
        ax2.set_ylim(0, max(hw.pes, *(g.efficiency for gs in groups for g in gs
                                      if not math.isnan(g.efficiency))) * 1.15)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels([_axis_label(k, groups) for k in order], rotation=90, fontsize=7)
        ax.set_xlim(-0.6, len(order) - 0.4)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        h2.append(Line2D([], [], color="grey", lw=0.8, ls="--"))
        l2.append(f"{hw.pes} PEs (one MAC per PE per cycle)")
        # Outside the axes, right of the efficiency axis: the bars fill the plot area.
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left", bbox_to_anchor=(1.045, 1.0),
                  borderaxespad=0)
    fig.suptitle("Per-layer inference time and efficiency (paper Figure 6); layers of the same"
                 " configuration (type, kernel, stride, shapes) summed")
    fig.tight_layout()
    return fig


def _colors(n: int) -> list:
    """n distinct colors: the default cycle for a few, tab20 beyond ten."""
    if n <= 10:
        return plt.rcParams["axes.prop_cycle"].by_key()["color"][:n]
    cmap = plt.get_cmap("tab20")
    return [cmap(i % 20) for i in range(n)]


# -- Figure 7: accuracy against energy and time -------------------------------------------

def plot_tradeoff(runs: Runs) -> Figure:
    """Figure 7: the paper's top-1 accuracy against our energy and our time (normalized to the
    fastest network of the configuration), circle area ∝ sqrt(params). Where Table 3 has the
    network, the paper's figure is drawn as a hollow circle of the same size."""
    fig, axes = plt.subplots(len(runs), 2, figsize=(13, 5 * len(runs)), squeeze=False)
    for row, (config, results) in zip(axes, runs, strict=True):
        key = config.paper_key
        with_acc = [r for r in results if r.network.paper.get("top1") is not None]
        if not with_acc:
            raise NnaccelError("plot tradeoff: none of the networks has a top-1 accuracy in the paper")
        fastest = min(r.cycles for r in results)
        colors = _colors(len(with_acc))
        for ax, what in zip(row, ("energy", "time"), strict=True):
            for i, r in enumerate(with_acc):
                p = r.network.paper
                size = 60 * math.sqrt(r.network.params / 1e6)
                color = colors[i]
                ours = r.energy_total if what == "energy" else r.cycles / fastest
                ax.scatter([ours], [p["top1"]], s=size, color=color, alpha=0.7,
                           label=r.network.name, edgecolors="black", linewidths=0.5)
                ax.annotate(r.network.name, (ours, p["top1"]), fontsize=7,
                            xytext=(4, 4), textcoords="offset points")
                theirs = p.get(f"{what}_{key}") if key else None
                if theirs is not None:
                    ax.scatter([theirs], [p["top1"]], s=size, facecolors="none",
                               edgecolors=color, linewidths=1.2)
                    ax.plot([theirs, ours], [p["top1"]] * 2, color=color, lw=0.6, alpha=0.6)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter() if what == "time" else LogFormatterSciNotation())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_ylabel("top-1 accuracy (%, paper Tables 1-3)")
            ax.set_xlabel("energy per inference (MAC units, log)" if what == "energy"
                          else "inference time (× fastest network of the configuration, log)")
            ax.set_title(f"{config.label}: accuracy vs {what}")
            ax.grid(True, which="both", alpha=0.3)
        handles = [
            Line2D([], [], marker="o", ls="", color="grey", markeredgecolor="black", label="ours"),
            Line2D([], [], marker="o", ls="", markerfacecolor="none", color="grey",
                   label="paper's Table 3"),
        ]
        for params_m in (1, 4, 60):
            handles.append(Line2D([], [], marker="o", ls="", color="lightgrey",
                                  markersize=math.sqrt(60 * math.sqrt(params_m)),
                                  label=f"{params_m}M params"))
        row[1].legend(handles=handles, fontsize=7, loc="lower right", labelspacing=1.5)
    fig.suptitle("Accuracy vs energy and inference time (paper Figure 7); circle area ∝ sqrt(params)")
    fig.tight_layout()
    return fig


# -- roofline ------------------------------------------------------------------------------

def _kind(layer: Layer, index: int) -> str:
    if layer.type == "fc":
        return "fc"
    if index == 0:
        return "first conv"
    if layer.groups > 1 and layer.groups == layer.in_channels:
        return "depthwise"
    if layer.kernel == (1, 1):
        return "1x1 conv"
    return "KxK conv"


def roofline_points(result: Result) -> list[tuple[str, str, float, float]]:
    """(layer, kind, MACs per DRAM byte, MACs per cycle) of every conv/fc layer."""
    out = []
    convs = [r for r in result.layers if r.layer.type in ("conv", "fc")]
    for i, r in enumerate(convs):
        dram = r.count("dram_read_bytes") + r.count("dram_write_bytes")
        if r.cycles and dram:
            out.append((r.layer.name, _kind(r.layer, i), r.macs / dram, r.macs / r.cycles))
    return out


def plot_roofline(runs: Runs) -> Figure:
    """Every conv/fc layer of each network at (MACs per DRAM byte, MACs per cycle) under the
    configuration's roof: min(peak, intensity · DRAM bytes per cycle). Two peaks: the dense
    one (one MAC per PE per cycle) and the one OS reaches by skipping zero weights (PEs over
    weight density). DRAM latency is not in the roof, so layers of many small tiles sit below it."""
    fig, axes = plt.subplots(1, len(runs), figsize=(7 * len(runs), 5.5), squeeze=False)
    markers = {"first conv": "*", "KxK conv": "s", "1x1 conv": "o", "depthwise": "v", "fc": "D"}
    colors = _colors(max(len(results) for _, results in runs))
    for ax, (config, results) in zip(axes[0], runs, strict=True):
        hw = config.hardware
        pts_all = []
        for i, r in enumerate(results):
            pts = roofline_points(r)
            pts_all += pts
            for kind, marker in markers.items():
                sel = [(x, y) for _, k, x, y in pts if k == kind]
                if sel:
                    ax.scatter(*zip(*sel, strict=True), marker=marker, color=colors[i],
                               s=40 if kind != "first conv" else 160, alpha=0.75,
                               edgecolors="black", linewidths=0.4)
        if not pts_all:
            raise NnaccelError("plot roofline: no conv or fc layer to plot")
        xs = [p[2] for p in pts_all]
        lo, hi = min(xs) / 2, max(xs) * 2
        grid = [lo * (hi / lo) ** (k / 200) for k in range(201)]
        bw = hw.dram_bytes_per_cycle
        sparse_peak = hw.pes / float(hw.density)
        ax.plot(grid, [min(hw.pes, x * bw) for x in grid], "k-", lw=1.5,
                label=f"roof: min({hw.pes} PEs, intensity × {bw} B/cycle)")
        ax.plot(grid, [min(sparse_peak, x * bw) for x in grid], "k--", lw=1,
                label=f"OS with {hw.sparsity:.0%} zero weights skipped: {sparse_peak:.0f} MACs/cycle")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("arithmetic intensity (MACs per DRAM byte)")
        ax.set_ylabel("performance (MACs per cycle)")
        ax.set_title(f"{config.label}: {hw.array_label} PEs, {hw.buffer_label} buffer")
        ax.grid(True, which="both", alpha=0.3)
        handles = ax.get_legend_handles_labels()[0]
        for kind, marker in markers.items():
            handles.append(Line2D([], [], marker=marker, ls="", color="grey", label=kind))
        for i, r in enumerate(results):
            handles.append(Line2D([], [], marker="s", ls="", color=colors[i],
                                  label=r.network.name))
        ax.legend(handles=handles, fontsize=7, loc="lower right")
    fig.suptitle("Roofline: every conv/fc layer")
    fig.tight_layout()
    return fig


# -- files ---------------------------------------------------------------------------------

def output_paths(prefix: str | None, file: str | None, default_prefix: str) -> list[Path]:
    """`-o FILE.png|FILE.svg` gives one file; `--out PREFIX` (default `default_prefix`) both."""
    if prefix and file:
        raise NnaccelError("give --out PREFIX or -o FILE, not both")
    if file:
        ext = Path(file).suffix.lower().lstrip(".")
        if ext not in FORMATS:
            raise NnaccelError(f"-o {file}: the file name must end in .png or .svg")
        return [Path(file)]
    base = prefix or default_prefix
    return [Path(f"{base}.{ext}") for ext in FORMATS]


def save_figure(fig: Figure, paths: Sequence[Path]) -> list[Path]:
    """Write the figure to each path (format from the suffix), atomically; close it."""
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A fixed hash salt and no date keep an SVG identical from run to run, so the
            # regenerated docs/figures only change in git when a figure does.
            svg = path.suffix.lower() == ".svg"
            with plt.rc_context({"svg.hashsalt": "nnaccel"}):
                write_atomic(path, lambda f, p=path, svg=svg: fig.savefig(
                    f, format=p.suffix.lstrip(".").lower(), dpi=110,
                    metadata={"Date": None} if svg else {"Software": None}), binary=True)
    finally:
        plt.close(fig)
    return list(paths)
