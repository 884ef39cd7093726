"""`nnaccel plot layers|tradeoff|roofline`: the paper's figures from our results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from nnaccel.cli.compare_cmd import load_networks, simulate_with_progress


def _figure_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--config", "configs", multiple=True, metavar="CONFIG",
                     help="A preset (paper-8x8, paper-16x16) or ROWSxCOLS:SIZE; repeatable, one"
                          " panel each (default: both paper presets)."),
        click.option("--out", "prefix", metavar="PREFIX",
                     help="Write PREFIX.png and PREFIX.svg (directories are created)."),
        click.option("-o", "file", metavar="FILE", help="Write one file, FILE.png or FILE.svg."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _draw(kind: str, nets: tuple[str, ...], all_: bool, configs: tuple[str, ...],
          prefix: str | None, file: str | None, default_prefix: str) -> None:
    from nnaccel import plots  # matplotlib is loaded only when a figure is asked for
    from nnaccel.compare import parse_configs

    paths = plots.output_paths(prefix, file, default_prefix)  # bad flags fail before any work
    parsed = parse_configs(configs)
    networks = load_networks(nets, all_)
    runs = simulate_with_progress(networks, parsed, "fast", None)
    fig = {"layers": plots.plot_layers, "tradeoff": plots.plot_tradeoff,
           "roofline": plots.plot_roofline}[kind](runs)
    for p in plots.save_figure(fig, paths):
        click.echo(f"wrote {p}")


@click.group("plot")
def plot() -> None:
    """Figures: per-layer cycles (Figure 6), accuracy trade-off (Figure 7), roofline."""


@plot.command("layers")
@click.argument("nets", nargs=-1, required=True, metavar="NET...")
@_figure_options
def layers(nets: tuple[str, ...], configs: tuple[str, ...], prefix: str | None,
           file: str | None) -> None:
    """Figure 6: cycles per layer (layers of the same configuration summed) for NET... side
    by side, efficiency (MACs per cycle) on the right axis; one panel per configuration.

    Example: nnaccel plot layers sqnxt23 sqnxt23v2 sqnxt23v5 --out fig6
    """
    _draw("layers", nets, False, configs, prefix, file, "fig6-layers")


@plot.command("tradeoff")
@click.argument("nets", nargs=-1, metavar="[NET...]")
@_figure_options
def tradeoff(nets: tuple[str, ...], configs: tuple[str, ...], prefix: str | None,
             file: str | None) -> None:
    """Figure 7: top-1 accuracy (the paper's) against our energy and time, circle area
    proportional to sqrt(params); default: the networks of Table 3."""
    if not nets:
        from nnaccel.paper import table3_networks

        nets = tuple(n.path for n in table3_networks())
    _draw("tradeoff", nets, False, configs, prefix, file, "fig7-tradeoff")


@plot.command("roofline")
@click.argument("nets", nargs=-1, required=True, metavar="NET...")
@_figure_options
def roofline(nets: tuple[str, ...], configs: tuple[str, ...], prefix: str | None,
             file: str | None) -> None:
    """Every conv/fc layer of NET on the roofline of each configuration: MACs per DRAM byte
    against MACs per cycle. Shows why depthwise and early layers are slow."""
    _draw("roofline", nets, False, configs, prefix, file, "roofline")


@plot.command("pareto")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--metrics", "-m", default="area,energy", show_default=True, metavar="M,M[,M]",
              help="x, y (and colour) of the figure: two or three of area, cycles, energy, edp.")
@click.option("--network", "networks", multiple=True, metavar="NAME",
              help="A panel for this network's front; repeatable (default: each network when"
                   " there are at most four, else the set).")
@click.option("--set", "network_set", is_flag=True,
              help="A panel for the network set's front (geometric mean per configuration).")
@click.option("--out", "prefix", metavar="PREFIX", help="Write PREFIX.png and PREFIX.svg.")
@click.option("-o", "file", metavar="FILE", help="Write one file, FILE.png or FILE.svg.")
def pareto(source: str, metrics: str, networks: tuple[str, ...], network_set: bool,
           prefix: str | None, file: str | None) -> None:
    """A sweep's configurations and their Pareto front, the front's configurations labelled.

    SOURCE is a sweep's store (.db), CSV or Parquet file.
    Example: nnaccel plot pareto sweep.db -m area,energy --set -o front.png
    """
    from nnaccel import plots
    from nnaccel.sweep.export import read_rows
    from nnaccel.sweep.pareto import parse_metrics
    from nnaccel.sweep.plot import plot_pareto

    chosen = parse_metrics(metrics)
    paths = plots.output_paths(prefix, file, "pareto")
    fig = plot_pareto(read_rows(source), chosen, networks, network_set)
    for p in plots.save_figure(fig, paths):
        click.echo(f"wrote {p}")
