"""A sweep point is pure: (network content, hardware, dataflow, objective, model version) -> row.

That is what makes a point cacheable, resumable and safe to compute anywhere:
its key hashes exactly what its row depends on, and `evaluate` runs `simulate` exactly as
`nnaccel run` does. A `Task` is several networks on one hardware point, so that the layer
shapes they share are searched once (one `SearchCache` per hardware).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nnaccel.area import Area, area, static_energy
from nnaccel.energy import LEVELS
from nnaccel.engines import layout as L
from nnaccel.errors import MappingError
from nnaccel.hardware import Hardware
from nnaccel.lowering import Lowered, lower_network, lowering_key, whole_maps
from nnaccel.network import Network
from nnaccel.netwrite import layer_to_dict
from nnaccel.simulate import Mapper, SearchCache, simulate
from nnaccel.sweep.version import model_version  # noqa: F401  (re-exported: run, cluster, export)

#: A row's columns, in order: what was swept, then what it costs. Energies are in the
#: hardware's energy unit (`energy_unit`: "mac" = one 16-bit MAC, or "pJ"); `edp` is
#: energy_total x time_s. `error` says why a point has no figures (a layer that fits no tile).
COLUMNS = (
    "network", "network_hash", "array", "Pr", "Pc", "buffer_bytes",
    "dram_bandwidth_bytes_per_s", "dram_latency_cycles", "sparsity", "word_bits", "dataflow",
    "objective", "params", "macs", "area_mm2", "pe_array_area_mm2", "buffer_area_mm2",
    "cycles", "time_s", "energy_dynamic", "energy_static", "energy_total", "edp",
    "energy_unit", "dram_bytes", "utilization", "error",
)
#: The figures a Pareto front may trade (all minimised).
METRICS = ("area_mm2", "cycles", "energy_total", "edp")


def network_hash(net: Network) -> str:
    """The hash of what a network computes: its input shape and layers (not its name)."""
    body = {"input_shape": list(net.input_shape), "layers": [layer_to_dict(x) for x in net.layers]}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class HwPoint:
    """One hardware configuration and how the tiler maps onto it."""

    hardware: Hardware
    dataflow: str = "auto"
    objective: str = "cycles"

    def identity(self) -> str:
        """Canonical JSON of everything the results depend on (the preset name is not)."""
        return self._identity(())

    def ladder_identity(self) -> str:
        """`identity` without the buffer: points equal but for their buffer have the same."""
        return self._identity(("buffer_bytes",))

    def family_identity(self) -> str:
        """`identity` without the buffer and the DRAM's bandwidth and latency: the points of
        a family share their searches' candidate grids and first bounds
        (`tiler.search_family`)."""
        return self._identity(("buffer_bytes", "dram_bandwidth_bytes_per_s",
                               "dram_latency_cycles"))

    def dram(self) -> tuple[int, int]:
        """The hardware vector's DRAM (bytes per cycle, latency): what varies in a family."""
        v = self.hardware.vector()
        return int(v[L.H_BW]), int(v[L.H_LAT])

    def _identity(self, without: tuple[str, ...]) -> str:
        hw = asdict(self.hardware)
        hw.pop("name")
        for f in ("clock_hz", "dram_bandwidth_bytes_per_s", "sparsity"):
            hw[f] = float(hw[f])  # 16e9 and 16000000000 are one configuration
        for f in without:
            hw[f] = None
        return json.dumps({"hardware": hw, "dataflow": self.dataflow,
                           "objective": self.objective}, sort_keys=True)


def point_key(version: str, net_hash: str, identity: str) -> str:
    return hashlib.sha256(f"{version}\n{net_hash}\n{identity}".encode()).hexdigest()


@dataclass(frozen=True)
class Task:
    """Networks (indices into the sweep's list) on one hardware point; `keys` are their points'."""

    point: HwPoint
    networks: tuple[int, ...]
    keys: tuple[str, ...]
    hashes: tuple[str, ...]
    #: the sweep's buffer sizes on points equal to this one but for the buffer: its searches
    #: are made for them all at once (`SearchCache.buffers`)
    ladder: tuple[int, ...] = ()
    #: the DRAM (bytes per cycle, latency) of the points equal to this one but for those and
    #: the buffer, which the same worker computes: its searches are made for them all at once
    #: (`SearchCache.variants`)
    variants: tuple[tuple[int, int], ...] = ()


