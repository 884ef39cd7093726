"""Compiling the tiler's search kernel on a cold numba cache, on two cores at once.

numba compiles a kernel together with every kernel it calls, one after the other, on one
core: `fast.search_grid` takes about 35 s on a cold cache. Most of that time goes to two
groups of callees that share only a few small leaves (the walk over a combo's tiles, and the
grid's tables and bounds), so `compile_search`:

1. compiles the shared leaves (about 1 s);
2. forks: the child compiles `CHILD`, the parent `PARENT`, each saving to numba's cache;
3. once the child is done, compiles `search_grid`: its callees are then in memory (the
   parent's) or in the cache (the child's), and only its own code and the small callees
   left out of both groups remain; at the same time a second child compiles the evaluation
   kernel `run` needs next (`fast.api._evaluate_many`, whose callees are all compiled by
   then and which shares no kernel with `search_grid`'s own code). That overlap takes the
   evaluation kernel's compile (about a fifth of a cold `run`) off the critical path.

The two groups share no kernel and their leaves are compiled before the fork, so the two
processes never write the cache entries of the same kernel: numba's cache index is not safe
against two writers. `tests/test_warm.py` checks that, and that every signature below is the
one `search_grid` asks for (a wrong one only costs time: the kernel is compiled again).

On a warm cache, or where the cache cannot be shared (caching off, no fork, the JIT
disabled), nothing of this runs and the kernels load or compile the usual way.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from numba import types
from numba.core import event

from . import fast

_I = types.int64
_F = types.float64
_B = types.boolean
_A1 = types.Array(types.int64, 1, "C")
_A2 = types.Array(types.int64, 2, "C")
_A3 = types.Array(types.int64, 3, "C")
_F1 = types.Array(types.float64, 1, "C")
_A4 = types.Array(types.int64, 4, "C")
_CONTEXT = types.Tuple((*(_A1,) * 11, _A3, _A4, _A2, _A1, _A1))  # `walk._context`

Job = tuple[str, tuple[types.Type, ...]]  # a kernel of `fast` and its argument types

SHARED: tuple[Job, ...] = (
    ("_cdiv", (_I, _I)),
    ("_xfer", (_I, _I, _I)),
    ("_nz_prefix", (_I, _I, _I, _I)),
    ("_sparsity", (_A1, _A1)),
    ("_fill", (_A1, _I)),
    ("_fill", (_F1, _F)),
    ("_span_in", (_I,) * 8),
    ("_emit", (_I,) * 7),
    ("_pooled_before", (_I,) * 6),
    ("_k_groups", (_I,) * 4),
    ("_os_step", (_I, _I, _B, _A1)),
)
CHILD: tuple[Job, ...] = (
    ("_context", (_A1, _A1, _B, _I, _I, _I, _I)),
    ("_walk", (_A1, _A1, _B, _A1, _CONTEXT, _I, _I, _I, _I, _I)),
    ("_order_flags", (_A1, _I, _I, _I, _I, _B)),
    ("_os_totals", (_CONTEXT,)),
    ("_empty_context", ()),
)
PARENT: tuple[Job, ...] = (
    ("_grid_stats", (_A1,) * 6),
    ("_compute_tables", (_A1, _A1, _I, *(_A2,) * 7)),
    ("_combo_bound", (_A1, _I, _A2, _A2, _A2, _A2, _I, _I, _I, _I, _A3, _A4, _I, _A1)),
    ("_consts", (_A1, _A1)),
    ("_static", (_A1, _I, _A2, _A2, _A2, _A2, _I, _I, _I, _I, _I, _A1)),
    ("_dma_flags", (_A1, _I, _A2, _A2, _A2, _A2, _I, _I, _I, _I, _A1)),
    ("_orders_bound", (_A1, _A2, _I, _I, _A2, _A2, _A2, _A2, *(_I,) * 7)),
    ("_footprint", (_A1, _A1, *(_I,) * 5)),
    ("_line_buffer", (_A1, _A1, *(_I,) * 7)),
    ("_line_buffer_least", (_A1, _A1, *(_I,) * 6)),
    ("_line_buffer_order", (_A1, _A1, _I, _I, _I, _A1, _I, _I, _I)),
    ("_combo_mask", (_A2, _A2, _A2, _A2, _I, _I, _I, _I)),
    ("_energy", (_A1, _F1)),
    ("_threshold", (_I, _I, _F, _I, _F1, _F1)),
    ("_argsort", (_F1, _I)),
    ("_copy", (_F1, _F1)),
    ("_decode", (_I, _I, _A1, _A1, _A1, _A1, _A1)),
    ("_slot", (_A1, _I)),
)


#: `fast.search_grid` as `nnaccel.tiler` calls it.
SEARCH_GRID: Job = ("search_grid", (_A1, _A1, _F1, _I, _I, _F1, _A1, _A1, _A1, _A1, _A1, _A2, _A3,
                                    _A3, types.Array(types.int64, 4, "C")))


#: `fast.api._evaluate_many` as `fast.evaluate` and `simulate` call it.
EVALUATE: Job = ("_evaluate_many", (_A1, _A1, _A2))


def kernel(name: str) -> Any:
    """The kernel of the `fast` package called `name` (kernel names are unique in it)."""
    if name == SEARCH_GRID[0]:
        return fast.search_grid  # through the package, where a test may replace it
    for module in fast.MODULES:
        k = getattr(module, name, None)
        if k is not None and getattr(k, "py_func", k).__module__ == module.__name__:
            return k
    raise KeyError(f"no kernel {name!r} in nnaccel.engines.fast")


def compile_jobs(jobs: Sequence[Job]) -> list[str]:
    """Compile (or load from the cache) each job; the names of the kernels of `fast` that
    were compiled, callees included, in the order they were done (a load is not a compile)."""
    with event.install_recorder("numba:compile") as rec:
        for name, args in jobs:
            kernel(name).compile(args)
    done = (ev.data["dispatcher"] for _, ev in rec.buffer if ev.is_end)
    inside = fast.__name__ + "."
    return [d.py_func.__name__ for d in done if d.py_func.__module__.startswith(inside)]


def search_is_cached() -> bool | None:
    """Whether numba's cache holds a current `search_grid` (None: cannot tell, or no cache)."""
    try:
        return bool(fast.search_grid._cache._cache_file._load_index())
    except Exception:  # numba's cache internals, or no cache at all (NullCache)
        return None


