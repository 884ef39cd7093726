"""`nnaccel paper`: Table 3 reproduced beside the paper's, and the paper's claims checked."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from nnaccel.cli.child import run_in_child
from nnaccel.cli.compare_cmd import progress_bar
from nnaccel.cli.console import Console
from nnaccel.errors import OutputError
from nnaccel.outputs import check_outputs


@click.command("paper")
@click.option("--write", "doc_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the reproduction document (docs/reproduction.md), keeping its"
                   " model-owner section.")
@click.option("--figures", "figures_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="With --write: draw Figures 6, 7 and the roofline into DIR (PNG).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the rows, the claims and the counts within target to FILE.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes (default: one per configuration when that is faster).")
def paper(doc_path: str | None, figures_dir: str | None, json_path: str | None,
          jobs: int | None) -> None:
    """Table 3 reproduced, ours beside the paper's with the error of each figure, then the
    paper's claims, each marked holds / does not hold with our numbers."""
    if figures_dir and not doc_path:
        raise click.UsageError("--figures needs --write FILE (the figures are the document's)")
    # Imported here: the simulator loads numba, which `nnaccel list` should not pay for.
    from nnaccel.paper import CONFIGS, TABLE3_MODELS, print_report, report_json, reproduce, write_document
    from nnaccel.report import write_json

    check_outputs([("--write", doc_path), ("--json", json_path)])
    if figures_dir and os.path.exists(figures_dir) and not os.path.isdir(figures_dir):
        raise OutputError(f"--figures {figures_dir!r}: is not a directory")
    with progress_bar() as bar:
        advance = None
        if bar is not None:
            task = bar.add_task("simulating", total=len(TABLE3_MODELS) * len(CONFIGS))

            def advance(label: str, name: str) -> None:
                bar.update(task, advance=1, description=f"{label}: {name}", refresh=True)

        rep = run_in_child(reproduce, jobs=jobs, progress=advance)
    console = Console()
    print_report(rep, console if console.is_terminal else Console(width=120, file=sys.stdout))
    if json_path:
        write_json(json_path, report_json(rep))
    if doc_path:
        for p in write_document(rep, Path(doc_path), Path(figures_dir) if figures_dir else None):
            click.echo(f"wrote {p}")