def _point_row(net: Network, point: HwPoint, net_hash: str, a: Area,
               sizes: tuple[int, int]) -> dict[str, Any]:
    """A row with the point's columns filled in, its figures None."""
    hw = point.hardware
    params, macs = sizes
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        network=net.name, network_hash=net_hash, array=hw.array_label, Pr=hw.Pr, Pc=hw.Pc,
        buffer_bytes=hw.buffer_bytes, dram_bandwidth_bytes_per_s=float(hw.dram_bandwidth_bytes_per_s),
        dram_latency_cycles=hw.dram_latency_cycles, sparsity=float(hw.sparsity),
        word_bits=8 * hw.word_bytes, dataflow=point.dataflow, objective=point.objective,
        params=params, macs=macs, area_mm2=a.total_mm2, pe_array_area_mm2=a.pe_array_mm2,
        buffer_area_mm2=a.buffer_mm2, energy_unit=hw.energy.unit,
    )
    return row


def _row_figures(row: dict[str, Any], hw: Hardware, cycles: int, seconds: float, dynamic: float,
                 dram_bytes: int, utilization: float) -> None:
    static = static_energy(hw, cycles)
    row.update(
        cycles=cycles, time_s=seconds, energy_dynamic=dynamic, energy_static=static,
        energy_total=dynamic + static, edp=(dynamic + static) * seconds,
        dram_bytes=dram_bytes, utilization=utilization,
    )


def evaluate(net: Network, point: HwPoint, net_hash: str, cache: SearchCache | None = None,
             lowered: Sequence[Lowered] | None = None,
             sizes: tuple[int, int] | None = None) -> dict[str, Any]:
    """The row of one network on one point: `simulate` as `nnaccel run` calls it, plus area.

    `lowered` and `sizes` (params, MACs) are the network's, when the caller keeps them."""
    hw = point.hardware
    row = _point_row(net, point, net_hash, area(hw), sizes or (net.params, net.macs))
    try:
        r = simulate(net, hw, dataflow=point.dataflow, objective=point.objective, cache=cache,
                     lowered=lowered)
    except MappingError as e:
        row["error"] = str(e)
        return row
    # Result's own totals: the row is `run`'s by construction
    _row_figures(row, hw, r.cycles, r.seconds, r.energy_total,
                 r.total("dram_read_bytes") + r.total("dram_write_bytes"), r.utilization)
    return row


class CacheMap:
    """A worker's memory across tasks: search caches of the most recent hardware points (a
    worker may get several tasks of one point: the shapes their networks share are then
    searched once), the searches' buffer ladder and candidate grids (shared by every point:
    `SearchCache`), and each network lowered once per `lowering_key`, its layers numbered by
    distinct shape (`shapes`) so that a point maps each shape once for all its networks."""

    #: Above this many ladder entries the ladder starts again (it only saves searches).
    LADDER_MAX = 200_000

    def __init__(self, size: int = 8):
        self.size = size
        self.caches: OrderedDict[str, SearchCache] = OrderedDict()
        self.ladder: dict = {}
        self.grids: dict = {}
        self.lowered: dict[tuple, tuple[Network, tuple[Lowered, ...], np.ndarray]] = {}
        self.sizes: dict[int, tuple[Network, tuple[int, int]]] = {}
        self.pools: dict[int, tuple[Network, tuple]] = {}
        # distinct (layer vector, own density) -> shape number; 0 is "no vector"
        self.shape_ids: dict[tuple, int] = {}
        self.shapes: list[Lowered | None] = [None]

    def lower(self, net: Network, hw: Hardware) -> tuple[Lowered, ...]:
        return self.lower_shapes(net, hw)[0]

    def lower_shapes(self, net: Network, hw: Hardware) -> tuple[tuple[Lowered, ...], np.ndarray]:
        """The network lowered for `hw`, and each lowered layer's shape number."""
        pools = self.pools.get(id(net))
        if pools is None or pools[0] is not net:
            pools = self.pools[id(net)] = (net, whole_maps(net))
        key = (id(net), lowering_key(net, hw, pools[1]))
        hit = self.lowered.get(key)
        if hit is None or hit[0] is not net:  # the network is kept, so its id stays its own
            lowered = lower_network(net, hw)
            ids = np.array([self._shape(low) for low in lowered], dtype=np.int64)
            hit = self.lowered[key] = (net, lowered, ids)
        return hit[1], hit[2]

    def _shape(self, low: Lowered) -> int:
        if low.vector is None:
            return 0
        key = (low.vector.tobytes(), low.density, low.own_weights)
        sid = self.shape_ids.get(key)
        if sid is None:
            sid = self.shape_ids[key] = len(self.shapes)
            self.shapes.append(low)
        return sid

    def sizes_of(self, net: Network) -> tuple[int, int]:
        """(params, MACs) of the network."""
        hit = self.sizes.get(id(net))
        if hit is None or hit[0] is not net:
            hit = self.sizes[id(net)] = (net, (net.params, net.macs))
        return hit[1]

    def get(self, identity: str, buffers: tuple[int, ...] = (),
            variants: tuple[tuple[int, int], ...] = ()) -> SearchCache:
        """The search cache of a hardware point; `buffers`: the sweep's buffer ladder,
        `variants`: its family's DRAM variants (`Task`)."""
        if len(self.ladder) > self.LADDER_MAX:
            self.ladder.clear()
        cache = self.caches.pop(identity, None) or SearchCache(ladder=self.ladder, grids=self.grids)
        cache.buffers = buffers
        cache.variants = variants
        self.caches[identity] = cache
        while len(self.caches) > self.size:
            self.caches.popitem(last=False)
        return cache


