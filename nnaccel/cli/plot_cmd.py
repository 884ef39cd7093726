"""`nnaccel plot layers|tradeoff|roofline`: the paper's figures from our results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from nnaccel.cli.compare_cmd import load_networks, simulate_with_progress
from nnaccel.errors import OutputError
from nnaccel.outputs import check_outputs


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
    for p in paths:  # --out's directories are created (its help says so), then checked
        if prefix and str(p.parent) not in ("", "."):
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"--out {prefix!r}: cannot create {str(p.parent)!r}: "
                                  f"{exc.strerror}") from None
    check_outputs([("-o" if file else "--out", str(p)) for p in paths],
                  [n.path for n in networks])
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
