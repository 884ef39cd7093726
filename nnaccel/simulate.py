"""simulate(network, hardware) -> Result: every layer mapped by the tiler and run by an engine.

The accelerator processes the network one layer at a time (paper §3); a layer's cycles and
counts come from the chosen mapping, run on the `fast` engine or, with ``engine="step"``, on
the cycle-stepped one. The tiler always searches with `fast`; `step` replays its choice.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .energy import LEVELS, energy_by_level, energy_per_count, level_matrix
from .engines import layout as L
from .errors import MappingError, NnaccelError
from .hardware import Hardware, format_size
from .lowering import Lowered, batch_vector, lower_network
from .network import Layer, Network

ENGINES = ("fast", "step")
#: How a layer runs a batch (docs/model.md §5, "Batch"): as one layer of batch times the
#: pixels; image by image with the one weight tile kept; image by image.
BATCHED, KEPT, PER_IMAGE = "batched", "kept", "per image"
DATAFLOWS = ("auto", "ws", "os")
OBJECTIVES = ("cycles", "energy", "edp")
_DF_NAMES = {L.DF_WS: "ws", L.DF_OS: "os"}


@dataclass(frozen=True)
class Mapping:
    """A dataflow, the tile loops outermost first (e.g. 'kcyx') and the tile sizes."""

    dataflow: str
    loop_order: str
    tx: int
    ty: int
    tc: int
    tk: int

    @classmethod
    def from_vector(cls, m: np.ndarray) -> Mapping:
        v = m.tolist()  # Python ints, at once (a sweep converts ~10^4 mappings)
        order = "".join(L.LOOP_NAMES[i] for i in v[L.M_ORDER : L.M_ORDER + 4])
        return cls(_DF_NAMES[v[L.M_DATAFLOW]], order, v[L.M_TX], v[L.M_TY], v[L.M_TC],
                   v[L.M_TK])

    def vector(self) -> np.ndarray:
        v = np.zeros(L.M_LEN, dtype=np.int64)
        v[L.M_DATAFLOW] = L.DF_WS if self.dataflow == "ws" else L.DF_OS
        v[L.M_ORDER : L.M_ORDER + 4] = [L.LOOP_NAMES.index(ch) for ch in self.loop_order]
        v[[L.M_TX, L.M_TY, L.M_TC, L.M_TK]] = (self.tx, self.ty, self.tc, self.tk)
        return v


@dataclass(frozen=True)
class LayerResult:
    """One layer on one hardware: its mapping (None when it moves no data), counts and energy."""

    layer: Layer
    mapping: Mapping | None
    counts: tuple[int, ...]  # in the order of layout.COUNT_NAMES
    energy: MappingProxyType  # level -> energy, in the table's unit
    pes: int
    fused_into: str | None = None  # run in the output path of this conv (docs/model.md §3a)
    # The stall cycles the same mapping has with a DRAM latency of 0 (docs/model.md §10).
    stall_bandwidth_cycles: int = 0
    batch: int = 1  # images: the counts are for all of them (docs/model.md §5, "Batch")
    # How the batch ran (docs/model.md §5): BATCHED, KEPT or PER_IMAGE; "" for one image or
    # a layer that runs nothing
    batch_mode: str = ""

    def count(self, name: str) -> int:
        return self.counts[L.COUNT_NAMES.index(name)]

    @property
    def stall_latency_cycles(self) -> int:
        """The part of the stall cycles the DRAM latency adds to the transfers' own."""
        return self.counts[L.C_STALL] - self.stall_bandwidth_cycles

    @property
    def cycles(self) -> int:
        return self.counts[L.C_CYCLES]

    @property
    def macs(self) -> int:
        """The network's MACs of the layer for every image of the batch, as the counts are."""
        return self.layer.macs * self.batch

    @property
    def utilization(self) -> float:
        """PE operations performed per cycle over the number of PEs (at most 1)."""
        return self.counts[L.C_OPS] / (self.cycles * self.pes) if self.cycles else 0.0

    @property
    def efficiency(self) -> float:
        """The layer's MACs per cycle (paper Figure 6); with skipped zeros it may exceed the PEs."""
        return self.macs / self.cycles if self.cycles else 0.0

    @property
    def energy_total(self) -> float:
        return sum(self.energy.values())