def run_task(networks: Sequence[Network], task: Task, caches: CacheMap | None = None
             ) -> list[tuple[str, dict[str, Any]]]:
    """(key, row) of every network of `task`, each row `evaluate`'s.

    Each distinct layer shape of the task's networks is mapped once (`Mapper.record`), and
    each network's totals are summed from its shapes' records in its layers' order, with the
    same integer and float additions as `Result` (so the row is `run`'s to the last bit). A
    network with a layer that cannot be mapped goes through `evaluate`, for its error.
    """
    caches = caches if caches is not None else CacheMap(1)
    point = task.point
    hw = point.hardware
    mapper = Mapper(hw, "fast", point.dataflow, point.objective,
                    caches.get(point.identity(), task.ladder, task.variants),
                    stall_split=False)
    a = area(hw)
    nets = [networks[i] for i in task.networks]
    lowered = [caches.lower_shapes(net, hw) for net in nets]
    need = np.unique(np.concatenate([ids for _, ids in lowered]))
    n = len(caches.shapes)
    cyc, ops, dram_rd, dram_wr = ([0] * n for _ in range(4))
    by_level = [[0.0] * n for _ in LEVELS]
    failed = set()
    for sid in need.tolist():
        try:
            _, counts, energy, *_ = mapper.record(caches.shapes[sid]) if sid else mapper.zero
        except MappingError:
            failed.add(sid)
            continue
        cyc[sid], ops[sid] = counts[L.C_CYCLES], counts[L.C_OPS]
        dram_rd[sid], dram_wr[sid] = counts[L.C_DRAM_RD], counts[L.C_DRAM_WR]
        for lvl, column in zip(LEVELS, by_level, strict=True):
            column[sid] = energy[lvl]
    out = []
    for net, (low, ids), key, h in zip(nets, lowered, task.keys, task.hashes, strict=True):
        row = _point_row(net, point, h, a, caches.sizes_of(net))
        idx = ids.tolist()
        if failed and not failed.isdisjoint(idx):
            out.append((key, evaluate(net, point, h, mapper.cache, low, caches.sizes_of(net))))
            continue
        # Result's sums: Python ints, and per level a float sum in layer order (`Result.energy`)
        cycles = sum(map(cyc.__getitem__, idx))
        energy = {lvl: sum(map(column.__getitem__, idx))
                  for lvl, column in zip(LEVELS, by_level, strict=True)}
        _row_figures(row, hw, cycles, cycles / hw.clock_hz, sum(energy.values()),
                     sum(map(dram_rd.__getitem__, idx)) + sum(map(dram_wr.__getitem__, idx)),
                     sum(map(ops.__getitem__, idx)) / (cycles * hw.pes) if cycles else 0.0)
        out.append((key, row))
    return out


def warm(networks: Sequence[Network], point: HwPoint) -> None:
    """Load (or compile) the kernels a task needs: the smallest network on `point`, thrown away
    (a pool's parent does it once before forking, so every worker starts warm)."""
    net = min(networks, key=lambda x: len(x.layers))
    with contextlib.suppress(MappingError):
        simulate(net, point.hardware, dataflow=point.dataflow, objective=point.objective)
