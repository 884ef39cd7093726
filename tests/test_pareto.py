"""Pareto fronts on hand-made points, per network and for a network set, and the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from nnaccel.cli import main
from nnaccel.sweep.axes import SweepError
from nnaccel.sweep.export import write_rows
from nnaccel.sweep.pareto import (
    CONFIG_COLUMNS,
    front_mask,
    front_mask_pairwise,
    network_fronts,
    parse_metrics,
    set_front,
)


def test_front_of_hand_made_points():
    pts = np.array([[1, 9], [2, 5], [3, 5], [4, 2], [5, 3], [6, 1], [2, 5], [9, 9]])
    #               front  front  dom.    front  dom.    front  equal: front  dominated
    assert front_mask(pts).tolist() == [True, True, False, True, False, True, True, False]
    cube = np.array([[1, 1, 9], [1, 9, 1], [9, 1, 1], [2, 2, 9], [5, 5, 5], [6, 6, 6]])
    assert front_mask(cube).tolist() == [True, True, True, False, True, False]


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)),
                min_size=1, max_size=40))
def test_front_is_exactly_the_non_dominated(points):
    v = np.array(points)
    mask = front_mask(v)
    for i, p in enumerate(v):
        dominated = any((q <= p).all() and (q < p).any() for q in v)
        assert mask[i] == (not dominated)


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("kind", ["ties", "uniform", "anti-correlated", "nan"])
def test_fast_fronts_equal_the_pairwise_method_on_random_data(m, kind):
    rng = np.random.default_rng(1000 * m + len(kind))
    for n in (1, 2, 7, 300, 2000):
        if kind == "ties":  # few distinct values: equal rows and equal coordinates everywhere
            v = rng.integers(0, 4, size=(n, m)).astype(float)
        elif kind == "uniform":
            v = rng.random((n, m))
        elif kind == "anti-correlated":  # most rows on the front
            v = rng.random((n, m))
            v /= v.sum(axis=1, keepdims=True)
        else:
            v = rng.integers(0, 5, size=(n, m)).astype(float)
            v[rng.random((n, m)) < 0.05] = np.nan
        assert front_mask(v).tolist() == front_mask_pairwise(v).tolist(), (kind, n)


def test_the_front_of_a_million_rows():
    rng = np.random.default_rng(7)
    v = rng.random((1_000_000, 2))
    mask = front_mask(v)
    front = v[mask]
    # each front row beats all others on one metric or the other; the front itself by pairs
    assert 1 <= mask.sum() < 100 and front_mask_pairwise(front).all()
    # and no row off the front is undominated by the front
    off = v[~mask][:2000]
    assert not front_mask_pairwise(np.vstack([front, off]))[len(front):].any()


def _row(net, array, area, energy, cycles=1, error=None):
    row = dict.fromkeys(CONFIG_COLUMNS, 0)
    row.update(network=net, array=array, area_mm2=area, energy_total=energy, cycles=cycles,
               edp=None if energy is None else energy * cycles, error=error, buffer_bytes=32768,
               dram_bandwidth_bytes_per_s=16e9, dataflow="auto", objective="cycles")
    return row


ROWS = [
    _row("a", "4x4", 1.0, 8.0), _row("a", "8x8", 2.0, 2.0), _row("a", "16x16", 4.0, 3.0),
    _row("b", "4x4", 1.0, 2.0), _row("b", "8x8", 2.0, 8.0), _row("b", "16x16", 4.0, 1.0),
    _row("b", "32x32", 8.0, None, error="layer 'x' does not fit"),
]


def test_per_network_fronts():
    marked = network_fronts(ROWS, ("area_mm2", "energy_total"))
    assert [r["pareto"] for r in marked] == [True, True, False, True, False, True, False]


def test_set_front_uses_the_geometric_mean_over_networks():
    out = set_front(ROWS, ("area_mm2", "energy_total"))
    by_array = {r["array"]: r for r in out}
    assert set(by_array) == {"4x4", "8x8", "16x16"}  # 32x32 did not run every network
    assert by_array["4x4"]["energy_total"] == pytest.approx(math.sqrt(8 * 2))
    assert by_array["8x8"]["energy_total"] == pytest.approx(4.0)
    assert by_array["16x16"]["energy_total"] == pytest.approx(math.sqrt(3))
    assert {a: r["pareto"] for a, r in by_array.items()} == {"4x4": True, "8x8": False,
                                                              "16x16": True}


def test_metric_names():
    assert parse_metrics("area,energy") == ("area_mm2", "energy_total")
    assert parse_metrics("cycles,edp,area_mm2") == ("cycles", "edp", "area_mm2")
    assert parse_metrics("area,cycles,edp,energy") == ("area_mm2", "cycles", "edp", "energy_total")
    for bad in ("area", "area,area", "area,speed", "area,cycles,edp,energy,time"):
        with pytest.raises(SweepError):
            parse_metrics(bad)
    with pytest.raises(SweepError, match="two to three"):
        parse_metrics("area,cycles,edp,energy", most=3)  # a figure's: x, y and colour


def test_pareto_and_plot_commands_on_a_csv(tmp_path):
    src = tmp_path / "rows.csv"
    write_rows(src, ROWS, list(ROWS[0]))
    r = CliRunner().invoke(main, ["pareto", str(src), "-m", "area,energy"])
    assert r.exit_code == 0, r.output
    assert sorted(line.split("\t")[:2] for line in r.output.splitlines()) == [
        ["a", "4x4"], ["a", "8x8"], ["b", "16x16"], ["b", "4x4"]]
    out = tmp_path / "front.csv"
    r = CliRunner().invoke(main, ["pareto", str(src), "--set", "--csv", str(out)])
    assert r.exit_code == 0 and len(out.read_text().splitlines()) == 3
    fig = tmp_path / "f.png"
    r = CliRunner().invoke(main, ["plot", "pareto", str(src), "--set", "--network", "a", "-o", str(fig)])
    assert r.exit_code == 0, r.output
    assert fig.read_bytes()[:4] == b"\x89PNG"
    r = CliRunner().invoke(main, ["pareto", str(src), "-m", "area,colour"])
    assert r.exit_code == 2 and "unknown metric 'colour'" in r.output
    r = CliRunner().invoke(main, ["pareto", str(tmp_path / "none.csv")])
    assert r.exit_code == 2 and "no such file" in r.output
