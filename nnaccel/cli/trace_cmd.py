"""`nnaccel trace NET --layer L -o FILE`: one layer's timeline from the step engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from nnaccel.cli.child import run_in_child
from nnaccel.cli.hwopts import hardware_options
from nnaccel.cli.progress import warm_up
from nnaccel.errors import NnaccelError
from nnaccel.loader import load_network
from nnaccel.outputs import check_outputs, write_atomic

if TYPE_CHECKING:
    from nnaccel.compare import Config

FORMATS = (".json", ".json.gz", ".png", ".svg", ".pdf")


def _suffix(f: str) -> str:
    name = Path(f).name.lower()
    return ".json.gz" if name.endswith(".json.gz") else Path(name).suffix


def _kinds(files: Sequence[str]) -> None:
    if not files:
        raise NnaccelError("-o: give the output, FILE.json (Chrome trace events: Perfetto,"
                           " chrome://tracing) or FILE.png (a Gantt figure; .svg, .pdf too)")
    for f in files:
        if _suffix(f) not in FORMATS:
            raise NnaccelError(f"-o {f!r}: the file name must end in {', '.join(FORMATS)}")


@click.command("trace")
@click.argument("net")
@click.option("--layer", "layer", required=True, metavar="NAME",
              help="The layer to trace (`nnaccel info NET` lists them); a pooling or add fused"
                   " into a conv's output path traces that conv.")
@hardware_options()
@click.option("-o", "files", multiple=True, metavar="FILE",
              help="FILE.json (or .json.gz): Chrome trace events (open in Perfetto or"
                   " chrome://tracing);"
                   " FILE.png, .svg or .pdf: a Gantt figure. Repeatable.")
@click.option("--cycles", "window", metavar="A:B",
              help="Only cycles A to B of the layer (A: or :B leave one end open).")
def trace(net: str, layer: str, configs: Sequence[Config], network_sparsity: str | None,
          files: tuple[str, ...], window: str | None) -> None:
    """One layer's timeline as the step engine runs it: the array's compute per tile and its
    stalls, each DMA read and write (latency, queueing, transfer), the output path's work and
    the buffer ports' use (docs/model.md §13).

    Example: nnaccel trace sqnxt23v5 --layer conv1 --config paper-16x16 -o conv1.json
    """
    from nnaccel.trace import parse_window

    _kinds(files)
    span = parse_window(window)
    if len(configs) > 1:
        raise NnaccelError(f"--config: trace takes one configuration, got {len(configs)}"
                           f" ({', '.join(c.label for c in configs)})")
    network = load_network(net, network_sparsity)
    from nnaccel.trace import find_layer

    find_layer(network, layer)  # a misspelt layer fails before any work
    check_outputs([("-o", f) for f in files], [network.path])
    err = Console(stderr=True)
    warm_up(err)
    config = configs[0]

    def work():
        from nnaccel.trace import layer_timeline

        return layer_timeline(network, config.hardware, layer, config.dataflow,
                              config.objective, span)

    # the step engine runs a long layer for seconds (VGG-19's conv4_2: about 5): say so
    with err.status(f"running {layer} cycle by cycle (step engine)"):
        tl = run_in_child(work)
    for f in files:
        if _suffix(f).startswith(".json"):
            from nnaccel.trace import write_chrome

            gz = _suffix(f) == ".json.gz"
            write_atomic(f, lambda out, gz=gz: write_chrome(tl, out, gz), binary=True)
        else:
            from nnaccel.plots import save_figure
            from nnaccel.traceplot import plot_timeline

            save_figure(plot_timeline(tl), [Path(f)])
    lat = tl.count("stall_cycles") - tl.stall_bandwidth_cycles
    what = tl.layer + (f" (fused into {tl.traced})" if tl.traced != tl.layer else "")
    click.echo(f"{tl.network} / {what} on {config.label}: {tl.cycles:,} cycles,"
               f" {tl.count('compute_cycles'):,} computing, {tl.count('stall_cycles'):,} stalled"
               f" ({lat:,} added by DRAM latency); {tl.count('tiles'):,} tiles")
    why = tl.stall_causes
    if any(why.values()):
        click.echo(f"stalled while the DMA's oldest request waited out the latency"
                   f" {why['latency']:,} cycles, moved bytes {why['transfer']:,}, waited on"
                   f" the output path {why['output_path']:,}")
    if tl.window:
        click.echo(f"window: cycles {tl.window[0]:,} to {tl.window[1]:,}"
                   f" ({len(tl.spans):,} spans)")
    for f in files:
        click.echo(f"wrote {f} ({Path(f).stat().st_size:,} bytes)")
