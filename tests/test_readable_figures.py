"""Figures a person reads at their default size: the checks of figcheck on `plot pareto` and on
Figure 7's leader lines, text of at least 8 pt, and a colour of its own for every network."""

from __future__ import annotations

import random

import pytest
from figcheck import leader_problems, problems, small_text

from nnaccel import plots
from nnaccel.sweep.plot import plot_pareto


def _sweep_rows(networks=("a", "b", "c")) -> list[dict]:
    """Rows as a sweep of 4 arrays x 6 buffers x 2 bandwidths writes them (seeded)."""
    rng = random.Random(1)
    rows = []
    for net in networks:
        for side in (4, 8, 16, 32):
            for kb in (16, 32, 64, 128, 256, 512):
                for bw in (8e9, 16e9):
                    pes = side * side
                    rows.append(dict(
                        network=net, array=f"{side}x{side}", buffer_bytes=kb * 1024,
                        dram_bandwidth_bytes_per_s=bw, dram_latency_cycles=100, sparsity=0.4,
                        word_bits=16, dataflow="auto", objective="cycles", hardware="h",
                        area_mm2=0.003 * pes + 0.0036 * kb,
                        cycles=1e7 / pes * (1 + 30 / kb) * (1.2 if bw < 1e10 else 1)
                        * rng.uniform(0.9, 1.1),
                        energy_total=1e9 * (1 + pes / 100) * (1 + kb / 300), edp=1.0,
                        error="", energy_unit="mac"))
    return rows


@pytest.mark.parametrize("kw", [{}, {"network_set": True}, {"networks": ("a",)},
                                {"networks": ("a", "b"), "network_set": True}],
                         ids=["each", "set", "one", "two-and-set"])
@pytest.mark.parametrize("metrics", [("area_mm2", "cycles"), ("area_mm2", "energy_total"),
                                     ("cycles", "energy_total", "area_mm2")],
                         ids=["area-cycles", "area-energy", "three"])
def test_plot_pareto_is_readable(kw, metrics):
    fig = plot_pareto(_sweep_rows(), metrics, **kw)
    try:
        assert problems(fig) == []
        named = [t for ax in fig.axes for t in ax.texts]
        assert named and all(t.get_fontsize() >= 8 for t in named)
        for ax in fig.axes:  # no configuration named twice in one panel
            assert len({t.get_text() for t in ax.texts}) == len(ax.texts)
    finally:
        plots.plt.close(fig)


def test_the_checker_finds_crossing_leader_lines_and_small_text():
    fig, ax = plots.plt.subplots(figsize=(4, 3))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    arrow = {"arrowstyle": "-"}
    ax.annotate("first", (1, 1), xytext=(8, 8), arrowprops=arrow)
    ax.annotate("second", (8, 1), xytext=(1, 8), arrowprops=arrow)
    ax.annotate("tiny", (5, 5), fontsize=6)
    fig.canvas.draw()
    try:
        assert any("leader lines cross" in p for p in leader_problems(fig))
        assert small_text(fig) == ["text under 8 pt (6): 'tiny'"]
    finally:
        plots.plt.close(fig)


def test_the_checker_finds_a_leader_line_through_another_label():
    fig, ax = plots.plt.subplots(figsize=(4, 3))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.annotate("far label", (1, 5), xytext=(8, 5), arrowprops={"arrowstyle": "-"})
    ax.annotate("in the way", (4, 5), va="center")
    fig.canvas.draw()
    try:
        assert any("crosses the label 'in the way'" in p for p in leader_problems(fig))
    finally:
        plots.plt.close(fig)


@pytest.mark.parametrize("n", [3, 10, 12, 25, 61])
def test_every_network_gets_a_colour_of_its_own(n):
    from matplotlib.colors import to_rgb

    colours = [to_rgb(c) for c in plots._colors(n)]
    assert len(set(colours)) == n


def test_figure_6_of_many_networks_is_readable():
    """All 25 bundled networks: the legend takes five rows, and the panels still keep their
    ticks and labels apart (the figure grows by the legend's rows)."""
    from nnaccel.compare import parse_configs, run_configs
    from nnaccel.loader import bundled_networks, load_network

    runs = run_configs([load_network(p) for p in bundled_networks()],
                       parse_configs(["paper-16x16"]))
    fig = plots.plot_layers(runs)
    try:
        assert problems(fig) == []
    finally:
        plots.plt.close(fig)
