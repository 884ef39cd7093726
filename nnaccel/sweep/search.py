"""A guided search of a sweep's space: NSGA-II (Optuna's sampler) instead of the whole grid.

The axes of a sweep span a grid (their cross product) that may be far too large to run; the
search runs at most `budget` of its hardware points, chosen generation by generation by
NSGA-II (Deb et al. 2002: non-dominated sorting and crowding distance) to approach the
Pareto front of the chosen metrics. A point's metrics are those of the network set: the
geometric mean over the networks, as `pareto.set_front` has it (one network: its own).

Every evaluated point goes through `run_sweep`, so it is stored like any sweep row (same keys,
same store, on this machine's cores or on Dask) and a rerun of the same search (same seed)
asks for the same points in the same order and finds them in the store: it resumes where an
interrupted one stopped. Optuna's NSGA-II is used through its ask-and-tell interface: each
generation is asked for at once and run as one sweep, in parallel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnaccel.sweep.axes import AXES, SweepError
from nnaccel.sweep.netaxis import resolve_networks
from nnaccel.sweep.point import HwPoint, model_version, network_hash
from nnaccel.sweep.run import Plan, _unique_names, check_size, run_sweep
from nnaccel.sweep.spec import DEFAULT_MAX_POINTS, SweepSpec, _point

if TYPE_CHECKING:
    from distributed import Client

SEARCHES = ("grid", "nsga2")
#: Proposals asked for per evaluation allowed, at most: once the space is nearly exhausted
#: NSGA-II mostly proposes points it has seen, and the search stops.
MAX_ASKS_PER_EVALUATION = 20

#: Called after each generation with (points evaluated, budget).
SearchProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class SearchResult:
    """The evaluated rows (every network on every evaluated point, in evaluation order), the
    number of hardware points evaluated and of the grid, and the points computed in this run."""

    rows: tuple[dict[str, Any], ...]
    evaluated: int
    space: int
    computed: int
    reused: int
    store: Path


def space_of(spec: SweepSpec) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]:
    """The searched axes (those with more than one value) and their values."""
    if spec.points:
        raise SweepError("a guided search needs axes to search (--array 4x4..32x32 ...),"
                         " not a list of --point")
    names = tuple(a for a in AXES if a in spec.axes and len(spec.axes[a]) > 1)
    if not names:
        raise SweepError("a guided search needs at least one axis with several values")
    return names, tuple(tuple(spec.axes[a]) for a in names)


def default_population(budget: int) -> int:
    """NSGA-II's population: about eight generations within the budget, from 8 to 50."""
    return max(8, min(50, budget // 8))


def nsga2(spec: SweepSpec, store: str | Path, metrics: Sequence[str], budget: int, seed: int = 0,
          population: int | None = None, jobs: int | None = None, client: Client | None = None,
          progress: SearchProgress | None = None, max_points: int = DEFAULT_MAX_POINTS
          ) -> SearchResult:
    """Search the grid of `spec`'s axes for the front of `metrics` with at most `budget`
    hardware points (each on every network of the spec); refused, like a sweep, when that
    is more than `max_points` points."""
    import optuna
    from optuna.distributions import CategoricalDistribution

    if budget < 1:
        raise SweepError(f"--budget must be at least 1, got {budget}")
    names, values = space_of(spec)
    fixed = {a: spec.axes[a][0] for a in AXES if a in spec.axes and a not in names}
    space = math.prod(len(v) for v in values)
    networks = resolve_networks(spec.networks)
    check_size(len(networks), min(budget, space), max_points)
    hashes = tuple(network_hash(n) for n in networks)
    networks, _ = _unique_names(networks, hashes)
    version = model_version()
    pop = population or default_population(budget)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(population_size=pop, seed=seed)
    study = optuna.create_study(directions=["minimize"] * len(metrics), sampler=sampler)
    # each axis as the index of its value: the sampler's crossover and mutation act on them
    dists = {a: CategoricalDistribution(tuple(range(len(v)))) for a, v in zip(names, values,
                                                                              strict=True)}
    seen: dict[tuple[int, ...], tuple[float, ...] | None] = {}  # None: a point that failed
    order: list[tuple[int, ...]] = []
    rows_of: dict[tuple[int, ...], list[dict[str, Any]]] = {}
    computed = reused = asked = 0
    limit = min(budget, space)
    while len(seen) < limit and asked < MAX_ASKS_PER_EVALUATION * budget:
        trials = [study.ask(dists) for _ in range(pop)]
        asked += pop
        combos = [tuple(int(t.params[a]) for a in names) for t in trials]
        new = list(dict.fromkeys(c for c in combos if c not in seen))[:limit - len(seen)]
        if new:
            points = tuple(_point(spec.base, {**fixed, **{a: values[i][c[i]]
                                                         for i, a in enumerate(names)}})
                           for c in new)
            result = run_sweep(_plan(networks, hashes, points, version), store, jobs, client)
            computed += result.computed
            reused += result.reused
            per = len(networks)
            for j, c in enumerate(new):
                rows = list(result.rows[j * per:(j + 1) * per])
                rows_of[c] = rows
                seen[c] = _objectives(rows, metrics)
                order.append(c)
        for t, c in zip(trials, combos, strict=True):
            if c in seen and seen[c] is not None:
                study.tell(t, list(seen[c]))
            else:  # a point that fits no tile, or one beyond the budget
                study.tell(t, state=optuna.trial.TrialState.FAIL)
        if progress:
            progress(len(seen), limit)
    rows = tuple(r for c in order for r in rows_of[c])
    return SearchResult(rows, len(order), space, computed, reused, Path(store))


def _plan(networks: Sequence[Any], hashes: tuple[str, ...], points: tuple[HwPoint, ...],
          version: str) -> Plan:
    return Plan(tuple(networks), hashes, points, tuple(p.identity() for p in points), version)


def _objectives(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]
                ) -> tuple[float, ...] | None:
    """The set's metrics on one point (geometric means over its networks), or None when a
    network has no figures there."""
    out = []
    for m in metrics:
        vals = [r[m] for r in rows]
        if any(r["error"] or v is None or not v > 0 for r, v in zip(rows, vals, strict=True)):
            return None
        out.append(math.exp(sum(math.log(v) for v in vals) / len(vals)))
    return tuple(out)


def hypervolume(front: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The hypervolume of `front` (metrics minimised, compared in log10: the metrics span
    orders of magnitude) up to `reference` (also in the metrics' own units), by moocore."""
    import moocore
    import numpy as np

    pts = np.log10(np.asarray(front, dtype=np.float64))
    ref = np.log10(np.asarray(reference, dtype=np.float64))
    pts = pts[(pts < ref).all(axis=1)]
    return float(moocore.hypervolume(pts, ref=ref)) if len(pts) else 0.0


def reference_point(front: Sequence[Sequence[float]], margin: float = 0.1) -> list[float]:
    """A reference point for `hypervolume`: each metric's worst on `front`, a tenth of the
    front's range (in log10) beyond it."""
    import numpy as np

    pts = np.log10(np.asarray(front, dtype=np.float64))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (10 ** (hi + margin * span)).tolist()


__all__ = ["SEARCHES", "SearchResult", "default_population", "hypervolume", "nsga2",
           "reference_point", "space_of"]
