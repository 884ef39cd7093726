"""`nnaccel sweep` (a design-space sweep into a results store) and `nnaccel pareto`."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from nnaccel.cli.hwopts import build_configs
from nnaccel.cli.tables import FORMATS, Column, TableData, emit, format_option
from nnaccel.errors import interrupted_by
from nnaccel.sweep.spec import DEFAULT_MAX_POINTS, MAX_POINTS

_AXIS_FLAGS = (
    ("array", "--array", "PE arrays RxC: 8x8,16x16,12x4 or 4x4..32x32 (dimensions double)."),
    ("buffer", "--buffer", "Buffers: 32KB,128KB or 16KB..512KB (doubling; A..B+S steps by S)."),
    ("bandwidth", "--bandwidth", "DRAM bandwidths: 8GB/s,16GB/s (GB/s = 1e9 bytes/s)."),
    ("latency", "--latency", "DRAM latencies in cycles: 50,100,200."),
    ("sparsity", "--sparsity", "Weight sparsities: 0,0.4 or 0..0.6+0.2."),
    ("word_bits", "--word-bits", "Word widths in bits: 8,16 (partial sums twice as wide)."),
    ("dataflow", "--dataflow", "Dataflow policies: auto,ws,os."),
    ("objective", "--objective", "Tiler objectives: cycles,energy,edp."),
)


def _axis_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for name, flag, text in reversed(_AXIS_FLAGS):
        f = click.option(flag, name, metavar="LIST", help=text)(f)
    return f


def _progress(console: Console) -> tuple[Any, Callable[[int, int], None] | None]:
    """A progress bar with ETA on a terminal (none otherwise) and its update function."""
    if not console.is_terminal:
        return None, None
    from nnaccel.cli.progress import warm_up

    warm_up(console)  # a cold cache compiles here, under its spinner, before any fork
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # No refresh thread: the local executor forks, and a thread holding the terminal's lock
    # at the fork would leave it held in the workers.
    bar = Progress(TextColumn("sweeping"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True,
                   auto_refresh=False)
    task = bar.add_task("sweep", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total, refresh=True)

    return bar, update


@click.command("sweep")
@click.argument("nets", nargs=-1, metavar="[NET...]")
@click.option("--file", "-f", "sweep_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="A TOML sweep file (networks, [axes] or [[points]]); flags override it.")
@click.option("--preset", "preset_name", metavar="NAME",
              help="Base hardware preset (paper-8x8, paper-16x16); axes override its fields.")
@click.option("--hw", "hw_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Base hardware description in TOML; axes override its fields.")
@_axis_options
@click.option("--point", "points", multiple=True, metavar="'AXIS=V ...'",
              help="An explicit point instead of crossed axes, e.g. 'array=8x8 buffer=32KB';"
                   " repeatable.")
@click.option("--store", metavar="FILE",
              help="The results store (SQLite); a rerun computes only the points it lacks."
                   " Default: named after the sweep, so that two sweeps never mix by surprise:"
                   " FILE.db for --file FILE.toml, else sweep-NETS.db (e.g. sweep-all.db).")
@click.option("--csv", "csv_path", metavar="FILE", help="Write this sweep's rows to FILE (CSV).")
@click.option("--parquet", "parquet_path", metavar="FILE",
              help="Write this sweep's rows to FILE (Parquet).")
@click.option("--pareto", "pareto_metrics", metavar="M,M[,M[,M]]",
              help="Mark each network's Pareto front over two to four of area, cycles, energy,"
                   " edp (a 'pareto' column) and print the fronts.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), metavar="N",
              help="Worker processes (default: every core).")
@click.option("--max-points", type=click.IntRange(min=1), default=DEFAULT_MAX_POINTS,
              show_default=True, metavar="N",
              help="Refuse a sweep of more points than N, before any work (a typo's guard:"
                   f" raise it to confirm a larger one; at most {MAX_POINTS:,}).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run on the Dask cluster whose scheduler is at ADDRESS, e.g. tcp://host:8786.")
@click.option("--dask", "use_dask", is_flag=True,
              help="Run on Dask: the --scheduler, else a local Dask cluster of this machine.")
@click.option("--connect-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              metavar="SECONDS", help="How long to try to reach the --scheduler.")
@click.option("--search", type=click.Choice(["grid", "nsga2"]), default="grid", show_default=True,
              help="grid: every point of the axes' cross product; nsga2: a guided search"
                   " (Optuna's NSGA-II) of that grid for the front of the --pareto metrics"
                   " (default area,cycles), within --budget points.")
@click.option("--budget", type=click.IntRange(min=1), default=300, show_default=True,
              metavar="N", help="With --search nsga2: hardware points to evaluate, at most.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="With --search nsga2: the sampler's seed (the same seed resumes a search).")
@click.option("--population", type=click.IntRange(min=2), metavar="N",
              help="With --search nsga2: points per generation (default: budget/8, 8 to 50).")
@format_option
@click.option("--quiet", "-q", is_flag=True, help="Only the summary line.")
def sweep(nets: tuple[str, ...], sweep_file: str | None, preset_name: str | None,
          hw_file: str | None, points: tuple[str, ...], store: str, csv_path: str | None,
          parquet_path: str | None, pareto_metrics: str | None, jobs: int | None,
          max_points: int, scheduler: str | None, use_dask: bool, connect_timeout: float,
          search: str, budget: int, seed: int, population: int | None, fmt: str,
          quiet: bool, **axes: str | None) -> None:
    """Simulate every NET on every hardware point; rows into a resumable results store.

    NET: a bundled name, a file, a glob, 'all', or a SqueezeNext family such as
    'sqnxt:blocks=21,layout=v5,conv1=5' (every depth list of 21 blocks; docs/sweep.md).
    Axes are crossed; each point runs exactly as `nnaccel run` would, and gets area, cycles,
    time, energy (dynamic, static, total), EDP, DRAM bytes and utilization.

    Example: nnaccel sweep all --array 8x8,16x16 --buffer 32KB..512KB --csv out.csv

    A grid too large to run: nnaccel sweep sqnxt23v5 --array 4x4..64x64 --buffer 8KB..2MB
    --bandwidth 2GB/s..64GB/s --search nsga2 --budget 300 --pareto area,cycles,energy
    """
    from nnaccel.outputs import check_outputs
    from nnaccel.sweep.axes import RangeNote, SweepError
    from nnaccel.sweep.export import write_rows
    from nnaccel.sweep.pareto import network_fronts, parse_metrics
    from nnaccel.sweep.point import COLUMNS
    from nnaccel.sweep.run import plan, run_sweep
    from nnaccel.sweep.spec import build_spec
    from nnaccel.sweep.store import Store
    from nnaccel.sweep.storefile import store_problem
    from nnaccel.zoo.squeezenext import FAMILY_SOURCE

    # Everything is checked before any point runs: flags, outputs, the store, files,
    # networks, the cluster. The outputs first, against the inputs named on the command line
    # (the networks' own files once more when they are loaded).
    store = store or default_store(nets, sweep_file)
    outputs = [("--store", store), ("--csv", csv_path), ("--parquet", parquet_path)]
    named = [p for p in (sweep_file, hw_file, *_named_files(nets)) if p]
    check_outputs(outputs, named)
    problem = store_problem(Path(store), must_exist=False)
    if problem is not None:
        raise SweepError(f"--store {store}: {problem}")
    metrics = parse_metrics(pareto_metrics) if pareto_metrics else None
    if scheduler:
        from nnaccel.sweep.cluster import security_for

        security_for(scheduler)  # an unsupported protocol or TLS not set up: before any work
    base = (build_configs(presets=(preset_name,) if preset_name else (), hw_file=hw_file)[0].hardware
            if preset_name or hw_file else None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RangeNote)
        spec = build_spec(nets, axes, points, sweep_file, base)
    for w in caught:  # a range that stops short of its end says so, before any work
        if issubclass(w.category, RangeNote):
            click.echo(f"note: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if search == "nsga2":
        _guided(spec, store, metrics or parse_metrics("area,cycles"), budget, seed, population,
                jobs, scheduler, use_dask, connect_timeout, csv_path, parquet_path, fmt, quiet,
                max_points)
        return
    pl = plan(spec, max_points)
    check_outputs(outputs, [*named, *(n.path for n in pl.networks if n.path)])
    for note in pl.notes:
        click.echo(note, err=True)
    client = None
    if scheduler or use_dask:
        from nnaccel.sweep.cluster import connect

        client = connect(scheduler, connect_timeout)
    try:
        Store(store).close()  # a file that is not a store fails here, not after the work
    except BaseException:
        if client is not None:
            client.close()
        raise
    err = Console(stderr=True)
    bar, update = _progress(err)
    start = time.perf_counter()
    try:
        if bar is not None:
            with bar:
                result = run_sweep(pl, store, jobs, client, update)
        else:
            result = run_sweep(pl, store, jobs, client)
    except (KeyboardInterrupt, SystemError) as exc:
        if not interrupted_by(exc):  # a SystemError numba raised for a pending Ctrl-C only
            raise
        with Store(store, readonly=True) as st:
            have = len(st.present(pl.keys()))
        err.print(f"interrupted: {have} of {pl.size} points are in {store}; run the same command"
                  " again to compute the rest", highlight=False)
        sys.exit(130)
    finally:
        if client is not None:
            cluster = client.cluster  # the local one --dask started, else None
            client.close()
            if cluster is not None:
                cluster.close()
    seconds = time.perf_counter() - start
    rows = list(result.rows)
    columns = list(COLUMNS)
    if metrics:
        rows = network_fronts(rows, metrics)
        columns.append("pareto")
    if csv_path:
        write_rows(csv_path, rows, columns)
    if parquet_path:
        write_rows(parquet_path, rows, columns)
    failed = sum(1 for r in rows if r["error"])
    rate = result.computed / seconds if seconds > 0 else 0.0
    summary = (f"{len(rows)} points ({len(pl.networks)} networks x {len(pl.points)} hardware"
               f" points): {result.computed} computed in {seconds:.1f} s ({rate:.0f}/s),"
               f" {result.reused} from the store {store}"
               + (f"; {failed} do not fit their buffer (see the error column)" if failed else ""))
    if len(pl.points) > 1:
        summary += f"; its fronts: nnaccel pareto {shlex.quote(store)}" + (
            " --set" if len(pl.networks) > 1 else "")
    click.echo(summary, err=fmt != "table")  # --format csv/json: stdout is the table alone
    if metrics and not quiet:
        emit([_fronts_table(rows, metrics)], fmt)
    elif not quiet and len(pl.points) > 1 and len(pl.networks) <= MAX_BEST_ROWS:
        emit([_best_table(rows)], fmt)
    if not quiet and fmt == "table" and any(n.source.startswith(FAMILY_SOURCE)
                                            for n in pl.networks):
        from nnaccel.sweep.ranks import paper_ranks

        for rank in paper_ranks(rows):  # the paper's variants among a family (paper §5)
            click.echo(rank.line())


def default_store(nets: tuple[str, ...], sweep_file: str | None) -> str:
    """The store a sweep writes without --store: named after its file (sweep.toml ->
    sweep.db, beside it) or its networks (`all` -> sweep-all.db), so that different sweeps
    keep different stores and a rerun of the same sweep finds its own."""
    if sweep_file and not nets:
        return str(Path(sweep_file).with_suffix(".db"))
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", "+".join(nets or ("sweep",))).strip("-.") or "nets"
    if len(slug) > 60:  # long lists and globs: a prefix, and a hash that tells them apart
        slug = slug[:48].rstrip("-") + "-" + hashlib.sha1("\0".join(nets).encode()).hexdigest()[:8]
    return f"sweep-{slug}.db"


def _guided(spec: Any, store: str, metrics: tuple[str, ...], budget: int, seed: int,
            population: int | None, jobs: int | None, scheduler: str | None, use_dask: bool,
            connect_timeout: float, csv_path: str | None, parquet_path: str | None, fmt: str,
            quiet: bool, max_points: int) -> None:
    """`sweep --search nsga2`: the guided search, its rows stored, its fronts printed."""
    from nnaccel.sweep.export import write_rows
    from nnaccel.sweep.pareto import network_fronts
    from nnaccel.sweep.point import COLUMNS
    from nnaccel.sweep.search import nsga2, space_of
    from nnaccel.sweep.store import Store

    space_of(spec)  # a spec without axes to search fails before anything starts
    client = None
    if scheduler or use_dask:
        from nnaccel.sweep.cluster import connect

        client = connect(scheduler, connect_timeout)
    err = Console(stderr=True)
    start = time.perf_counter()
    try:
        Store(store).close()  # a file that is not a store fails here, not after the work

        def update(done: int, total: int) -> None:
            if not quiet:
                err.print(f"nsga2: {done} of at most {total} hardware points evaluated"
                          f" ({time.perf_counter() - start:.0f} s)", highlight=False)

        result = nsga2(spec, store, metrics, budget, seed, population, jobs, client, update,
                       max_points)
    except (KeyboardInterrupt, SystemError) as exc:
        if not interrupted_by(exc):
            raise
        err.print(f"interrupted: every point evaluated so far is in {store}; run the same"
                  " command (same --seed) again to resume", highlight=False)
        sys.exit(130)
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
    seconds = time.perf_counter() - start
    rows = network_fronts(list(result.rows), metrics)
    for path in (csv_path, parquet_path):
        if path:
            write_rows(path, rows, [*COLUMNS, "pareto"])
    share = result.evaluated / result.space if result.space else 0.0
    click.echo(f"nsga2: {result.evaluated} of the grid's {result.space:,} hardware points"
               f" ({share:.1%}) x {len({r['network'] for r in rows})} networks in"
               f" {seconds:.1f} s; {result.computed} computed, {result.reused} from the store"
               f" {store}", err=fmt != "table")
    if not quiet:
        emit([_fronts_table(rows, metrics)], fmt)


def _named_files(nets: tuple[str, ...]) -> list[str]:
    """The files the NET arguments name (existing paths and glob matches), found without
    reading any: inputs that no output may replace."""
    import glob

    out = []
    for item in nets:
        if item.startswith("sqnxt:"):
            continue
        out += glob.glob(item) if set("*?[") & set(item) else [item]
    return [p for p in out if os.path.lexists(p)]


#: Above this many networks the table of best configurations is left to --csv and `pareto`.
MAX_BEST_ROWS = 30


def _best_table(rows: list[dict[str, Any]]) -> TableData:
    """Per network, the configuration with the fewest cycles, the least energy, the least EDP."""
    from nnaccel.sweep.pareto import config_label, varying_columns

    varying = varying_columns(rows)
    by_net: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if not r["error"]:
            by_net.setdefault(r["network"], []).append(r)
    cells = tuple(
        (net, *(config_label(min(members, key=lambda r, m=m: r[m]), varying)
                for m in ("cycles", "energy_total", "edp")))
        for net, members in by_net.items())
    columns = (Column("network", "network", numeric=False, priority=9),
               *(Column(h, k, numeric=False) for h, k in (
                   ("fewest cycles", "fewest_cycles"), ("least energy", "least_energy"),
                   ("least EDP", "least_edp"))))
    return TableData("Best configuration per network", columns, cells, name="best")


def _fronts_table(rows: list[dict[str, Any]], metrics: tuple[str, ...]) -> TableData:
    """Each network's front and, for several networks, the set's (geometric mean)."""
    from nnaccel.sweep.axes import SweepError
    from nnaccel.sweep.pareto import config_label, set_front, varying_columns

    varying = varying_columns(rows)
    front = [r for r in rows if r.get("pareto")]
    names = list(dict.fromkeys(r["network"] for r in rows))
    if len(names) > 1:
        try:
            front += [{**r, "network": f"set of {len(names)} (geometric mean)"}
                      for r in set_front(rows, metrics) if r["pareto"]]
        except SweepError:
            pass  # no configuration ran every network: there is no set to compare
    order = {n: i for i, n in enumerate(names)}
    front.sort(key=lambda x: (order.get(x["network"], len(names)), x[metrics[0]]))
    cells = tuple((r["network"], config_label(r, varying), *(f"{r[m]:.4g}" for m in metrics))
                  for r in front)
    ends = frozenset(i for i in range(len(front) - 1)
                     if front[i]["network"] != front[i + 1]["network"])
    columns = (Column("network", "network", numeric=False, priority=9),
               Column("configuration", "configuration", numeric=False, priority=8),
               *(Column(m, m) for m in metrics))
    return TableData(f"Pareto fronts over {', '.join(metrics)}", columns, cells, keys=2,
                     section_ends=ends, name="pareto")


@click.command("pareto")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--metrics", "-m", default="area,energy", show_default=True, metavar="M,M[,M[,M]]",
              help="Two to four of area, cycles, energy, edp (all minimised).")
@click.option("--set", "network_set", is_flag=True,
              help="The front of the whole network set (geometric mean per configuration).")
@click.option("--network", "networks", multiple=True, metavar="NAME",
              help="Only this network's front; repeatable.")
@click.option("--csv", "csv_path", metavar="FILE", help="Write the front's rows to FILE.")
@click.option("--all-rows", is_flag=True, help="With --csv: every row, with a 'pareto' column.")
@click.option("--format", "fmt", type=click.Choice(("tsv", *FORMATS)), default="tsv",
              show_default=True,
              help="tsv: one tab-separated line per front row (for scripts); table: fitted to"
                   " the terminal; csv, json, markdown: the same columns, one row per line.")
def pareto(source: str, metrics: str, network_set: bool, networks: tuple[str, ...],
           csv_path: str | None, all_rows: bool, fmt: str) -> None:
    """The Pareto fronts of a sweep: SOURCE is its store (.db), CSV or Parquet file.

    Per network, or with --set for the set of networks (geometric mean over them, on the
    configurations every network ran on; it says how many networks and configurations it
    combined, and which it left out). Example: nnaccel pareto sweep-all.db -m area,edp --set
    """
    from nnaccel.outputs import check_outputs
    from nnaccel.sweep.axes import SweepError
    from nnaccel.sweep.export import rows_for_fronts, write_rows
    from nnaccel.sweep.pareto import (
        CONFIG_COLUMNS,
        config_label,
        network_fronts,
        parse_metrics,
        set_front,
        varying_columns,
    )

    chosen = parse_metrics(metrics)
    check_outputs([("--csv", csv_path)], [source])
    rows, notes = rows_for_fronts(source, chosen)
    for note in notes:
        click.echo(note, err=True)
    if networks:
        rows = [r for r in rows if r["network"] in networks]
    if not rows:
        raise SweepError(f"{source}: no rows" + (" for those networks" if networks else ""))
    varying = varying_columns(rows)
    marked = set_front(rows, chosen) if network_set else network_fronts(rows, chosen)
    out = marked if all_rows else [r for r in marked if r["pareto"]]
    if csv_path:
        cols = ([*CONFIG_COLUMNS, "networks", *chosen] if network_set
                else [c for c in marked[0] if c not in ("key", "hardware", "model_version")])
        write_rows(csv_path, out, [*(c for c in cols if c != "pareto"), "pareto"])
    if network_set:
        click.echo(set_note(rows, marked), err=True)
    front = sorted((x for x in marked if x["pareto"]),
                   key=lambda x: (x.get("network", ""), x[chosen[0]]))
    if fmt != "tsv":
        cells = tuple((f"set of {r['networks']}" if network_set else r["network"],
                       config_label(r, varying), *(f"{r[m]:.4g}" for m in chosen))
                      for r in front)
        columns = (Column("network", "network", numeric=False, priority=9),
                   Column("configuration", "configuration", numeric=False, priority=8),
                   *(Column(m, m) for m in chosen))
        what = "the network set's (geometric mean)" if network_set else "per network"
        emit([TableData(f"Pareto fronts over {', '.join(chosen)}, {what}: {source}", columns,
                        cells, keys=2, name="pareto")], fmt)
        return
    for r in front:
        who = "set" if network_set else r["network"]
        click.echo(f"{who}\t{config_label(r, varying)}\t"
                   + "\t".join(f"{m}={r[m]:.4g}" for m in chosen))


def set_note(rows: list[dict[str, Any]], set_rows: list[dict[str, Any]]) -> str:
    """What a set front combined: how many networks and configurations, and how many
    configurations it left out because some network did not run them (a store holding
    several sweeps: the cause of a front of one point)."""
    from nnaccel.sweep.pareto import CONFIG_COLUMNS

    nets = {r["network"] for r in rows}
    configs = {(*(r[c] for c in CONFIG_COLUMNS), r.get("hardware")) for r in rows
               if not r.get("error")}
    note = (f"the set's front combines {len(nets)} networks over the {len(set_rows)}"
            f" configurations every one of them ran ({len(set_rows) * len(nets)} points)")
    left = len(configs) - len(set_rows)
    if left > 0:
        note += (f"; {left} other configurations left out, not run by every network: choose"
                 " networks with --network, or keep each sweep in its own store (--store)")
    return note
