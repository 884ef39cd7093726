"""Issue 19's reproducers, each a fixed regression: sweep and pareto outputs, stores that are
not ours, names shared by different networks, malformed npz files, markup in names, sweeps and
TOML files beyond the limits, scheduler addresses.

Every case ends as the README promises: bad input is one line and status 2, a failing output
(a closed pipe) one line and status 1; no file is lost or changed; within seconds and, where
a case could take memory, under a measured bound.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.errors import NetworkError
from nnaccel.loader import load_network
from nnaccel.sweep import build_spec
from nnaccel.sweep.axes import SweepError
from nnaccel.sweep.run import plan
from nnaccel.sweep.store import Store
from nnaccel.sweep.storefile import APPLICATION_ID

ROOT = Path(__file__).resolve().parent.parent


def _net(name: str = "tiny", channels: int = 8, first: str = "c1", second: str = "c2") -> dict:
    """A two-conv network small enough to simulate in milliseconds."""
    return {"name": name, "input_shape": [3, 16, 16], "source": "tests", "paper": {"top1": 50.0},
            "layers": [
                {"name": first, "type": "conv", "inputs": ["input"],
                 "input_shapes": [[3, 16, 16]], "output_shape": [channels, 16, 16],
                 "kernel": [3, 3], "padding": [1, 1]},
                {"name": second, "type": "conv", "inputs": [first],
                 "input_shapes": [[channels, 16, 16]], "output_shape": [8, 16, 16],
                 "kernel": [1, 1]}]}


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def _invoke(args: list[str]):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_line(result, status: int = 2, *words: str) -> str:
    out = result.output
    assert result.exit_code == status, (out, result.exception)
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    assert out.startswith("error: "), out
    for w in words:
        assert w in out, out
    return out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    """A folder with tiny.json and a store of it on two arrays."""
    d = tmp_path_factory.mktemp("swept")
    _write(d / "tiny.json", _net())
    r = _invoke(["sweep", d / "tiny.json", "--array", "4x4,8x8", "--store", d / "s.db", "-j",
                 "1", "-q"])
    assert r.exit_code == 0, r.output
    return d


# -- 1. every output checked first, by the one mechanism -----------------------------------

@pytest.mark.parametrize("outputs", [
    ["--csv", "s.db"],  # the store turned into a CSV
    ["--csv", "tiny.json"],  # the input replaced
    ["--csv", "x.csv", "--parquet", "x.csv"],  # two outputs in one file
    ["--store", "tiny.json"],
    ["--parquet", "s.db"],
])
def test_sweep_never_writes_over_its_store_or_inputs(swept, tmp_path, outputs):
    for name in ("tiny.json", "s.db"):
        (tmp_path / name).write_bytes((swept / name).read_bytes())
    before = _snapshot(tmp_path)
    args = ["sweep", "tiny.json", "--array", "4x4", "-q"]
    if "--store" not in outputs:
        args += ["--store", "s.db"]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        _one_line(_invoke(args + outputs), 2)
    finally:
        os.chdir(cwd)
    assert _snapshot(tmp_path) == before


def test_pareto_never_replaces_what_it_reads(swept, tmp_path):
    store = tmp_path / "s.db"
    store.write_bytes((swept / "s.db").read_bytes())
    before = store.read_bytes()
    _one_line(_invoke(["pareto", store, "--csv", store]), 2, "input")
    assert store.read_bytes() == before
    rows = tmp_path / "rows.svg"  # a CSV of rows, named as the figure would be
    assert _invoke(["pareto", store, "--csv", rows, "--all-rows"]).exit_code == 0
    before = rows.read_bytes()
    _one_line(_invoke(["plot", "pareto", rows, "-o", rows]), 2, "input")
    assert rows.read_bytes() == before


def test_import_checks_its_output_before_reading_the_model(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"\x00" * 100)  # not a model: if it were read first, the error would say so
    out = _one_line(_invoke(["import", model, "-o", tmp_path / "missing" / "x.json"]), 2)
    assert "-o" in out and "does not exist" in out
    net = _write(tmp_path / "n.json", _net())
    _one_line(_invoke(["export", net, "-o", net]), 2, "input")


def test_a_replaced_output_keeps_its_mode(swept, tmp_path):
    csv, parquet = tmp_path / "o.csv", tmp_path / "o.parquet"
    for p in (csv, parquet):
        p.write_text("old")
        p.chmod(0o640)
    r = _invoke(["sweep", swept / "tiny.json", "--array", "4x4", "--store", swept / "s.db",
                 "--csv", csv, "--parquet", parquet, "-q"])
    assert r.exit_code == 0, r.output
    for p in (csv, parquet):
        assert stat.S_IMODE(p.stat().st_mode) == 0o640 and p.read_bytes() != b"old"


def _closed_early(args: list[str]) -> tuple[int, str]:
    """Run nnaccel with stdout into a pipe of one page that is closed after one byte."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen([sys.executable, "-c", "from nnaccel.entry import main; main()", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    fcntl.fcntl(p.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    assert p.stdout.read(1)
    p.stdout.close()
    err = p.stderr.read().decode()
    return p.wait(timeout=120), err


