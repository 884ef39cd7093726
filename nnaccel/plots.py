"""The paper's figures redrawn from our results: Figure 6 (per-layer cycles and efficiency),
Figure 7 (accuracy against energy and time) and a roofline per configuration.

matplotlib with the Agg backend (no display needed). Each function returns a Figure laid out
once (constrained layout, then frozen so that placed labels stay clear of each other);
`save_figure` writes it atomically as PNG, SVG or PDF. Every figure is drawn to be read at its
default size: no text overlaps other text or is cut at the edge, no legend covers data, and
every numeric axis has at least three labelled ticks (tests/test_plots.py checks all four
through matplotlib's own text extents).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .assumptions import percent  # noqa: E402
from .compare import Config  # noqa: E402
from .errors import NnaccelError  # noqa: E402
from .figlayout import Point, freeze_layout, place_labels, plain, readable_log_axis  # noqa: E402
from .network import Layer  # noqa: E402
from .outputs import write_atomic  # noqa: E402
from .simulate import Result  # noqa: E402

FORMATS = ("png", "svg", "pdf")
#: What `--out PREFIX` writes.
PREFIX_FORMATS = ("png", "svg")

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
    energy: float = 0.0

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
        g.energy += r.energy_total
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


GROUP_NOTE = ("Each bar sums the layers of one configuration (type, kernel, stride, padding,"
              " groups, shapes), named by its first layer; ×n: n such layers (×a/b/…: a in the"
              " first network, b in the second, in the legend's order). Dotted: efficiency,"
              " right axis, counting every MAC, zero weights included; dashed: the array's"
              " dense peak (one MAC per PE a cycle); dash-dot: the effective peak of OS, which"
              " skips zero weights and so can do more MACs a cycle than the dense peak.")


def sparsity_phrase(config: Config, results: Sequence[Result]) -> str:
    """The weight sparsity of a configuration's results in a few words, for a title."""
    shorts = list(dict.fromkeys(config.sparsity(r.network).short for r in results))
    return shorts[0] if len(shorts) == 1 else "per network: " + "; ".join(
        f"{r.network.name} {config.sparsity(r.network).short}" for r in results)


def config_title(config: Config, results: Sequence[Result]) -> str:
    """An axes' title: the configuration as it really is, and the weight sparsity used."""
    hw = config.hardware
    return plain(f"{config.label}: {hw.array_label} PEs, {hw.buffer_label} buffer;"
                 f" weight sparsity {sparsity_phrase(config, results)}")


