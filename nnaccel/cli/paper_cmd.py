"""`nnaccel paper`: Table 3 reproduced beside the paper's, and the paper's claims checked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from nnaccel.cli.child import run_in_child
from nnaccel.cli.compare_cmd import progress_bar
from nnaccel.cli.tables import Column, TableData, emit, format_option, stdout_console
from nnaccel.errors import OutputError
from nnaccel.outputs import check_outputs

if TYPE_CHECKING:
    from nnaccel.paper import Reproduction


def report_tables(rep: Reproduction) -> list[TableData]:
    """Table 3 side by side, one table per configuration (so each fits a terminal)."""
    from nnaccel.paper import ENERGY_TOL_PCT, TIME_TOL_PCT, side_by_side

    counts = rep.within_targets()
    columns = (
        Column("model", "model", numeric=False, priority=9),
        Column("time", "time_normalized", priority=8),
        Column("paper", "paper_time", priority=7),
        Column("Δ", "time_error_pct", priority=6),
        Column("energy", "energy_mac_units", priority=8),
        Column("paper", "paper_energy", priority=7),
        Column("Δ", "energy_error_pct", priority=6),
    )
    tables = []
    for config, results in rep.runs:
        _, rows = side_by_side(rep, [config.label])
        hw = config.hardware
        c = counts[config.label]
        use = {config.sparsity(r.network).text for r in results}
        tables.append(TableData(
            title=f"Table 3 reproduced: {hw.array_label} PEs, {hw.buffer_label} buffer"
                  f" ({config.label}), {' / '.join(sorted(use))}",
            caption=f"time: × the fastest network of the configuration; energy: MAC units;"
                    f" ✓ within ±{TIME_TOL_PCT:g}% (time) / ±{ENERGY_TOL_PCT:g}% (energy):"
                    f" time {c['time_within']}/{c['time_rows']}, energy {c['energy_within']}/"
                    f"{c['energy_rows']}",
            columns=columns, rows=tuple(tuple(r) for r in rows), name=config.label))
    return tables


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
@format_option
def paper(doc_path: str | None, figures_dir: str | None, json_path: str | None,
          jobs: int | None, fmt: str) -> None:
    """Table 3 reproduced, ours beside the paper's with the error of each figure, then the
    paper's claims, each marked holds / does not hold with our numbers."""
    if figures_dir and not doc_path:
        raise click.UsageError("--figures needs --write FILE (the figures are the document's)")
    # Imported here: the simulator loads numba, which `nnaccel list` should not pay for.
    from nnaccel.paper import CONFIGS, TABLE3_MODELS, report_json, reproduce, write_document
    from nnaccel.report import write_json

    check_outputs([("--write", doc_path), ("--json", json_path)])
    if figures_dir and os.path.exists(figures_dir) and not os.path.isdir(figures_dir):
        raise OutputError(f"--figures {figures_dir!r}: is not a directory")
    with progress_bar() as bar:
        advance = None
        if bar is not None:
            task = bar.add_task("loading the simulator", total=len(TABLE3_MODELS) * len(CONFIGS))

            def advance(label: str, name: str) -> None:
                bar.update(task, advance=1, description=f"{label}: {name}", refresh=True)

        rep = run_in_child(reproduce, jobs=jobs, progress=advance,
                           tick=bar.refresh if bar is not None else None)
    emit(report_tables(rep), fmt, group="config")
    if fmt == "table":
        console = stdout_console()
        console.print("[bold]The paper's claims[/bold]")
        for c in rep.claims:
            mark = "[green]holds[/green]" if c.holds else "[red]does not hold[/red]"
            console.print(f"({c.key}) {escape(c.text)}: {mark}. {escape(c.evidence)}",
                          soft_wrap=not console.is_terminal)
    if json_path:
        write_json(json_path, report_json(rep))
    if doc_path:
        for p in write_document(rep, Path(doc_path), Path(figures_dir) if figures_dir else None):
            click.echo(f"wrote {p}")
