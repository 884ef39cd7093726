"""`make bench`: how fast and how big nnaccel is, against the targets of docs/design.md §9.

Measures, each in a child process so that one measurement cannot warm the next:
* `nnaccel compare --all` with a warm numba cache (median of --repeat runs) and with a cold one
  (median of --cold-repeat runs, each with NUMBA_CACHE_DIR set to a fresh temporary directory
  in the child's environment; the machine's speed varies by a third from minute to minute): wall time,
  peak memory of the largest process (getrusage maxrss from os.wait4) and the peak total of the
  process tree (parent and workers, sampled from /proc: RSS, which counts pages the forked
  workers share with the parent once per process, so it is an upper bound, and PSS, which
  splits them);
* `simulate()` of every bundled network on each paper configuration with the fast engine, and
  of a few networks with the step engine (the step engine advances one clock at a time and
  takes long on big networks; which ones is printed);
* the tiler: mappings searched per second, and candidates evaluated per second when the tiler
  says how many it evaluated; and how its search time grows with a layer's size (10**3
  against 10**9 channels, as a ratio in one run);
* Ctrl-C at random moments of `compare --all` and `run --engine step` (benchmarks/sigint.py,
  --sigint-trials per command): failures and the slowest stop;
* transformers: `simulate()` of ViT-B/16, BERT-base (128 tokens) and GPT-2's decode step on
  new hardware points, the time per MAC against VGG-19's (the largest bundled CNN);
* `nnaccel sweep` of the 25 bundled networks on 4 arrays x 6 buffers x 2 DRAM bandwidths
  (1,200 points) with a warm numba cache and a new store: points per second for the whole
  command and the speed-up over today's per-point cost (one network on a new hardware point,
  `simulate` with a fresh search cache, as `nnaccel run` does), the same sweep with the code
  before issue 16 (BASELINE_COMMIT, alternating: a ratio in one run), and the local pool
  against a Dask LocalCluster of two worker processes;
* Pareto fronts of 10**6 random rows over 2, 3 and 4 metrics;
* the guided search (benchmarks/guided.py): NSGA-II's front against its 3,360-point grid's;
* `nnaccel run sqnxt23v5` on an empty numba cache, this code and the baseline's, alternating.

Each section prints a progress line to stderr as it starts. The defaults keep the whole run
to several minutes on two cores (one cold `compare --all`, 25 Ctrl-C trials per command, two
minutes of the step engine); raise them with the options for a closer look.

Prints a table, writes benchmarks/results/<timestamp>.json and shows the change against the
last recorded result file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
# The nnaccel of this interpreter (the venv's), whatever PATH says.
NNACCEL = [sys.executable, "-c", "import sys; from nnaccel.cli import main; sys.exit(main())"]

TARGETS = {  # docs/design.md §9
    "sweep_points_per_s": 500.0,  # issue 16
    "pareto_1e6_s": 5.0,  # issue 16: a front of 10**6 rows "in a few seconds"
    "guided_hv_ratio": 0.98,  # issue 16: of the full grid's hypervolume ...
    "guided_eval_share": 0.20,  # ... with at most a fifth of its points
    "run_cold_s": 10.0,  # issue 16: `nnaccel run sqnxt23v5` on an empty numba cache
    "dask_local_ratio": 0.80,  # issue 16: a 2-worker LocalCluster against the local pool
    "compare_all_warm_s": 3.0,
    "compare_all_cold_s": 30.0,
    "compare_all_mem_mb": 500.0,
    "tiler_scale_ratio": 10.0,  # issue 12: 10**9 channels in the same order of time as 10**3
    "sigint_stop_s": 2.0,  # issue 12: Ctrl-C honoured within about a second
    "transformer_per_mac_vs_cnn": 1.0,  # issue 15: no slower per MAC than the largest CNN
}
# The step engine on these only: the 1.0 SqueezeNext family of Table 3, SqueezeNet v1.1 and
# MobileNet (its depthwise layers have the most tiles per MAC).
STEP_NETWORKS = ("sqnxt23", "sqnxt23v2", "sqnxt23v3", "sqnxt23v4", "sqnxt23v5",
                 "squeezenet-v1.1", "mobilenet")
PAGE = os.sysconf("SC_PAGE_SIZE")


_START = time.perf_counter()


def progress(message: str) -> None:
    """One line to stderr: what the bench is doing, and since when (make bench's progress)."""
    print(f"[{time.perf_counter() - _START:6.0f} s] {message}", file=sys.stderr, flush=True)


class Stage:
    """A line on stderr for one measurement that keeps moving while it runs: a spinner, the
    time spent, and the time left by the same stage's duration in the last result file
    (measured on this machine), or 'no estimate yet' the first time."""

    def __init__(self, title: str, last: float | None):
        from rich.console import Console

        self.title, self.last = title, last
        self.console = Console(stderr=True)
        self.seconds = 0.0

    def _text(self) -> str:
        spent = time.perf_counter() - self.start
        if self.last is None:
            left = "no estimate yet (first run here)"
        elif spent < self.last:
            left = f"about {self.last - spent:.0f} s left (took {self.last:.0f} s last time)"
        else:
            left = f"longer than last time's {self.last:.0f} s"
        return f"{self.title}: {spent:.0f} s, {left}"

    def __enter__(self) -> Stage:
        self.start = time.perf_counter()
        if self.console.is_terminal:  # the measured commands run as subprocesses: no fork
            self.status = self.console.status(self._text())
            self.status.start()
            self.done = threading.Event()
            self.ticker = threading.Thread(target=self._tick, daemon=True)
            self.ticker.start()
        else:
            progress(self._text())
        return self

    def _tick(self) -> None:
        while not self.done.wait(0.5):
            self.status.update(self._text())

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        if self.console.is_terminal:
            self.done.set()
            self.ticker.join()
            self.status.stop()
        progress(f"{self.title}: done in {self.seconds:.0f} s")


# -- a child process, timed and measured -------------------------------------------------------

def _children_of(pid: int) -> list[int]:
    # /proc/PID/task/TID/children: a few small reads. Scanning all of /proc instead cost
    # enough CPU, every 20 ms, to slow a cold run that keeps both cores busy by ~15%.
    try:
        out = []
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"{task.path}/children") as f:
                out += [int(x) for x in f.read().split()]
        return out
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{pid}"):
            return []  # the process is gone
    except (OSError, ValueError):
        pass
    return _children_by_scan(pid)


