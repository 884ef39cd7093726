"""A sweep from spec to stored rows: plan every point, compute only those the store lacks.

`plan` loads every network and builds every point first, so bad input fails before any work;
`run_sweep` groups the missing points into tasks (networks on one hardware point, sharing one
search cache), runs them locally or on Dask, stores each task's rows as it finishes and
returns the sweep's rows, in order, from the store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnaccel.network import Network
from nnaccel.sweep.axes import SweepError
from nnaccel.sweep.local import default_jobs, run_local
from nnaccel.sweep.netaxis import count_networks, resolve_networks
from nnaccel.sweep.point import COLUMNS, HwPoint, Task, model_version, network_hash, point_key
from nnaccel.sweep.spec import DEFAULT_MAX_POINTS, MAX_POINTS, SweepSpec
from nnaccel.sweep.store import Store

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

#: Called after each finished task with (points done so far, points to do).
Progress = Callable[[int, int], None]
#: Tasks per worker a sweep aims for when it splits a point's networks (for balance).
TASKS_PER_WORKER = 4


@dataclass(frozen=True)
class Plan:
    """Every point of a sweep: networks x hardware points, with their keys."""

    networks: tuple[Network, ...]
    hashes: tuple[str, ...]
    points: tuple[HwPoint, ...]
    identities: tuple[str, ...]
    version: str
    #: What the user should know of the plan: names made unique.
    notes: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.networks) * len(self.points)

    def key(self, p: int, n: int) -> str:
        return point_key(self.version, self.hashes[n], self.identities[p])

    def keys(self) -> list[str]:
        """Keys in sweep order: hardware points outermost, then networks."""
        return [self.key(p, n) for p in range(len(self.points)) for n in range(len(self.networks))]


def plan(spec: SweepSpec, max_points: int = DEFAULT_MAX_POINTS) -> Plan:
    """Load and check everything the sweep needs (raises SweepError/NnaccelError). A sweep of
    more than `max_points` points is refused before any network is loaded or point built."""
    check_size(len(spec.networks) and count_networks(spec.networks), spec.hw_count(),
               max_points)
    points = spec.hw_points()
    networks = resolve_networks(spec.networks)
    check_size(len(networks), len(points), max_points)
    hashes = tuple(network_hash(n) for n in networks)
    networks, notes = _unique_names(networks, hashes)
    return Plan(tuple(networks), hashes, tuple(points), tuple(p.identity() for p in points),
                model_version(), tuple(notes))


def check_size(networks: int, points: int, max_points: int) -> None:
    """Refuse a sweep of more points than `max_points` (the confirmation `--max-points`
    gives) or than MAX_POINTS (docs/sweep.md, "Limits")."""
    total = networks * points
    what = f"{networks:,} networks x {points:,} hardware points = {total:,} points"
    if total > MAX_POINTS:
        raise SweepError(f"{what}, more than one sweep may have ({MAX_POINTS:,}: each point's"
                         " key and row are held in memory); split the sweep (docs/sweep.md,"
                         " 'Limits')")
    if total > max_points:
        raise SweepError(f"{what}, more than --max-points {max_points:,} (at about 400 points/s"
                         f" on two cores, {total / 400 / 60:,.0f} minutes); if you mean it, add"
                         f" --max-points {total}")


def _unique_names(networks: list[Network], hashes: tuple[str, ...]
                  ) -> tuple[list[Network], list[str]]:
    """Different networks that share a name each get the start of their content hash after
    it, so that every row and front is one network's; a note says so."""
    from nnaccel.sweep.export import name_note, shown_name

    by_name: dict[str, dict[str, None]] = {}
    for net, h in zip(networks, hashes, strict=True):
        by_name.setdefault(net.name, {})[h] = None
    shared = {name: list(hs) for name, hs in by_name.items() if len(hs) > 1}
    if not shared:
        return networks, []
    out = [replace(net, name=shown_name(net.name, h)) if net.name in shared else net
           for net, h in zip(networks, hashes, strict=True)]
    return out, [name_note(name, hs) for name, hs in shared.items()]


def make_tasks(pl: Plan, missing: set[str], workers: int) -> list[Task]:
    """The missing points as tasks: one per hardware point, split when there are too few
    points to keep `workers` busy. Points that differ only in their buffer follow each other,
    the largest buffer first, and those ladders that differ only in the DRAM's bandwidth and
    latency (a family) follow each other too (`make_batches`)."""
    per_point = []
    assigned: set[str] = set()  # two networks of equal content are one point: computed once
    for p in _ladder_order(pl.points):
        todo = []
        for n in range(len(pl.networks)):
            key = pl.key(p, n)
            if key in missing and key not in assigned:
                assigned.add(key)
                todo.append(n)
        if todo:
            per_point.append((p, todo))
    want = workers * TASKS_PER_WORKER if workers > 1 else 1
    splits = max(1, math.ceil(want / max(1, len(per_point))))
    ladders: dict[str, set[int]] = {}  # the buffers of the points equal but for the buffer
    variants: dict[str, set[tuple[int, int]]] = {}  # the DRAMs of a family's points
    for p, _ in per_point:
        point = pl.points[p]
        ladders.setdefault(point.ladder_identity(), set()).add(point.hardware.buffer_bytes)
        variants.setdefault(point.family_identity(), set()).add(point.dram())
    tasks = []
    for p, todo in per_point:
        size = max(1, math.ceil(len(todo) / splits))
        point = pl.points[p]
        ladder = tuple(sorted(ladders[point.ladder_identity()]))
        family = tuple(sorted(variants[point.family_identity()]))
        for i in range(0, len(todo), size):
            chunk = todo[i:i + size]
            tasks.append(Task(point, tuple(chunk), tuple(pl.key(p, n) for n in chunk),
                              tuple(pl.hashes[n] for n in chunk), ladder, family))
    return tasks


