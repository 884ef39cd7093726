"""Ctrl-C at random moments: every run must stop within 2 s, with one line and status 130.

    python benchmarks/sigint.py [--trials 50] [--seed 12]

For each command (`compare --all --csv` and `run --engine step --csv`), each trial starts the
command in a session of its own, waits a random time within the command's usual duration
(measured first, uninterrupted; from STARTUP_S on), and sends SIGINT to its process group, as a terminal's
Ctrl-C does. A trial passes when the command ends within 2 s of the signal with status 130,
stderr is exactly `interrupted`, no process of its session is left (a second after the command
has ended: one killed may still be exiting), and its output directory
holds no temporary file and no output other than the complete one (a signal that comes as
the command finishes may find the file already written). A command that ended before the
signal is counted as `finished first` (status 0 and a complete file required). Prints one
line per command and exits 1 if any trial failed. tests/test_interrupt.py runs a few trials
of the same check.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NNACCEL = [sys.executable, "-c", "from nnaccel.entry import main; main()"]
#: Signals start this long after the launch: before it the interpreter itself is starting
#: (importing `site`), no code of nnaccel's has run yet, and Python's own start-up fails
#: on SIGINT with "Fatal Python error". From nnaccel's first import on, it answers.
STARTUP_S = 0.1
COMMANDS = {
    "compare --all": ["compare", "--all", "-q", "--csv", "out.csv"],
    "run --engine step": ["run", "sqnxt23v5", "--engine", "step", "-q", "--csv", "out.csv"],
}


def session_processes(sid: int) -> list[int]:
    """Pids of every live process of session `sid` (zombies too: they are leftovers)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid:  # fields: state, ppid, pgrp, session, ...
            out.append(int(entry.name))
    return out


@dataclass
class Outcome:
    ok: bool
    interrupted: bool
    seconds: float
    problem: str = ""


@dataclass
class Tally:
    trials: int = 0
    interrupted: int = 0
    finished_first: int = 0
    failures: list[str] = field(default_factory=list)
    worst_s: float = 0.0


def one_trial(args: list[str], delay: float, reference: bytes) -> Outcome:
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(NNACCEL + args, cwd=d, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(delay)
        sent = time.monotonic()
        finished_first = proc.poll() is not None
        if not finished_first:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return Outcome(False, True, 10.0, "did not end within 10 s")
        took = time.monotonic() - sent
        left = [p for p in session_processes(proc.pid) if p != proc.pid]
        deadline = time.monotonic() + 1.0
        while left and time.monotonic() < deadline:  # one may be in the middle of exiting
            time.sleep(0.05)
            left = [p for p in session_processes(proc.pid) if p != proc.pid]
        files = sorted(p.name for p in Path(d).iterdir())
        problems = []
        if left:
            problems.append(f"processes left: {left}")
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        if any(name != "out.csv" for name in files):
            problems.append(f"files left: {files}")
        if "out.csv" in files and (Path(d) / "out.csv").read_bytes() != reference:
            problems.append("a partial out.csv")
        text = err.decode(errors="replace")
        if finished_first or proc.returncode == 0:
            if proc.returncode != 0 or "out.csv" not in files:
                problems.append(f"finished with status {proc.returncode}, files {files}")
            return Outcome(not problems, False, took, "; ".join(problems))
        if proc.returncode != 130:
            problems.append(f"status {proc.returncode}")
        if text != "interrupted\n":
            problems.append(f"stderr {text[:200]!r}")
        if took > 2.0:
            problems.append(f"took {took:.2f} s")
        return Outcome(not problems, True, took, "; ".join(problems))


def run(trials: int, seed: int, commands: dict[str, list[str]] = COMMANDS) -> dict[str, Tally]:
    rng = random.Random(seed)
    tallies = {}
    for label, args in commands.items():
        with tempfile.TemporaryDirectory() as d:
            start = time.monotonic()
            subprocess.run(NNACCEL + args, cwd=d, check=True, stdout=subprocess.DEVNULL)
            duration = time.monotonic() - start
            reference = (Path(d) / "out.csv").read_bytes()
        tally = Tally()
        for _ in range(trials):
            outcome = one_trial(args, rng.uniform(STARTUP_S, duration), reference)
            tally.trials += 1
            tally.interrupted += outcome.interrupted
            tally.finished_first += not outcome.interrupted and outcome.ok
            tally.worst_s = max(tally.worst_s, outcome.seconds if outcome.interrupted else 0.0)
            if not outcome.ok:
                tally.failures.append(outcome.problem)
        tallies[label] = tally
    return tallies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    a = parser.parse_args()
    tallies = run(a.trials, a.seed)
    for label, t in tallies.items():
        print(f"{label}: {t.trials} trials, {t.interrupted} interrupted, {t.finished_first}"
              f" finished first, {len(t.failures)} failed; slowest stop {t.worst_s:.2f} s")
        for problem in t.failures:
            print(f"  failed: {problem}")
    return 1 if any(t.failures for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
