"""Pareto fronts of sweep rows: the configurations no other beats on every chosen metric.

Per network: among the rows of one network, a row is on the front when no other row is at
least as good on every metric and better on one (all metrics are minimised). For a set of
networks: each configuration's metrics are the geometric mean over the set's networks (the
mean that treats a 2x on a small network as a 2x on a large one), over the configurations
every network of the set ran on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from nnaccel.sweep.axes import AXES, SweepError
from nnaccel.sweep.point import METRICS

#: The columns that tell one configuration from another in a sweep's rows.
CONFIG_COLUMNS = ("array", "buffer_bytes", "dram_bandwidth_bytes_per_s", "dram_latency_cycles",
                  "sparsity", "word_bits", "dataflow", "objective")
_WORDS = {2: "two", 3: "three", 4: "four"}
_ALIASES = {"area": "area_mm2", "energy": "energy_total", "time": "cycles"}


def parse_metrics(text: str | Sequence[str], most: int = 4) -> tuple[str, ...]:
    """'area,energy' -> ('area_mm2', 'energy_total'): two to `most` of METRICS (or aliases)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in (i.strip() for i in items):
        name = _ALIASES.get(item, item)
        if name not in METRICS:
            raise SweepError(f"unknown metric {item!r}; choose two to {_WORDS[most]} of"
                             f" {', '.join(METRICS)} (or area, energy, time)")
        out.append(name)
    if len(set(out)) != len(out) or not 2 <= len(out) <= most:
        raise SweepError(f"a front needs two to {_WORDS[most]} different metrics, got {text!r}")
    return tuple(out)


def front_mask(values: np.ndarray) -> np.ndarray:
    """For an n x m array of values to minimise, True where a row is non-dominated.

    Equal rows do not dominate each other: all of them stay on the front. A row with a NaN
    neither dominates nor is dominated (it stays). O(n log n) for two and three metrics:
    two by one sort (`_front_2d`), three by the dimension sweep of Kung, Luccio and Preparata
    (1975) in moocore (a maintained C library of multi-objective algorithms); four with
    moocore's sorted pairwise filter, quick while the front is small (a sweep's is: a few
    hundred rows of a million), quadratic in the front's size at worst.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"values must be an n x m array, got shape {v.shape}")
    n, m = v.shape
    keep = np.ones(n, dtype=bool)
    ok = ~np.isnan(v).any(axis=1)
    rows = np.flatnonzero(ok)
    if len(rows) < 2 or m == 0:
        return keep
    sub = v[rows]
    if m == 1:
        keep[rows] = sub[:, 0] == sub[:, 0].min()
    elif m == 2:
        keep[rows] = _front_2d(sub)
    else:
        import moocore

        keep[rows] = moocore.is_nondominated(sub, maximise=False, keep_weakly=True)
    return keep


def _front_2d(v: np.ndarray) -> np.ndarray:
    """front_mask of two metrics by one sort: by the first metric, then the second, a row is
    on the front when its second value is the least of its first value's group and below
    every second value of a smaller first value."""
    a, b = v[:, 0], v[:, 1]
    order = np.lexsort((b, a))
    sa, sb = a[order], b[order]
    start = np.ones(len(sa), dtype=bool)
    start[1:] = sa[1:] != sa[:-1]
    group = np.cumsum(start) - 1
    group_min = sb[start][group]  # b ascending within a group: its first is its least
    prefix = np.minimum.accumulate(sb[start])  # least b up to and including each group
    before = np.full(len(prefix), np.inf)
    before[1:] = prefix[:-1]
    on = (sb == group_min) & (sb < before[group])
    out = np.empty(len(sa), dtype=bool)
    out[order] = on
    return out


def front_mask_pairwise(values: np.ndarray) -> np.ndarray:
    """front_mask by comparing every pair, O(n² m): the definition, kept to test the others."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    keep = np.ones(n, dtype=bool)
    block = max(1, 2_000_000 // max(1, n * v.shape[1]))  # bound the n x block x m temporary
    for start in range(0, n, block):
        cand = v[start:start + block]
        le = (v[None, :, :] <= cand[:, None, :]).all(axis=2)
        lt = (v[None, :, :] < cand[:, None, :]).any(axis=2)
        keep[start:start + block] = ~(le & lt).any(axis=1)
    return keep


def config_label(row: Mapping[str, Any], varying: Iterable[str] = CONFIG_COLUMNS) -> str:
    """A short name of a row's configuration, from the columns that vary in the sweep."""
    parts = []
    for col in varying:
        v = row[col]
        if col == "array":
            parts.append(str(v))
        elif col == "buffer_bytes":
            parts.append(AXES["buffer"].label(int(v)))
        elif col == "dram_bandwidth_bytes_per_s":
            parts.append(AXES["bandwidth"].label(float(v)))
        elif col == "dram_latency_cycles":
            parts.append(f"lat{v}")
        elif col == "sparsity":
            parts.append(f"s{v:g}")
        elif col == "word_bits":
            parts.append(f"{v}b")
        else:
            parts.append(str(v))
    return " ".join(parts)


def varying_columns(rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The configuration columns with more than one value (all of them if none varies)."""
    out = tuple(c for c in CONFIG_COLUMNS if len({r[c] for r in rows}) > 1)
    return out or ("array", "buffer_bytes")


def _usable(row: Mapping[str, Any], metrics: Sequence[str]) -> bool:
    return not row.get("error") and all(row.get(m) is not None and not _nan(row[m])
                                        for m in metrics)


def _nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def network_fronts(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Every row, in order, with `pareto`: on its network's front (False for a row without
    figures, e.g. a point whose buffer fits no tile)."""
    ok = {i for i, r in enumerate(rows) if _usable(r, metrics)}
    by_net: dict[str, list[int]] = {}
    for i in sorted(ok):
        by_net.setdefault(rows[i]["network"], []).append(i)
    flags = np.zeros(len(rows), dtype=bool)
    for idx in by_net.values():
        flags[idx] = front_mask(np.array([[rows[i][m] for m in metrics] for i in idx]))
    return [{**r, "pareto": bool(f)} for r, f in zip(rows, flags, strict=True)]


def set_front(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per configuration that every network of the rows ran on: the configuration's
    columns, `networks` (how many), the geometric mean of each metric and `pareto`."""
    usable = [r for r in rows if _usable(r, metrics)]
    nets = {r["network"] for r in rows}
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in usable:
        # a store's rows also carry the full hardware: two sweeps from different base
        # hardware with equal axis values are different configurations
        groups.setdefault((*(r[c] for c in CONFIG_COLUMNS), r.get("hardware")), []).append(r)
    out = []
    for key, members in groups.items():
        if {m["network"] for m in members} != nets:
            continue  # a configuration some network could not run on is not comparable
        row: dict[str, Any] = dict(zip(CONFIG_COLUMNS, key[:-1], strict=True))
        row["networks"] = len(members)
        for m in metrics:
            vals = np.array([x[m] for x in members], dtype=np.float64)
            row[m] = float(np.exp(np.log(vals).mean())) if (vals > 0).all() else float("nan")
        out.append(row)
    if not out:
        raise SweepError("no configuration ran every network of the set; nothing to compare")
    out = [r for r in out if not any(_nan(r[m]) for m in metrics)]
    flags = front_mask(np.array([[r[m] for m in metrics] for r in out]))
    return [{**r, "pareto": bool(f)} for r, f in zip(out, flags, strict=True)]
