"""Design-space sweeps: many networks on many hardware points, stored, resumable, on Dask too.

    from nnaccel.sweep import build_spec, run_sweep, frame
    result = run_sweep(build_spec(["all"], {"array": "8x8,16x16", "buffer": "32KB..512KB"}),
                       "sweep.db")
    df = result.frame()            # this sweep's rows
    df = frame("sweep.db")         # every row of a store, as a pandas DataFrame

docs/sweep.md describes the axes, the store, the fronts and running on a cluster.
"""

from nnaccel.sweep.run import SweepResult, plan, run_sweep
from nnaccel.sweep.spec import SweepSpec, build_spec
from nnaccel.sweep.store import frame

__all__ = ["SweepResult", "SweepSpec", "build_spec", "frame", "plan", "run_sweep"]
