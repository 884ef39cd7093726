"""The tiler: the best mapping of a layer over a fixed candidate grid, exactly.

Candidates (per dataflow; a `window` layer has only OS):
* every loop order of x, y, c, k (24, `fast.ORDERS`), minus duplicates: orders that give the
  same sequence once the loops with a single trip are removed run the same tiles, and only
  the first of them (in `fast.ORDERS` order) is kept;
* times tile sizes from a grid per dimension that depends on the layer and the array only,
  never on the buffer (so a bigger buffer only adds candidates and cannot give a worse
  optimum). For a loop bound N the grid is `ceil(N / s)` and `a·s` (for the dimension's
  alignments a) for s in 1, 2, 3, 4, 8, 16, 32, ... (3 and the powers of 2) up to N, plus 1
  and N; but never a size that cuts the loop into more than MAX_TILES (2**13) tiles. So a
  dimension's grid has at most (2 + alignments) · 18 sizes, and a candidate's evaluation
  touches at most MAX_TILES indices per loop: a search's cost is bounded whatever the layer's
  size (a layer with 10**9 channels searches within a few times the time of one with 10**3,
  a millisecond or two each, where an unbounded grid took a minute; `make bench`).
  Alignments: WS — TC by Pr, TK by Pc; OS — TY by Pr, TX by Pc, TK by RF_PSUMS; TK also by
  CGO when G > 1 (k-tiles that do not straddle groups);
* kept when the double-buffered tiles and a fused pooling's line buffer fit the buffer
  (docs/model.md §7; the line buffer depends on the loop order, so each order is checked).

A candidate's index is its position in the enumeration TX, TY, TC, TK (each grid ascending,
outermost first), then the loop order (`fast.ORDERS` index).

Cost. Energy = counts · energy_per_count (a float sum in slot order; the cycle, compute,
stall and tile slots weigh 0). Within a dataflow the smallest key wins:

| objective | key |
|---|---|
| `cycles` (default) | (cycles, DRAM bytes read + written, energy, index) |
| `energy` | (energy, cycles, DRAM bytes, index) |
| `edp` | (energy·cycles, cycles, DRAM bytes, energy, index) |

(In `edp` the energy before the index never decides: equal EDP and cycles mean equal energy.)
Across dataflows (docs/model.md §8): `cycles` — fewer cycles, then lower energy, then WS;
`energy` — lower energy, then fewer cycles, then WS; `edp` — lower energy·cycles, then lower
energy, then WS. The dataflows are searched one after the other (OS first), and the
winner's first key component caps the next search: a candidate above it cannot win.

Exactness. Every count but the cycles is a closed form (`fast`), so every candidate's key is
known exactly except its cycles, for which `fast` gives lower bounds without walking the tiles.
Branch and bound (`fast.search_grid`): the key with a bound in place of the cycles is a lower
bound of the key. Tile-size combos are bounded first (the least bound over their loop orders),
the one with the smallest bound key expanded first, then every combo whose bound key is below
the best key found, in increasing bound order; in a combo, only the orders whose bound key is
below the best are simulated, and a walk stops as soon as it cannot beat the best. Keys are
compared exactly (the index breaks every tie), so the result is the exhaustive optimum.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from nnaccel.engines import fast, warm
from nnaccel.engines.layout import (
    C_COMPUTE,
    C_CYCLES,
    C_LEN,
    C_STALL,
    C_TILES,
    DF_OS,
    DF_WS,
    H_BUF,
    H_BW,
    H_LAT,
    H_PC,
    H_PR,
    H_RF_PSUMS,
    KIND_WINDOW,
    L_CGI,
    L_CGO,
    L_G,
    L_HO,
    L_KIND,
    L_VR,
    L_WO,
    M_DATAFLOW,
)
from nnaccel.errors import MappingError

OBJECTIVES = ("cycles", "energy", "edp")  # index = fast.OBJ_*

# The divisors n of a loop bound N whose ceil(N / n) the grid holds: 1, 2, 3, 4, 8, 16, ...
# (3 too: a third of 224, 56, 28 ... fits where half does not). With 3·2^i for every i the
# grid is about twice as big and the optimum on the bundled networks 0.2% faster on average.
_STEPS = tuple(sorted({2**i for i in range(48)} | {3}))


class BufferTooSmallError(MappingError):
    """No candidate tiling fits the buffer; `min_buffer_bytes` would hold the smallest tile."""

    def __init__(self, message: str, min_buffer_bytes: int):
        super().__init__(message)
        self.min_buffer_bytes = min_buffer_bytes


def _keep_table() -> np.ndarray:
    """keep[mask, o]: order o is the first of its class once loops not in `mask` are removed."""
    keep = np.zeros((16, fast.N_ORDERS), dtype=np.bool_)
    for mask in range(16):
        seen: set[tuple[int, ...]] = set()
        for o, perm in enumerate(fast.ORDERS.tolist()):
            reduced = tuple(lp for lp in perm if mask >> lp & 1)
            if reduced not in seen:
                seen.add(reduced)
                keep[mask, o] = True
    return keep


def _class_tables(keep: np.ndarray) -> tuple[np.ndarray, ...]:
    """Kept orders grouped by their traffic flags (fast.F_*), per (G > 1, mask of the loops
    with more than one trip): number of classes, each class's flags, size and orders (in
    ascending order, so a class's first order is its lowest candidate index)."""
    n_ord = fast.N_ORDERS
    n = np.zeros((2, 16), dtype=np.int64)
    flags = np.zeros((2, 16, n_ord), dtype=np.int64)
    cnt = np.zeros((2, 16, n_ord), dtype=np.int64)
    ords = np.zeros((2, 16, n_ord, n_ord), dtype=np.int64)
    for grouped in (0, 1):
        for mask in range(16):
            trips = [2 if mask >> lp & 1 else 1 for lp in range(4)]
            for o in range(n_ord):
                if not keep[mask, o]:
                    continue
                f = fast._order_flags(fast.ORDERS[o], *trips, grouped == 1)
                hit = [j for j in range(n[grouped, mask]) if flags[grouped, mask, j] == f]
                j = hit[0] if hit else n[grouped, mask]
                if not hit:
                    flags[grouped, mask, j] = f
                    n[grouped, mask] += 1
                ords[grouped, mask, j, cnt[grouped, mask, j]] = o
                cnt[grouped, mask, j] += 1
    return n, flags, cnt, ords


