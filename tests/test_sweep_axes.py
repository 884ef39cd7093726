"""Sweep axes, ranges, explicit points, sweep files and SqueezeNext families."""

from __future__ import annotations

from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnaccel.hardware import KIB
from nnaccel.loader import load_network
from nnaccel.sweep.axes import SweepError, parse_axis
from nnaccel.sweep.netaxis import resolve_networks, squeezenext_family
from nnaccel.sweep.spec import build_spec, load_sweep_file
from nnaccel.zoo.squeezenext import SqnxtSpec, depth_lists
from nnaccel.zoo.squeezenext import build_spec as build_sqnxt


def test_lists_and_ranges():
    assert parse_axis("array", "4x4..32x32,12x4") == [(4, 4), (8, 8), (16, 16), (32, 32), (12, 4)]
    assert parse_axis("array", "8x4..32x16") == [(8, 4), (16, 8), (32, 16)]
    assert parse_axis("buffer", "16KB..512KB") == [s * KIB for s in (16, 32, 64, 128, 256, 512)]
    assert parse_axis("buffer", "16KB..64KB+16KB") == [s * KIB for s in (16, 32, 48, 64)]
    assert parse_axis("buffer", "16KB..100KB") == [16 * KIB, 32 * KIB, 64 * KIB]
    assert parse_axis("bandwidth", "8GB/s,16e9,16GB/s") == [8e9, 16e9]
    assert parse_axis("sparsity", "0..0.6+0.2") == [0.0, 0.2, 0.4, 0.6]
    assert parse_axis("latency", ["50", 100, "200..400*2"]) == [50, 100, 200, 400]
    assert parse_axis("word_bits", "8..32") == [8, 16, 32]
    assert parse_axis("dataflow", "auto,ws,os") == ["auto", "ws", "os"]


@given(st.integers(1, 64), st.integers(0, 6))
def test_doubling_range_has_every_power(lo, steps):
    hi = lo * 2**steps
    assert parse_axis("latency", f"{lo}..{hi}") == [lo * 2**i for i in range(steps + 1)]


@pytest.mark.parametrize("axis,spec,message", [
    ("buffer", "", "is empty"), ("buffer", " , ", "is empty"), ("buffer", "32KB,,64KB", "empty value"),
    ("buffer", "512KB..16KB", "goes down"), ("array", "8x8..4x4", "goes down"),
    ("latency", "1..10*1", "never moves"), ("sparsity", "0..0.5+0", "never moves"),
    ("dataflow", "auto..os", "takes a list"), ("dataflow", "xs", "unknown dataflow"),
    ("bogus", "1", "unknown axis"), ("word_bits", "12", "multiple of 8"),
    ("buffer", "12XB", "12XB"), ("latency", "1..1e9+1", "more than"),
    ("array", "4x4..16x16+4x4", "not a number"), ("buffer", "1KB..8KB*2KB", "not a number"),
])
def test_bad_axes(axis, spec, message):
    with pytest.raises(SweepError, match=message):
        parse_axis(axis, spec)


def test_cross_product_order_and_explicit_points():
    spec = build_spec(["sqnxt23v5"], {"array": "8x8,16x16", "buffer": "32KB,128KB",
                                      "word_bits": "8", "dataflow": "os"})
    pts = spec.hw_points()
    assert [(p.hardware.array_label, p.hardware.buffer_label) for p in pts] == [
        ("8x8", "32KB"), ("8x8", "128KB"), ("16x16", "32KB"), ("16x16", "128KB")]
    assert all(p.hardware.word_bytes == 1 and p.hardware.psum_bytes == 2 and p.dataflow == "os"
               for p in pts)
    spec = build_spec(["sqnxt23v5"], {}, ["array=12x4 buffer=64KB", "latency=50 objective=edp"])
    a, b = spec.hw_points()
    assert (a.hardware.Pr, a.hardware.Pc, a.hardware.buffer_bytes) == (12, 4, 64 * KIB)
    assert b.hardware.dram_latency_cycles == 50 and b.objective == "edp"
    with pytest.raises(SweepError, match="unknown key 'colour'"):
        build_spec(["x"], {}, ["colour=red"])
    with pytest.raises(SweepError, match="not both"):
        build_spec(["x"], {"array": "8x8"}, ["array=8x8"])
    with pytest.raises(SweepError, match="a point has one"):
        build_spec(["x"], {}, ["array=8x8,16x16"])


def test_a_point_the_hardware_rejects_is_named():
    spec = build_spec(["sqnxt23v5"], {"bandwidth": "16.5GB/s"})
    with pytest.raises(SweepError, match="bandwidth=16.5GB/s: DRAM bandwidth"):
        spec.hw_points()