def _children_by_scan(pid: int) -> list[int]:
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    # the command may contain spaces and parentheses: ppid follows the last ')'
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _tree_memory(root: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes summed over `root` and its descendants; 0 where unreadable."""
    rss = pss = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss += int(f.read().split()[1]) * PAGE
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
        stack += _children_of(pid)
    return rss, pss


def measure(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 600,
            cwd: Path = ROOT, memory: bool = True) -> dict[str, Any]:
    """Run `cmd` in `cwd`; its wall time, exit status, largest maxrss and the tree's peak
    RSS/PSS (0 without `memory`: the tree is then not sampled every 20 ms, which takes CPU
    from a command that keeps both cores busy). (`python -c` imports from its working
    directory first: the baseline's runs need theirs.)"""
    peak = {"rss": 0, "pss": 0}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, pss = _tree_memory(proc.pid)
            peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    deadline = start + timeout
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    wall = time.perf_counter() - start
    done.set()
    if memory:
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
    return {
        "wall_s": wall,
        "exit": proc.returncode,
        "timed_out": wall > timeout,
        # ru_maxrss (KiB on Linux) of the child or of its largest waited-for descendant
        "maxrss_mb": usage.ru_maxrss / 1024 if usage else None,
        "tree_rss_mb": peak["rss"] / 2**20,
        "tree_pss_mb": peak["pss"] / 2**20,
        "stderr": err.splitlines()[-1] if err else "",
    }


def bench_compare(repeat: int, cold_repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = NNACCEL + ["compare", "--all", "--quiet", "--csv", str(Path(tmp) / "out.csv")]
        measure(cmd)  # warms numba's cache in its usual place
        warm = [measure(cmd) for _ in range(repeat)]
        # the two ways the command can run, forced, so that its automatic choice can be judged
        one = [measure(cmd + ["--jobs", "1"]) for _ in range(repeat)]
        two = [measure(cmd + ["--jobs", "2"]) for _ in range(repeat)]
        colds = []
        for i in range(cold_repeat):  # each in a fresh cache directory
            cache = Path(tmp) / f"numba-cache-{i}"
            cache.mkdir()
            colds.append(measure(cmd, env={**os.environ, "NUMBA_CACHE_DIR": str(cache)}))
        cold = sorted(colds, key=lambda m: m["wall_s"])[len(colds) // 2]  # the median run
    best = min(warm, key=lambda m: m["wall_s"])
    return {
        "command": "nnaccel compare --all",
        "warm_runs_s": [m["wall_s"] for m in warm],
        "warm_s": statistics.median(m["wall_s"] for m in warm),
        "warm_best_s": best["wall_s"],
        "warm_jobs1_s": statistics.median(m["wall_s"] for m in one),
        "warm_jobs2_s": statistics.median(m["wall_s"] for m in two),
        "warm_maxrss_mb": max(m["maxrss_mb"] or 0 for m in warm),
        "warm_tree_rss_mb": max(m["tree_rss_mb"] for m in warm),
        "warm_tree_pss_mb": max(m["tree_pss_mb"] for m in warm),
        "cold_runs_s": [m["wall_s"] for m in colds],
        "cold_s": cold["wall_s"],
        "cold_maxrss_mb": max(m["maxrss_mb"] or 0 for m in colds),
        "cold_tree_rss_mb": max(m["tree_rss_mb"] for m in colds),
        "cold_tree_pss_mb": max(m["tree_pss_mb"] for m in colds),
        "errors": [m["stderr"] for m in [*warm, *one, *two, *colds] if m["exit"] != 0],
    }


# -- the sweep ---------------------------------------------------------------------------------

SWEEP_AXES = ["--array", "4x4,8x8,16x16,32x32", "--buffer", "16KB..512KB",
              "--bandwidth", "8GB/s,16GB/s"]
#: The code issue 16 measured the sweep on (before its changes): `make bench` runs the same
#: sweep with it, alternating with this code, for a speed ratio that the machine's drift does
#: not skew. Extracted with `git archive` into BASELINE_DIR (with its own numba cache).
BASELINE_COMMIT = "c5c088b"
BASELINE_DIR = Path(tempfile.gettempdir()) / "nnaccel-bench-baseline"


def baseline_tree() -> Path | None:
    """BASELINE_COMMIT's nnaccel package extracted (once), or None without git history."""
    tree = BASELINE_DIR / BASELINE_COMMIT
    if (tree / "nnaccel" / "__init__.py").exists():
        return tree
    tree.mkdir(parents=True, exist_ok=True)
    try:
        archive = subprocess.run(["git", "archive", BASELINE_COMMIT, "nnaccel", "networks"],
                                 cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return tree


def bench_sweep(repeat: int, dask_repeat: int) -> dict[str, Any]:
    """The 1,200-point sweep as a user runs it (the whole command, a new store each time,
    numba's cache warm), alternating with the baseline code (BASELINE_COMMIT) for a ratio in
    one run, beside today's per-point cost, the local pool against a two-worker LocalCluster."""
    base = baseline_tree()
    base_env = None
    if base is not None:
        base_env = {**os.environ, "PYTHONPATH": str(base),
                    "NUMBA_CACHE_DIR": str(base / "numba-cache")}
    with tempfile.TemporaryDirectory() as tmp:
        runs, base_runs = [], []
        for i in range(repeat + 1):  # the first run of each warms numba's cache; not counted
            # The counted runs are timed as a user runs them: without sampling the process
            # tree's memory every 20 ms, which takes CPU from the two workers (the first run
            # gives the memory figure)
            store = str(Path(tmp) / f"s{i}.db")
            runs.append(measure(NNACCEL + ["sweep", "all", *SWEEP_AXES, "--store", store, "-q"],
                                memory=i == 0))
            if base_env is not None:
                store = str(Path(tmp) / f"b{i}.db")
                base_runs.append(measure(NNACCEL + ["sweep", "all", *SWEEP_AXES, "--store", store,
                                                    "-q"], env=base_env, timeout=900, cwd=base,
                                         memory=i == 0))
            progress(f"sweep run {i + 1} of {repeat + 1}: {runs[-1]['wall_s']:.1f} s"
                     + (f", baseline {base_runs[-1]['wall_s']:.1f} s" if base_runs else ""))
        warm = runs[1:]
        child = run_child("sweep", ["--dask-repeat", str(dask_repeat)], timeout=900)
    points = 1200
    wall = statistics.median(m["wall_s"] for m in warm)
    out: dict[str, Any] = {
        "command": "nnaccel sweep all " + " ".join(SWEEP_AXES),
        "points": points,
        "runs_s": [m["wall_s"] for m in warm],
        "wall_s": wall,
        "points_per_s": points / wall,
        "tree_rss_mb": runs[0]["tree_rss_mb"],  # the run whose memory was sampled
        "errors": [m["stderr"] for m in [*runs, *base_runs] if m["exit"] != 0],
        **child,
    }
    if base_runs:
        pairs = [b["wall_s"] / m["wall_s"] for m, b in zip(warm, base_runs[1:], strict=True)]
        out["baseline_commit"] = BASELINE_COMMIT
        out["baseline_runs_s"] = [m["wall_s"] for m in base_runs[1:]]
        out["baseline_points_per_s"] = points / statistics.median(out["baseline_runs_s"])
        out["speedup_vs_baseline"] = statistics.median(pairs)
    if "per_point_s" in child:
        out["speedup_vs_per_point"] = child["per_point_s"] * points / wall
    return out


def child_sweep(repeat: int) -> dict[str, Any]:
    """Runs in a child (--child sweep): today's per-point cost, and the local pool against a
    2-worker Dask LocalCluster (`cluster.local_cluster`, as `sweep --dask` starts it).

    Both run the same plan from this process, timed alike (run_sweep alone, into a new store,
    kernels loaded), in `repeat` alternating pairs (which goes first alternates too) on one
    cluster whose workers forget their caches before each of its runs, as a new pool's
    workers start with none: the ratio is the median of the pairs' ratios, so that a change
    of the machine's load between two runs does not decide it. The cluster's start (its
    processes, their kernels) is paid once per cluster and reported apart."""
    from distributed import Client

    from nnaccel.hardware import KIB, Hardware
    from nnaccel.loader import bundled_networks, load_network
    from nnaccel.simulate import simulate
    from nnaccel.sweep import build_spec, plan, run_sweep
    from nnaccel.sweep.cluster import clear_caches, local_cluster, warm_workers

    nets = [load_network(p) for p in bundled_networks()]
    simulate(nets[0], Hardware())  # load the compiled engine once
    # One network on a new hardware point, nothing shared: what a point costs without a sweep.
    sample = [Hardware(Pr=r, Pc=c, buffer_bytes=b * KIB) for r, c, b in ((8, 8, 64), (16, 16, 256))]
    t0 = time.perf_counter()
    for hw in sample:
        for net in nets:
            simulate(net, hw)
    per_point = (time.perf_counter() - t0) / (len(sample) * len(nets))
    axes = dict(zip(("array", "buffer", "bandwidth"), SWEEP_AXES[1::2], strict=True))
    pl = plan(build_spec(["all"], axes))
    out: dict[str, Any] = {"per_point_s": per_point, "per_point_sample": len(sample) * len(nets)}
    runs: dict[str, list[float]] = {"local": [], "dask": []}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with local_cluster(2) as cluster, Client(cluster) as client:
            warm_workers(client)  # the workers load the kernels, as the pool's parent does
            out["dask_start_s"] = time.perf_counter() - t0

            def timed(kind: str, i: int) -> None:
                if kind == "dask":
                    clear_caches(client)
                t = time.perf_counter()
                result = run_sweep(pl, Path(tmp) / f"{kind}{i}.db",
                                   **({"client": client} if kind == "dask" else {"jobs": 2}))
                runs[kind].append(time.perf_counter() - t)
                out["sweep_points"] = result.computed

            for i in range(repeat):
                for kind in ("local", "dask") if i % 2 == 0 else ("dask", "local"):
                    timed(kind, i)
    points = out["sweep_points"]
    out["local_runs_s"], out["dask_runs_s"] = runs["local"], runs["dask"]
    out["local_points_per_s"] = points / statistics.median(runs["local"])
    out["dask_points_per_s"] = points / statistics.median(runs["dask"])
    out["dask_local_ratios"] = [b / a for a, b in zip(runs["dask"], runs["local"], strict=True)]
    out["dask_local_ratio"] = statistics.median(out["dask_local_ratios"])
    out["dask_points_per_s_with_start"] = points / (statistics.median(runs["dask"])
                                                    + out["dask_start_s"])
    return out


def child_pareto() -> dict[str, Any]:
    """Runs in a child (--child pareto): Pareto fronts of 10**6 random rows, 2 to 4 metrics."""
    import numpy as np

    from nnaccel.sweep.pareto import front_mask

    rng = np.random.default_rng(16)
    out: dict[str, Any] = {"rows": 1_000_000}
    for m in (2, 3, 4):
        v = rng.random((1_000_000, m))
        t0 = time.perf_counter()
        mask = front_mask(v)
        out[f"metrics_{m}_s"] = time.perf_counter() - t0
        out[f"metrics_{m}_front"] = int(mask.sum())
    return out


def bench_run_cold(repeat: int) -> dict[str, Any]:
    """`nnaccel run sqnxt23v5` on an empty numba cache (each run its own), this code and the
    baseline's (BASELINE_COMMIT), alternating."""
    base = baseline_tree()
    out: dict[str, Any] = {"command": "nnaccel run sqnxt23v5", "runs_s": [], "baseline_runs_s": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(tmp) / f"new{i}")}
            # only the wall time counts: no memory sampling beside the two compiling cores
            m = measure(NNACCEL + ["run", "sqnxt23v5"], env=env, memory=False)
            out["runs_s"].append(m["wall_s"])
            if m["exit"]:
                out["error"] = m["stderr"]
            if base is not None:
                env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(tmp) / f"old{i}"),
                       "PYTHONPATH": str(base)}
                out["baseline_runs_s"].append(measure(NNACCEL + ["run", "sqnxt23v5"], env=env,
                                                      cwd=base, memory=False)["wall_s"])
            progress(f"cold run {i + 1} of {repeat}: {out['runs_s'][-1]:.1f} s"
                     + (f", baseline {out['baseline_runs_s'][-1]:.1f} s" if base else ""))
    out["cold_s"] = statistics.median(out["runs_s"])
    if out["baseline_runs_s"]:
        out["baseline_cold_s"] = statistics.median(out["baseline_runs_s"])
    return out


def bench_guided() -> dict[str, Any]:
    """benchmarks/guided.py: NSGA-II within a fifth of a 3,360-point grid, against the grid."""
    cmd = [sys.executable, str(Path(__file__).resolve().parent / "guided.py")]
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        m = measure(cmd + ["--out", f.name], timeout=1200)
        if m["exit"] != 0:
            return {"error": m["stderr"] or f"exit {m['exit']}", "wall_s": m["wall_s"]}
        out = json.loads(Path(f.name).read_text())
    out["wall_s"] = m["wall_s"]
    return out


# -- in a child: per-network simulate() and the tiler ----------------------------------------

def child_networks(step_nets: list[str], step_timeout: float) -> dict[str, Any]:
    """Runs in a child process (--child networks): fast for every network, step for a few."""
    from nnaccel.hardware import preset
    from nnaccel.loader import bundled_networks, load_network
    from nnaccel.simulate import SearchCache, simulate

    out: dict[str, Any] = {"fast": {}, "step": {}, "step_skipped": []}
    nets = [load_network(p) for p in bundled_networks()]
    hws = [preset("paper-8x8"), preset("paper-16x16")]
    simulate(load_network("sqnxt23v5"), hws[0])  # load the compiled engine once, not per network
    for net in nets:
        stem = Path(net.path).stem
        for hw in hws:
            t0 = time.perf_counter()
            res = simulate(net, hw)  # as `nnaccel run` does: no cache shared across networks
            out["fast"][f"{stem}@{hw.name}"] = {"s": time.perf_counter() - t0, "cycles": res.cycles}
    # step: once compiled (the first call compiles or loads it), then timed
    simulate(load_network("sqnxt23v5"), hws[0], engine="step")
    spent = 0.0
    for stem in step_nets:
        net = load_network(stem)
        for hw in hws:
            if spent > step_timeout:
                out["step_skipped"].append(f"{stem}@{hw.name}")
                continue
            # `run --engine step` searches with fast, then replays each choice on step: time
            # the two apart (the replay with the searches already in the cache).
            cache = SearchCache()
            t0 = time.perf_counter()
            simulate(net, hw, cache=cache)
            t1 = time.perf_counter()
            res = simulate(net, hw, engine="step", cache=cache)
            t2 = time.perf_counter()
            spent += t2 - t0
            out["step"][f"{stem}@{hw.name}"] = {"s": t2 - t0, "search_s": t1 - t0,
                                                "replay_s": t2 - t1, "cycles": res.cycles}
    return out


def child_transformers() -> dict[str, Any]:
    """Runs in a child (--child transformers): ViT-B/16, BERT-base and GPT-2's decode step on
    new hardware points (nothing cached: as `nnaccel run` on a point no one has run), against
    the largest bundled CNN (VGG-19), per MAC (docs/design.md §7: transformers no slower per
    MAC than CNNs)."""
    from nnaccel.hardware import KIB, Hardware
    from nnaccel.loader import load_network
    from nnaccel.simulate import simulate

    nets = {stem: load_network(stem) for stem in ("vit-b16", "bert-base-128", "gpt2-decode-127",
                                                   "vgg19")}
    simulate(load_network("sqnxt23v5"), Hardware())  # load the compiled engine once
    points = [Hardware(Pr=r, Pc=c, buffer_bytes=b * KIB) for r, c, b in
              ((12, 12, 96), (16, 8, 48), (24, 24, 512))]
    out: dict[str, Any] = {}
    for stem, net in nets.items():
        t0 = time.perf_counter()
        for hw in points:
            simulate(net, hw)
        s = (time.perf_counter() - t0) / len(points)
        out[stem] = {"s": s, "macs": net.macs, "ns_per_mac": s / net.macs * 1e9}
    cnn = out["vgg19"]["ns_per_mac"]
    for stem in ("vit-b16", "bert-base-128", "gpt2-decode-127"):
        out[stem]["per_mac_vs_vgg19"] = out[stem]["ns_per_mac"] / cnn
    return out


def child_tiler() -> dict[str, Any]:
    """Runs in a child (--child tiler): every distinct mapping search of all bundled networks.

    Reports searches per second and, from the tiler's own counts, candidates per second:
    `grid` = tile-size combinations of the candidate grids (each times the loop orders, before
    the buffer-fit filter), `simulated` = candidates whose DMA timeline was walked (the branch
    and bound of nnaccel/tiler.py evaluates the rest by closed-form bounds only)."""
    import numpy as np

    from nnaccel import tiler
    from nnaccel.energy import energy_per_count
    from nnaccel.engines import layout as L
    from nnaccel.hardware import preset
    from nnaccel.loader import bundled_networks, load_network
    from nnaccel.lowering import lower_network

    stats = getattr(tiler, "search_stats", None)
    grid = getattr(tiler, "candidate_grid", None)
    out: dict[str, Any] = {}
    for name in ("paper-8x8", "paper-16x16"):
        hw = preset(name)
        hw_vec, weights = hw.vector(), energy_per_count(hw)
        vecs: dict[bytes, np.ndarray] = {}
        for p in bundled_networks():
            for low in lower_network(load_network(p), hw):  # as simulate() lowers (fusion)
                if low.vector is not None:
                    vecs.setdefault(low.vector.tobytes(), low.vector)

        def dataflows(v: np.ndarray) -> tuple[int, ...]:
            return (L.DF_OS,) if v[L.L_KIND] == L.KIND_WINDOW else (L.DF_WS, L.DF_OS)

        first = next(iter(vecs.values()))
        tiler.search(first, hw_vec, weights, "cycles", dataflows(first))  # compile or load
        simulated = 0
        t0 = time.perf_counter()
        for v in vecs.values():
            if stats:
                simulated += stats(v, hw_vec, weights, "cycles", dataflows(v))[2]
            else:
                tiler.search(v, hw_vec, weights, "cycles", dataflows(v))
        elapsed = time.perf_counter() - t0
        points = None
        if grid:
            points = sum(int(np.prod([len(g) for g in grid(v, hw_vec, df)]))
                         for v in vecs.values() for df in dataflows(v))
        out[name] = {
            "searches": len(vecs),
            "s": elapsed,
            "searches_per_s": len(vecs) / elapsed,
            "grid_points": points,
            "grid_points_per_s": points / elapsed if points else None,
            "simulated": simulated if stats else None,
            "simulated_per_s": simulated / elapsed if stats else None,
        }
    return out


def child_scale() -> dict[str, Any]:
    """Runs in a child (--child scale): the tiler's search time against a layer's size.

    One conv, 10**3 and 10**9 output channels (and 10**3 and 10**9 input channels of an fc),
    on a 16x16 array with a 16 MB buffer, where every size maps: the grid's bound
    (nnaccel/tiler.py, MAX_TILES) keeps the big layer's search within a small factor of the
    small one's. Median of 5 searches each, after one to load the kernels."""
    import numpy as np

    from nnaccel import tiler
    from nnaccel.energy import energy_per_count
    from nnaccel.engines import layout as L
    from nnaccel.hardware import Hardware
    from nnaccel.lowering import layer_vector
    from nnaccel.network import Layer

    hw = Hardware(Pr=16, Pc=16, buffer_bytes=16 * 2**20)
    hw_vec, weights = hw.vector(), energy_per_count(hw)

    def timed(layer: Layer) -> float:
        v = layer_vector(layer)
        tiler.search(v, hw_vec, weights, "cycles", (L.DF_WS, L.DF_OS))
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            tiler.search(v, hw_vec, weights, "cycles", (L.DF_WS, L.DF_OS))
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    out: dict[str, Any] = {}
    for n in (10**3, 10**9):
        out[f"conv_cout_{n:.0e}_s"] = timed(Layer("c", "conv", ("input",), ((16, 8, 8),),
                                                  (n, 8, 8), kernel=(3, 3), padding=(1, 1)))
        out[f"fc_cin_{n:.0e}_s"] = timed(Layer("f", "fc", ("input",), ((n, 1, 1),),
                                               (256, 1, 1)))
    out["conv_ratio"] = out["conv_cout_1e+09_s"] / out["conv_cout_1e+03_s"]
    out["fc_ratio"] = out["fc_cin_1e+09_s"] / out["fc_cin_1e+03_s"]
    return out


def bench_sigint(trials: int) -> dict[str, Any]:
    """benchmarks/sigint.py: Ctrl-C at random moments of compare --all and run --engine step."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import sigint

    out: dict[str, Any] = {}
    for label, t in sigint.run(trials, seed=12).items():
        out[label] = {"trials": t.trials, "interrupted": t.interrupted,
                      "finished_first": t.finished_first, "failed": len(t.failures),
                      "slowest_stop_s": t.worst_s, "failures": t.failures[:5]}
    return out


def run_child(kind: str, args: list[str], timeout: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--child-out", f.name,
               *args]
        m = measure(cmd, timeout=timeout)
        if m["exit"] != 0:
            return {"error": m["stderr"] or f"exit {m['exit']}", "wall_s": m["wall_s"]}
        return json.loads(Path(f.name).read_text())


# -- the report -------------------------------------------------------------------------------

def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def previous_result(exclude: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    files = sorted(p for p in RESULTS.glob("*.json") if p != exclude)
    if not files:
        return None
    return files[-1], json.loads(files[-1].read_text())


def headline(r: dict[str, Any]) -> dict[str, float | None]:
    """The numbers shown in the table and compared with the last run."""
    c, n, t = r.get("compare", {}), r.get("networks", {}), r.get("tiler", {})
    sc, si = r.get("scale", {}), r.get("sigint", {})
    sw = r.get("sweep", {})
    fast = n.get("fast", {})
    step = n.get("step", {})
    pa, gu, rc = r.get("pareto", {}), r.get("guided", {}), r.get("run_cold", {})
    h: dict[str, float | None] = {
        "sweep 1,200 points, warm: points per s (whole command)": sw.get("points_per_s"),
        "sweep: speed against the baseline code, same run (x)": sw.get("speedup_vs_baseline"),
        "sweep: baseline code, points per s": sw.get("baseline_points_per_s"),
        "pareto front of 10**6 rows, 2 metrics (s)": pa.get("metrics_2_s"),
        "pareto front of 10**6 rows, 3 metrics (s)": pa.get("metrics_3_s"),
        "pareto front of 10**6 rows, 4 metrics (s)": pa.get("metrics_4_s"),
        "guided search: hypervolume / the grid's": gu.get("hypervolume_ratio"),
        "guided search: share of the grid evaluated": gu.get("evaluated_share"),
        "run sqnxt23v5, cold numba cache (s, median)": rc.get("cold_s"),
        "run sqnxt23v5, cold, baseline code (s, median)": rc.get("baseline_cold_s"),
        "sweep: Dask 2 workers / local pool (throughput ratio)": sw.get("dask_local_ratio"),
        "sweep: wall time (s, median)": sw.get("wall_s"),
        "sweep: today's cost of one point (ms)": (sw["per_point_s"] * 1e3
                                                  if sw.get("per_point_s") else None),
        "sweep: speed-up over one point at a time (x)": sw.get("speedup_vs_per_point"),
        "sweep on Dask LocalCluster, 2 workers: points per s": sw.get("dask_points_per_s"),
        "sweep on the local pool beside it, 2 processes: points per s":
            sw.get("local_points_per_s"),
        "sweep on Dask LocalCluster, incl. its start (points per s)":
            sw.get("dask_points_per_s_with_start"),
        "compare --all, warm (s, median)": c.get("warm_s"),
        "compare --all, warm, --jobs 1 (s, median)": c.get("warm_jobs1_s"),
        "compare --all, warm, --jobs 2 (s, median)": c.get("warm_jobs2_s"),
        "compare --all, cold cache (s, median)": c.get("cold_s"),
        "compare --all, peak memory, tree RSS (MB)": max(c.get("warm_tree_rss_mb", 0),
                                                       c.get("cold_tree_rss_mb", 0)) or None,
        "compare --all, peak memory, tree PSS (MB)": max(c.get("warm_tree_pss_mb", 0),
                                                       c.get("cold_tree_pss_mb", 0)) or None,
        "compare --all, largest process maxrss (MB)": max(c.get("warm_maxrss_mb") or 0,
                                                          c.get("cold_maxrss_mb") or 0) or None,
        "run, fast: slowest network (s)": max((v["s"] for v in fast.values()), default=None),
        "run, fast: all networks x 2 configs (s)": sum(v["s"] for v in fast.values()) or None,
        "run, step: slowest network, search + replay (s)": max((v["s"] for v in step.values()),
                                                                default=None),
        "run, step: slowest replay alone (s)": max((v.get("replay_s", 0) for v in step.values()),
                                                   default=None),
    }
    tr = r.get("transformers", {})
    for stem, label in (("vit-b16", "ViT-B/16"), ("bert-base-128", "BERT-base 128"),
                        ("gpt2-decode-127", "GPT-2 decode step")):
        v = tr.get(stem) or {}
        h[f"run {label} on a new point (s)"] = v.get("s")
        if stem != "gpt2-decode-127":  # 1 token: a few MACs a byte, no per-MAC comparison
            h[f"run {label}: time per MAC / VGG-19's"] = v.get("per_mac_vs_vgg19")
    h["run VGG-19 on a new point (s)"] = (tr.get("vgg19") or {}).get("s")
    h["tiler: conv, 10**9 / 10**3 output channels (time ratio)"] = sc.get("conv_ratio")
    h["tiler: fc, 10**9 / 10**3 input channels (time ratio)"] = sc.get("fc_ratio")
    h["tiler: conv with 10**9 output channels (s)"] = sc.get("conv_cout_1e+09_s")
    for label, v in si.items():
        if isinstance(v, dict):
            h[f"Ctrl-C during {label}: failed of {v['trials']}"] = v["failed"]
            h[f"Ctrl-C during {label}: slowest stop (s)"] = v["slowest_stop_s"]
    for cfg, v in t.items():
        if isinstance(v, dict):
            h[f"tiler {cfg}: searches per s"] = v.get("searches_per_s")
            h[f"tiler {cfg}: grid tile sizes per s"] = v.get("grid_points_per_s")
            h[f"tiler {cfg}: timelines simulated per s"] = v.get("simulated_per_s")
    return h


#: Which headline measurement has which target: (test on its label, target, higher is better).
_TARGET_OF = (
    (lambda k: k.startswith("sweep 1,200 points"), TARGETS["sweep_points_per_s"], True),
    (lambda k: k.startswith("guided search: hypervolume"), TARGETS["guided_hv_ratio"], True),
    (lambda k: k.startswith("sweep: Dask 2 workers"), TARGETS["dask_local_ratio"], True),
    (lambda k: k.startswith("pareto front of 10**6"), TARGETS["pareto_1e6_s"], False),
    (lambda k: k.startswith("guided search: share"), TARGETS["guided_eval_share"], False),
    (lambda k: k.startswith("run sqnxt23v5, cold numba cache"), TARGETS["run_cold_s"], False),
    (lambda k: k.startswith("compare --all, warm (s"), TARGETS["compare_all_warm_s"], False),
    (lambda k: k.startswith("compare --all, cold"), TARGETS["compare_all_cold_s"], False),
    (lambda k: k.startswith("compare --all, peak memory, tree RSS"), TARGETS["compare_all_mem_mb"],
     False),
    (lambda k: k.startswith("tiler: ") and "ratio" in k, TARGETS["tiler_scale_ratio"], False),
    (lambda k: k.endswith("time per MAC / VGG-19's"), TARGETS["transformer_per_mac_vs_cnn"],
     False),
    (lambda k: k.startswith("Ctrl-C") and "failed" in k, 0, False),
    (lambda k: k.startswith("Ctrl-C") and "slowest" in k, TARGETS["sigint_stop_s"], False),
)


def status(key: str, value: float | None) -> tuple[str, str]:
    """(the target as shown, "ok"/"MISSED"/"") of a headline measurement."""
    for applies, target, higher in _TARGET_OF:
        if applies(key):
            shown = f"{'≥' if higher else '≤'} {target:g}"
            if value is None:
                return shown, ""
            return shown, "ok" if (value >= target if higher else value <= target) else "MISSED"
    return "", ""


def print_report(result: dict[str, Any], prev: tuple[Path, dict[str, Any]] | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or logged: wide enough that no row wraps
        console = Console(width=130)
    now, before = headline(result), headline(prev[1]) if prev else {}
    table = Table(title=f"nnaccel benchmarks ({result['machine']['cpus']} CPUs, load"
                        f" {result['machine']['loadavg_before']} before; commit {result['commit']})")
    for col in ("measurement", "value", "target", "", "last run", "change"):
        table.add_column(col, justify="left" if col == "measurement" else "right")
    for key, value in now.items():
        target, verdict = status(key, value)
        old = before.get(key)
        change = f"{100 * (value / old - 1):+.0f}%" if value and old else ""
        table.add_row(key, "" if value is None else f"{value:,.3g}", target,
                      f"[green]{verdict}[/green]" if verdict == "ok" else f"[red]{verdict}[/red]",
                      "" if old is None else f"{old:,.3g}", change)
    console.print(table)
    if prev:
        console.print(f"last run: {prev[0].relative_to(ROOT)}")
    net = result.get("networks", {})
    if net.get("step"):
        console.print("step engine timed on: " + ", ".join(sorted(net["step"])))
    if net.get("step_skipped"):
        console.print("step engine skipped (time budget spent): " + ", ".join(net["step_skipped"]))
    for label, v in result.get("sigint", {}).items():
        for problem in v.get("failures", []):
            console.print(f"[red]Ctrl-C during {label}: {problem}[/red]")
    for what in ("compare", "networks", "tiler", "scale", "sweep", "transformers", "pareto",
                 "guided", "run_cold"):
        err = result.get(what, {}).get("error") or result.get(what, {}).get("errors")
        if err:
            console.print(f"[red]{what}: {err}[/red]")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2, help="warm runs of compare --all (median)")
    ap.add_argument("--cold-repeat", type=int, default=1,
                    help="cold-cache runs of compare --all, each in a fresh cache (median)")
    ap.add_argument("--step-budget", type=float, default=60,
                    help="seconds the step engine may take in total; networks past it are skipped")
    ap.add_argument("--skip", action="append", default=[],
                    choices=("compare", "networks", "tiler", "scale", "sigint", "sweep",
                             "transformers", "pareto", "guided", "cold"))
    ap.add_argument("--cold-run-repeat", type=int, default=2,
                    help="cold-cache runs of `run sqnxt23v5` (median), each against the baseline")
    ap.add_argument("--sigint-trials", type=int, default=10,
                    help="Ctrl-C trials per command (benchmarks/sigint.py)")
    ap.add_argument("--sweep-repeat", type=int, default=3, help="warm runs of the sweep (median)")
    ap.add_argument("--dask-repeat", type=int, default=5,
                    help="alternating pairs of the sweep on the local pool and on Dask (median"
                         " of their ratios)")
    ap.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        children = {"networks": lambda: child_networks(list(STEP_NETWORKS), args.step_budget),
                    "scale": child_scale, "sweep": lambda: child_sweep(args.dask_repeat),
                    "tiler": child_tiler,
                    "transformers": child_transformers, "pareto": child_pareto}
        data = children[args.child]()
        Path(args.child_out).write_text(json.dumps(data))
        return 0

    result: dict[str, Any] = {
        "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "loadavg_before": os.getloadavg()[0]},
        "targets": TARGETS,
    }
    sections = {
        "compare": ("compare --all, warm and cold",
                    lambda: bench_compare(args.repeat, args.cold_repeat)),
        "networks": ("every network, fast and step engines",
                     lambda: run_child("networks", ["--step-budget", str(args.step_budget)],
                                       timeout=args.step_budget + 600)),
        "tiler": ("tiler searches per second", lambda: run_child("tiler", [], timeout=600)),
        "scale": ("tiler on huge layers", lambda: run_child("scale", [], timeout=600)),
        "transformers": ("transformers", lambda: run_child("transformers", [], timeout=600)),
        "sigint": ("Ctrl-C at random moments", lambda: bench_sigint(args.sigint_trials)),
        "sweep": ("the 1,200-point sweep, baseline, per point, Dask",
                  lambda: bench_sweep(args.sweep_repeat, args.dask_repeat)),
        "pareto": ("Pareto fronts of 10**6 rows", lambda: run_child("pareto", [], timeout=600)),
        "guided": ("guided search against a 3,360-point grid", bench_guided),
        "cold": ("run sqnxt23v5 on an empty numba cache",
                 lambda: bench_run_cold(args.cold_run_repeat)),
    }
    todo = [k for k in sections if k not in args.skip]
    # each section on a moving line, with the time left by its time in the last result file
    prev = previous_result()
    took = (prev[1].get("stage_seconds", {}) if prev else {})
    result["stage_seconds"] = {}
    for i, key in enumerate(todo):
        label, fn = sections[key]
        with Stage(f"{i + 1}/{len(todo)} {label}", took.get(key)) as stage:
            result["run_cold" if key == "cold" else key] = fn()
        result["stage_seconds"][key] = round(stage.seconds, 1)
    progress("done")
    result["machine"]["loadavg_after"] = os.getloadavg()[0]

    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = result["timestamp"].replace(":", "").replace("-", "")
        path = RESULTS / f"{stamp}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
    print_report(result, prev)
    if not args.no_save:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