@functools.cache
def _ready() -> None:
    """The search kernel compiled or loaded, once per process, on two cores when numba's
    cache is cold (`engines.warm`)."""
    warm.compile_search()


@functools.cache
def _classes() -> tuple[np.ndarray, ...]:
    """The class tables, built on first use (not at import: it runs compiled code)."""
    return _class_tables(_keep_table())


#: At most this many tiles along one loop. The engine's cost per candidate grows with the
#: tiles per loop (its per-index tables), so this bounds a search's cost whatever the layer's
#: size: a loop bound N above it only gets tiles of at least ceil(N / MAX_TILES). Two loop
#: bounds of the bundled networks are above it (the fc6 inputs of VGG-19, 25,088, and of
#: AlexNet, 9,216): their grids lose tiles of 1 to 3 input channels, and every bundled network
#: maps exactly as with the full grid (checked on 4x4:8KB, both presets and 32x32:1MB, for
#: every objective, when the bound was chosen; 2**15 made a 10**9-channel search 20 times
#: slower than a 10**3 one, 2**13 four times).
MAX_TILES = 2**13


def _dim_grid(n: int, aligns: tuple[int, ...]) -> np.ndarray:
    """The tile sizes along one loop of bound n, ascending."""
    return np.array(_dim_sizes(n, aligns), dtype=np.int64)


