"""The first run of a version compiles the simulator's kernels (numba, cached afterwards):
tens of seconds in which nothing else moves. `warm_up` does that compile up front, under a
ticking spinner with an estimate of the time left, so no command sits silent; `make install`
runs it (`nnaccel warm-up`), so that `make run` starts warm.

The estimate is measured on this machine, now: the last compile's time here, scaled by how
busy the machine is now against then (the load average over the cores: the compile runs in
two processes, each slowed when more programs than cores want to run). Before any compile
here, the time measured on the project's 2-core machine, scaled by this machine's speed
(the CPU time of a short loop, against that machine's) and its load now.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

#: Cold compile of the search kernel on the project's 2-core machine (`nnaccel warm-up`):
#: about 13 s (the cold `run`'s 14.9 s, machine load 1.5-2.8, less the run itself).
REFERENCE_COMPILE_S = 13.0
#: The CPU time of `_calibration_loop` on that machine (0.0176-0.0196 s, three runs).
REFERENCE_LOOP_CPU_S = 0.018
_RECORD = "nnaccel-compile-seconds.json"


def _record_path() -> Path | None:
    """Where the last compile's time is kept: numba's cache folder for the engines."""
    try:
        from numba.core import config

        from nnaccel.engines import fast

        base = Path(config.CACHE_DIR) if config.CACHE_DIR else Path(fast.__file__).parent / "__pycache__"
        return base / _RECORD
    except Exception:  # numba's internals moved: no record, the reference estimate
        return None


def busy_factor(load: float | None = None, cpus: int | None = None) -> float:
    """How much slower two processes run now than on an idle machine: 1 while the programs
    that want to run (the load average, and these two) fit on the cores."""
    cpus = cpus or os.cpu_count() or 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
    return max(1.0, (load + 2) / cpus)


def _calibration_loop() -> float:
    """CPU seconds of a fixed piece of interpreted work (best of three): this machine's speed
    against the reference machine's, whatever else is running."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        x = 0
        for i in range(300_000):
            x += i * i % 7
        best = min(best, time.process_time() - start)
    return best


def estimate_seconds() -> float:
    """The compile's expected time on this machine now (module doc)."""
    path = _record_path()
    try:
        record = json.loads(path.read_text()) if path else None
        seconds = float(record["seconds"])
        then = busy_factor(float(record.get("load", 0.0)), int(record.get("cpus", 0)) or None)
        return seconds * busy_factor() / then
    except (OSError, ValueError, KeyError, TypeError):
        speed = max(0.25, _calibration_loop() / REFERENCE_LOOP_CPU_S)
        return REFERENCE_COMPILE_S * speed * busy_factor()


def _remember(seconds: float, load: float) -> None:
    path = _record_path()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"seconds": round(seconds, 1), "load": round(load, 2),
                                    "cpus": os.cpu_count()}))
    except OSError:
        pass  # a read-only install: the next cold start estimates from the reference


class TimeLeftColumn(ProgressColumn):
    """'about 12 s left', counted down from an estimate; past it, 'longer than the 17 s
    estimated' rather than a frozen zero."""

    def __init__(self, estimate: float):
        super().__init__()
        self.estimate = estimate

    def render(self, task) -> Text:  # noqa: ANN001 - rich's Task
        elapsed = task.elapsed or 0.0
        left = self.estimate - elapsed
        if left >= 1:
            return Text(f"about {left:.0f} s left")
        return Text(f"longer than the {self.estimate:.0f} s estimated", style="yellow")


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
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    what = "compiling the simulator's kernels, once per version"
    start = time.perf_counter()
    if console.is_terminal:
        # A refresh thread keeps the spinner and the clock moving while numba holds the main
        # thread; the compile's forked child never touches the terminal.
        with Progress(SpinnerColumn(), TextColumn(what), TimeElapsedColumn(),
                      TimeLeftColumn(estimate), console=console, transient=True) as bar:
            bar.add_task("compile", total=None)
            warm.compile_search()
    else:
        if always_report:
            console.print(f"{what} (about {estimate:.0f} s on this machine now) ...",
                          highlight=False)
        warm.compile_search()
    seconds = time.perf_counter() - start
    _remember(seconds, load)
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