def test_sweep_file(tmp_path):
    (tmp_path / "base.toml").write_text('dram_latency_cycles = 120\n')
    f = tmp_path / "s.toml"
    f.write_text('networks = ["sqnxt23v5", "alexnet"]\nhardware = "base.toml"\n'
                 '[axes]\narray = "8x8,16x16"\nbuffer = ["32KB", "64KB..128KB"]\n')
    spec = build_spec([], {"buffer": "256KB"}, file=f)  # a flag overrides the file's axis
    assert spec.networks == ("sqnxt23v5", "alexnet")
    pts = spec.hw_points()
    assert len(pts) == 2 and {p.hardware.buffer_bytes for p in pts} == {256 * KIB}
    assert all(p.hardware.dram_latency_cycles == 120 for p in pts)
    f.write_text('networks = ["alexnet"]\n[[points]]\narray = "8x8"\n[[points]]\nbuffer = "1MB"\n')
    assert len(build_spec([], {}, file=f).hw_points()) == 2
    for text, message in [('netwerks = ["a"]', "unknown key 'netwerks'"),
                          ('[axes]\ncolour = "red"', "unknown axis 'colour'"),
                          ('[axes]\nbuffer = []', "is empty"), ('[axes', "not valid TOML"),
                          ('[[points]]\narray = "8x8"\n[axes]\nbuffer = "32KB"', "not both")]:
        f.write_text(text)
        with pytest.raises(SweepError, match=message) as e:
            load_sweep_file(f)
        assert str(f) in str(e.value)


def test_networks_by_name_file_glob_and_all(tmp_path):
    nets = resolve_networks(["sqnxt23v5", "networks/alexnet.json", "networks/squeezenet-*.json"])
    assert [n.name for n in nets] == ["1.0-SqNxt-23v5", "AlexNet", "SqueezeNet v1.0", "SqueezeNet v1.1"]
    assert len(resolve_networks(["all"])) == 25
    with pytest.raises(SweepError, match="no file matches"):
        resolve_networks([str(tmp_path / "*.json")])
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(Exception, match="bad.json"):
        resolve_networks([str(bad)])


def test_depth_lists_are_every_composition():
    lists = depth_lists(21)
    assert len(lists) == comb(20, 3) == 1140
    assert len(set(lists)) == len(lists) and all(sum(d) == 21 and min(d) >= 1 for d in lists)
    assert {(6, 6, 8, 1), (4, 8, 8, 1), (2, 10, 8, 1), (2, 4, 14, 1)} <= set(lists)
    assert len(depth_lists(10, minimum=2)) == comb(10 - 8 + 3, 3)


def test_family_builds_the_papers_v5_exactly():
    nets = squeezenext_family("sqnxt:depth=2-4-14-1|6-6-8-1,layout=v5,conv1=5")
    assert [n.name for n in nets] == ["1.0-SqNxt[2,4,14,1]-v5-k5", "1.0-SqNxt[6,6,8,1]-v5-k5"]
    assert nets[0].layers == load_network("sqnxt23v5").layers
    assert nets[1].layers == load_network("sqnxt23v2").layers
    grid = squeezenext_family("sqnxt:blocks=6,width=1.0|2.0,groups=1|2,conv1=3")
    assert len(grid) == comb(5, 3) * 4
    assert build_sqnxt(SqnxtSpec(width=2.0, groups=2)).name == "2.0-SqNxt[6,6,8,1]-v1-k7-g2"


@pytest.mark.parametrize("text,message", [
    ("sqnxt:colour=red", "unknown key 'colour'"), ("sqnxt:depth=1-2-3", "4 stages"),
    ("sqnxt:blocks=3", "no depth list"), ("sqnxt:depth=6-6-8-1,blocks=21", "not both"),
    ("sqnxt:layout=v9", "layout"), ("sqnxt:width=x", "not a number"), ("sqnxt:groups=3", "groups"),
    ("sqnxt:min=2", "min goes with blocks"), ("sqnxt:conv1=", "no value"),
    ("sqnxt:blocks=100000", "more than"), ("sqnxt:blocks=21,min=0", "at least 1"),
])
def test_bad_families(text, message):
    with pytest.raises(SweepError, match=message):
        squeezenext_family(text)


def test_too_many_points_fail_before_any_work():
    spec = build_spec(["sqnxt23v5"], {"array": "1x1..512x512+1", "buffer": "1KB..4MB+1KB"})
    with pytest.raises(SweepError, match="more than 1,000,000"):
        spec.hw_points()


@given(st.sampled_from(["array", "buffer", "bandwidth", "latency", "sparsity", "word_bits",
                        "dataflow", "objective"]),
       st.text(alphabet="0123456789x.,+*KMGBs/eE- abc", max_size=24))
def test_any_axis_text_parses_or_says_why(axis, text):
    try:
        values = parse_axis(axis, text)
    except SweepError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert values and len(values) == len(set(values))


@given(st.text(alphabet="sqnxt:=,|-0123456789.abcdeghilmoprtuvwy", max_size=30))
def test_any_family_text_builds_or_says_why(text):
    from unittest import mock

    try:
        with mock.patch("nnaccel.sweep.netaxis.MAX_FAMILY", 8):  # keep every example quick
            nets = squeezenext_family("sqnxt:" + text)
    except SweepError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert nets
