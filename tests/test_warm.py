"""The search kernel compiled on two cores on a cold numba cache (nnaccel.engines.warm).

One cold compile in a fresh cache directory, in a child process (about 20 s): the two
processes must compile disjoint sets of kernels (numba's cache index is not safe against two
writers of one kernel), every signature in `warm` must be the one search_grid asks for (else
the final step compiles that kernel again), and a second process must load it all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nnaccel.engines import warm

SCRIPT = """
import json
from nnaccel.engines import fast, jitlink, warm
from nnaccel.hardware import preset
from nnaccel.loader import load_network
from nnaccel.simulate import simulate
report = warm.compile_search()
result = simulate(load_network("sqnxt23v5"), preset("paper-8x8"))
(cres,) = fast.search_grid.overloads.values()
# the separate kernels search_grid's library loads first, and the functions it defines itself
loads = sorted({f.qualname for f in cres.reload_init if isinstance(f, jitlink._Load)})
defined = [f.name for f in cres.library._final_module.functions if not f.is_declaration]
print(json.dumps({"report": report, "cycles": result.cycles, "loads": loads, "defined": defined,
                  "separate": sorted(jitlink._SEPARATE),
                  "prefixes": [jitlink._mangled_prefix(d) for ds in jitlink._SEPARATE.values()
                               for d in ds]}))
"""


def _run(cache_dir: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parallel compile forks")
def test_cold_compile_splits_the_kernels_and_a_warm_process_loads_them(tmp_path):
    from nnaccel.hardware import preset
    from nnaccel.loader import load_network
    from nnaccel.simulate import simulate

    cold = _run(str(tmp_path))
    r = cold["report"]
    assert r["parallel"] and r["child_ok"]
    shared, child, parent, final = (set(r[k]) for k in ("shared", "child", "parent", "final"))
    assert child and parent
    assert not child & parent, "the two processes compiled the same kernel"
    assert not shared & (child | parent), "a shared leaf was compiled again after the fork"
    assert final == {"search_grid"}, "a kernel was compiled again: its signature in warm differs"
    # the evaluation kernel beside search_grid's own code, sharing none of it; then a load
    evaluate = set(r["evaluate"])
    assert "_evaluate_many" in evaluate and not evaluate & (shared | child | parent | final)
    assert r["evaluate_load"] == []
    # every kernel named in the groups was compiled where it was meant to be
    assert {name for name, _ in warm.SHARED} <= shared
    assert {name for name, _ in warm.CHILD} <= child
    assert {name for name, _ in warm.PARENT} <= parent

    # the large callees are called, not linked: search_grid's machine code holds none of them,
    # and its cache entry loads each before itself (a warm process, below, runs that way)
    # (`_walk` through `_walk_classes`, whose own entry loads it)
    assert set(cold["loads"]) >= {"_combos", "_compute_tables", "_context", "_grid_stats",
                                  "_walk_classes"} and set(cold["loads"]) <= set(cold["separate"])
    assert not [f for f in cold["defined"] if f.startswith(tuple(cold["prefixes"]))]
    assert any("search_grid" in f for f in cold["defined"])

    warm_run = _run(str(tmp_path))
    assert not warm_run["report"]["parallel"] and warm_run["report"]["final"] == []
    assert warm_run["loads"] == cold["loads"]
    expected = simulate(load_network("sqnxt23v5"), preset("paper-8x8")).cycles
    assert cold["cycles"] == warm_run["cycles"] == expected


def test_a_cache_that_cannot_be_read_is_not_taken_for_a_cold_one(monkeypatch):
    class Broken:
        @property
        def _cache(self):
            raise AttributeError("no cache here")

    monkeypatch.setattr(warm.fast, "search_grid", Broken())
    assert warm.search_is_cached() is None


@pytest.mark.parametrize("cached, said", [(False, True), (True, False), (None, False)])
def test_a_terminal_sees_a_spinner_on_the_first_compile_only(monkeypatch, tmp_path, cached, said):
    import io

    from rich.console import Console

    from nnaccel.cli import progress

    compiled = []
    monkeypatch.setattr(warm, "search_is_cached", lambda: cached)
    monkeypatch.setattr(warm, "compile_search", lambda: compiled.append(1))
    monkeypatch.setattr(progress, "_record_path", lambda: tmp_path / "seconds.json")
    out = io.StringIO()
    spent = progress.warm_up(Console(file=out, force_terminal=True, width=200))
    assert ("compiling the simulator's kernels" in out.getvalue()) == said
    assert (spent is not None) == said == bool(compiled)
    if said:  # the time is kept as the next cold start's estimate
        assert progress.estimate_seconds() == pytest.approx(round(spent, 1))
    quiet = io.StringIO()  # not a terminal (a pipe, a log): no spinner, whatever the cache
    progress.warm_up(Console(file=quiet, force_terminal=False))
    assert quiet.getvalue() == ""
