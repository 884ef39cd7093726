"""Ctrl-C: a few trials of benchmarks/sigint.py (which runs 25 per command for `make bench`).

SIGINT to the command's process group at several moments of `compare --all` and of a
`run --engine step`: each run ends within 2 s with status 130 and the one line
`interrupted`, leaves no process and no partial file (benchmarks/sigint.py, `one_trial`).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "sigint", Path(__file__).resolve().parent.parent / "benchmarks" / "sigint.py")
sigint = importlib.util.module_from_spec(_SPEC)
sys.modules["sigint"] = sigint  # its dataclasses look their module up
_SPEC.loader.exec_module(sigint)


@pytest.mark.parametrize("label", sorted(sigint.COMMANDS))
def test_sigint_at_several_moments_stops_cleanly(label):
    tally = sigint.run(trials=3, seed=1, commands={label: sigint.COMMANDS[label]})[label]
    assert tally.failures == []
    assert tally.interrupted >= 1


def test_sigint_to_the_main_process_alone_also_stops_the_work(tmp_path):
    # Only the parent gets the signal (kill PID, not a terminal's Ctrl-C): it must stop the
    # child doing the work, and the child's own workers, itself.
    proc = subprocess.Popen([*sigint.NNACCEL, "compare", "--all", "--jobs", "2", "-q", "--csv",
                             "out.csv"], cwd=tmp_path, stderr=subprocess.PIPE,
                            start_new_session=True)
    time.sleep(1.0)
    if proc.poll() is not None:
        pytest.skip("the run ended before the signal")
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and err == b"interrupted\n"
    assert [p for p in sigint.session_processes(proc.pid) if p != proc.pid] == []
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_in_the_library_is_a_keyboard_interrupt():
    from nnaccel.cli.child import run_in_child

    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", "import time,os,signal\n"
                             "from nnaccel.cli.child import run_in_child\n"
                             "try:\n run_in_child(time.sleep, 30)\n"
                             "except KeyboardInterrupt:\n print('caught')\n"],
                            stdout=subprocess.PIPE, text=True)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    while not children.read_text().split() and time.monotonic() - start < 60:
        time.sleep(0.05)  # until the work has started in its child
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert out == "caught\n" and time.monotonic() - sent < 5
    assert run_in_child(sum, [1, 2, 3]) == 6


def test_interrupted_by_follows_the_cause_chain():
    from nnaccel.errors import interrupted_by

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            raise SystemError("returned a result with an exception set") from ki
    except SystemError as exc:
        assert interrupted_by(exc)
    loop = ValueError("a")
    loop.__context__ = ValueError("b")
    loop.__context__.__context__ = loop  # a cycle ends the walk
    assert not interrupted_by(loop)
    assert not interrupted_by(None)
    assert interrupted_by(KeyboardInterrupt())