def _fork_compile(jobs: Sequence[Job]) -> tuple[int, int]:
    """A forked child that compiles `jobs` into numba's cache and reports through a pipe:
    (its pid, the pipe's read end)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compile, report through the pipe, leave at once
        status = 1
        try:
            os.close(read_end)
            start = time.perf_counter()
            done = compile_jobs(jobs)
            os.write(write_end, json.dumps([done, time.perf_counter() - start]).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _join(pid: int, read_end: int) -> tuple[bool, Any]:
    """Wait for a `_fork_compile` child: (whether it succeeded, its [compiled, seconds])."""
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read()  # until the child exits
    _, status = os.waitpid(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0
    return ok, json.loads(message) if ok else None


def compile_search() -> dict[str, Any]:
    """Make `fast.search_grid` and `fast.api._evaluate_many` (what `run` needs) ready to run,
    compiling on two cores when the cache is cold.

    Returns what was compiled where: "shared", "child", "parent", "final", "evaluate" (names
    of the kernels of `fast` compiled in each step), "parallel" and "child_ok" (bools), and
    the wall time of each step in "seconds".
    """
    report: dict[str, Any] = {"parallel": False, "shared": [], "child": [], "parent": [],
                              "final": [], "evaluate": [], "child_ok": False, "seconds": {}}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report["seconds"][step] = now - clock
        clock = now

    cached = search_is_cached()
    if cached is None:  # no cache to share, or no compiler (NUMBA_DISABLE_JIT): numba's way
        return report
    can_fork = hasattr(os, "fork") and sys.platform.startswith("linux")
    if not cached and can_fork:
        report["parallel"] = True
        report["shared"] = compile_jobs(SHARED)
        lap("shared")
        pid, read_end = _fork_compile(CHILD)
        try:
            report["parent"] = compile_jobs(PARENT)
            lap("parent")
        finally:
            report["child_ok"], message = _join(pid, read_end)
            lap("wait_for_child")
        if report["child_ok"]:
            report["child"], report["seconds"]["child"] = message
            # search_grid's own code here, the evaluation kernel's (which shares none of it,
            # and whose callees are now compiled) in a second child, at the same time
            pid, read_end = _fork_compile([EVALUATE])
            try:
                report["final"] = compile_jobs([SEARCH_GRID])
                lap("final")
            finally:
                ok, message = _join(pid, read_end)
                lap("wait_for_evaluate")
            if ok:
                report["evaluate"], report["seconds"]["evaluate"] = message
    # A load on a warm cache; else only search_grid's own code and its small callees are left.
    report["final"] = report["final"] or compile_jobs([SEARCH_GRID])
    report["evaluate_load"] = compile_jobs([EVALUATE])  # a load, after the second child
    lap("load")
    return report


#: The other kernels of `fast` (a sweep's footprint proofs, the bounds of `lower_bound`).
REST: tuple[Job, ...] = (
    ("_footprint_many", (_A1, _A1, _A2)),
    ("_bounds_many", (_A1, _A1, _A2)),
)


def compile_all(hw: Any) -> dict[str, Any]:
    """Every kernel compiled (or loaded): `compile_search` (what `run` needs, on two cores),
    the rest of `fast`, and the step engine's (by one tiny layer on `hw`, a hardware vector).
    `nnaccel warm-up` (and so `make install`) does this; a command compiles what it uses."""
    import numpy as np

    from nnaccel.engines import layout as L
    from nnaccel.engines import step

    report = compile_search()
    report["rest"] = compile_jobs(REST)
    layer = np.zeros(L.L_LEN, dtype=np.int64)
    for slot, v in ((L.L_KIND, L.KIND_CONV), (L.L_G, 1), (L.L_CGI, 2), (L.L_CGO, 2), (L.L_H, 4),
                    (L.L_W, 4), (L.L_KH, 1), (L.L_KW, 1), (L.L_SH, 1), (L.L_SW, 1), (L.L_HO, 4),
                    (L.L_WO, 4)):
        layer[slot] = v
    mapping = np.zeros(L.M_LEN, dtype=np.int64)
    mapping[L.M_DATAFLOW] = L.DF_OS
    mapping[L.M_ORDER:L.M_ORDER + 4] = (0, 1, 2, 3)
    mapping[[L.M_TX, L.M_TY, L.M_TC, L.M_TK]] = (4, 4, 2, 2)
    step.simulate(layer, hw, mapping)
    return report


__all__ = ["CHILD", "EVALUATE", "PARENT", "REST", "SEARCH_GRID", "SHARED", "compile_all",
           "compile_jobs", "compile_search", "search_is_cached"]
