"""The guided search against the full grid: how much of the grid's front NSGA-II finds.

Runs the whole grid of SPACE (3,360 hardware points: 10 arrays x 7 buffers x 4 DRAM
bandwidths x 2 word widths x 3 dataflows x 2 DRAM latencies) for one network into a store,
then `sweep --search nsga2` with a budget of BUDGET points (a fifth of the grid at most) and a
fixed seed into another, and compares the hypervolumes of their set fronts over METRICS (in
log10, up to a reference point a tenth of the grid front's range beyond its worst values:
`nnaccel.sweep.search.reference_point`). Prints one JSON object. docs/sweep.md, "Guided
search", documents a run; `make bench` runs it.

    python benchmarks/guided.py [--budget 600] [--seed 0] [--store-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

NETWORKS = ["sqnxt23v5"]
SPACE = {
    "array": "4x4,4x8,8x4,8x8,8x16,16x8,16x16,16x32,32x16,32x32",
    "buffer": "16KB..1MB",
    "bandwidth": "4GB/s..32GB/s",
    "word_bits": "8,16",
    "dataflow": "auto,ws,os",
    "latency": "50,100",
}
METRICS = "area,cycles,energy"


def run(budget: int, seed: int, folder: Path, jobs: int | None = None) -> dict:
    from nnaccel.sweep import build_spec
    from nnaccel.sweep.pareto import parse_metrics, set_front
    from nnaccel.sweep.run import run_sweep
    from nnaccel.sweep.search import hypervolume, nsga2, reference_point

    metrics = parse_metrics(METRICS)
    spec = build_spec(NETWORKS, SPACE)
    start = time.perf_counter()
    grid = run_sweep(spec, folder / "grid.db", jobs)
    grid_s = time.perf_counter() - start
    start = time.perf_counter()
    found = nsga2(spec, folder / "nsga2.db", metrics, budget, seed, jobs=jobs)
    search_s = time.perf_counter() - start

    def front(rows: list) -> list:
        return [[r[m] for m in metrics] for r in set_front(rows, metrics) if r["pareto"]]

    grid_front = front(list(grid.rows))
    ref = reference_point(grid_front)
    hv_grid = hypervolume(grid_front, ref)
    hv_search = hypervolume(front(list(found.rows)), ref)
    return {
        "networks": NETWORKS, "space": SPACE, "metrics": list(metrics), "seed": seed,
        "budget": budget, "grid_points": len(grid.rows) // len(NETWORKS),
        "evaluated": found.evaluated, "evaluated_share": found.evaluated / found.space,
        "hypervolume_grid": hv_grid, "hypervolume_search": hv_search,
        "hypervolume_ratio": hv_search / hv_grid if hv_grid else 0.0,
        "grid_front_points": len(grid_front), "grid_s": grid_s, "search_s": search_s,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="write the JSON here (else stdout)")
    ap.add_argument("--store-dir", type=Path, default=None,
                    help="keep the two stores here (default: a temporary folder)")
    args = ap.parse_args()
    if args.store_dir:
        args.store_dir.mkdir(parents=True, exist_ok=True)
        out = run(args.budget, args.seed, args.store_dir, args.jobs)
    else:
        with tempfile.TemporaryDirectory() as d:
            out = run(args.budget, args.seed, Path(d), args.jobs)
    text = json.dumps(out, indent=1) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
