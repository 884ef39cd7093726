"""A sweep point is pure: (network content, hardware, dataflow, objective, model version) -> row.

That is what makes a point cacheable, resumable and safe to compute anywhere:
its key hashes exactly what its row depends on, and `evaluate` runs `simulate` exactly as
`nnaccel run` does. A `Task` is several networks on one hardware point, so that the layer
shapes they share are searched once (one `SearchCache` per hardware).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nnaccel import __version__
from nnaccel.area import area, static_energy
from nnaccel.errors import MappingError
from nnaccel.hardware import Hardware
from nnaccel.lowering import Lowered, lower_network
from nnaccel.netformat import layer_to_dict
from nnaccel.network import Network
from nnaccel.simulate import SearchCache, simulate

#: The sources a row depends on; their hash is part of the model version, so results of a
#: changed model never mix with old ones in a store.
MODEL_SOURCES = ("network.py", "shapes.py", "netformat.py", "hardware.py", "area.py",
                 "energy.py", "lowering.py", "tiler.py", "simulate.py", "engines/**/*.py",
                 "sweep/point.py")

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


def model_version() -> str:
    """nnaccel's version and a hash of the model's sources (MODEL_SOURCES)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for pattern in MODEL_SOURCES:
        for path in sorted(root.glob(pattern)):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:16]}"


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
        hw = asdict(self.hardware)
        hw.pop("name")
        for f in ("clock_hz", "dram_bandwidth_bytes_per_s", "sparsity"):
            hw[f] = float(hw[f])  # 16e9 and 16000000000 are one configuration
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


def evaluate(net: Network, point: HwPoint, net_hash: str, cache: SearchCache | None = None,
             lowered: Sequence[Lowered] | None = None,
             sizes: tuple[int, int] | None = None) -> dict[str, Any]:
    """The row of one network on one point: `simulate` as `nnaccel run` calls it, plus area.

    `lowered` and `sizes` (params, MACs) are the network's, when the caller keeps them."""
    hw = point.hardware
    a = area(hw)
    params, macs = sizes or (net.params, net.macs)
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        network=net.name, network_hash=net_hash, array=hw.array_label, Pr=hw.Pr, Pc=hw.Pc,
        buffer_bytes=hw.buffer_bytes, dram_bandwidth_bytes_per_s=float(hw.dram_bandwidth_bytes_per_s),
        dram_latency_cycles=hw.dram_latency_cycles, sparsity=float(hw.sparsity),
        word_bits=8 * hw.word_bytes, dataflow=point.dataflow, objective=point.objective,
        params=params, macs=macs, area_mm2=a.total_mm2, pe_array_area_mm2=a.pe_array_mm2,
        buffer_area_mm2=a.buffer_mm2, energy_unit=hw.energy.unit,
    )
    try:
        r = simulate(net, hw, dataflow=point.dataflow, objective=point.objective, cache=cache,
                     lowered=lowered)
    except MappingError as e:
        row["error"] = str(e)
        return row
    # Result's own totals: the row is `run`'s by construction
    cycles, seconds, dynamic = r.cycles, r.seconds, r.energy_total
    static = static_energy(hw, cycles)
    row.update(
        cycles=cycles, time_s=seconds, energy_dynamic=dynamic, energy_static=static,
        energy_total=dynamic + static, edp=(dynamic + static) * seconds,
        dram_bytes=r.total("dram_read_bytes") + r.total("dram_write_bytes"),
        utilization=r.utilization,
    )
    return row


class CacheMap:
    """Search caches of the most recent hardware points (a worker may get several tasks of one
    point: the shapes their networks share are then searched once), and each network lowered
    once per set of fusion flags (what lowering depends on of the hardware)."""

    def __init__(self, size: int = 8):
        self.size = size
        self.caches: OrderedDict[str, SearchCache] = OrderedDict()
        self.lowered: dict[tuple, tuple[Network, tuple[Lowered, ...]]] = {}
        self.sizes: dict[int, tuple[Network, tuple[int, int]]] = {}

    def lower(self, net: Network, hw: Hardware) -> tuple[Lowered, ...]:
        key = (id(net), hw.fuse_pool, hw.fuse_add, hw.fuse_activation, hw.exp_cycles,
               hw.divide_cycles, hw.rsqrt_cycles)  # the output path's work (model.md §1b)
        hit = self.lowered.get(key)
        if hit is None or hit[0] is not net:  # the network is kept, so its id stays its own
            hit = self.lowered[key] = (net, lower_network(net, hw))
        return hit[1]

    def sizes_of(self, net: Network) -> tuple[int, int]:
        """(params, MACs) of the network."""
        hit = self.sizes.get(id(net))
        if hit is None or hit[0] is not net:
            hit = self.sizes[id(net)] = (net, (net.params, net.macs))
        return hit[1]

    def get(self, identity: str) -> SearchCache:
        cache = self.caches.pop(identity, None) or SearchCache()
        self.caches[identity] = cache
        while len(self.caches) > self.size:
            self.caches.popitem(last=False)
        return cache


def run_task(networks: Sequence[Network], task: Task, caches: CacheMap | None = None
             ) -> list[tuple[str, dict[str, Any]]]:
    """(key, row) of every network of `task`."""
    caches = caches if caches is not None else CacheMap(1)
    cache = caches.get(task.point.identity())
    hw = task.point.hardware
    return [(key, evaluate(networks[i], task.point, h, cache, caches.lower(networks[i], hw),
                           caches.sizes_of(networks[i])))
            for i, key, h in zip(task.networks, task.keys, task.hashes, strict=True)]
