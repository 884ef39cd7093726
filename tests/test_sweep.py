"""nnaccel sweep: rows equal `run`'s totals, the store resumes, exports and the API's frame."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.sweep import build_spec, frame, plan, run_sweep
from nnaccel.sweep.point import COLUMNS, HwPoint, network_hash, point_key
from nnaccel.sweep.run import make_tasks
from nnaccel.sweep.store import Store

NETS = ["sqnxt23v5", "squeezenet-v1.1", "tiny-darknet"]
AXES = {"array": "8x8,12x4", "buffer": "32KB,128KB", "bandwidth": "8GB/s,16GB/s"}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    store = tmp_path_factory.mktemp("sweep") / "s.db"
    result = run_sweep(build_spec(NETS, AXES), store, jobs=2)
    return store, result


def test_every_point_once_in_sweep_order(swept):
    store, result = swept
    assert result.computed == 24 and result.reused == 0 and len(result.rows) == 24
    assert [r["network"] for r in result.rows[:3]] == ["1.0-SqNxt-23v5", "SqueezeNet v1.1",
                                                        "Tiny Darknet"]
    assert [(r["array"], r["buffer_bytes"], r["dram_bandwidth_bytes_per_s"]) for r in result.rows[::3]] == [
        (a, b * 1024, bw) for a in ("8x8", "12x4") for b in (32, 128) for bw in (8e9, 16e9)]
    with Store(store) as st:
        assert st.count() == 24


@pytest.mark.parametrize("index", [0, 7, 13, 23])
def test_sample_rows_equal_run_totals(swept, tmp_path, index):
    row = swept[1].rows[index]
    out = tmp_path / "run.json"
    net = NETS[index % 3]
    hw = tmp_path / "hw.toml"
    hw.write_text(f'dram_bandwidth_bytes_per_s = {row["dram_bandwidth_bytes_per_s"]}\n')
    r = CliRunner().invoke(main, ["run", net, "--hw", str(hw), "--array", row["array"],
                                  "--buffer", str(row["buffer_bytes"]), "--json", str(out), "-q"])
    assert r.exit_code == 0, r.output
    totals = json.loads(out.read_text())["totals"]
    assert row["cycles"] == totals["cycles"]
    assert row["energy_dynamic"] == totals["energy_total_mac_units"]
    assert row["energy_total"] == totals["energy_total_mac_units"]  # no leakage in the default table
    assert row["dram_bytes"] == totals["dram_read_bytes"] + totals["dram_write_bytes"]
    assert row["utilization"] == totals["utilization"]
    assert row["time_s"] == totals["time_s"]
    assert row["edp"] == totals["energy_total_mac_units"] * totals["time_s"]


def test_rerun_computes_nothing_and_a_wider_sweep_only_the_new_points(swept, tmp_path):
    store, first = swept
    again = run_sweep(build_spec(NETS, AXES), store, jobs=1)
    assert again.computed == 0 and again.reused == 24 and again.rows == first.rows
    copy = tmp_path / "copy.db"
    with sqlite3.connect(store) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    wider = run_sweep(build_spec([*NETS, "mobilenet"], AXES), copy, jobs=1)
    assert wider.computed == 8 and wider.reused == 24


def test_one_process_and_two_give_identical_rows(swept, tmp_path):
    one = run_sweep(build_spec(NETS, AXES), tmp_path / "one.db", jobs=1)
    assert one.rows == swept[1].rows


def test_key_depends_on_content_hardware_and_model_version(swept):
    pl = plan(build_spec(NETS, {"array": "8x8"}))
    key = pl.keys()[0]
    assert len(set(pl.keys())) == len(pl.keys())  # three networks, three keys
    assert plan(build_spec(NETS, {"array": "8x8"})).keys() == pl.keys()  # planned again: same
    assert point_key("0.0.0+other", pl.hashes[0], pl.identities[0]) != key
    other = HwPoint(pl.points[0].hardware.with_(sparsity=0.3)).identity()
    assert point_key(pl.version, pl.hashes[0], other) != key
    # the preset's name is not part of the identity; 16e9 and 16000000000 are one bandwidth
    hw = pl.points[0].hardware
    assert HwPoint(hw.with_(name="x")).identity() == HwPoint(hw).identity()
    assert HwPoint(hw.with_(dram_bandwidth_bytes_per_s=16000000000)).identity() == HwPoint(hw).identity()
    # a network's hash is its content: not its name, and every field of every layer
    from dataclasses import replace

    net = pl.networks[0]
    assert network_hash(replace(net, name="renamed")) == network_hash(net)
    first = replace(net.layers[0], stride=(2, 2) if net.layers[0].stride != (2, 2) else (1, 1))
    assert network_hash(replace(net, layers=(first, *net.layers[1:]))) != network_hash(net)


def test_a_changed_model_version_recomputes(swept, tmp_path, monkeypatch):
    store = tmp_path / "v.db"
    run_sweep(build_spec(["sqnxt23v5"], {"array": "8x8"}), store, jobs=1)
    monkeypatch.setattr("nnaccel.sweep.run.model_version", lambda: "9.9.9+changed")
    r = run_sweep(build_spec(["sqnxt23v5"], {"array": "8x8"}), store, jobs=1)
    assert r.computed == 1
    df = frame(store)
    assert sorted(df["model_version"].str.startswith("9.9.9")) == [False, True]


def test_frame_csv_and_parquet(swept, tmp_path):
    store, result = swept
    df = frame(store)
    assert len(df) == 24 and set(COLUMNS) <= set(df.columns)
    assert list(result.frame().columns) == list(COLUMNS) and len(result.frame()) == 24
    csv, parquet = tmp_path / "o.csv", tmp_path / "o.parquet"
    r = CliRunner().invoke(main, ["sweep", *NETS, "--array", "8x8,12x4", "--buffer", "32KB,128KB",
                                  "--bandwidth", "8GB/s,16GB/s", "--store", str(store),
                                  "--csv", str(csv), "--parquet", str(parquet)])
    assert r.exit_code == 0, r.output
    assert "0 computed" in r.output and "24 from the store" in r.output
    from_csv, from_pq = pd.read_csv(csv), pq.read_table(parquet).to_pandas()
    assert list(from_csv.columns) == list(COLUMNS) == list(from_pq.columns)
    assert (from_csv["cycles"] == [r["cycles"] for r in result.rows]).all()
    assert (from_pq["energy_total"] == [r["energy_total"] for r in result.rows]).all()


def test_a_point_whose_buffer_fits_no_tile_is_stored_with_its_error(tmp_path):
    r = run_sweep(build_spec(["sqnxt23v5"], {"buffer": "64B,32KB"}), tmp_path / "e.db", jobs=1)
    bad, good = r.rows
    assert "does not fit" in bad["error"] and bad["cycles"] is None
    assert good["error"] is None and good["cycles"] > 0
    assert run_sweep(build_spec(["sqnxt23v5"], {"buffer": "64B,32KB"}), tmp_path / "e.db").computed == 0


def test_tasks_split_a_point_across_workers_and_skip_stored_points():
    pl = plan(build_spec(NETS, {"array": "8x8"}))
    keys = set(pl.keys())
    assert [len(t.networks) for t in make_tasks(pl, keys, 1)] == [3]
    split = make_tasks(pl, keys, 2)
    assert len(split) == 3 and sorted(i for t in split for i in t.networks) == [0, 1, 2]
    assert [t.networks for t in make_tasks(pl, keys - {pl.keys()[1]}, 1)] == [(0, 2)]


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    bad = tmp_path / "x.db"
    bad.write_text("not sqlite at all, but long enough to have a header of sorts" * 20)
    r = CliRunner().invoke(main, ["sweep", "sqnxt23v5", "--store", str(bad)])
    assert r.exit_code == 2 and "not a results store" in r.output
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE points (x)")
    before = other.read_bytes()
    r = CliRunner().invoke(main, ["sweep", "sqnxt23v5", "--store", str(other)])
    assert r.exit_code == 2 and "another program" in r.output
    assert other.read_bytes() == before  # refused without a write: no table of ours added


def test_two_networks_of_equal_content_are_one_point(tmp_path):
    r = run_sweep(build_spec(["sqnxt23v5", "sqnxt:depth=2-4-14-1,layout=v5,conv1=5"],
                             {"array": "8x8,16x16"}), tmp_path / "d.db", jobs=2)
    assert r.computed == 2 and r.reused == 2
    a, b = r.rows[:2]
    assert a["network"] == "1.0-SqNxt-23v5" and b["network"] == "1.0-SqNxt[2,4,14,1]-v5-k5"
    assert {k: v for k, v in a.items() if k != "network"} == {k: v for k, v in b.items()
                                                               if k != "network"}


def test_every_row_equals_simulate(swept):
    from nnaccel.loader import load_network
    from nnaccel.simulate import simulate

    pl = plan(build_spec(NETS, AXES))
    nets = {n: load_network(n) for n in NETS}
    for i, row in enumerate(swept[1].rows):
        point, net = pl.points[i // 3], nets[NETS[i % 3]]
        t = simulate(net, point.hardware).totals()
        assert (row["cycles"], row["energy_dynamic"], row["time_s"], row["utilization"]) == (
            t["cycles"], t["energy_total"], t["time_s"], t["utilization"])
        assert row["dram_bytes"] == t["dram_read_bytes"] + t["dram_write_bytes"]
        # docs/model.md §12 by hand: a PE is 4330.36 um2, a KB of the three-ported buffer
        # 6119.20 um2 (8x8: 64 PEs, 12x4: 48), and a bit of a port's width 163 x 0.448184 =
        # 73.054 um2: read and write ports of Pc banks of 64 bits, the DMA's 8 or 16 B a cycle
        hw = point.hardware
        bits = 2 * hw.Pc * 64 + 8 * int(hw.dram_bandwidth_bytes_per_s / 1e9)
        assert row["area_mm2"] == pytest.approx(
            (hw.pes * 4330.36 + hw.buffer_bytes / 1024 * 6119.20 + bits * 73.054) / 1e6,
            abs=1e-5)
        assert (row["params"], row["macs"]) == (net.params, net.macs)


def test_the_model_version_covers_every_model_file(tmp_path):
    """The model version hashes every module a sweep point imports (nnaccel.sweep.version):
    changing any one of them, in a copy of the package, changes it; a module the simulation
    does not import (the plots) does not."""
    import shutil

    import nnaccel
    from nnaccel.sweep.version import model_files, model_version

    copy = tmp_path / "nnaccel"
    shutil.copytree(Path(nnaccel.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    files = model_files(copy)
    names = {p.relative_to(copy).as_posix() for p in files}
    # the simulation's own modules, the one a hand list once missed among them
    assert {"sparsity.py", "simulate.py", "tiler.py", "lowering.py", "energy.py", "area.py",
            "hardware.py", "engines/layout.py", "engines/step/clock.py",
            "engines/fast/walk.py"} <= names
    assert "plots.py" not in names and "cli/run_cmd.py" not in names
    base = model_version(copy)
    for path in files:
        text = path.read_bytes()
        path.write_bytes(text + b"\n# changed\n")
        assert model_version(copy) != base, path
        path.write_bytes(text)
    assert model_version(copy) == base
    plots = copy / "plots.py"
    plots.write_text(plots.read_text() + "\n# changed\n")
    assert model_version(copy) == base


def _batches(axes, workers):
    from nnaccel.sweep.run import make_batches

    pl = plan(build_spec(["squeezenet-v1.1"], axes))
    return make_batches(make_tasks(pl, set(pl.keys()), workers), workers)


def _shape(batches):
    """Per batch: (array, DRAM GB/s, KB) of its tasks, and the DRAM variants they search for."""
    return [([(t.point.hardware.array_label, int(t.point.hardware.dram_bandwidth_bytes_per_s
                                                 / 1e9), t.point.hardware.buffer_bytes // 1024)
              for t in b], sorted({t.variants for t in b})) for b in batches]


def test_a_family_of_points_is_one_batch_when_there_are_enough():
    """Four arrays, two workers: each array's points (two bandwidths x two buffers) are one
    batch, a ladder after another, largest buffer first, searching for both DRAMs."""
    got = _shape(_batches({"array": "4x4,8x8,12x4,16x16", "buffer": "32KB,128KB",
                           "bandwidth": "8GB/s,16GB/s"}, 2))
    assert len(got) == 4
    for (points, variants), array in zip(got, ["4x4", "8x8", "12x4", "16x16"], strict=True):
        assert points == [(array, 8, 128), (array, 8, 32), (array, 16, 128), (array, 16, 32)]
        assert variants == [((8, 100), (16, 100))]  # bytes a cycle at 1 GHz, latency


def test_a_few_families_are_cut_into_groups_of_ladders():
    """One array, eight bandwidths, two workers: four batches of two ladders, each searching
    for its own two DRAMs; with one worker, one batch for all eight."""
    axes = {"array": "8x8", "buffer": "32KB,128KB", "bandwidth": "1GB/s..128GB/s*2"}
    got = _shape(_batches(axes, 2))
    assert [[bw for _, bw, _ in points] for points, _ in got] == [
        [1, 1, 2, 2], [4, 4, 8, 8], [16, 16, 32, 32], [64, 64, 128, 128]]
    assert [v for _, v in got] == [[((1, 100), (2, 100))], [((4, 100), (8, 100))],
                                   [((16, 100), (32, 100))], [((64, 100), (128, 100))]]
    assert [len(points) for points, _ in _shape(_batches(axes, 1))] == [16]


def test_families_too_small_to_group_fall_back_to_ladder_pieces():
    """Two bandwidths on two workers: a group would hold one ladder, so the batches are the
    ladders, cut into pieces for balance, each task searching for its own DRAM only."""
    got = _shape(_batches({"array": "8x8", "buffer": "16KB,32KB,64KB,128KB",
                           "bandwidth": "8GB/s,16GB/s"}, 2))
    assert [points for points, _ in got] == [
        [("8x8", 8, 128)], [("8x8", 8, 64)], [("8x8", 8, 32)], [("8x8", 8, 16)],
        [("8x8", 16, 128)], [("8x8", 16, 64)], [("8x8", 16, 32)], [("8x8", 16, 16)]]
    assert all(v == [()] for _, v in got)


def test_grouped_dram_variants_give_each_point_its_own_row(tmp_path):
    """A pool of two whose batches search two DRAMs at once: every row is `simulate`'s."""
    from nnaccel.loader import load_network
    from nnaccel.simulate import simulate

    axes = {"array": "8x8,12x4", "buffer": "32KB,128KB",
            "bandwidth": "2GB/s,4GB/s,8GB/s,16GB/s"}
    assert [len(v[0][0]) for _, v in _shape(_batches(axes, 2))] == [2, 2, 2, 2]
    result = run_sweep(build_spec(["squeezenet-v1.1"], axes), tmp_path / "s.db", jobs=2)
    pl = plan(build_spec(["squeezenet-v1.1"], axes))
    net = load_network("squeezenet-v1.1")
    for point, row in zip(pl.points, result.rows, strict=True):
        t = simulate(net, point.hardware).totals()
        assert (row["cycles"], row["energy_dynamic"], row["dram_bytes"]) == (
            t["cycles"], t["energy_total"], t["dram_read_bytes"] + t["dram_write_bytes"])