def _ladder_order(points: Sequence[HwPoint]) -> list[int]:
    """Point indices, a family's together and within it a ladder's (those equal but for the
    DRAM, then but for the buffer; in order of first appearance), each ladder by decreasing
    buffer."""
    families: dict[str, dict[str, list[int]]] = {}
    for p, point in enumerate(points):
        families.setdefault(point.family_identity(), {}).setdefault(
            point.ladder_identity(), []).append(p)
    return [p for rungs in families.values() for group in rungs.values()
            for p in sorted(group, key=lambda i: -points[i].hardware.buffer_bytes)]


#: A family of points (equal but for the buffer and the DRAM) is one worker's batch when there
#: are at least this many families per worker: its searches then serve all its DRAM variants
#: at once. With fewer, a family is cut into groups of its ladders (each group's searches
#: serve the group's DRAMs), and into its single ladders when groups would hold one each.
FAMILIES_PER_WORKER = 2


def make_batches(tasks: Sequence[Task], workers: int) -> list[tuple[Task, ...]]:
    """Tasks grouped for one worker to run in order: the points of one family (equal but for
    the buffer and the DRAM, a ladder after another, each largest buffer first) with the same
    networks, so that each search the largest buffer makes on one DRAM serves the smaller
    buffers and the other DRAMs too (`tiler.search_family`), when there are at least
    FAMILIES_PER_WORKER of them per worker. With fewer, each family is cut into as many
    groups of consecutive ladders as make FAMILIES_PER_WORKER batches per worker, each
    searching for its own ladders' DRAMs. Where that leaves a ladder alone in a batch, the
    batches are the ladders (equal but for the buffer), each searching for its own DRAM, and
    a ladder is cut into pieces while there are fewer than TASKS_PER_WORKER batches per
    worker (balance)."""
    families = _runs(tasks, lambda t: (t.networks, t.point.family_identity()))
    want = FAMILIES_PER_WORKER * workers
    if workers <= 1 or not families or len(families) >= want:
        return [tuple(g) for g in families]
    cuts = math.ceil(want / len(families))  # groups per family
    out: list[tuple[Task, ...]] = []
    for family in families:
        ladders = _runs(family, lambda t: t.point.ladder_identity())
        size = math.ceil(len(ladders) / cuts)  # ladders per group
        if size < 2:
            return _ladder_batches(tasks, workers)
        for i in range(0, len(ladders), size):
            group = [t for ladder in ladders[i:i + size] for t in ladder]
            drams = tuple(sorted({t.point.dram() for t in group}))
            out.append(tuple(replace(t, variants=drams) for t in group))
    return out


def _ladder_batches(tasks: Sequence[Task], workers: int) -> list[tuple[Task, ...]]:
    """The points of one ladder with the same networks, each task searching for its own DRAM
    only, a ladder cut into pieces while there are fewer than TASKS_PER_WORKER batches per
    worker."""
    tasks = [replace(t, variants=()) for t in tasks]
    groups = _runs(tasks, lambda t: (t.networks, t.point.ladder_identity()))
    want = workers * TASKS_PER_WORKER
    pieces = max(1, math.ceil(want / max(1, len(groups))))
    out = []
    for g in groups:
        size = max(1, math.ceil(len(g) / pieces))
        out += [tuple(g[i:i + size]) for i in range(0, len(g), size)]
    return out


def _runs(tasks: Sequence[Task], key: Callable[[Task], Any]) -> list[list[Task]]:
    """`tasks` cut where `key` changes."""
    groups: list[list[Task]] = []
    last = None
    for task in tasks:
        k = key(task)
        if groups and k == last:
            groups[-1].append(task)
        else:
            groups.append([task])
        last = k
    return groups


@dataclass(frozen=True)
class SweepResult:
    """The rows of a sweep, in sweep order, with how many were computed in this run."""

    rows: tuple[dict[str, Any], ...]
    computed: int
    reused: int
    store: Path

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(list(self.rows), columns=list(COLUMNS))


def run_sweep(spec: SweepSpec | Plan, store: str | Path, jobs: int | None = None,
              client: Client | None = None, progress: Progress | None = None) -> SweepResult:
    """Run a sweep into the store at `store`; only points it lacks are computed.

    `jobs`: worker processes (default: every core; 1 = this process); `client`: a Dask client
    to run on instead (see `cluster.connect`).
    """
    pl = spec if isinstance(spec, Plan) else plan(spec)
    keys = pl.keys()
    with Store(store) as st:
        missing = set(keys) - st.present(keys)
        workers = jobs or default_jobs()
        if client is not None:
            workers = max(1, len(client.scheduler_info().get("workers", {})))
        tasks = make_tasks(pl, missing, workers)
        batches = make_batches(tasks, workers)
        todo = sum(len(t.networks) for t in tasks)
        done = 0
        if progress:
            progress(0, todo)

        def on_done(task: Task, rows: list[tuple[str, dict[str, Any]]]) -> None:
            nonlocal done
            st.put(pl.version, task.point.identity(), rows)
            done += len(rows)
            if progress:
                progress(done, todo)

        if client is not None:
            from nnaccel.sweep.cluster import run_dask

            run_dask(client, pl.networks, batches, pl.version, on_done)
        else:
            run_local(pl.networks, batches, workers, on_done)
        stored = st.rows(keys)
    rows = []
    for p in range(len(pl.points)):
        for n, net in enumerate(pl.networks):
            row = {c: stored[pl.key(p, n)][c] for c in COLUMNS}
            row["network"] = net.name  # the store keeps content; the name is this sweep's
            rows.append(row)
    return SweepResult(tuple(rows), done, len(rows) - done, Path(store))
