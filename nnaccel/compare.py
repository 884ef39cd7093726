"""Many networks on several hardware configurations: the rows of the paper's Table 3.

`run_configs` simulates every network on every configuration, with one `SearchCache` per
configuration so that a layer shape shared by several networks (SqueezeNext's blocks, and
across its variants) is searched once. Configurations run in worker processes, one per
configuration, when there are several and the machine has the cores (see `_use_workers`).
`compare_rows` turns the results into Table 3's rows, normalized as the paper normalizes
(`compare_frame`: the same as a pandas DataFrame).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .assumptions import SparsityUse, hardware_source, sparsity_use
from .errors import HardwareError, NnaccelError, did_you_mean
from .hardware import PRESETS, Hardware, format_size, load_toml, parse_array, parse_size
from .network import Network
from .report import plain_rows
from .simulate import LayerResult, Result, SearchCache, simulate

if TYPE_CHECKING:
    import pandas as pd

#: The columns of a compare row, in order (docs/design.md §5: every name carries its unit).
COLUMNS = (
    "model", "file", "config", "array", "buffer_bytes", "params", "macs", "cycles",
    "time_normalized", "energy_mac_units", "energy_per_mac", "utilization", "dram_bytes",
    "paper_time", "paper_energy", "time_error_pct", "energy_error_pct", "sparsity",
    "sparsity_source",
)

#: Called in the parent process after each (configuration label, network name) is simulated.
Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class Config:
    """A configuration to simulate on: the hardware, and how the tiler maps layers onto it
    (`dataflow`, `objective`: as `simulate` takes them). `label` names it in tables and files."""

    label: str
    hardware: Hardware
    dataflow: str = "auto"
    objective: str = "cycles"
    #: where the hardware's sparsity comes from (assumptions.py); "" works it out: the
    #: default when it is the default's figure, else the hardware description's
    sparsity_source: str = ""

    @property
    def sparsity_from(self) -> str:
        return hardware_source(self.hardware.sparsity, self.sparsity_source)

    def sparsity(self, network: Network) -> SparsityUse:
        """The sparsity `network` runs with on this configuration, and where it comes from."""
        return sparsity_use(network, self.hardware.sparsity, self.sparsity_from)

    @property
    def paper_key(self) -> str | None:
        """'8x8_32KB' or '16x16_128KB' when this is exactly one of the paper's configurations.

        Only then are Table 3's figures comparable; ``16x16:128KB`` qualifies (it equals the
        preset in every field), ``16x16:256KB`` does not.
        """
        for hw in PRESETS.values():
            if self.hardware.with_(name=hw.name) == hw:
                return f"{hw.array_label}_{hw.buffer_label}"
        return None


DEFAULT_CONFIGS = tuple(PRESETS)


def parse_config(text: str) -> Config:
    """'paper-8x8' (a preset), '16x16:256KB' (array and buffer, other fields default) or
    'my.toml' (a hardware file, see `hardware.load_toml`; labelled by its stem)."""
    text = text.strip()
    if text in PRESETS:
        return Config(text, PRESETS[text])
    if text.lower().endswith(".toml"):
        hw = load_toml(text)
        source = f"--config {Path(text).name}" if hw.sparsity != Hardware.sparsity else ""
        return Config(Path(text).stem, hw.with_(name=Path(text).stem), sparsity_source=source)
    m = re.fullmatch(r"([^:]+):([^:]+)", text)
    if not m:
        raise HardwareError(
            f"config {text!r} is neither a preset ({', '.join(PRESETS)}) nor ROWSxCOLS:SIZE"
            f" (e.g. 16x16:256KB){did_you_mean(text, list(PRESETS))}"
        )
    try:
        pr, pc = parse_array(m.group(1))
        size = parse_size(m.group(2))
    except HardwareError as e:
        raise HardwareError(f"config {text!r}: {e}") from None
    label = f"{pr}x{pc}:{format_size(size)}"
    return Config(label, Hardware(Pr=pr, Pc=pc, buffer_bytes=size, name=label))


def parse_configs(texts: Sequence[str]) -> list[Config]:
    """Parsed configurations in the order given, duplicates (same label) dropped."""
    out: dict[str, Config] = {}
    for t in texts or DEFAULT_CONFIGS:
        c = parse_config(t)
        out.setdefault(c.label, c)
    return list(out.values())


# -- running ------------------------------------------------------------------------------

def _simulate_config(config: Config, networks: Sequence[Network], engine: str,
                     notify: Callable[[str], None] | None,
                     cache: SearchCache | None = None) -> list[Result]:
    cache = cache if cache is not None else SearchCache()  # one per configuration: identical
    # layer shapes are searched once
    results = []
    for net in networks:
        results.append(simulate(net, config.hardware, engine=engine, dataflow=config.dataflow,
                                objective=config.objective, cache=cache))
        if notify:
            notify(net.name)
    return results


# A worker's channel back to the parent for progress; set by the pool initializer.
_PROGRESS_QUEUE: Any = None


def _init_worker(q: Any) -> None:
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = q


def _worker(config: Config, networks: Sequence[Network], engine: str,
            cache: SearchCache) -> list[list[tuple]]:
    """Simulate in a worker process; return plain tuples (a Result holds MappingProxyType,
    which does not pickle), rebuilt into Results by the parent. The networks come as the
    parent loaded them (a Network pickles), with any measured sparsity of theirs."""
    try:
        def notify(name: str) -> None:
            if _PROGRESS_QUEUE is not None:
                _PROGRESS_QUEUE.put((config.label, name))

        results = _simulate_config(config, networks, engine, notify, cache)
    except NnaccelError as e:
        # Subclasses with extra constructor arguments do not survive unpickling; the message does.
        raise NnaccelError(str(e)) from None
    return [[(r.mapping, r.counts, dict(r.energy), r.fused_into, r.stall_bandwidth_cycles,
              r.batch_mode) for r in res.layers] for res in results]


def _rebuild(network: Network, config: Config, engine: str, layers: list[tuple]) -> Result:
    hw = config.hardware
    records = tuple(
        LayerResult(layer, mapping, counts, MappingProxyType(energy), hw.pes, fused_into, stall_bw,
                    hw.batch, mode)
        for layer, (mapping, counts, energy, fused_into, stall_bw, mode)
        in zip(network.layers, layers, strict=True)
    )
    return Result(network, hw, records, engine, config.dataflow, config.objective)


#: Below this many networks a run is too short for workers to pay their ~0.5 s of overhead
#: (fork, results pickled back, start and shutdown), measured with the fast tiler.
MIN_NETWORKS_FOR_WORKERS = 8


def _idle_cores() -> float:
    """Cores not already busy, by the 1-minute load average (the machine may be shared)."""
    try:
        return (os.cpu_count() or 1) - os.getloadavg()[0]
    except OSError:
        return 0.0


def _use_workers(n_configs: int, n_networks: int, jobs: int | None) -> int:
    """How many worker processes to use (0: run in this process).

    Measured on the project's 2-core machine with a warm numba cache, all bundled networks
    on both paper presets (`make bench`): one process 2.4-2.9 s, two 2.8-2.9 s; earlier, with
    a slower search, two took 3.6-4.8 s against one's 3.3-3.8 s while another program kept
    one core busy (each worker then got half a core), and the workers cost ~0.5 s more CPU in
    all: most of a run is imports and loading the compiled engine, which workers do not
    share out. With an idle core the two configurations overlap (the longer, 8x8, is ~55% of
    the simulation). So workers are used only
    for two or more configurations of at least MIN_NETWORKS_FOR_WORKERS networks, with `fork`
    available and, by the load average, an idle core for each of at least two workers.
    The results are identical either way (tests/test_compare.py).
    """
    if jobs is not None:
        return 0 if jobs <= 1 or n_configs <= 1 else min(jobs, n_configs)
    if (n_configs <= 1 or n_networks < MIN_NETWORKS_FOR_WORKERS
            or "fork" not in mp.get_all_start_methods()):
        return 0
    idle = int(_idle_cores() + 0.5)  # on 2 cores: 2 only while the load average is below 0.5
    return min(n_configs, idle) if idle >= 2 else 0


def run_configs(networks: Sequence[Network], configs: Sequence[Config], engine: str = "fast",
                jobs: int | None = None, progress: Progress | None = None
                ) -> list[tuple[Config, list[Result]]]:
    """Every network on every configuration; results in the order of `configs`, `networks`.

    `jobs`: None chooses (see `_use_workers`), 1 forces one process, n > 1 up to n workers.
    """
    workers = _use_workers(len(configs), len(networks), jobs)
    if not workers:
        out = []
        for c in configs:
            notify = (lambda name, label=c.label: progress(label, name)) if progress else None
            out.append((c, _simulate_config(c, networks, engine, notify)))
        return out
    # Warm-up here, before the fork: it loads the compiled engine (or compiles it, with a cold
    # numba cache) once, and the forked workers inherit it instead of each loading it again —
    # which cost more than the parallel work saved. Its searches go to that configuration's
    # worker with its cache.
    caches = [SearchCache() for _ in configs]
    smallest = min(networks, key=lambda n: n.macs)
    _simulate_config(configs[0], [smallest], engine, None, caches[0])
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(q,)) as ex:
        futures = [ex.submit(_worker, c, networks, engine, cache) for c, cache in zip(configs, caches,
                                                                                    strict=True)]
        # One message per network and configuration. A worker's message travels through its
        # queue's feeder thread, so it may arrive after the future that sent it is done: wait
        # for all of them (a few seconds at most) unless a worker failed.
        expected, received = len(configs) * len(networks), 0
        pending = set(futures)
        late = None
        while received < expected:
            try:
                label, name = q.get(timeout=0.05)
                received += 1
                if progress:
                    progress(label, name)
            except queue.Empty:
                pass
            pending = {f for f in pending if not f.done()}
            if not pending:
                late = late or time.monotonic() + 5.0
                if time.monotonic() > late or any(f.exception() for f in futures):
                    break
        raw = [f.result() for f in futures]
    return [
        (c, [_rebuild(n, c, engine, layers) for n, layers in zip(networks, per_net, strict=True)])
        for c, per_net in zip(configs, raw, strict=True)
    ]


# -- the table ----------------------------------------------------------------------------

def _error_pct(ours: float, paper: float | None) -> float | None:
    return None if paper in (None, 0) else 100.0 * (ours / paper - 1.0)


def compare_rows(runs: Sequence[tuple[Config, Sequence[Result]]]) -> list[dict[str, Any]]:
    """One row per network and configuration (COLUMNS).

    ``time_normalized`` is cycles over the fastest network of the same configuration in this
    run, as Table 3 normalizes (so exactly 1.0 for the fastest). ``time_error_pct`` compares
    like with like: our cycles over the fastest network *that Table 3 lists* in this run,
    against the paper's time over the fastest of those same rows. For a run of all of Table
    3's networks that is ``time_normalized / paper_time - 1`` whenever a Table-3 network is
    the fastest; it stays meaningful for a subset or a run with networks Table 3 lacks.
    """
    rows: list[dict[str, Any]] = []
    for config, results in runs:
        key = config.paper_key
        fastest = min(r.cycles for r in results)
        paper_t = {id(r): (r.network.paper.get(f"time_{key}") if key else None) for r in results}
        listed = [r for r in results if paper_t[id(r)] is not None]
        ref_ours = min((r.cycles for r in listed), default=None)
        ref_paper = min((paper_t[id(r)] for r in listed), default=None)
        for r in results:
            hw = r.hardware
            p_time = paper_t[id(r)]
            p_energy = r.network.paper.get(f"energy_{key}") if key else None
            energy = r.energy_total
            t_err = None
            if p_time is not None and ref_ours and ref_paper:
                t_err = _error_pct(r.cycles / ref_ours, p_time / ref_paper)
            rows.append({
                "model": r.network.name,
                "file": Path(r.network.path).stem if r.network.path else "",
                "config": config.label,
                "array": hw.array_label,
                "buffer_bytes": hw.buffer_bytes,
                "params": r.network.params,
                "macs": r.macs,
                "cycles": r.cycles,
                "time_normalized": r.cycles / fastest if fastest else float("nan"),
                "energy_mac_units": energy,
                "energy_per_mac": energy / r.macs if r.macs else float("nan"),
                "utilization": r.utilization,
                "dram_bytes": r.total("dram_read_bytes") + r.total("dram_write_bytes"),
                "paper_time": p_time,
                "paper_energy": p_energy,
                "time_error_pct": t_err,
                "energy_error_pct": _error_pct(energy, p_energy),
                "sparsity": (use := config.sparsity(r.network)).overall,
                "sparsity_source": use.source,
            })
    return rows


def compare_frame(runs: Sequence[tuple[Config, Sequence[Result]]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(compare_rows(runs), columns=list(COLUMNS))


def compare_json(runs: Sequence[tuple[Config, Sequence[Result]]]) -> dict[str, Any]:
    """The rows and, for each configuration, the full hardware it stands for."""
    return {
        "configs": {c.label: {**c.hardware.to_dict(), "sparsity_source": c.sparsity_from}
                    for c, _ in runs},
        "rows": plain_rows(compare_rows(runs)),
    }