@functools.lru_cache(maxsize=4096)
def _dim_sizes(n: int, aligns: tuple[int, ...]) -> tuple[int, ...]:
    # Kept: a sweep asks for the same few loop bounds and alignments thousands of times. A
    # tuple, not the array (the kernel takes writeable arrays, and a shared one could change).
    # Plain ints: numpy's per-call overhead dominates on a dozen values.
    smallest = -(-n // MAX_TILES)
    steps = [s for s in _STEPS if s <= n]
    sizes = {n, *(-(-n // s) for s in steps if s <= MAX_TILES)}
    if smallest == 1:
        sizes.add(1)
    for a in aligns:
        if a > 1:
            sizes.update(a * s for s in steps if smallest <= a * s <= n)
    return tuple(sorted(sizes))


def candidate_grid(layer: np.ndarray, hw: np.ndarray, dataflow: int) -> tuple[np.ndarray, ...]:
    """The tile sizes (TX, TY, TC, TK) the tiler tries, ascending; independent of the buffer."""
    g, cgo = int(layer[L_G]), int(layer[L_CGO])
    ko = g * cgo
    group_align = (cgo,) if g > 1 else ()
    # a row reduction (softmax, a norm: per-pixel output-path work, docs/model.md §1b) needs
    # its whole row, the channels, in one tile
    whole = np.array([ko], dtype=np.int64) if layer[L_VR] > 0 else None
    if dataflow == DF_WS:
        return (
            _dim_grid(int(layer[L_WO]), ()),
            _dim_grid(int(layer[L_HO]), ()),
            _dim_grid(int(layer[L_CGI]), (int(hw[H_PR]),)),
            _dim_grid(ko, (int(hw[H_PC]), *group_align)) if whole is None else whole,
        )
    return (
        _dim_grid(int(layer[L_WO]), (int(hw[H_PC]),)),
        _dim_grid(int(layer[L_HO]), (int(hw[H_PR]),)),
        _dim_grid(int(layer[L_CGI]), ()),
        _dim_grid(ko, (int(hw[H_RF_PSUMS]), *group_align)) if whole is None else whole,
    )


def _cross_key(objective: str, cycles: int, energy: float, df: int) -> tuple:
    """Key between the dataflows' winners (module doc); DF_WS < DF_OS breaks the last tie."""
    if objective == "cycles":
        return (cycles, energy, df)
    if objective == "energy":
        return (energy, cycles, df)
    return (energy * float(cycles), energy, df)


def energy_weights(energy_per_count: np.ndarray) -> np.ndarray:
    """The energy of one unit of each count as the tiler weighs it: time and tiles weigh 0."""
    e = np.array(energy_per_count, dtype=np.float64).reshape(-1)
    if e.size != C_LEN:
        raise ValueError(f"energy_per_count must have {C_LEN} entries, got {e.size}")
    e[[C_CYCLES, C_COMPUTE, C_STALL, C_TILES]] = 0.0
    if not np.isfinite(e).all() or (e < 0).any():
        # the bounds rely on energy growing with every count
        raise ValueError("energy_per_count must be finite and non-negative")
    return e


def energy(counts: np.ndarray, energy_per_count: np.ndarray) -> float:
    """A mapping's energy exactly as the tiler ranks it (a float sum in slot order)."""
    c = np.ascontiguousarray(counts, dtype=np.int64)
    return float(fast._energy(c, energy_weights(energy_per_count)))


def _search(layer, hws, energy_per_count, objective, dataflows, grids=None, incumbents=(),
            buffers=None):
    """Per hardware variant (`hws`: equal but for the DRAM's bandwidth and latency) and per
    buffer size (`buffers`, ascending; default the first variant's own): (mapping, counts) or
    the BufferTooSmallError that buffer gets; and the timelines walked."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    checked = [fast.check_vectors(layer, hw) for hw in hws]
    layer = checked[0][0]
    hw_all = np.stack([hw for _, hw in checked])
    if any(not np.array_equal(np.delete(hw, [H_BW, H_LAT]), np.delete(hw_all[0], [H_BW, H_LAT]))
           for hw in hw_all[1:]):
        raise ValueError("hardware variants of one search may differ only in the DRAM's "
                         "bandwidth and latency")
    hw = hw_all[0]
    bufs = np.array([int(hw[H_BUF])] if buffers is None else buffers, dtype=np.int64)
    e = energy_weights(energy_per_count)
    _ready()
    # OS first: it wins most layers, and its winner caps the search of WS (below).
    dfs = [df for df in (DF_OS, DF_WS) if df in dataflows]
    if layer[L_KIND] == KIND_WINDOW:
        dfs = [df for df in dfs if df == DF_OS]  # a window operation has no weights to hold
    if not dfs:
        raise ValueError(f"no dataflow to search among {tuple(dataflows)} for this layer")
    obj = OBJECTIVES.index(objective)
    nv = len(hw_all)
    best: list = [[None] * bufs.size for _ in range(nv)]
    min_fp = None
    sims = 0
    bounds = _incumbent_caps(layer, hw_all, e, objective, dfs, incumbents, bufs)
    for df in dfs:
        grid = _grid(layer, hw, df, grids)
        # Only a candidate whose key's first component is at most the best one's so far can
        # win across dataflows: the others are not searched (the result is the same).
        caps = np.array([[bound if b is None else min(bound, float(b[0][0]))
                          for bound, b in zip(bounds_v, best_v, strict=True)]
                         for bounds_v, best_v in zip(bounds, best, strict=True)])
        mappings, counts, found, fp, n = fast.search_grid(layer, hw_all, e, obj, df, caps, bufs,
                                                          *grid, *_classes())
        sims += n
        min_fp = int(fp) if min_fp is None else min(min_fp, int(fp))
        for v, k in np.argwhere(found).tolist():
            c = counts[v, k]
            key = _cross_key(objective, int(c[C_CYCLES]), fast._energy(c, e), df)
            if best[v][k] is None or key < best[v][k][0]:
                best[v][k] = (key, mappings[v, k], c)
    if any(b is None and bound != math.inf
           for bounds_v, best_v in zip(bounds, best, strict=True)
           for b, bound in zip(best_v, bounds_v, strict=True)):
        # (not expected: an incumbent is a candidate)
        return _search(layer, hw_all, energy_per_count, objective, dataflows, grids, (), buffers)
    kb = math.ceil(min_fp / 102.4) / 10
    results = [[
        (b[1], b[2]) if b is not None else BufferTooSmallError(
            f"no tiling fits the {int(buf)}-byte buffer: the smallest tile needs a "
            f"buffer of {min_fp} bytes ({kb:.1f} KB)", min_fp)
        for b, buf in zip(best_v, bufs.tolist(), strict=True)
    ] for best_v in best]
    return results, sims


def _incumbent_caps(layer, hws, e, objective, dfs, incumbents, bufs) -> np.ndarray:
    """Per hardware variant and buffer size, a cap on the winner's first key component from
    mappings known to be candidates (the winners of the same layer on hardware that differs
    only in buffer, bandwidth or latency: the grid depends on neither): the least first
    component among those that fit it, a hair above it (a cap only needs to be at least the
    winner's). math.inf without one."""
    caps = np.full((len(hws), len(bufs)), math.inf)
    for m in incumbents:
        if m[M_DATAFLOW] not in dfs:
            continue
        m = m[None]
        fp = fast.footprint_checked(layer, hws[0], m)[0]  # not the DRAM's: one for all
        if fp > bufs[-1]:
            continue
        fits = bufs >= fp
        for v, hw in enumerate(hws):
            c = fast.evaluate_checked(layer, hw, m)[0]
            first = _cross_key(objective, int(c[C_CYCLES]), fast._energy(c, e), DF_WS)[0]
            caps[v, fits] = np.minimum(caps[v, fits], float(first) * (1 + 2.0**-40))
    return caps


def _grid(layer: np.ndarray, hw: np.ndarray, df: int, grids: dict | None) -> tuple[np.ndarray, ...]:
    """candidate_grid, kept in `grids` when given: it depends on the layer, the array and
    the dataflow only (a sweep's buffers and bandwidths share it)."""
    if grids is None:
        return candidate_grid(layer, hw, df)
    key = (layer.tobytes(), int(hw[H_PR]), int(hw[H_PC]), int(hw[H_RF_PSUMS]), df)
    hit = grids.get(key)
    if hit is None:
        hit = grids[key] = candidate_grid(layer, hw, df)
    return hit


def search(
    layer: np.ndarray,
    hw: np.ndarray,
    energy_per_count: np.ndarray,
    objective: str = "cycles",
    dataflows: tuple[int, ...] = (DF_WS, DF_OS),
) -> tuple[np.ndarray, np.ndarray]:
    """The best mapping (layout.M_*) of a layer and its counts (layout.C_*); see module doc.

    Raises BufferTooSmallError (a MappingError carrying `min_buffer_bytes`) when no candidate
    fits the buffer.
    """
    mapping, counts, _ = search_stats(layer, hw, energy_per_count, objective, dataflows)
    return mapping, counts


def search_stats(
    layer: np.ndarray,
    hw: np.ndarray,
    energy_per_count: np.ndarray,
    objective: str = "cycles",
    dataflows: tuple[int, ...] = (DF_WS, DF_OS),
) -> tuple[np.ndarray, np.ndarray, int]:
    """`search`, plus how many timelines it walked (for benchmarks and tests)."""
    results, sims = _search(layer, [hw], energy_per_count, objective, dataflows)
    if isinstance(results[0][0], MappingError):
        raise results[0][0]
    return results[0][0][0], results[0][0][1], sims


def search_family(
    layer: np.ndarray,
    hws: Sequence[np.ndarray],
    energy_per_count: np.ndarray,
    objective: str,
    dataflows: tuple[int, ...],
    buffers: Sequence[int],
    grids: dict | None = None,
    incumbents: Sequence[np.ndarray] = (),
) -> list[list[tuple[np.ndarray, np.ndarray] | BufferTooSmallError]]:
    """`search` for each of several hardware vectors equal but for the DRAM's bandwidth and
    latency (a ValueError otherwise) and each of several buffer sizes (the hardware's own is
    ignored): per vector, in the order given, per buffer, in the order given, (mapping,
    counts) or the BufferTooSmallError it gets; each result is exactly that hardware's and
    buffer's own search's. One branch and bound serves the buffers (`fast.search_grid`), and
    the candidate grid, its tables and every combo's first bound, which depend on neither the
    bandwidth nor the latency, are made once for the vectors. `grids`: a dict that keeps the
    candidate grids across calls (they depend on the layer, the array and the dataflow only).
    `incumbents`: mappings of this layer's candidate grid (the winners on hardware that
    differs only in buffer, DRAM bandwidth or latency); those that fit a buffer cap its
    search (the branch and bound starts with their key), which then walks fewer candidates
    and finds the same winner."""
    order = sorted(range(len(buffers)), key=lambda i: buffers[i])
    bufs = [int(buffers[i]) for i in order]
    results, _ = _search(layer, hws, energy_per_count, objective, dataflows, grids,
                         incumbents, buffers=bufs)
    out = []
    for per_buffer in results:
        row: list = [None] * len(buffers)
        for i, r in zip(order, per_buffer, strict=True):
            row[i] = r
        out.append(row)
    return out


__all__ = [
    "OBJECTIVES",
    "BufferTooSmallError",
    "candidate_grid",
    "energy",
    "energy_weights",
    "search",
    "search_family",
    "search_stats",
]