@dataclass(frozen=True)
class Result:
    network: Network
    hardware: Hardware
    layers: tuple[LayerResult, ...]
    engine: str = "fast"
    dataflow: str = "auto"
    objective: str = "cycles"

    def total(self, name: str) -> int:
        if name in ("stall_bandwidth_cycles", "stall_latency_cycles"):
            return sum(getattr(r, name) for r in self.layers)
        return self._sums[L.COUNT_NAMES.index(name)]

    @functools.cached_property
    def _sums(self) -> tuple[int, ...]:
        """Every count summed over the layers, in one pass (a network may have 10**5 layers)."""
        if not self.layers:
            return (0,) * L.C_LEN
        return tuple(sum(column) for column in zip(*(r.counts for r in self.layers), strict=True))

    @property
    def cycles(self) -> int:
        return self.total("cycles")

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @functools.cached_property
    def energy(self) -> dict[str, float]:
        return {lvl: sum(r.energy[lvl] for r in self.layers) for lvl in LEVELS}

    @property
    def energy_total(self) -> float:
        return sum(self.energy.values())

    @property
    def utilization(self) -> float:
        c = self.cycles
        return self.total("pe_ops") / (c * self.hardware.pes) if c else 0.0

    @property
    def seconds(self) -> float:
        return self.cycles / self.hardware.clock_hz

    @property
    def batch(self) -> int:
        """Images per run: every count, cycle and energy here is for the whole batch."""
        return self.hardware.batch

    def totals(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: self.total(name) for name in L.COUNT_NAMES}
        for name in ("stall_latency_cycles", "stall_bandwidth_cycles"):
            out[name] = self.total(name)
        out["macs"] = self.macs
        out["utilization"] = self.utilization
        out["efficiency_macs_per_cycle"] = self.macs / self.cycles if self.cycles else 0.0
        out["time_s"] = self.seconds
        for lvl, e in self.energy.items():
            out[f"energy_{lvl}"] = e
        out["energy_total"] = self.energy_total
        out["batch"] = self.batch
        out["cycles_per_image"] = self.cycles / self.batch
        out["energy_total_per_image"] = self.energy_total / self.batch
        return out


