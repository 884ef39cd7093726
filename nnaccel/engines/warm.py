"""Compiling the tiler's search kernel on a cold numba cache, on two cores at once.

numba compiles a kernel together with every kernel it calls, one after the other, on one
core. `fast.search_grid`'s body is split into kernels (`bounds._combos`, `bounds._round_bound`,
`bounds._class_counts`, `search._walk_classes`), and its callees fall into two groups that share only a few
small leaves (the grid's tables and bounds; the walk over a combo's tiles), so `compile_search`:

1. forks: the child compiles `CHILD` (the walk's side), the parent `PARENT` (the bounds'
   side), each saving to numba's cache; both compile the shared leaves (`SHARED`, a fraction
   of a second) first, the child in memory only, so that the leaves are not a step of their
   own before the fork;
2. then compiles `search_grid` at once: its type inference runs until it reaches the first
   kernel the parent has not compiled (one of the child's), waits there for the child, and
   goes on with the child's kernels loaded from the cache. Only its own code is left: the
   queue, and the calls. Its large callees (`jitlink.separate`: `_context`, `_walk`,
   `_walk_classes`, `_grid_stats`, `_compute_tables`, `_combos`) were optimised and made
   into machine code where they were compiled, on either core, and are called, not
   optimised again inside it;
3. as soon as the child is done, a second child compiles what `run` needs next and
   `search_grid` does not call, all of whose callees are compiled by then: the evaluation
   kernel (`fast.api._evaluate_many`) and `_order_flags` (the tiler's class tables).

Measured (CPU seconds of each step, `compile_search` on an empty cache, alternating with the
code before the split, 2 runs each): the parent's side 7.1-7.2 s (before: 6.4-6.6 s), the
child's 7.0-7.1 s (6.1 s), then `search_grid`'s own compile 2.3-2.4 s (5.8-5.9 s): about 9.5 s
to the last compile against 12.2-12.5 s; the evaluation kernel beside it 0.9 s (2.3-2.5 s).

Only one process ever writes the cache entries of a kernel (numba's cache index is not safe
against two writers): the groups share no kernel, and the child's copies of the shared
leaves are never saved. `tests/test_warm.py` checks that, and that every signature below is
the one `search_grid` asks for (a wrong one only costs time: the kernel is compiled again).

On a warm cache, or where the cache cannot be shared (caching off, no fork, the JIT
disabled), nothing of this runs and the kernels load or compile the usual way.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from numba import types
from numba.core import event
from numba.core.dispatcher import Dispatcher

from . import fast

_I = types.int64
_F = types.float64
_B = types.boolean
_A1 = types.Array(types.int64, 1, "C")
_A2 = types.Array(types.int64, 2, "C")
_A3 = types.Array(types.int64, 3, "C")
_F1 = types.Array(types.float64, 1, "C")
_F2 = types.Array(types.float64, 2, "C")
_B1 = types.Array(types.boolean, 1, "C")
_A4 = types.Array(types.int64, 4, "C")
_CONTEXT = types.Tuple((*(_A1,) * 11, _A3, _A4, _A2, _A1, _A1))  # `context._context`

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
    ("_key", (_I, _I, _I, _F, _I, _F1)),
    ("_less", (_F1, _F1)),
    ("_empty_context", ()),  # a leaf search_grid reaches before `_context`
)
CHILD: tuple[Job, ...] = (
    ("_context", (_A1, _A1, _B, _I, _I, _I, _I)),
    ("_walk", (_A1, _A1, _B, _A1, _CONTEXT, _I, _I, _I, _I, _I)),
    # search_grid's leaves that its type inference reaches after `_context`: the parent
    # types the rest of search_grid's code while the child compiles them
    ("_os_totals", (_CONTEXT,)),
    ("_threshold", (_I, _I, _F, _I, _F1, _F1)),
    ("_decode", (_I, _I, _A1, _A1, _A1, _A1, _A1)),
    ("_walk_classes", (_A1, _A1, _B, _I, _I, _I, *(_A1,) * 4, *(_I,) * 3, _A2, _A3, _I,
                       _CONTEXT, _I, *(_A1,) * 4, _F1, _A1, _A1, _A2, _F1, _F2, _A2, _A2, _B1,
                       _F1, _F1, _A1)),
)
PARENT: tuple[Job, ...] = (
    # the queue and its heap (leaves of search_grid alone): here, so that this side ends
    # after the child's (the second child forks when this side is done, and waits for the
    # first: two children at once would each count the parent's memory)
    ("_heapify", (_F1, _A1, _I)),
    ("_heap_pop", (_F1, _A1, _I)),
    ("_heap_push", (_F1, _A1, _I, _F, _I)),
    ("_queue", (_I, _F1, _A1, _A1, _F1, _A1, _A1, _I, _F2, _F1, _A1, _F1)),
    ("_grid_stats", (_A1,) * 6),
    ("_compute_tables", (_A1, _A1, _I, *(_A2,) * 7)),
    ("_combo_bound", (_A1, _I, _A2, _A2, _A2, _A2, _I, _I, _I, _I, _A3, _A4, _I, _A1)),
    ("_consts", (_A1, _A1)),
    ("_static", (_A1, _I, _A2, _A2, _A2, _A2, _I, _I, _I, _I, _I, _A1)),
    ("_dma_flags", (_A1, _I, _A2, _A2, _A2, _A2, _I, _I, _I, _I, _A1)),
    ("_orders_bound", (_A1, _A2, _I, _I, _A2, _A2, _A2, _A2, *(_I,) * 7)),
    ("_line_buffer_least", (_A1, _A1, *(_I,) * 6)),
    ("_combo_mask", (_A2, _A2, _A2, _A2, _I, _I, _I, _I)),
    ("_energy", (_A1, _F1)),
    ("_footprint", (_A1, _A1, *(_I,) * 5)),
    ("_line_buffer_order", (_A1, _A1, _I, _I, _I, _A1, _I, _I, _I)),
    ("_slot", (_A1, _I)),
    ("_argsort", (_F1, _I, _A1)),
    ("_combos", (_A1, _A1, _F1, _I, _I, *(_A1,) * 5, *(_A2,) * 4, _A3, _A4, _A1, _I)),
    ("_round_bound", (_I, _A1, _I, _A2, _I, _I, *(_A2,) * 4, _A3, _A4, *(_I,) * 5, _A1, _I, _F,
                      _I, _F1)),
    ("_class_counts", (_I, _A1, _A2, _A3, _I, _I, *(_A1,) * 3, *(_A1,) * 4, *(_A2,) * 4,
                       *(_I,) * 6, _F1, _A1, _F1, _A1, _A2, *(_A1,) * 4, _F1, _F1, _F1, _A1,
                       _A1, _A1)),
)


#: `fast.search_grid` as `nnaccel.tiler` calls it.
SEARCH_GRID: Job = ("search_grid", (_A1, _A2, _F1, _I, _I, _F2, _A1, _A1, _A1, _A1, _A1, _A2, _A3,
                                    _A3, types.Array(types.int64, 4, "C")))


#: `fast.api._evaluate_many` as `fast.evaluate` and `simulate` call it.
EVALUATE: Job = ("_evaluate_many", (_A1, _A1, _A2))

#: What `run` needs beside `search_grid`, none of which `search_grid` calls: the tiler's class
#: tables (`_order_flags`, also a callee of the evaluation kernel), then the evaluation kernel.
BESIDE: tuple[Job, ...] = (("_order_flags", (_A1, _I, _I, _I, _I, _B)), EVALUATE)


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


def _fork_compile(jobs: Sequence[Job], private: Sequence[Job] = (), go: int | None = None,
                  inherited: Sequence[int] = ()) -> tuple[int, int]:
    """A forked child that compiles `jobs` into numba's cache and reports through a pipe:
    (its pid, the pipe's read end). It compiles `private` first, in memory only: their cache
    entries are another process's to write. With `go` (a pipe's read end), it first waits
    for a byte there: b"1" to compile, anything else (or the pipe closed) to leave at once.
    `inherited`: the parent's descriptors the child closes (a pipe's write end must be held
    by its writer alone)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compile, report through the pipe, leave at once
        status = 1
        try:
            os.close(read_end)
            for fd in inherited:
                os.close(fd)
            if go is not None:
                with os.fdopen(go, "rb") as pipe:
                    if pipe.read(1) != b"1":
                        os._exit(3)
            start = time.perf_counter()
            if private:
                from numba.core.caching import NullCache

                for name in {name for name, _ in private}:
                    kernel(name)._cache = NullCache()  # this process's copy of the kernel
                compile_jobs(private)
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