@pytest.mark.parametrize("args", [["info", "sqnxt23v5", "--json"], ["import", "MODEL"]])
def test_a_closed_pipe_is_one_line_and_status_1_for_large_outputs(tmp_path, args):
    if "MODEL" in args:
        model = tmp_path / "m.onnx"
        assert _invoke(["export", "sqnxt23v5", "-o", model]).exit_code == 0
        args = [str(model) if a == "MODEL" else a for a in args]
    status, err = _closed_early(args)
    assert status == 1 and err.strip() == "error: the output was closed early (broken pipe)", err


# -- 2. a store is ours or it is refused -----------------------------------------------------

def _other_db(path: Path) -> Path:
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE accounts (id INTEGER, owner TEXT)")
        c.execute("INSERT INTO accounts VALUES (1, 'someone')")
    return path


@pytest.mark.parametrize("make", [
    lambda p: _other_db(p),
    lambda p: p.write_text("network,cycles\nx,1\n" * 20),
    lambda p: p.write_bytes(b""),
    lambda p: p.write_bytes(b"SQLite format 3\x00" + bytes(84)),  # a header and nothing else
])
def test_a_file_that_is_not_our_store_is_refused_without_a_write(swept, tmp_path, make):
    target = tmp_path / "t.db"
    make(target)
    before = _snapshot(tmp_path)
    _one_line(_invoke(["sweep", swept / "tiny.json", "--array", "4x4", "--store", target]), 2)
    _one_line(_invoke(["pareto", target]), 2)
    assert _snapshot(tmp_path) == before


def test_another_programs_database_with_an_application_id_is_refused(swept, tmp_path):
    target = _other_db(tmp_path / "app.db")
    with sqlite3.connect(target) as c:
        c.execute("PRAGMA application_id = 42")
    before = target.read_bytes()
    _one_line(_invoke(["sweep", swept / "tiny.json", "--store", target]), 2, "0x2a")
    assert target.read_bytes() == before


def test_a_store_behind_a_link_is_refused(swept, tmp_path):
    link = tmp_path / "link.db"
    link.symlink_to(swept / "s.db")
    _one_line(_invoke(["pareto", link]), 2, "symbolic link")
    _one_line(_invoke(["sweep", swept / "tiny.json", "--store", link]), 2, "link")


def test_our_stores_carry_the_application_id_and_readers_cannot_write(swept):
    with open(swept / "s.db", "rb") as f:
        assert int.from_bytes(f.read(100)[68:72], "big") == APPLICATION_ID
    with Store(swept / "s.db", readonly=True) as st:
        assert st.count() == 2
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            st.conn.execute("DELETE FROM points")


def test_a_store_made_before_the_application_id_is_still_ours(swept, tmp_path):
    old = tmp_path / "old.db"
    old.write_bytes((swept / "s.db").read_bytes())
    with sqlite3.connect(old) as c:
        c.execute("PRAGMA application_id = 0")
    r = _invoke(["pareto", old, "-m", "area,cycles"])
    assert r.exit_code == 0 and r.output.count("tiny") == 2, r.output


def test_a_lock_held_elsewhere_is_one_line_naming_the_holder(swept, tmp_path, monkeypatch):
    import nnaccel.sweep.store as store_module

    monkeypatch.setattr(store_module, "LOCK_TIMEOUT_S", 0.5)
    store = tmp_path / "s.db"
    store.write_bytes((swept / "s.db").read_bytes())
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(store)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); c.execute('DELETE FROM meta WHERE 0')\n"
        "print('held', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"held\n"
        start = time.monotonic()
        r = _invoke(["sweep", swept / "tiny.json", "--array", "16x16", "--store", store, "-q"])
        took = time.monotonic() - start
    finally:
        holder.kill()
        holder.wait()
    _one_line(r, 2, "locked by", f"process {holder.pid}")
    assert took < 30


