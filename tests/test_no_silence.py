"""No silence: the first compile's estimate is measured on this machine now, and a long
command's bar keeps moving between the results it reports."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from nnaccel.cli import progress
from nnaccel.cli.child import run_in_child


def test_the_estimate_is_the_last_compile_scaled_by_how_busy_the_machine_is(monkeypatch,
                                                                            tmp_path):
    record = tmp_path / "seconds.json"
    monkeypatch.setattr(progress, "_record_path", lambda: record)
    monkeypatch.setattr(progress.os, "cpu_count", lambda: 2)
    record.write_text(json.dumps({"seconds": 20.0, "load": 0.0, "cpus": 2}))
    monkeypatch.setattr(progress.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert progress.estimate_seconds() == pytest.approx(20.0)  # idle then, idle now
    monkeypatch.setattr(progress.os, "getloadavg", lambda: (4.0, 0.0, 0.0))
    assert progress.estimate_seconds() == pytest.approx(60.0)  # 6 programs on 2 cores: 3x
    record.write_text(json.dumps({"seconds": 39.0, "load": 4.0, "cpus": 2}))
    monkeypatch.setattr(progress.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert progress.estimate_seconds() == pytest.approx(13.0)  # busy then: quicker now


def test_without_a_compile_here_the_estimate_scales_the_reference_by_this_machine(monkeypatch,
                                                                                  tmp_path):
    monkeypatch.setattr(progress, "_record_path", lambda: tmp_path / "none.json")
    monkeypatch.setattr(progress.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(progress.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(progress, "_calibration_loop", lambda: 2 * progress.REFERENCE_LOOP_CPU_S)
    assert progress.estimate_seconds() == pytest.approx(2 * progress.REFERENCE_COMPILE_S)
    monkeypatch.undo()
    assert 0 < progress._calibration_loop() < 5


def test_the_time_left_counts_down_then_says_it_is_late():
    column = progress.TimeLeftColumn(17.0)
    assert column.render(SimpleNamespace(elapsed=5.2)).plain == "about 12 s left"
    assert column.render(SimpleNamespace(elapsed=39.0)).plain == \
        "longer than the 17 s estimated"


def _slow(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def test_a_bar_refreshes_while_the_child_works_between_reports():
    ticks = []
    assert run_in_child(_slow, 0.8, tick=lambda: ticks.append(time.perf_counter())) == "done"
    assert len(ticks) >= 4  # about ten a second, none after the child is done
    count = len(ticks)
    time.sleep(0.3)
    assert len(ticks) == count
