"""`nnaccel compare`: networks side by side on one or more configurations, as Table 3."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nnaccel.cli.child import run_in_child
from nnaccel.cli.console import Console
from nnaccel.errors import NnaccelError
from nnaccel.network import Network, bundled_networks, load_network
from nnaccel.outputs import check_outputs

# The simulator (numba) and the report are imported inside the commands: every
# registered command module is imported whenever `nnaccel` starts, even for `nnaccel list`.
if TYPE_CHECKING:
    from nnaccel.compare import Config
    from nnaccel.simulate import Result

ENGINE_NAMES = ("fast", "step")  # checked against nnaccel.simulate.ENGINES by the tests


def load_networks(nets: Sequence[str], all_: bool) -> list[Network]:
    """The networks named, or every bundled one with --all; all loaded (and so validated)
    before anything is simulated, so a bad file fails fast."""
    if all_ and nets:
        raise NnaccelError("give NET... or --all, not both")
    if not all_ and not nets:
        raise NnaccelError("give one or more networks (NET...) or --all")
    return [load_network(p) for p in (bundled_networks() if all_ else nets)]


def announce_first_compile(console: Console) -> None:
    """Say so on a terminal before numba compiles the search kernel (once per machine and
    version: it takes tens of seconds, and nothing else moves meanwhile)."""
    from nnaccel.engines import warm

    if console.is_terminal and warm.search_is_cached() is False:
        console.print("[dim]First run of this version here: compiling the simulator's kernels"
                      " (20-30 s; numba caches them for the next runs)[/dim]", highlight=False)


@contextmanager
def progress_bar() -> Iterator[Progress | None]:
    """A progress bar on stderr, or nothing when stderr is not a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    announce_first_compile(console)
    # No refresh thread (auto_refresh=False; callers refresh on each update): compare may fork
    # workers, and a thread holding the terminal's lock at the fork would leave it held in them.
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True, auto_refresh=False) as bar:
        yield bar


def simulate_with_progress(networks: Sequence[Network], configs: Sequence[Config], engine: str,
                           jobs: int | None) -> list[tuple[Config, list[Result]]]:
    from nnaccel.compare import run_configs

    total = len(networks) * len(configs)
    with progress_bar() as bar:
        if bar is None:
            return run_in_child(run_configs, networks, configs, engine, jobs)
        task = bar.add_task("simulating", total=total)

        def advance(label: str, name: str) -> None:
            bar.update(task, advance=1, description=f"{label}: {name}", refresh=True)

        return run_in_child(run_configs, networks, configs, engine, jobs, progress=advance)


def _pct(x: float | None) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.1f}%"


def _num(x: float | None, fmt: str) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def print_table(rows: Sequence[dict], console: Console) -> None:
    from nnaccel.report import fmt_int

    table = Table(title="Networks by configuration (time normalized to the fastest of each"
                  " configuration; Δ = ours vs the paper's Table 3)")
    for col in ("model", "config", "cycles", "time ×", "paper ×", "Δ time", "energy (MAC units)",
                "paper", "Δ energy", "energy/MAC", "util.", "DRAM MB"):
        table.add_column(col, justify="left" if col in ("model", "config") else "right", no_wrap=True)
    last = None
    for r in rows:
        if last is not None and r["config"] != last:
            table.add_section()
        last = r["config"]
        table.add_row(
            r["model"], r["config"], fmt_int(r["cycles"]), f"{r['time_normalized']:.2f}",
            _num(r["paper_time"], ".2f"), _pct(r["time_error_pct"]),
            f"{r['energy_mac_units']:.3g}", _num(r["paper_energy"], ".2g"),
            _pct(r["energy_error_pct"]), f"{r['energy_per_mac']:.2f}",
            f"{r['utilization']:.3f}", f"{r['dram_bytes'] / 1e6:.2f}")
    console.print(table)


@click.command("compare")
@click.argument("nets", nargs=-1, metavar="NET...")
@click.option("--all", "all_", is_flag=True, help="Every bundled network (nnaccel list).")
@click.option("--config", "configs", multiple=True, metavar="CONFIG",
              help="A preset (paper-8x8, paper-16x16) or ROWSxCOLS:SIZE, e.g. 16x16:256KB;"
                   " repeatable (default: both paper presets).")
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="fast", show_default=True,
              help="fast: closed forms per tile; step: one clock at a time (same answer, slower).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes (default: one per configuration when that is faster).")
@click.option("--csv", "csv_path", metavar="FILE",
              help="Write one row per network and configuration to FILE.")
@click.option("--json", "json_path", metavar="FILE",
              help="Write the rows and the hardware of each configuration to FILE.")
@click.option("--quiet", "-q", is_flag=True, help="No terminal table.")
def compare(nets: tuple[str, ...], all_: bool, configs: tuple[str, ...], engine: str,
            jobs: int | None, csv_path: str | None, json_path: str | None, quiet: bool) -> None:
    """Simulate networks on one or more configurations, one row per network and configuration.

    Time is normalized to the fastest network of each configuration in this run, as the
    paper's Table 3 does; where Table 3 has the network and the configuration, its time and
    energy are beside ours with the difference in %.

    Example: nnaccel compare --all --csv out.csv
    """
    from nnaccel.compare import COLUMNS, compare_json, compare_rows, parse_configs
    from nnaccel.report import write_csv, write_json

    parsed = parse_configs(configs)  # flags first: a bad --config fails before any work
    networks = load_networks(nets, all_)
    check_outputs([("--csv", csv_path), ("--json", json_path)], [n.path for n in networks])
    runs = simulate_with_progress(networks, parsed, engine, jobs)
    rows = compare_rows(runs)
    if csv_path:
        write_csv(csv_path, rows, COLUMNS)
    if json_path:
        write_json(json_path, compare_json(runs))
    if not quiet:
        console = Console()
        print_table(rows, console if console.is_terminal else Console(width=200, file=sys.stdout))
