"""`nnaccel plot layers|tradeoff|roofline`: the paper's figures from our results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from nnaccel.cli.compare_cmd import load_networks, simulate_with_progress
from nnaccel.cli.figpaths import check_figure_paths
from nnaccel.cli.hwopts import hardware_options
from nnaccel.hardware import PRESETS

if TYPE_CHECKING:
    from nnaccel.compare import Config


def _figure_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        hardware_options(tuple(PRESETS)),
        click.option("--out", "prefix", metavar="PREFIX",
                     help="Write PREFIX.png and PREFIX.svg (directories are created)."),
        click.option("-o", "file", metavar="FILE",
                     help="Write one file: FILE.png, FILE.svg or FILE.pdf."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _draw(kind: str, nets: tuple[str, ...], configs: Sequence[Config],
          network_sparsity: str | None, prefix: str | None, file: str | None,
          default_prefix: str, **options: Any) -> None:
    from nnaccel import plots  # matplotlib is loaded only when a figure is asked for

    paths = plots.output_paths(prefix, file, default_prefix)  # bad flags fail before any work
    networks = load_networks(nets, False, network_sparsity)
    check_figure_paths(paths, "-o" if file else "--out", [n.path for n in networks])
    runs = simulate_with_progress(networks, configs, "fast", None)
    fig = {"layers": plots.plot_layers, "tradeoff": plots.plot_tradeoff,
           "roofline": plots.plot_roofline}[kind](runs, **options)
    for p in plots.save_figure(fig, paths):
        click.echo(f"wrote {p}")


@click.group("plot")
def plot() -> None:
    """Figures: per-layer cycles and energy (Figure 6), accuracy trade-off (Figure 7), roofline."""


@plot.command("layers")
@click.argument("nets", nargs=-1, required=True, metavar="NET...")
@_figure_options
def layers(nets: tuple[str, ...], configs: Sequence[Config], network_sparsity: str | None,
           prefix: str | None, file: str | None) -> None:
    """Figure 6: cycles and energy per layer group (layers of the same configuration summed)
    for NET... side by side, efficiency (MACs per cycle) on the right axis; two panels per
    configuration.

    Example: nnaccel plot layers sqnxt23 sqnxt23v2 sqnxt23v5 -o fig6.pdf
    """
    _draw("layers", nets, configs, network_sparsity, prefix, file, "fig6-layers")


def _parse_accuracy(values: Sequence[str]) -> dict[str, float]:
    out = {}
    for text in values:
        name, sep, value = text.rpartition("=")
        try:
            acc = float(value)
        except ValueError:
            acc = None
        if not sep or not name or acc is None or not 0 <= acc <= 100:
            raise click.BadParameter(f"{text!r} is not NAME=PERCENT, e.g. tiny-darknet=58.7",
                                     param_hint="--accuracy")
        out[name] = acc
    return out


@plot.command("tradeoff")
@click.argument("nets", nargs=-1, metavar="[NET...]")
@_figure_options
@click.option("--accuracy", "accuracies", multiple=True, metavar="NAME=PERCENT",
              help="Top-1 accuracy of a network (its name or file stem) not in the paper, or to"
                   " replace the paper's; repeatable. A network file may also give it as"
                   " paper.top1.")
def tradeoff(nets: tuple[str, ...], configs: Sequence[Config], network_sparsity: str | None,
             prefix: str | None, file: str | None, accuracies: tuple[str, ...]) -> None:
    """Figure 7: top-1 accuracy against our energy and time, circle area proportional to
    sqrt(params); default: the networks of Table 3. A network without an accuracy is left
    out (with a warning) and does not count when times are normalized."""
    accuracy = _parse_accuracy(accuracies)
    if not nets:
        from nnaccel.paper import table3_networks

        nets = tuple(n.path for n in table3_networks())
    from nnaccel import plots

    paths = plots.output_paths(prefix, file, "fig7-tradeoff")
    networks = load_networks(nets, False, network_sparsity)
    check_figure_paths(paths, "-o" if file else "--out", [n.path for n in networks])
    runs = simulate_with_progress(networks, configs, "fast", None)
    left_out = plots.tradeoff_left_out(runs, accuracy)
    if left_out:
        click.echo(f"warning: left out, no top-1 accuracy: {', '.join(left_out)} (give"
                   " --accuracy NAME=PERCENT)", err=True)
    for p in plots.save_figure(plots.plot_tradeoff(runs, accuracy), paths):
        click.echo(f"wrote {p}")


@plot.command("roofline")
@click.argument("nets", nargs=-1, required=True, metavar="NET...")
@_figure_options
def roofline(nets: tuple[str, ...], configs: Sequence[Config], network_sparsity: str | None,
             prefix: str | None, file: str | None) -> None:
    """Every conv/fc layer of NET on the roofline of each configuration: MACs per DRAM byte
    against MACs per cycle. Shows why depthwise and early layers are slow."""
    _draw("roofline", nets, configs, network_sparsity, prefix, file, "roofline")


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
@click.option("-o", "file", metavar="FILE", help="Write one file: FILE.png, FILE.svg or FILE.pdf.")
def pareto(source: str, metrics: str, networks: tuple[str, ...], network_set: bool,
           prefix: str | None, file: str | None) -> None:
    """A sweep's configurations and their Pareto front, the front's configurations labelled.

    SOURCE is a sweep's store (.db), CSV or Parquet file.
    Example: nnaccel plot pareto sweep.db -m area,energy --set -o front.png
    """
    from nnaccel import plots
    from nnaccel.sweep.export import rows_for_fronts
    from nnaccel.sweep.pareto import parse_metrics
    from nnaccel.sweep.plot import plot_pareto

    chosen = parse_metrics(metrics, most=3)
    paths = plots.output_paths(prefix, file, "pareto")
    check_figure_paths(paths, "-o" if file else "--out", [source])
    rows, notes = rows_for_fronts(source, chosen)
    for note in notes:
        click.echo(note, err=True)
    fig = plot_pareto(rows, chosen, networks, network_set)
    if network_set or (not networks and len({r["network"] for r in rows}) > 4):
        from nnaccel.cli.sweep_cmd import set_note
        from nnaccel.sweep.pareto import set_front

        click.echo(set_note(rows, set_front(rows, chosen)), err=True)  # what the set panel is
    for p in plots.save_figure(fig, paths):
        click.echo(f"wrote {p}")