# -- 3. results keyed by content, shown by name ----------------------------------------------

def test_two_networks_with_one_name_are_two_rows(tmp_path):
    a = _write(tmp_path / "a.json", _net("same", channels=8))
    b = _write(tmp_path / "b.json", _net("same", channels=16))
    pl = plan(build_spec([str(a), str(b), str(a)], {"array": "4x4"}))
    names = [n.name for n in pl.networks]
    assert len(names) == 2 and len(set(names)) == 2 and all(n.startswith("same [") for n in names)
    assert len(pl.notes) == 1 and "2 different networks are named 'same'" in pl.notes[0]
    store = tmp_path / "s.db"
    r = _invoke(["sweep", a, b, "--array", "4x4,8x8", "--store", store, "--csv",
                 tmp_path / "o.csv", "-j", "1", "-q"])
    assert r.exit_code == 0 and "note: 2 different networks" in r.output, r.output
    rows = (tmp_path / "o.csv").read_text().splitlines()
    assert len(rows) == 5 and len({line.split(",")[0] for line in rows[1:]}) == 2
    # the store keeps what the sweep named; pareto shows two networks, not one front of both
    r = _invoke(["pareto", store, "-m", "area,cycles"])
    assert r.exit_code == 0 and len({line.split("\t")[0] for line in r.output.splitlines()}) == 2


def test_rows_of_two_networks_with_one_name_are_made_unique_when_read(tmp_path):
    from nnaccel.sweep.export import unique_names

    rows = [{"network": "x", "network_hash": "aaaaaaaa1"}, {"network": "x", "network_hash": "b" * 9},
            {"network": "y", "network_hash": "c" * 9}]
    out, notes = unique_names(rows)
    assert [r["network"] for r in out] == ["x [aaaaaaaa]", "x [bbbbbbbb]", "y"]
    assert len(notes) == 1


# -- 5. npz safely ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    d = tmp_path_factory.mktemp("npz")
    net = _write(d / "net.json", _net())
    network = load_network(net)
    rng = np.random.default_rng(1)
    ws = {layer.name: rng.standard_normal(layer.weights).astype(np.float32)
          for layer in network.layers}
    for w in ws.values():
        w[::4] = 0
    np.savez(d / "net.npz", **ws)
    return net, ws


