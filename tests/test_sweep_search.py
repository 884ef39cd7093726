"""The guided search (sweep --search nsga2): within its budget, stored, resumable, its
fronts among the grid's, and the buffer ladder's reuse exact."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from nnaccel import tiler
from nnaccel.cli import main
from nnaccel.energy import energy_per_count
from nnaccel.engines import layout as L
from nnaccel.hardware import Hardware
from nnaccel.loader import load_network
from nnaccel.lowering import lower_network
from nnaccel.sweep import build_spec, run_sweep
from nnaccel.sweep.axes import SweepError
from nnaccel.sweep.pareto import parse_metrics, set_front
from nnaccel.sweep.search import hypervolume, nsga2, reference_point
from nnaccel.sweep.store import Store

SPACE = {"array": "4x4,8x8,16x16", "buffer": "16KB..256KB", "bandwidth": "8GB/s,16GB/s"}
METRICS = parse_metrics("area,cycles")


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    store = tmp_path_factory.mktemp("search") / "s.db"
    spec = build_spec(["squeezenet-v1.1"], SPACE)
    return spec, store, nsga2(spec, store, METRICS, budget=12, seed=3, population=6, jobs=2)


def test_search_stays_within_budget_and_stores_every_point(searched):
    _, store, result = searched
    assert result.evaluated == 12 and result.space == 30 and len(result.rows) == 12
    assert result.computed == 12 and result.reused == 0
    with Store(store) as st:
        assert st.count() == 12


def test_the_same_seed_resumes_from_the_store(searched):
    spec, store, result = searched
    again = nsga2(spec, store, METRICS, budget=12, seed=3, population=6, jobs=1)
    assert again.computed == 0 and again.rows == result.rows
    more = nsga2(spec, store, METRICS, budget=18, seed=3, population=6, jobs=1)
    assert more.evaluated == 18 and more.computed <= 6  # the first 12 came from the store


def test_search_rows_equal_the_grids_and_its_front_is_bounded_by_the_grids(searched, tmp_path):
    spec, _, result = searched
    grid = run_sweep(spec, tmp_path / "g.db", jobs=2)
    by_key = {(r["array"], r["buffer_bytes"], r["dram_bandwidth_bytes_per_s"]): r for r in grid.rows}
    for r in result.rows:  # a searched point is the grid's point, to the last bit
        assert r == by_key[(r["array"], r["buffer_bytes"], r["dram_bandwidth_bytes_per_s"])]
    g = [[r[m] for m in METRICS] for r in set_front(list(grid.rows), METRICS) if r["pareto"]]
    s = [[r[m] for m in METRICS] for r in set_front(list(result.rows), METRICS) if r["pareto"]]
    ref = reference_point(g)
    assert 0 < hypervolume(s, ref) <= hypervolume(g, ref)


def test_hypervolume_of_a_hand_made_front():
    # in log10: points (0, 1) and (1, 0) up to (2, 2): 2*1 + 1*1 = 3
    assert hypervolume([[1, 10], [10, 1]], [100, 100]) == pytest.approx(3.0)


def test_search_cli_and_its_errors(tmp_path):
    store = tmp_path / "c.db"
    r = CliRunner().invoke(main, ["sweep", "squeezenet-v1.1", "--array", "4x4,8x8", "--buffer",
                                  "32KB,64KB", "--search", "nsga2", "--budget", "3", "--store",
                                  str(store), "--pareto", "area,cycles", "-j", "1"])
    assert r.exit_code == 0, r.output
    assert "3 of the grid's 4 hardware points" in r.output and "Pareto fronts" in r.output
    r = CliRunner().invoke(main, ["sweep", "squeezenet-v1.1", "--point", "array=8x8",
                                  "--search", "nsga2", "--store", str(store)])
    assert r.exit_code == 2 and "needs axes" in r.output
    with pytest.raises(SweepError, match="several values"):
        nsga2(build_spec(["squeezenet-v1.1"], {"array": "8x8"}), store, METRICS, 5)


@pytest.mark.parametrize("objective", tiler.OBJECTIVES)
def test_a_ladder_search_is_each_buffers_own_on_real_layers(objective):
    """What the sweep's buffer ladder relies on: one search for several buffers gives each
    the result of its own search (or the same too-small error), and incumbents from another
    bandwidth change no result."""
    net = load_network("squeezenet-v1.1")
    buffers = [256 * 1024, 64 * 1024, 16 * 1024, 4 * 1024]
    differ = 0
    for low in lower_network(net, Hardware(name="x"))[:12]:
        if low.vector is None:
            continue
        hw = Hardware(name="x", dram_bandwidth_bytes_per_s=8e9)
        other = Hardware(name="x", dram_bandwidth_bytes_per_s=16e9)
        e = energy_per_count(hw)
        mine = tiler.search_family(low.vector, [hw.vector()], e, objective, (0, 1), buffers)[0]
        winners = tuple(r[0] for r in mine if not isinstance(r, tiler.BufferTooSmallError))
        theirs = tiler.search_family(low.vector, [other.vector()], e, objective, (0, 1),
                                     buffers, incumbents=winners)[0]
        for buf, r, r2 in zip(buffers, mine, theirs, strict=True):
            for h, got in ((hw, r), (other, r2)):
                vec = h.vector()
                vec[L.H_BUF] = buf
                try:
                    want = tiler.search(low.vector, vec, e, objective)
                except tiler.BufferTooSmallError as err:
                    assert str(got) == str(err)
                    continue
                assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        differ += len({r[0].tobytes() for r in mine if not isinstance(r, Exception)}) > 1
    assert differ > 0  # the buffers' winners are not all one mapping
