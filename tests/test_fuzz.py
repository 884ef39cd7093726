"""Fuzzing what a user types: mutated bundled network files, extreme layers and hardware.

Every case ends in one of two ways (issue 12): exit status 0 with physically sane totals
(no negative count; cycles at least the array's floor, ops / PEs, and the DRAM's floor,
bytes / bandwidth; finite energy), or exit status 2 with one line on stderr. Never a
traceback. The @example cases are the reproducers the issue lists, kept as regressions.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nnaccel.cli import main
from nnaccel.errors import NetworkError, NnaccelError
from nnaccel.hardware import Hardware
from nnaccel.loader import bundled_networks
from nnaccel.netformat import parse_network_text
from nnaccel.network import Layer, Network
from nnaccel.shapes import conv_output_size
from nnaccel.simulate import SearchCache, simulate

_CACHE = SearchCache()
BUNDLED = {p.stem: json.loads(p.read_text()) for p in bundled_networks()}
EXTREME_INTS = [0, 1, -1, 2, 3, 7, 2**15, 2**30, 2**30 + 1, 2**31, 2**40, 2**53, 2**63 - 1,
                2**63, 10**9, 10**12, 10**30]
INTS = st.sampled_from(EXTREME_INTS) | st.integers(-3, 300)
VALUES = (INTS | st.floats(allow_nan=True, allow_infinity=True) | st.none() | st.booleans()
          | st.text(max_size=4) | st.lists(INTS, max_size=4) | st.just("\ud800"))


@st.composite
def mutated_files(draw) -> str:
    """A bundled network with one value of one layer (or of the top level) replaced."""
    data = copy.deepcopy(BUNDLED[draw(st.sampled_from(sorted(BUNDLED)))])
    if draw(st.booleans()):
        target = draw(st.sampled_from(data["layers"]))
    else:
        target = data
    key = draw(st.sampled_from(sorted(k for k in target if k != "layers")))
    old = target[key]
    if isinstance(old, list) and old and all(isinstance(x, int) for x in old):
        target[key] = list(old)
        target[key][draw(st.integers(0, len(old) - 1))] = draw(INTS)
    elif isinstance(old, list) and old and isinstance(old[0], list):
        target[key] = [list(s) for s in old]
        shape = target[key][0]
        shape[draw(st.integers(0, len(shape) - 1))] = draw(INTS)
    else:
        target[key] = draw(VALUES)
    return json.dumps(data)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_files())
@example(json.dumps({"name": "x", "input_shape": [3, 8, 8], "source": "x", "paper": {
    "params_m": 1e400}, "layers": [{"name": "c", "type": "conv", "inputs": ["input"],
                                    "input_shapes": [[3, 8, 8]], "output_shape": [4, 8, 8],
                                    "kernel": [1, 1]}]}))
def test_a_mutated_file_runs_sanely_or_fails_on_one_line(text):
    try:
        data = parse_network_text(text, "fuzz.json")
    except NetworkError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.json")
        return
    for layer in data["layers"]:
        for shape in (*layer["input_shapes"], layer["output_shape"]):
            assert all(1 <= n <= 2**30 for n in shape)
    network = Network(layers=tuple(Layer(**f) for f in data.pop("layers")), **data)
    hw = Hardware()
    try:
        # one cache for every example: the layers a mutation left alone are not searched again
        result = simulate(network, hw, cache=_CACHE)
    except NnaccelError as exc:
        assert "\n" not in str(exc)
        return
    totals = {k: v for k, v in result.totals().items() if not k.startswith("energy_")}
    totals["energy"] = result.energy_total
    _sane(totals, {"Pr": hw.Pr, "Pc": hw.Pc, "dram_bytes_per_cycle": hw.dram_bytes_per_cycle})


# -- whole runs: one extreme layer on extreme hardware, through the CLI ----------------------

SIZES = st.integers(1, 64) | st.integers(1, 64) | st.sampled_from([1, 2, 255, 2**12, 2**20, 2**30])


@st.composite
def extreme_layers(draw) -> dict:
    """A one-layer network that satisfies the shape rules, with sizes up to the limits."""
    kind = draw(st.sampled_from(["conv", "fc", "maxpool", "depthwise"]))
    c, h, w = draw(SIZES), draw(SIZES), draw(SIZES)
    layer: dict = {"name": "l", "type": "conv" if kind == "depthwise" else kind,
                   "inputs": ["input"], "input_shapes": [[c, h, w]]}
    if kind == "fc":
        layer["output_shape"] = [draw(SIZES), 1, 1]
    else:
        kh, kw = draw(st.integers(1, min(h, 7))), draw(st.integers(1, min(w, 7)))
        sh, sw = draw(SIZES), draw(SIZES)
        ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
        out_c = c if kind in ("maxpool", "depthwise") else draw(SIZES)
        layer.update(kernel=[kh, kw], stride=[sh, sw], padding=[ph, pw],
                     output_shape=[out_c, conv_output_size(h, kh, sh, ph),
                                   conv_output_size(w, kw, sw, pw)])
        if kind == "depthwise":
            layer["groups"] = c
    return {"name": "fuzz", "input_shape": [c, h, w], "source": "tests", "layers": [layer]}


# Hardware fields at the edges of their ranges (docs/model.md, "Limits"), and just outside.
HW_EDGES = {
    "array": st.sampled_from(["1x1", "8x8", "4096x1", "1x4096", "4096x4096", "64x64"]),
    "buffer": st.sampled_from(["64B", "32KB", "1MB", "1024GB"]),
    "dram_latency_cycles": st.sampled_from([0, 1, 100, 2**16]),
    "dram_bandwidth_bytes_per_s": st.sampled_from([1e9, 16e9, 2**20 * 1e9]),
    "rf_psums": st.sampled_from([1, 16, 2**16]),
    "sparsity": st.sampled_from([0.0, 0.4, 0.9, 0.999999]),
    "word_bytes": st.sampled_from([1, 2]),
    "energy": st.sampled_from([{"mac": 1e9, "dram": 1e9, "buffer": 1e9}, {"rf": 0.0}]),
}
HW_OUTSIDE = st.sampled_from([
    ("array", "4097x1"), ("array", "99999999999999999999x8"), ("buffer", "1025GB"),
    ("buffer", "99999999999999999999KB"), ("dram_latency_cycles", 2**16 + 1),
    ("dram_latency_cycles", 2**63 - 1), ("dram_bandwidth_bytes_per_s", 1e30),
    ("dram_bandwidth_bytes_per_s", 0.5e9), ("clock_hz", 1e-300), ("rf_psums", 10**12),
    ("sparsity", 0.9999999), ("sparsity", 1.0), ("word_bytes", 9),
    ("energy", {"mac": 1e308}), ("energy", {"dram": -1.0}),
])


@st.composite
def hardware_values(draw) -> dict:
    """Some fields at their edges; now and then one outside its range."""
    hw = draw(st.fixed_dictionaries({}, optional=HW_EDGES))
    if draw(st.integers(0, 4)) == 0:
        key, value = draw(HW_OUTSIDE)
        hw[key] = value
    return hw


def _toml(hw: dict) -> str:
    lines, energy = [], hw.pop("energy", None)
    for key, value in hw.items():
        lines.append(f"{key} = {json.dumps(value)}")
    if energy:
        lines.append("[energy]")
        lines += [f"{k} = {v!r}" for k, v in energy.items()]
    return "\n".join(lines) + "\n"


def _sane(totals: dict, hw: dict) -> None:
    for key, value in totals.items():
        assert value is not None and value >= 0, (key, value)
        assert math.isfinite(value), key
    pes = hw["Pr"] * hw["Pc"]
    assert totals["cycles"] >= totals["compute_cycles"]
    assert totals["cycles"] * pes >= totals["pe_ops"]
    dram = totals["dram_read_bytes"] + totals["dram_write_bytes"]
    assert totals["cycles"] * hw["dram_bytes_per_cycle"] >= dram


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extreme_layers(), hardware_values())
@example({"name": "x", "input_shape": [3, 8, 8], "source": "x", "layers": [{
    "name": "c", "type": "conv", "inputs": ["input"], "input_shapes": [[3, 8, 8]],
    "output_shape": [10**9, 8, 8], "kernel": [1, 1]}]}, {"buffer": "1MB"})
@example({"name": "x", "input_shape": [3, 2**20, 2**20], "source": "x", "layers": [{
    "name": "c", "type": "conv", "inputs": ["input"], "input_shapes": [[3, 2**20, 2**20]],
    "output_shape": [1, 1, 1], "kernel": [2**20, 2**20]}]}, {})
@example({"name": "x", "input_shape": [2**30, 1, 1], "source": "x", "layers": [{
    "name": "c", "type": "fc", "inputs": ["input"], "input_shapes": [[2**30, 1, 1]],
    "output_shape": [1024, 1, 1]}]}, {"dram_latency_cycles": 2**16, "array": "4096x4096"})
@example({"name": "x", "input_shape": [3, 8, 8], "source": "x", "layers": [{
    "name": "c", "type": "conv", "inputs": ["input"], "input_shapes": [[3, 8, 8]],
    "output_shape": [64, 8, 8], "kernel": [1, 1]}]}, {"sparsity": 0.999999})
def test_a_run_is_sane_or_fails_on_one_line(network, hw):
    with tempfile.TemporaryDirectory() as d:
        _check_run(Path(d), network, hw)


def _check_run(tmp_path: Path, network: dict, hw: dict) -> None:
    net = tmp_path / "net.json"
    net.write_text(json.dumps(network))
    (tmp_path / "hw.toml").write_text(_toml(dict(hw)))
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["run", str(net), "--hw", str(tmp_path / "hw.toml"), "-q",
                                       "--json", str(out)])
    assert result.exit_code in (0, 2), (result.output, result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.output.count("\n") == 1 and result.output.startswith("error: ")
        assert not out.exists()
        return
    data = json.loads(out.read_text())
    _sane(data["totals"], data["hardware"])


# -- issue 19: npz files, store files, sweep axes, TOML files ---------------------------------

_TINY = {"name": "tiny", "input_shape": [3, 8, 8], "source": "tests", "layers": [
    {"name": "c1", "type": "conv", "inputs": ["input"], "input_shapes": [[3, 8, 8]],
     "output_shape": [4, 8, 8], "kernel": [3, 3], "padding": [1, 1]},
    {"name": "c2", "type": "fc", "inputs": ["c1"], "input_shapes": [[4, 8, 8]],
     "output_shape": [10, 1, 1]}]}


def _good_npz() -> bytes:
    import io

    import numpy as np

    rng = np.random.default_rng(0)
    c1 = rng.standard_normal(4 * 3 * 9).astype(np.float32)
    c1[::3] = 0
    buf = io.BytesIO()
    np.savez(buf, c1=c1, c2=rng.integers(-2, 3, size=10 * 4 * 64).astype(np.int8))
    return buf.getvalue()


_NPZ = _good_npz()


@st.composite
def mutated_npz(draw) -> bytes:
    """A valid npz cut short, with bytes flipped, inserted or rewritten in its headers."""
    data = bytearray(_NPZ)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cut", "flip", "insert", "header", "zero"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "cut":
            del data[at:]
        elif kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "zero":
            data[at:at + draw(st.integers(1, 64))] = b"\0" * 0
        else:  # rewrite a member's header: its dtype or shape
            text = bytes(data)
            old = draw(st.sampled_from([b"'<f4'", b"'|i1'", b"(108,)", b"(2560,)", b"False"]))
            new = draw(st.sampled_from([b"'|O'", b"'<U4'", b"'<f8'", b"(1099511627776,)",
                                        b"(-1,)", b"(108, 0)", b"True", b"'V8'", b"[('a','<f4')]"]))
            data = bytearray(text.replace(old, new, 1))
    return bytes(data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_npz())
@example(b"")
@example(_NPZ[:30])
@example(_NPZ.replace(b"(108,)", b"(1099511627776,)", 1))
@example(_NPZ.replace(b"'<f4'", b"[('a','<f4')]", 1))
def test_a_mutated_npz_is_read_or_fails_on_one_line(data):
    from nnaccel.loader import load_network

    with tempfile.TemporaryDirectory() as d:
        net = Path(d) / "tiny.json"
        net.write_text(json.dumps(_TINY))
        (Path(d) / "tiny.npz").write_bytes(data)
        try:
            network = load_network(net, "measured")
        except NetworkError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(Path(d) / "tiny.npz"))
            return
        for layer in network.layers:
            assert 0 <= layer.sparsity <= 1


_STORE_COLUMNS = ("network", "network_hash", "array", "buffer_bytes", "sparsity", "word_bits",
                  "dataflow", "area_mm2", "cycles", "energy_total", "edp", "error",
                  "model_version", "key")
_SQL_VALUES = st.sampled_from(["NULL", "0", "-1", "1e308", "'abc'", "''", "X'00ff'", "9e999",
                               "-9e999", "3.5", "'8x8'", "9223372036854775807"])


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzzstore")
    (d / "tiny.json").write_text(json.dumps(_TINY))
    r = CliRunner().invoke(main, ["sweep", str(d / "tiny.json"), "--array", "4x4,8x8",
                                  "--buffer", "4KB,32KB", "--store", str(d / "s.db"), "-j", "1",
                                  "-q"])
    assert r.exit_code == 0, r.output
    return d / "s.db"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(_STORE_COLUMNS), _SQL_VALUES, st.integers(0, 3)),
                min_size=1, max_size=3),
       st.sampled_from(["area,cycles", "energy,edp", "area,cycles,energy"]),
       st.booleans())
def test_a_store_with_edited_rows_gives_fronts_or_one_line(small_store, edits, metrics, as_set):
    import sqlite3

    with tempfile.TemporaryDirectory() as d:
        store = Path(d) / "s.db"
        store.write_bytes(small_store.read_bytes())
        with sqlite3.connect(store) as c:
            keys = [k for (k,) in c.execute("SELECT key FROM points ORDER BY key")]
            for column, value, row in edits:
                try:
                    c.execute(f'UPDATE points SET "{column}" = {value} WHERE key = ?',
                              (keys[row % len(keys)],))
                except sqlite3.IntegrityError:  # NOT NULL, or a key made equal to another's
                    pass
        before = store.read_bytes()
        r = CliRunner().invoke(main, ["pareto", str(store), "-m", metrics,
                                      *(["--set"] if as_set else [])])
        assert r.exit_code in (0, 2), (r.output, r.exception)
        assert "Traceback" not in r.output
        if r.exit_code == 2:  # one line, after any note (names made unique)
            lines = r.output.splitlines()
            assert lines[-1].startswith("error: ")
            assert all(line.startswith("note: ") for line in lines[:-1])
        assert store.read_bytes() == before  # a reader never writes


_AXIS_ITEMS = st.sampled_from(["8x8", "4x4..64x64", "1x1..4096x4096", "16KB", "1KB..1GB",
                               "1KB..1GB+1KB", "0..1+0.1", "1..1e12+1", "8GB/s", "x", "",
                               "1..", "..2", "2..1", "1..2*1", "1e400", "-1", "nan",
                               "8x8..4x4", "0..100000+1", "auto", "edp"])
_AXIS_NAMES = st.sampled_from(["array", "buffer", "bandwidth", "latency", "sparsity",
                               "word_bits", "dataflow", "objective"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_AXIS_NAMES, st.lists(_AXIS_ITEMS, min_size=1, max_size=3).map(",".join),
                       max_size=4),
       st.sampled_from([["sqnxt23v5"], ["sqnxt:depth=2-4-14-1|6-6-8-1"], ["sqnxt:blocks=60"]]))
@example({"latency": "0..1000+1", "buffer": "1KB..1GB"}, ["all"])
@example({"array": "1x1..4096x4096", "latency": "0..100000+1"}, ["sqnxt23v5"])
def test_any_sweep_axes_plan_quickly_or_fail_on_one_line(axes, nets):
    import time

    from nnaccel.sweep import build_spec
    from nnaccel.sweep.run import plan

    start = time.monotonic()
    try:
        pl = plan(build_spec(nets, axes))
    except NnaccelError as exc:
        assert "\n" not in str(exc)
    else:
        assert 0 < pl.size <= 100_000
    assert time.monotonic() - start < 20


_TOML_KEYS = st.sampled_from(["array", "buffer", "preset", "batch", "sparsity", "clock_hz",
                              "word_bytes", "energy", "area", "fuse_pool", "name", "x.y",
                              "energy.dram", "area.mac_bits"])
_TOML_VALUES = st.sampled_from(['"8x8"', '"32KB"', '"paper-8x8"', '["paper-8x8"]', "8", "-1",
                                "0.4", "1e9", "true", "{}", "{dram = 1}", "[[1]]", "nan", "inf",
                                "9" * 30, "0x7fffffffffffffff", '"\\u0000"', "1979-05-27",
                                '"x"' * 2, "[" * 40 + "]" * 40, "{a = {b = {c = 1}}}"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_TOML_KEYS, _TOML_VALUES), max_size=4))
@example([("preset", '["paper-8x8"]')])
@example([("batch", "9" * 5000)])
def test_a_hardware_toml_loads_or_fails_on_one_line(pairs):
    from nnaccel.errors import HardwareError
    from nnaccel.hardware import Hardware, load_toml

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "hw.toml"
        path.write_text("".join(f"{k} = {v}\n" for k, v in pairs))
        try:
            hw = load_toml(path)
        except HardwareError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))
        else:
            assert isinstance(hw, Hardware)


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory) -> bytes:
    d = tmp_path_factory.mktemp("fuzzonnx")
    (d / "tiny.json").write_text(json.dumps(_TINY))
    r = CliRunner().invoke(main, ["export", str(d / "tiny.json"), "-o", str(d / "t.onnx"),
                                  "--weights", "random"])
    assert r.exit_code == 0, r.output
    return (d / "t.onnx").read_bytes()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert"]), st.integers(0, 2**20),
                          st.integers(1, 255)), min_size=1, max_size=3))
@example([("cut", 0, 1)])
@example([("cut", 40, 1)])
@example([("flip", 144, 128)])  # a node name made invalid UTF-8: protobuf gave bytes
def test_a_damaged_onnx_model_imports_or_fails_on_one_line(small_onnx, damage):
    """Bytes of a model flipped, cut or inserted: `import` writes a network or says why on
    one line, and never leaves an output behind when it fails."""
    data = bytearray(small_onnx)
    for kind, at, value in damage:
        if not data:
            break
        at %= len(data)
        if kind == "flip":
            data[at] ^= value
        elif kind == "cut":
            del data[at:]
        else:
            data[at:at] = bytes([value])
    with tempfile.TemporaryDirectory() as d:
        model, out = Path(d) / "m.onnx", Path(d) / "m.json"
        model.write_bytes(bytes(data))
        r = CliRunner().invoke(main, ["import", str(model), "--sparsity", "measured", "-o",
                                      str(out)])
        assert r.exit_code in (0, 2), (r.output, r.exception)
        if r.exit_code == 2:
            assert r.output.count("\n") == 1 and r.output.startswith("error: ")
            assert not out.exists()
