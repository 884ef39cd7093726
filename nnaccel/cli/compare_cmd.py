"""`nnaccel compare`: networks side by side on one or more configurations, as Table 3."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nnaccel.cli.child import run_in_child
from nnaccel.cli.hwopts import hardware_options
from nnaccel.cli.progress import warm_up
from nnaccel.cli.tables import Column, TableData, emit, format_option
from nnaccel.errors import NnaccelError
from nnaccel.hardware import PRESETS
from nnaccel.loader import bundled_networks, load_network
from nnaccel.network import Network
from nnaccel.outputs import check_outputs

# The simulator (numba) and the report are imported inside the commands: every
# registered command module is imported whenever `nnaccel` starts, even for `nnaccel list`.
if TYPE_CHECKING:
    from nnaccel.compare import Config
    from nnaccel.simulate import Result

ENGINE_NAMES = ("fast", "step")  # checked against nnaccel.simulate.ENGINES by the tests


def load_networks(nets: Sequence[str], all_: bool, sparsity: str | None = None) -> list[Network]:
    """The networks named, or every bundled one with --all; all loaded (and so validated)
    before anything is simulated, so a bad file fails fast. `sparsity`: load_network's."""
    if all_ and nets:
        raise NnaccelError("give NET... or --all, not both")
    if not all_ and not nets:
        raise NnaccelError("give one or more networks (NET...) or --all")
    return [load_network(p, sparsity) for p in (bundled_networks() if all_ else nets)]


@contextmanager
def progress_bar() -> Iterator[Progress | None]:
    """A progress bar on stderr, or nothing when stderr is not a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    warm_up(console)  # before the bar, and before any worker is forked
    # No refresh thread of rich's (auto_refresh=False): compare forks, and a thread holding
    # the terminal's lock at the fork would leave it held in the child. Callers refresh on
    # each update and pass `bar.refresh` as run_in_child's `tick`, a thread it starts after
    # the fork: the spinner and the clocks move between updates. The time left is rich's
    # estimate from the pace measured so far on this machine.
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"),
                  TimeRemainingColumn(), console=console, transient=True,
                  auto_refresh=False) as bar:
        yield bar


def simulate_with_progress(networks: Sequence[Network], configs: Sequence[Config], engine: str,
                           jobs: int | None) -> list[tuple[Config, list[Result]]]:
    from nnaccel.compare import run_configs

    total = len(networks) * len(configs)
    with progress_bar() as bar:
        if bar is None:
            return run_in_child(run_configs, networks, configs, engine, jobs)
        task = bar.add_task("loading the simulator", total=total)

        def advance(label: str, name: str) -> None:
            bar.update(task, advance=1, description=f"{label}: {name}", refresh=True)

        return run_in_child(run_configs, networks, configs, engine, jobs, progress=advance,
                            tick=bar.refresh)


def _pct(x: float | None) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.1f}%"


def _num(x: float | None, fmt: str) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


COMPARE_COLUMNS = (
    Column("model", "model", numeric=False, priority=9),
    Column("config", "config", numeric=False, priority=8),
    Column("cycles", "cycles", priority=6),
    Column("time ×", "time_normalized", priority=7),
    Column("paper ×", "paper_time", priority=5),
    Column("Δ time", "time_error_pct", priority=5),
    Column("energy (MAC units)", "energy_mac_units", priority=7),
    Column("paper energy", "paper_energy", priority=4),
    Column("Δ energy", "energy_error_pct", priority=4),
    Column("energy/MAC", "energy_per_mac", priority=2),
    Column("util.", "utilization", priority=3),
    Column("DRAM MB", "dram_mb", priority=2),
)


def compare_table(rows: Sequence[dict]) -> TableData:
    """Table 3's rows as a table, a rule between configurations."""
    from nnaccel.report import fmt_int

    cells = tuple((
        r["model"], r["config"], fmt_int(r["cycles"]), f"{r['time_normalized']:.2f}",
        _num(r["paper_time"], ".2f"), _pct(r["time_error_pct"]),
        f"{r['energy_mac_units']:.3g}", _num(r["paper_energy"], ".2g"),
        _pct(r["energy_error_pct"]), f"{r['energy_per_mac']:.2f}",
        f"{r['utilization']:.3f}", f"{r['dram_bytes'] / 1e6:.2f}") for r in rows)
    ends = frozenset(i for i in range(len(rows) - 1) if rows[i]["config"] != rows[i + 1]["config"])
    title = ("Networks by configuration (time normalized to the fastest of each"
             " configuration; Δ = ours vs the paper's Table 3)")
    columns = COMPARE_COLUMNS
    used = sparsity_phrases(rows)
    if len(used) == 1:
        title += f"; weight sparsity: {used[0]}"
    else:  # per row: a column, and the title says so
        title += "; weight sparsity differs by row (the sparsity column)"
        columns = (*COMPARE_COLUMNS, Column("sparsity", "sparsity", numeric=False, priority=6))
        cells = tuple((*c, sparsity_phrases([r])[0]) for c, r in zip(cells, rows, strict=True))
    return TableData(title=title, columns=columns, rows=cells, keys=1, section_ends=ends)


def sparsity_phrases(rows: Sequence[dict]) -> list[str]:
    """The distinct weight sparsities of compare rows, each as '40% (the default, paper §3)'."""
    from nnaccel.assumptions import percent

    return list(dict.fromkeys(f"{percent(r['sparsity'])} ({r['sparsity_source']})"
                              for r in rows))


@click.command("compare")
@click.argument("nets", nargs=-1, metavar="NET...")
@click.option("--all", "all_", is_flag=True, help="Every bundled network (nnaccel list).")
@hardware_options(tuple(PRESETS))
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="fast", show_default=True,
              help="fast: closed forms per tile; step: one clock at a time (same answer, slower).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes (default: one per configuration when that is faster).")
@click.option("--csv", "csv_path", metavar="FILE",
              help="Write one row per network and configuration to FILE.")
@click.option("--json", "json_path", metavar="FILE",
              help="Write the rows and the hardware of each configuration to FILE.")
@format_option
@click.option("--quiet", "-q", is_flag=True,
              help="No table (needs --csv or --json: the results must go somewhere).")
def compare(nets: tuple[str, ...], all_: bool, configs: Sequence[Config],
            network_sparsity: str | None, engine: str, jobs: int | None, csv_path: str | None,
            json_path: str | None, fmt: str, quiet: bool) -> None:
    """Simulate networks on one or more configurations, one row per network and configuration.

    Time is normalized to the fastest network of each configuration in this run, as the
    paper's Table 3 does; where Table 3 has the network and the configuration, its time and
    energy are beside ours with the difference in %.

    Example: nnaccel compare --all --csv out.csv
    """
    from nnaccel.compare import COLUMNS, compare_json, compare_rows
    from nnaccel.report import write_csv, write_json

    if quiet and not (csv_path or json_path):
        raise click.UsageError("-q prints nothing: give --csv FILE or --json FILE for the"
                               " results, or leave out -q")
    networks = load_networks(nets, all_, network_sparsity)
    check_outputs([("--csv", csv_path), ("--json", json_path)], [n.path for n in networks])
    runs = simulate_with_progress(networks, configs, engine, jobs)
    rows = compare_rows(runs)
    if csv_path:
        write_csv(csv_path, rows, COLUMNS)
    if json_path:
        write_json(json_path, compare_json(runs))
    if not quiet:
        emit([compare_table(rows)], fmt)