def _member(array_bytes: bytes, name: str) -> tuple[str, bytes]:
    return f"{name}.npy", array_bytes


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _bad_npz_files(d: Path, net_folder: Path, ws: dict[str, np.ndarray]) -> dict[str, Path]:
    good = (net_folder / "net.npz").read_bytes()
    files = {}

    def put(name: str, data: bytes) -> None:
        files[name] = d / name
        files[name].write_bytes(data)

    buf = io.BytesIO()
    np.save(buf, ws["c1"])
    put("one.npy", buf.getvalue())
    put("truncated.npz", good[: len(good) // 2])
    corrupt = bytearray(good)
    corrupt[120] ^= 0xFF  # inside the first member's data
    put("crc.npz", bytes(corrupt))
    put("zero.npz", b"")
    put("text.npz", b"c1,c2\n1,2\n")
    members = {f"{k}.npy": _npy(v) for k, v in ws.items()}
    _zip(d / "structured.npz", {**members, "c1.npy": _npy(
        np.zeros(ws["c1"].size, dtype=[("a", "<f4")]))})
    _zip(d / "objects.npz", {**members, "c1.npy": _npy(ws["c1"]).replace(b"'<f4'", b"'|O'")})
    huge = _npy(np.zeros(4, np.float32)).replace(b"(4,)", b"(1099511627776,)")
    _zip(d / "huge.npz", {**members, "c1.npy": huge})
    _zip(d / "short.npz", {**members, "c1.npy": _npy(ws["c1"])[:-8]})
    _zip(d / "long.npz", {**members, "c1.npy": _npy(ws["c1"]) + b"\x00" * 8})
    _zip(d / "badheader.npz", {**members, "c1.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': 7}   \n"})
    _zip(d / "missing.npz", {"c2.npy": members["c2.npy"]})
    files.update({p.name: p for p in d.glob("*.npz") if p.name not in ("net.npz",)})
    os.mkfifo(d / "fifo.npz")
    files["fifo.npz"] = d / "fifo.npz"
    files["stdin"] = Path("/dev/stdin")
    files["folder"] = d
    return files


def test_every_malformed_npz_is_one_line(weights, tmp_path):
    net, ws = weights
    for name, path in _bad_npz_files(tmp_path, net.parent, ws).items():
        start = time.monotonic()
        r = _invoke(["info", net, "--sparsity", f"measured={path}"])
        _one_line(r, 2, str(path))
        assert time.monotonic() - start < 10, name


def test_a_good_npz_gives_the_zeros_of_each_layer(weights):
    net, ws = weights
    network = load_network(net, "measured")
    for layer in network.layers:
        assert layer.sparsity == pytest.approx(float(np.mean(ws[layer.name] == 0)), abs=0)


def _peak_rss_mb(args: list[str], timeout: float = 60) -> tuple[int, str, float]:
    """Exit status, stderr and the peak memory (MB, sampled every 10 ms) of an nnaccel run.
    (Sampled: the kernel's own peak would count the test process it was forked from.)"""
    import psutil

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-c", "from nnaccel.entry import main; main()", *args],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    proc, peak = psutil.Process(p.pid), 0
    deadline = time.monotonic() + timeout
    while p.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss)
        except psutil.Error:
            pass
        if time.monotonic() > deadline:
            p.kill()
            raise AssertionError(f"{args} did not end in {timeout} s")
        time.sleep(0.01)
    return p.returncode, p.stderr.read().decode(), peak / 2**20


def test_an_unused_huge_member_costs_no_memory(weights, tmp_path):
    net, ws = weights
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, v in ws.items():
            z.writestr(f"{k}.npy", _npy(v))
        with z.open("unused.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (2**27,)})
            for _ in range(32):
                f.write(bytes(2**24))  # 512 MB of zeros, half a MB compressed
    status, err, peak = _peak_rss_mb(["info", str(net), "--sparsity", f"measured={bomb}"])
    assert status == 0, err
    assert peak < 300, peak


# -- 6. names are text -------------------------------------------------------------------------

def test_markup_in_names_is_drawn_as_text(tmp_path):
    net = _write(tmp_path / "m.json", _net("$\\frac{$", first="$x^{$", second="$$"))
    for args in (["report", net, "-o", tmp_path / "r.html"],
                 ["plot", "layers", net, "-o", tmp_path / "l.png"],
                 ["plot", "tradeoff", net, "-o", tmp_path / "t.svg"],
                 ["plot", "roofline", net, "--config", "paper-8x8", "-o", tmp_path / "f.pdf"],
                 ["sweep", net, "--array", "4x4,8x8", "--store", tmp_path / "m.db", "-j", "1",
                  "-q"],
                 ["plot", "pareto", tmp_path / "m.db", "-o", tmp_path / "p.png"]):
        r = _invoke(args)
        assert r.exit_code == 0, (args, r.output, r.exception)


def test_plain_escapes_every_dollar():
    from matplotlib.text import Text

    from nnaccel.figlayout import plain

    for name in ("$\\frac{$", "$x^{$", "$$", "a$b", "\\$", "$"):
        text = Text(text=plain(name))
        assert text._preprocess_math(text.get_text()) == (name, False)


# -- 7. limits: sweeps, TOML, generated networks -----------------------------------------------

def test_a_sweep_too_large_is_refused_before_any_work(tmp_path):
    start = time.monotonic()
    r = _invoke(["sweep", "all", "--latency", "0..1000+1", "--buffer", "1KB..1GB",
                 "--store", tmp_path / "s.db"])
    _one_line(r, 2, "--max-points")
    assert time.monotonic() - start < 10 and not (tmp_path / "s.db").exists()
    r = _invoke(["sweep", "all", "--latency", "0..5000+1", "--buffer", "1KB..1GB",
                 "--max-points", "10000000", "--store", tmp_path / "s.db"])
    _one_line(r, 2, "split the sweep")


def test_the_points_limit_counts_generated_networks_without_building_them():
    start = time.monotonic()
    with pytest.raises(SweepError, match="12,209 networks x 390 hardware points"):
        plan(build_spec(["sqnxt:blocks=30|31|32"], {"array": "1x1..4096x4096",
                                                      "latency": "1..30+1"}))
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("item", ["sqnxt:depth=1-1-1-1,input=1000000000",
                                  "sqnxt:depth=1-1-1-1,width=100000",
                                  "sqnxt:depth=1000000-1-1-1"])
def test_generated_networks_meet_the_file_limits(tmp_path, item):
    start = time.monotonic()
    _one_line(_invoke(["sweep", item, "--store", tmp_path / "s.db"]), 2)
    assert time.monotonic() - start < 10 and not (tmp_path / "s.db").exists()


@pytest.mark.parametrize("text,words", [
    ("a = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested"),
    ("x = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n", "nested"),
    (".".join(["a"] * 100_000) + " = 1\n", "nested"),
    ("batch = " + "9" * 5_000 + "\n", "4,300 digits"),
    ("batch = 99999999999999999999\n", "64 bits"),
    ('preset = ["paper-8x8"]\n', "preset"),
    ("array = 8\n", "array"),
    ('[energy]\ndram = "x"\n', "energy.dram"),
    ("energy = 5\n", "energy"),
])
def test_hostile_toml_is_one_line(tmp_path, text, words):
    hw = tmp_path / "hw.toml"
    hw.write_text(text)
    start = time.monotonic()
    _one_line(_invoke(["run", "sqnxt23v5", "--hw", hw, "-q"]), 2, words)
    sweep_file = tmp_path / "s.toml"
    sweep_file.write_text(text if "batch" not in text and "energy" not in text
                          and "array" not in text else 'networks = ["sqnxt23v5"]\n' + text)
    _one_line(_invoke(["sweep", "-f", sweep_file, "--store", tmp_path / "s.db"]), 2)
    assert time.monotonic() - start < 10 and not (tmp_path / "s.db").exists()


# -- pareto of rows it cannot use ----------------------------------------------------------------

def test_pareto_of_a_csv_without_configuration_columns(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("network,area_mm2,energy_total\nx,1,2\n")
    _one_line(_invoke(["pareto", csv]), 2, "no column")


@pytest.mark.parametrize("edit,words", [
    ("UPDATE points SET cycles = 'abc'", "column 'cycles'"),
    ("UPDATE points SET area_mm2 = -1", "column 'area_mm2'"),
    ("UPDATE points SET energy_total = NULL, error = 'x'", "no row has figures"),
    ("UPDATE points SET buffer_bytes = 'big'", "column 'buffer_bytes'"),
    ("UPDATE points SET network = NULL", "column 'network' is None"),
    ("UPDATE points SET network = ''", "network column is empty"),
    ("UPDATE points SET array = X'00ff'", "column 'array'"),
    ("DELETE FROM points", "no rows"),
    ("UPDATE points SET model_version = 'old'", "no rows"),
])
def test_pareto_of_a_store_with_edited_rows(swept, tmp_path, edit, words):
    store = tmp_path / "s.db"
    store.write_bytes((swept / "s.db").read_bytes())
    with sqlite3.connect(store) as c:
        c.execute(edit)
    for args in (["pareto", store], ["plot", "pareto", store, "-o", tmp_path / "p.png"]):
        _one_line(_invoke(args), 2, words)


# -- 8. scheduler addresses ----------------------------------------------------------------------

@pytest.mark.parametrize("address,words", [
    ("ucx://127.0.0.1:8786", "not supported"),
    ("tls://127.0.0.1:8786", "TLS settings"),
    ("wss://127.0.0.1:8786", "TLS settings"),
    ("inproc://x", "not supported"),
    ("tcp://", "no host"),
])
def test_every_scheduler_address_is_one_line_before_any_work(tmp_path, address, words):
    _one_line(_invoke(["sweep", "sqnxt23v5", "--scheduler", address, "--store",
                       tmp_path / "s.db"]), 2, words)
    assert not (tmp_path / "s.db").exists()


def test_npz_errors_name_the_file_and_layer(weights, tmp_path):
    net, ws = weights
    path = _zip(tmp_path / "w.npz", {"c1.npy": _npy(ws["c2"]), "c2.npy": _npy(ws["c2"])})
    with pytest.raises(NetworkError, match="layer 'c1'.*weights"):
        load_network(net, f"measured={path}")


def test_export_replaces_a_model_keeping_its_mode(tmp_path):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old")
    out.chmod(0o640)
    assert _invoke(["export", "sqnxt23v5", "-o", out]).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_bytes() != b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