@contextlib.contextmanager
def _first(before: Callable[[], None]) -> Iterator[None]:
    """Within: `before()` runs first when numba asks for any kernel of `fast` (but
    `search_grid`) that this process has not compiled, i.e. one of the child's."""
    waiting = []
    for module in fast.MODULES:
        for k in vars(module).values():
            if (isinstance(k, Dispatcher) and k.py_func.__module__ == module.__name__
                    and k.py_func is not fast.search.search_grid.py_func and not k.overloads):
                def compile_after(sig: Any, _compile: Any = k.compile) -> Any:
                    before()
                    return _compile(sig)

                k.compile = compile_after  # numba's type inference calls it on this object
                waiting.append(k)
    try:
        yield
    finally:
        for k in waiting:
            del k.compile


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
        # numba's compiler imports its implementation modules on first use (a cache load
        # does not: `jitcache`): here, once, so that the children share them instead of each
        # importing its own (80 MB more of the tree's memory in a cold `compare --all`)
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()
        pid, read_end = _fork_compile(CHILD, private=SHARED)
        go_read, go_write = os.pipe()
        pid2 = None
        joined = False

        def join_child() -> None:
            """Wait for the first child; then let the second start (or, if the first failed,
            leave: the kernels it should have cached are this process's to compile now)."""
            nonlocal joined
            if joined:
                return
            joined = True
            start = time.perf_counter()
            report["seconds"]["final_before_child"] = start - clock  # the overlap
            try:
                report["child_ok"], message = _join(pid, read_end)
                if report["child_ok"]:
                    report["child"], report["seconds"]["child"] = message
            finally:
                report["seconds"]["wait_for_child"] = time.perf_counter() - start
                os.write(go_write, b"1" if report["child_ok"] else b"0")
                os.close(go_write)

        try:
            report["shared"] = compile_jobs(SHARED)
            lap("shared")
            report["parent"] = compile_jobs(PARENT)
            lap("parent")
            # What run needs beside search_grid, in a second child once the first is done
            # (its callees are then all compiled or cached); search_grid here, at once: its
            # type inference waits for the first child only when it reaches the first
            # kernel of the child's group.
            pid2, read2 = _fork_compile(BESIDE, go=go_read, inherited=(go_write, read_end))
            os.close(go_read)
            with _first(join_child):
                report["final"] = compile_jobs([SEARCH_GRID])
            lap("final")
        finally:
            join_child()
            if pid2 is None:
                os.close(go_read)
            else:
                ok, message = _join(pid2, read2)
                lap("wait_for_evaluate")
                if ok:
                    report["evaluate"], report["seconds"]["evaluate"] = message
    # A load on a warm cache; else only search_grid's own code and its small callees are left.
    report["final"] = report["final"] or compile_jobs([SEARCH_GRID])
    report["evaluate_load"] = compile_jobs(BESIDE)  # a load, after the second child
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


__all__ = ["BESIDE", "CHILD", "EVALUATE", "PARENT", "REST", "SEARCH_GRID", "SHARED", "compile_all",
           "compile_jobs", "compile_search", "search_is_cached"]