def plot_layers(runs: Runs) -> Figure:
    """Figure 6: per layer group, cycles as bars with efficiency (MACs per cycle) on the right
    axis, and energy as bars below, networks side by side; two panels per configuration."""
    if not runs or not runs[0][1]:
        raise NnaccelError("plot layers: nothing to plot")
    n_nets = len(runs[0][1])
    per_cfg = [[layer_groups(r) for r in results] for _, results in runs]
    widest = max(len(_merged_order(p)) for p in per_cfg)
    # the legend's rows (networks and the four line keys, six a row) take height of their own
    legend_rows = -(-(n_nets + 3) // 6)
    fig, axes = plt.subplots(2 * len(runs), 1, squeeze=False, layout="constrained",
                             figsize=(min(22.0, max(9.0, 3.0 + widest * 0.3)),
                                      2.0 + 5.2 * len(runs) + 0.3 * (legend_rows - 1)),
                             gridspec_kw={"height_ratios": [1.0, 1.45] * len(runs)})
    colors = _colors(n_nets)
    width = 0.8 / n_nets
    for n, ((config, results), groups) in enumerate(zip(runs, per_cfg, strict=True)):
        ax, ax_e = axes[2 * n, 0], axes[2 * n + 1, 0]
        order = _merged_order(groups)
        ax2 = ax.twinx()
        for i, (res, gs) in enumerate(zip(results, groups, strict=True)):
            by_key = {g.names[0]: g for g in gs}
            xs = [k + (i - (n_nets - 1) / 2) * width for k in range(len(order))]
            cyc = [by_key[k].cycles if k in by_key else 0 for k in order]
            eff = [by_key[k].efficiency if k in by_key else math.nan for k in order]
            energy = [by_key[k].energy if k in by_key else 0 for k in order]
            ax.bar(xs, [c / 1e6 for c in cyc], width, color=colors[i], label=plain(res.network.name))
            ax2.plot(xs, eff, ":", marker="o", markersize=3, lw=0.7, color=colors[i],
                     markeredgecolor="black", markeredgewidth=0.3)
            ax_e.bar(xs, [e / 1e6 for e in energy], width, color=colors[i])
        hw = config.hardware
        unit = "MAC units" if hw.energy.unit == "mac" else "pJ"
        ax.set_title(config_title(config, results), fontsize=11)
        ax.set_ylabel("cycles (millions)")
        ax_e.set_ylabel(f"energy (millions of {unit})")
        ax2.set_ylabel("MACs per cycle")
        ax2.axhline(hw.pes, color="grey", lw=0.8, ls="--")
        # OS skips zero weights: its MACs a cycle, counting every MAC, reach PEs / density
        skip_peak = max(hw.pes / (1 - min(config.sparsity(r.network).overall, 0.999))
                        for r in results)
        if skip_peak > hw.pes * 1.001:
            ax2.axhline(skip_peak, color="grey", lw=0.8, ls="-.")
        ax2.set_ylim(0, max(skip_peak, *(g.efficiency for gs in groups for g in gs
                                         if not math.isnan(g.efficiency))) * 1.15)
        ax.sharex(ax_e)  # one set of layer names, under the energy panel
        ax.tick_params(axis="x", labelbottom=False)
        ax_e.set_xticks(range(len(order)))
        ax_e.set_xticklabels([plain(_axis_label(k, groups)) for k in order], rotation=90, fontsize=8)
        ax_e.set_xlim(-0.6, len(order) - 0.4)
        for a in (ax, ax_e):
            a.yaxis.set_major_locator(plt.MaxNLocator(nbins=5, min_n_ticks=3))
        ax2.yaxis.set_major_locator(plt.MaxNLocator(nbins=5, min_n_ticks=3))
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
    names = [plain(r.network.name) for r in runs[0][1]]
    handles.append(Line2D([], [], color="grey", ls=":", marker="o", markersize=3))
    names.append("efficiency (right axis)")
    handles += [Line2D([], [], color="grey", ls="--", lw=0.8),
                Line2D([], [], color="grey", ls="-.", lw=0.8)]
    names += ["dense peak", "peak skipping zero weights (OS)"]
    fig.legend(handles, names, loc="outside upper center", ncols=min(len(names), 6), fontsize=9,
               title="Per-layer inference time and energy (paper Figure 6)",
               title_fontproperties={"size": 13})
    fig.supxlabel(GROUP_NOTE, fontsize=9, wrap=True)
    freeze_layout(fig)
    return fig


def _colors(n: int) -> list:
    """n distinct colors, never one twice: the default cycle for a few; beyond ten, tab20's
    strong hues, then its light ones, then tab20b's and tab20c's (60 in all); beyond that,
    hues spaced evenly round the colour wheel."""
    if n <= 10:
        return plt.rcParams["axes.prop_cycle"].by_key()["color"][:n]
    from matplotlib.colors import hsv_to_rgb, to_hex

    palette: list[str] = []
    for name in ("tab20", "tab20b", "tab20c"):
        cmap = plt.get_cmap(name)
        order = range(0, 20, 2) if name == "tab20" else range(20)
        palette += [to_hex(cmap(i)) for i in order]
        if name == "tab20":
            palette += [to_hex(cmap(i)) for i in range(1, 20, 2)]
    palette = list(dict.fromkeys(palette))
    if n <= len(palette):
        return palette[:n]
    return [to_hex(hsv_to_rgb((i / n, 0.75 if i % 2 else 0.55, 0.85 if i % 2 else 0.6)))
            for i in range(n)]


# -- Figure 7: accuracy against energy and time -------------------------------------------

def accuracy_of(result: Result, accuracy: Mapping[str, float] | None = None) -> float | None:
    """A network's top-1 accuracy: from `accuracy` (by network name or file stem), else the
    network file's `paper.top1`; None when neither has it."""
    accuracy = accuracy or {}
    stem = Path(result.network.path).stem if result.network.path else None
    for key in (result.network.name, stem):
        if key in accuracy:
            return accuracy[key]
    return result.network.paper.get("top1")


def tradeoff_left_out(runs: Runs, accuracy: Mapping[str, float] | None = None) -> list[str]:
    """The networks Figure 7 leaves out for want of an accuracy."""
    names = {r.network.name: None for _, results in runs for r in results
             if accuracy_of(r, accuracy) is None}
    return list(names)


def plot_tradeoff(runs: Runs, accuracy: Mapping[str, float] | None = None) -> Figure:
    """Figure 7: top-1 accuracy against our energy and our time (normalized to the fastest
    network drawn in that configuration), circle area ∝ sqrt(params). Where Table 3 has the
    network, the paper's figure is a hollow circle of the same size. A network without an
    accuracy (`accuracy_of`) is left out, and does not count for the normalization."""
    fig, axes = plt.subplots(len(runs), 2, figsize=(12.5, 1.3 + 4.6 * len(runs)), squeeze=False,
                             layout="constrained")
    placements = []
    for row, (config, results) in zip(axes, runs, strict=True):
        key = config.paper_key
        drawn = [(r, acc) for r in results if (acc := accuracy_of(r, accuracy)) is not None]
        if not drawn:
            raise NnaccelError("plot tradeoff: no network has a top-1 accuracy (give"
                               " --accuracy NAME=VALUE, or paper.top1 in the network file)")
        fastest = min(r.cycles for r, _ in drawn)
        colors = _colors(len(drawn))
        accs = [acc for _, acc in drawn]
        for ax, what in zip(row, ("energy", "time"), strict=True):
            points, hollow, xs = [], [], []
            for i, (r, acc) in enumerate(drawn):
                p = r.network.paper
                size = 60 * math.sqrt(r.network.params / 1e6)
                radius = math.sqrt(size / math.pi)
                ours = r.energy_total if what == "energy" else r.cycles / fastest
                ax.scatter([ours], [acc], s=size, color=colors[i], alpha=0.7,
                           edgecolors="black", linewidths=0.5, zorder=3)
                points.append(Point(ours, acc, plain(r.network.name), radius))
                xs.append(ours)
                theirs = p.get(f"{what}_{key}") if key else None
                if theirs is not None:
                    ax.scatter([theirs], [acc], s=size, facecolors="none", edgecolors=colors[i],
                               linewidths=1.2, zorder=3)
                    ax.plot([theirs, ours], [acc] * 2, color=colors[i], lw=0.6, alpha=0.6)
                    hollow.append(Point(theirs, acc, "", radius))
                    xs.append(theirs)
            # the widest circle's radius, as a share of the axes' width (about 5.3 in)
            pad = min(0.2, 0.03 + max(pt.radius_pt for pt in points) / (5.3 * 72))
            log = readable_log_axis(ax, "x", min(xs), max(xs), pad)
            scale = ", log scale" if log else ""
            span = max(accs) - min(accs) or 1.0
            ax.set_ylim(min(accs) - 0.12 * span - 0.3, max(accs) + 0.15 * span + 0.3)
            ax.yaxis.set_major_locator(plt.MaxNLocator(nbins=6, min_n_ticks=3))
            ax.set_ylabel("top-1 accuracy (%)")
            ax.set_xlabel(f"energy per inference (MAC units{scale})" if what == "energy"
                          else f"time (× the fastest network drawn{scale})")
            ax.set_title(plain(f"{config.label}: accuracy vs {what}; weight sparsity"
                               f" {sparsity_phrase(config, [r for r, _ in drawn])}"), fontsize=10,
                         wrap=True)
            ax.grid(True, which="major", alpha=0.3)
            placements.append((ax, points, hollow))
    handles = [
        Line2D([], [], marker="o", ls="", color="grey", markeredgecolor="black", label="ours"),
        Line2D([], [], marker="o", ls="", markerfacecolor="none", color="grey",
               label="the paper's Table 3"),
    ]
    for params_m in (1, 4, 60):
        handles.append(Line2D([], [], marker="o", ls="", color="lightgrey",
                              markersize=math.sqrt(60 * math.sqrt(params_m)),
                              label=f"{params_m}M params"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9,
               labelspacing=1.2, borderpad=0.8)
    fig.suptitle("Accuracy against energy and inference time (paper Figure 7);"
                 " circle area ∝ sqrt(params)", fontsize=13)
    freeze_layout(fig)
    for ax, points, hollow in placements:
        place_labels(ax, points, hollow)
    return fig


# -- roofline ------------------------------------------------------------------------------

def _kind(layer: Layer, index: int) -> str:
    if layer.type in ("fc", "linear", "matmul"):
        return layer.type
    if index == 0:
        return "first conv"
    if layer.groups > 1 and layer.groups == layer.in_channels:
        return "depthwise"
    if layer.kernel == (1, 1):
        return "1x1 conv"
    return "KxK conv"


def roofline_points(result: Result) -> list[tuple[str, str, float, float]]:
    """(layer, kind, MACs per DRAM byte, MACs per cycle) of every layer with MACs: conv, fc,
    and a transformer's products (linear, matmul)."""
    out = []
    convs = [r for r in result.layers if r.layer.type in ("conv", "fc", "linear", "matmul")]
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
    fig, axes = plt.subplots(1, len(runs), figsize=(1.5 + 6.2 * len(runs), 6.4), squeeze=False,
                             layout="constrained")
    markers = {"first conv": "*", "KxK conv": "s", "1x1 conv": "o", "depthwise": "v", "fc": "D",
               "linear": "P", "matmul": "X"}
    colors = _colors(max(len(results) for _, results in runs))
    handles: list = []
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
            raise NnaccelError("plot roofline: no layer with MACs (conv, fc, linear, matmul) "
                               "to plot")
        xs = [p[2] for p in pts_all]
        lo, hi = min(xs) / 2, max(xs) * 2
        grid = [lo * (hi / lo) ** (k / 200) for k in range(201)]
        bw = hw.dram_bytes_per_cycle
        skipped = max(config.sparsity(r.network).overall for r in results)
        sparse_peak = hw.pes / (1 - min(skipped, 0.999))
        roof = ax.plot(grid, [min(hw.pes, x * bw) for x in grid], "k-", lw=1.5,
                       label=plain(f"{config.label} roof: min({hw.pes} PEs, intensity × {bw} B/cycle)"))
        sparse = ax.plot(grid, [min(sparse_peak, x * bw) for x in grid], "k--", lw=1,
                         label=plain(f"{config.label}, OS skipping {percent(skipped)} zero"
                                     f" weights: {sparse_peak:.0f} MACs/cycle"))
        readable_log_axis(ax, "x", lo, hi)
        ys = [p[3] for p in pts_all]
        readable_log_axis(ax, "y", min(ys), max(sparse_peak, max(ys)))
        ax.set_xlabel("arithmetic intensity (MACs per DRAM byte)")
        ax.set_ylabel("performance (MACs per cycle)")
        ax.set_title(config_title(config, results), fontsize=10, wrap=True)
        ax.grid(True, which="major", alpha=0.3)
        handles += roof + sparse
    for kind, marker in markers.items():
        handles.append(Line2D([], [], marker=marker, ls="", color="grey", label=kind))
    for i, r in enumerate(runs[0][1]):
        handles.append(Line2D([], [], marker="s", ls="", color=colors[i], label=plain(r.network.name)))
    fig.legend(handles=handles, loc="outside lower center", ncols=2 if len(runs) < 2 else 3,
               fontsize=9)
    fig.suptitle("Roofline: every conv/fc layer", fontsize=13)
    freeze_layout(fig)
    return fig


# -- files ---------------------------------------------------------------------------------

def output_paths(prefix: str | None, file: str | None, default_prefix: str) -> list[Path]:
    """`-o FILE.png|.svg|.pdf` gives one file; `--out PREFIX` (default `default_prefix`)
    PNG and SVG."""
    if prefix and file:
        raise NnaccelError("give --out PREFIX or -o FILE, not both")
    if file:
        ext = Path(file).suffix.lower().lstrip(".")
        if ext not in FORMATS:
            raise NnaccelError(f"-o {file}: the file name must end in .png, .svg or .pdf")
        return [Path(file)]
    base = prefix or default_prefix
    return [Path(f"{base}.{ext}") for ext in PREFIX_FORMATS]


def save_figure(fig: Figure, paths: Sequence[Path]) -> list[Path]:
    """Write the figure to each path (format from the suffix), atomically; close it."""
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A fixed hash salt and no date keep an SVG identical from run to run, so the
            # regenerated docs/figures only change in git when a figure does.
            fmt = path.suffix.lstrip(".").lower()
            meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}.get(
                fmt, {"Software": None})
            with plt.rc_context({"svg.hashsalt": "nnaccel"}):
                write_atomic(path, lambda f, fmt=fmt, meta=meta:
                             fig.savefig(f, format=fmt, dpi=110, metadata=meta), binary=True)
    finally:
        plt.close(fig)
    return list(paths)
