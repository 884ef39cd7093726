"""A sweep killed at a random moment (SIGINT, SIGKILL) and rerun gives the store of an
uninterrupted run, and the rerun computes only the points that were missing."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.sweep import build_spec, run_sweep
from nnaccel.sweep.store import Store

NETS = ["sqnxt23", "sqnxt23v5", "squeezenet-v1.1", "tiny-darknet", "mobilenet", "sqnxt23v2"]
# two bandwidths: a second ladder per array, so that the sweep still has work left (about
# half a second on two cores) when the signal comes after half of its points
AXES = {"array": "4x4,8x8,16x16", "buffer": "32KB,64KB,128KB,256KB",
        "bandwidth": "8GB/s,16GB/s"}
TOTAL = len(NETS) * 24
CLI = [sys.executable, "-c", "import sys; from nnaccel.cli import main; sys.exit(main())"]


def _args(store) -> list[str]:
    return ["sweep", *NETS, "--array", AXES["array"], "--buffer", AXES["buffer"],
            "--bandwidth", AXES["bandwidth"], "--store", str(store), "-j", "2"]


def _count(store) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as c:
            return c.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    store = tmp_path_factory.mktemp("ref") / "ref.db"
    run_sweep(build_spec(NETS, AXES), store, jobs=1)
    with Store(store) as st:
        return st.all_rows()


# seed 0: right after the first stored task, when the workers are being forked; seed 1: at a
# random point. Each signal at each moment: ~2 s a case, so two seeds, not more.
@pytest.mark.parametrize("sig, seed", [(signal.SIGINT, 0), (signal.SIGINT, 1),
                                       (signal.SIGKILL, 1)])
def test_kill_then_rerun_gives_the_uninterrupted_store(tmp_path, reference, sig, seed):
    rng = random.Random(seed * 100 + int(sig))
    store = tmp_path / "s.db"
    threshold = rng.randint(1, TOTAL // 2) if seed else 1
    proc = subprocess.Popen([*CLI, *_args(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    workers: list[psutil.Process] = []
    deadline = time.monotonic() + 300
    while proc.poll() is None and _count(store) < threshold and time.monotonic() < deadline:
        workers = psutil.Process(proc.pid).children(recursive=True) or workers
        time.sleep(0.01)
    time.sleep(rng.random() * 0.02)
    assert proc.poll() is None, "the sweep ended before the signal: make it longer"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted:" in err and "Traceback" not in err, err
    # the workers do not outlive their parent, however it ended
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    before = _count(store)
    assert before < TOTAL
    # the rerun in this process (the same command, without a second interpreter's start)
    rerun = CliRunner().invoke(main, _args(store))
    assert rerun.exit_code == 0, rerun.output
    computed = int(re.search(r": (\d+) computed", rerun.output).group(1))
    assert computed == TOTAL - before
    with Store(store) as st:
        assert st.all_rows() == reference
    assert not os.path.exists(f"{store}-journal")
