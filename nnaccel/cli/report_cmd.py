"""`nnaccel report NET... -o report.html`: one self-contained HTML page to share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from nnaccel.cli.compare_cmd import ENGINE_NAMES, load_networks, simulate_with_progress
from nnaccel.cli.hwopts import hardware_options

if TYPE_CHECKING:
    from nnaccel.compare import Config


@click.command("report")
@click.argument("nets", nargs=-1, required=True, metavar="NET...")
@hardware_options()
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="fast", show_default=True,
              help="fast: closed forms per tile; step: one clock at a time (same answer, slower).")
@click.option("-o", "--output", "out", required=True, metavar="FILE.html",
              type=click.Path(dir_okay=False, writable=True),
              help="The page to write (one file: styles, script and figures inline).")
def report(nets: tuple[str, ...], configs: Sequence[Config], network_sparsity: str | None,
           engine: str, out: str) -> None:
    """One self-contained HTML page of NET... to share.

    For each configuration: the hardware, the totals, a sortable per-layer table, the figures
    (layers, roofline; the accuracy trade-off for several networks) and the model's
    assumptions in brief. Styles, script and figures are inline: it opens offline.

    Example: nnaccel report sqnxt23 sqnxt23v5 --config paper-16x16 -o report.html
    """
    from nnaccel.errors import NnaccelError

    if not out.lower().endswith((".html", ".htm")):
        raise NnaccelError(f"-o {out}: the report is HTML; give a file name ending in .html")
    from nnaccel.htmlreport import render_report
    from nnaccel.outputs import check_outputs, write_atomic

    networks = load_networks(nets, False, network_sparsity)
    check_outputs([("-o", out)], [n.path for n in networks])
    runs = simulate_with_progress(networks, configs, engine, None)
    page = render_report(runs, engine)
    # ASCII with character references: right whatever the locale's file encoding
    write_atomic(out, lambda f: f.write(page.encode("ascii", "xmlcharrefreplace").decode("ascii")))
    click.echo(f"wrote {out}")