@dataclass
class SearchCache:
    """Mappings already searched, keyed by (layer, hardware, objective, dataflows).

    Networks repeat layer shapes (SqueezeNext's blocks, and across its variants), so one cache
    passed to several `simulate` calls makes `compare` search each distinct shape once.
    `ladder` and `grids` may be shared by the caches of several hardware points (a sweep's):
    with `ladder`, a search is made for the buffer asked and every smaller one of `buffers`
    at once (`tiler.search_family`), and `ladder` keeps each buffer's result, keyed by
    everything but the buffer and then the buffer, and the latest winners of each layer on
    hardware equal but for buffer, bandwidth and latency, the incumbents of its next search;
    `grids` the candidate grids.
    """

    entries: dict[tuple, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # What a fast-engine record makes of an entry (mapping, counts, energy by level): a repeated
    # layer costs a dictionary look-up, not the conversions again.
    records: dict[tuple, tuple[Mapping, tuple[int, ...], MappingProxyType, int]] = field(
        default_factory=dict)
    ladder: dict[tuple, Any] | None = None
    grids: dict[tuple, tuple[np.ndarray, ...]] | None = None
    buffers: tuple[int, ...] = ()  # the buffer sizes the caller will ask for (a sweep's ladder)
    # the DRAM (bytes per cycle, latency) pairs the caller will ask for on hardware equal but
    # for them and the buffer (a sweep's): each search is made for them all at once
    # (`tiler.search_family`)
    variants: tuple[tuple[int, int], ...] = ()
    # hardware vector -> its ladder's and family's (`_rung_keys`): one per point, not per layer
    rungs: dict[bytes, tuple[bytes, bytes]] = field(default_factory=dict)

    def __getstate__(self) -> dict:
        # records are derived from entries and hold read-only mappings, which do not pickle:
        # a cache sent to a worker process carries the searches only
        return {"entries": self.entries, "records": {}, "ladder": None, "grids": None,
                "buffers": (), "variants": (), "rungs": {}}


class Mapper:
    """What `simulate` does to one lowered layer on one hardware point, reusable across
    networks: the tiler's mapping (searched once per distinct key in `cache`), its counts,
    energy by level and stall split (docs/model.md §10)."""

    def __init__(self, hardware: Hardware, engine: str = "fast", dataflow: str = "auto",
                 objective: str = "cycles", cache: SearchCache | None = None,
                 stall_split: bool = True):
        if engine not in ENGINES:
            raise NnaccelError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        if dataflow not in DATAFLOWS:
            raise NnaccelError(f"unknown dataflow {dataflow!r}; choose one of {', '.join(DATAFLOWS)}")
        if objective not in OBJECTIVES:
            raise NnaccelError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
        self.hardware, self.engine, self.dataflow, self.objective = hardware, engine, dataflow, objective
        self.cache = cache if cache is not None else SearchCache()
        self.hw_vec = hardware.vector()
        self.weights = energy_per_count(hardware)
        self.levels = level_matrix(hardware)
        self.hw_key = (self.weights.tobytes(), objective)
        self.zero = (None, (0,) * L.C_LEN,
                     MappingProxyType(energy_by_level(np.zeros(L.C_LEN), hardware, self.levels)), 0,
                     "")
        # what the transfers alone cost: the stall split (§10); a record without it (a sweep's:
        # its rows have no stall split) has None there and costs one evaluation less
        self.stall_split = stall_split
        self.no_latency = self.hw_vec.copy()
        self.no_latency[L.H_LAT] = 0

    def record(self, low: Lowered) -> tuple[Mapping | None, tuple[int, ...], MappingProxyType,
                                            int | None, str]:
        """(mapping, counts, energy by level, stall cycles with no DRAM latency (None without
        the stall split), how the batch ran) of `low`."""
        vec = low.vector
        if vec is None:
            return self.zero
        hardware, engine, cache = self.hardware, self.engine, self.cache
        layer_hw = low.hardware_vector(self.hw_vec)  # with the layer's own density, if any
        no_latency = low.hardware_vector(self.no_latency) if self.stall_split else None
        dfs = _dataflows(vec, self.dataflow)
        key = (vec.tobytes(), layer_hw.tobytes(), *self.hw_key, dfs, hardware.batch,
               low.own_weights)
        rkey = (key, self.stall_split)
        hit = cache.records.get(rkey) if engine == "fast" else None
        if hit is None:
            _check_density(low.layer, vec, layer_hw, hardware)
            m_vec, found = _search(low.layer, key[:-1], vec, layer_hw, self.weights, hardware,
                                   cache)
            c, c0 = _batch_counts(vec, m_vec, layer_hw, no_latency, hardware.batch, engine,
                                  found if engine == "fast" else None)
            mode = "" if hardware.batch == 1 else (
                KEPT if later_image(vec, m_vec)[L.L_WRES] else PER_IMAGE)
            whole = batch_vector(low, hardware.batch)
            if whole is not None:
                # the batch as one layer, mapped by the same search: it wins when its cost
                # is lower and it is no worse in any term of the cost (a tie keeps the images
                # one by one), so a batch never costs more cycles, bytes or energy per image
                w_key = (whole.tobytes(), layer_hw.tobytes(), *self.hw_key, dfs, 1)
                w_vec, w_found = _search(low.layer, w_key, whole, layer_hw, self.weights,
                                         hardware, cache)
                w, w0 = _batch_counts(whole, w_vec, layer_hw, no_latency, 1, engine,
                                      w_found if engine == "fast" else None)
                if _batched_wins(w, c, self.weights, self.objective):
                    m_vec, c, c0, mode = w_vec, w, w0, BATCHED
            hit = (
                Mapping.from_vector(m_vec),
                tuple(np.asarray(c, dtype=np.int64).tolist()),
                MappingProxyType(energy_by_level(c, hardware, self.levels)),
                None if c0 is None else int(c0[L.C_STALL]),
                mode,
            )
            if engine == "fast":
                cache.records[rkey] = hit
        return hit


def _terms(counts: Sequence[int], weights: np.ndarray) -> tuple[int, int, float]:
    """(cycles, DRAM bytes, energy) of a layer's counts: the terms of the tiler's cost (§8)."""
    energy = sum(float(w) * int(x) for w, x in zip(weights.tolist(), counts, strict=True) if w)
    return (int(counts[L.C_CYCLES]), int(counts[L.C_DRAM_RD]) + int(counts[L.C_DRAM_WR]), energy)


def _cost(terms: tuple[int, int, float], objective: str) -> tuple:
    """The tiler's key under `objective` (docs/model.md §8), without the candidate index."""
    cycles, dram, energy = terms
    if objective == "cycles":
        return (cycles, dram, energy)
    if objective == "energy":
        return (energy, cycles, dram)
    return (energy * cycles, cycles, dram, energy)


def _batched_wins(whole: Sequence[int], images: Sequence[int], weights: np.ndarray,
                  objective: str) -> bool:
    """Whether a batch run as one layer (counts `whole`) replaces the images one by one
    (`images`): a lower cost, and no term of it higher (docs/model.md §5, "Batch")."""
    a, b = _terms(whole, weights), _terms(images, weights)
    return all(x <= y for x, y in zip(a, b, strict=True)) and _cost(a, objective) < _cost(b, objective)


def simulate(
    network: Network,
    hardware: Hardware,
    engine: str = "fast",
    dataflow: str = "auto",
    objective: str = "cycles",
    cache: SearchCache | None = None,
    lowered: Sequence[Lowered] | None = None,
) -> Result:
    """Map every layer of `network` on `hardware` and count its cycles and energy.

    `lowered`: `lower_network(network, hardware)` when the caller has it already (a sweep
    lowers each network once for all its hardware points with the same fusion flags).
    """
    mapper = Mapper(hardware, engine, dataflow, objective, cache)
    records = []
    for low in lowered if lowered is not None else lower_network(network, hardware):
        mapping, counts, energy, stall_bw, mode = mapper.record(low)
        records.append(LayerResult(low.layer, mapping, counts, energy, hardware.pes, low.fused_into,
                                   stall_bw, hardware.batch, mode))
    return Result(network, hardware, tuple(records), engine, dataflow, objective)


def _batch_counts(vec: np.ndarray, m_vec: np.ndarray, hw_vec: np.ndarray,
                  no_latency: np.ndarray | None, batch: int, engine: str,
                  searched: np.ndarray | None = None) -> tuple[Any, Any]:
    """Counts of `batch` images through one layer on its mapping, and the same with no DRAM
    latency (the stall split; None without `no_latency`). `searched`: the fast engine's
    counts of the first image, as the search returned them (they are `evaluate`'s: a test
    checks it). The images run one after another, each from an idle machine
    (docs/model.md §5, "Batch"); an image after the first finds the first tile's weights
    still in the buffer when the mapping has one weight tile (one c-tile and one k-tile)."""
    if searched is not None and no_latency is None and batch == 1:
        return searched, None
    if engine == "step":
        from .engines import step  # the slow engine is loaded only when asked for

        def run(v: np.ndarray, h: np.ndarray) -> np.ndarray:
            return step.simulate(v, h, m_vec)
    else:
        from .engines import fast

        mappings = np.ascontiguousarray(m_vec[None], dtype=np.int64)

        def run(v: np.ndarray, h: np.ndarray) -> np.ndarray:
            # the search checked the vectors and made the mapping
            return fast.evaluate_checked(v, h, mappings)[0]

    first = searched if searched is not None else run(vec, hw_vec)
    first0 = run(vec, no_latency) if no_latency is not None else None
    if batch == 1:
        return first, first0
    later = later_image(vec, m_vec)
    # Python integers: a batch multiplies counts that the engines keep within int64
    more = batch - 1
    total = [int(a) + more * int(b) for a, b in zip(first, run(later, hw_vec), strict=True)]
    if first0 is None:
        return total, None
    total0 = [int(a) + more * int(b) for a, b in zip(first0, run(later, no_latency), strict=True)]
    return total, total0


def later_image(vec: np.ndarray, m_vec: np.ndarray) -> np.ndarray:
    """The layer vector of an image after the first of a batch: it finds the first tile's
    weights still in the buffer when the mapping has one weight tile (docs/model.md §5)."""
    later = vec.copy()
    nc = -(-int(vec[L.L_CGI]) // int(m_vec[L.M_TC]))
    nk = -(-int(vec[L.L_G] * vec[L.L_CGO]) // int(m_vec[L.M_TK]))
    if vec[L.L_KIND] == L.KIND_CONV and nc * nk == 1:
        later[L.L_WRES] = 1
    return later


def _check_density(layer: Layer, vec: np.ndarray, hw_vec: np.ndarray, hardware: Hardware) -> None:
    """A filter must keep a nonzero weight: with none, the layer would do no work at all
    (its nonzeros are round(density · weights), round half up; docs/model.md §4)."""
    if vec[L.L_KIND] != L.KIND_CONV:
        return
    weights = int(vec[L.L_CGI]) * int(vec[L.L_KH]) * int(vec[L.L_KW])
    dnum, dden = int(hw_vec[L.H_DNUM]), int(hw_vec[L.H_DDEN])
    if (2 * dnum * weights + dden) // (2 * dden) < 1:
        own = layer.sparsity is not None  # the layer's own (docs/model.md §1a) or the hardware's
        sparsity = layer.sparsity if own else hardware.sparsity
        raise MappingError(
            f"layer '{layer.name}': {'its own ' if own else ''}sparsity {sparsity:g} leaves no "
            f"nonzero weight in its filters of {weights} weights (density "
            f"{dnum / dden:.3g} rounds to 0); use a sparsity of at most "
            f"{1 - 1 / (2 * weights):.6g}")


def _dataflows(vec: np.ndarray, dataflow: str) -> tuple[int, ...]:
    # A weightless window operation runs only in OS (docs/model.md §1), whatever was asked.
    if vec[L.L_KIND] == L.KIND_WINDOW or dataflow == "os":
        return (L.DF_OS,)
    if dataflow == "ws":
        return (L.DF_WS,)
    return (L.DF_WS, L.DF_OS)


def _search(
    layer: Layer,
    key: tuple,
    vec: np.ndarray,
    hw_vec: np.ndarray,
    weights: np.ndarray,
    hardware: Hardware,
    cache: SearchCache,
) -> tuple[np.ndarray, np.ndarray]:
    """The tiler's mapping and counts for `key` = (layer, hardware, weights, objective, dataflows)."""
    hit = cache.entries.get(key)
    if hit is not None:
        return hit
    objective, dfs = key[3], key[4]
    if cache.ladder is None:
        from . import tiler  # numba-compiled: loaded when a layer is first mapped, not at import

        try:
            found = tiler.search(vec, hw_vec, weights, objective, dfs)
        except MappingError as e:
            found = e
    else:
        # One search for this buffer and every smaller one of the ladder (a sweep visits
        # them next), capped by the layer's winners on the family's other points.
        rung, fam = _rung_keys(key, cache.rungs)
        buf = hardware.buffer_bytes
        found = cache.ladder.get((rung, buf))
        if found is None:
            from . import tiler

            bufs = sorted({b for b in cache.buffers if b < buf} | {buf})
            family = cache.ladder.get(fam, ())
            # the other DRAM variants the caller will ask for, not yet searched: the same search
            hws, rungs = [hw_vec], [rung]
            for bw, lat in cache.variants:
                if (bw, lat) == (int(hw_vec[L.H_BW]), int(hw_vec[L.H_LAT])):
                    continue
                other = hw_vec.copy()
                other[[L.H_BW, L.H_LAT]] = (bw, lat)
                other_rung = _rung_keys((key[0], other.tobytes(), *key[2:]), cache.rungs)[0]
                if (other_rung, buf) not in cache.ladder:
                    hws.append(other)
                    rungs.append(other_rung)
            results = tiler.search_family(vec, hws, weights, objective, dfs, bufs, cache.grids,
                                          family)
            for r_key, per_buffer in zip(rungs, results, strict=True):
                for b, r in zip(bufs, per_buffer, strict=True):
                    cache.ladder[(r_key, b)] = r
            found = results[0][-1]
            if not isinstance(found, MappingError) and not any(
                    np.array_equal(found[0], m) for m in family):
                cache.ladder[fam] = (found[0], *family[:INCUMBENTS - 1])
    if isinstance(found, MappingError):
        need = getattr(found, "min_buffer_bytes", None)
        hint = f"; the smallest tile needs a buffer of {format_size(need)} ({need} bytes)" if need else ""
        raise MappingError(
            f"layer '{layer.name}' ({layer.type}, input {layer.input_shape}) does not fit "
            f"in the {hardware.buffer_label} buffer{hint}"
        ) from None
    cache.entries[key] = found
    return found


#: Winners kept per layer and hardware family (equal but for buffer, bandwidth and latency)
#: as incumbents of its next search (`tiler.search_family`).
INCUMBENTS = 3


def _rung_keys(key: tuple, memo: dict[bytes, tuple[bytes, bytes]]) -> tuple[tuple, tuple]:
    """A search key without the buffer (its ladder: `tiler.search_family`), and without the buffer,
    the DRAM bandwidth and latency (its family: the same candidate grid). `memo`: the
    hardware parts already made."""
    parts = memo.get(key[1])
    if parts is None:
        hw = np.frombuffer(key[1], dtype=np.int64).copy()
        hw[L.H_BUF] = 0
        rung_hw = hw.tobytes()
        hw[[L.H_BW, L.H_LAT]] = 0
        parts = memo[key[1]] = (rung_hw, hw.tobytes())
    return (key[0], parts[0], *key[2:]), ("family", key[0], parts[1], *key[2:])
