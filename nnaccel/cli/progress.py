"""The first run of a version compiles the simulator's kernels (numba, cached afterwards):
tens of seconds in which nothing else moves. `warm_up` does that compile up front, under a
ticking spinner with an estimate, so no command sits silent; `make install` runs it
(`nnaccel warm-up`), so that `make run` starts warm.

The estimate is the last compile's time on this machine, kept beside numba's cache; before
any compile here, the time measured on the project's 2-core machine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

#: Cold compile of the search kernel on the project's 2-core machine (`nnaccel warm-up`,
#: idle machine): 15-17 s. Used until this machine has measured its own.
DEFAULT_ESTIMATE_S = 17.0
_RECORD = "nnaccel-compile-seconds.json"


def _record_path() -> Path | None:
    """Where the last compile's time is kept: numba's cache folder for the engines."""
    try:
        from numba.core import config

        from nnaccel.engines import fast

        base = Path(config.CACHE_DIR) if config.CACHE_DIR else Path(fast.__file__).parent / "__pycache__"
        return base / _RECORD
    except Exception:  # numba's internals moved: no record, the default estimate
        return None


def estimate_seconds() -> float:
    path = _record_path()
    try:
        return float(json.loads(path.read_text())["seconds"]) if path else DEFAULT_ESTIMATE_S
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_ESTIMATE_S


def _remember(seconds: float) -> None:
    path = _record_path()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"seconds": round(seconds, 1)}))
    except OSError:
        pass  # a read-only install: the next cold start uses the default estimate


def needs_compile() -> bool:
    """True when numba's cache holds no current search kernel (a cold start)."""
    from nnaccel.engines import warm

    return warm.search_is_cached() is False


def warm_up(console: Console | None = None, always_report: bool = False) -> float | None:
    """Compile the kernels now if the cache is cold, with a ticking spinner on a terminal
    (a line before and after otherwise, when `always_report`). Returns the seconds spent
    compiling, or None when there was nothing to compile."""
    from nnaccel.engines import warm

    console = console or Console(stderr=True)
    if not needs_compile():
        if always_report:
            console.print("nnaccel: the simulator's kernels are already compiled", highlight=False)
        return None
    estimate = estimate_seconds()
    what = f"compiling the simulator's kernels, once per version (about {estimate:.0f} s)"
    start = time.perf_counter()
    if console.is_terminal:
        # A refresh thread keeps the spinner and the clock moving while numba holds the main
        # thread; the compile's forked child never touches the terminal.
        with Progress(SpinnerColumn(), TextColumn(what), TimeElapsedColumn(), console=console,
                      transient=True) as bar:
            bar.add_task("compile", total=None)
            warm.compile_search()
    else:
        if always_report:
            console.print(what + " ...", highlight=False)
        warm.compile_search()
    seconds = time.perf_counter() - start
    _remember(seconds)
    if always_report or console.is_terminal:
        console.print(f"nnaccel: kernels compiled in {seconds:.1f} s", highlight=False)
    return seconds


@click.command("warm-up")
def warm_up_cmd() -> None:
    """Compile the simulator's kernels now (make install does), so the first real command
    starts at once. Nothing to do when they are compiled already."""
    from nnaccel.engines import warm
    from nnaccel.hardware import Hardware

    console = Console(stderr=True)
    warm_up(console, always_report=True)
    # the kernels no command needs first (sweep's proofs, the step engine): quietly after
    start = time.perf_counter()
    warm.compile_all(Hardware(name="warm-up").vector())
    if time.perf_counter() - start > 1:
        console.print(f"nnaccel: the other kernels compiled in {time.perf_counter() - start:.1f} s",
                      highlight=False)
