"""Running a sweep's tasks on this machine: in this process, or on a pool of worker processes.

Workers are forked once and live for the whole sweep, so each loads the compiled kernels once
(the parent loads them first, by running the first task itself, and the children inherit
them) and keeps its search caches across tasks. Finished tasks come back as they finish;
the parent alone writes the store. Workers ignore Ctrl-C (the parent decides: it stops them
and keeps what is stored) and exit when the parent is gone, even after a SIGKILL.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from nnaccel.errors import NnaccelError
from nnaccel.network import Network
from nnaccel.sweep.point import CacheMap, Task, run_task, warm

#: Called in the parent with each finished task and its (key, row) pairs.
OnDone = Callable[[Task, list[tuple[str, dict[str, Any]]]], None]
#: Tasks one worker runs in order (points of one family or buffer ladder: `run.make_batches`).
Batch = tuple[Task, ...]

# A worker process's networks and caches, set by the pool's initializer (per process).
_WORKER: dict[str, Any] = {}


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(0.5)


def _init(networks: Sequence[Network], parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the parent's SIGTERM handler (the CLI's) is not a worker's: the pool stops its workers
    # with SIGTERM, which must end them at once, silently
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the parent's fork
    _WORKER["networks"] = networks
    _WORKER["caches"] = CacheMap()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _work(item: tuple[int, Batch]) -> tuple[int, list[list[tuple[str, dict[str, Any]]]]]:
    index, batch = item
    try:
        return index, [run_task(_WORKER["networks"], task, _WORKER["caches"]) for task in batch]
    except NnaccelError as e:
        # Subclasses with extra constructor arguments do not survive unpickling; the message does.
        raise NnaccelError(str(e)) from None


def run_local(networks: Sequence[Network], batches: Sequence[Batch], jobs: int,
              on_done: OnDone) -> None:
    """Every batch of tasks, on `jobs` processes (1: this one), each batch's tasks in order on
    one process; `on_done` as each task finishes (a pool's: as its batch finishes)."""
    caches = CacheMap()
    if not batches:
        return
    if jobs <= 1 or len(batches) == 1 or "fork" not in mp.get_all_start_methods():
        for batch in batches:
            for task in batch:
                on_done(task, run_task(networks, task, caches))
        return
    # The kernels loaded (or compiled) here, once, for every child.
    warm(networks, batches[0][0].point)
    ctx = mp.get_context("fork")
    # Ctrl-C is held back while the workers fork: Python runs at-fork handlers (logging's) in
    # which a KeyboardInterrupt is printed and dropped; held, it arrives right after.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pool = ctx.Pool(min(jobs, len(batches)), initializer=_init,
                        initargs=(networks, os.getpid()))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        for index, results in pool.imap_unordered(_work, enumerate(batches), chunksize=1):
            for task, rows in zip(batches[index], results, strict=True):
                on_done(task, rows)
    finally:
        pool.terminate()
        pool.join()
