"""The layer kinds ONNX brought (mul, affine, slice, shuffle, upsample; dilated and
asymmetrically padded convs; a layer's own sparsity): the format, the numpy reference, their
lowering onto the engines' mechanisms (docs/model.md §1a), and step = fast on each of them."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import hardware, mappings

from nnaccel.engines import fast, step
from nnaccel.engines import layout as L
from nnaccel.errors import NetworkError
from nnaccel.hardware import Hardware, preset
from nnaccel.loader import load_network
from nnaccel.lowering import lower_network
from nnaccel.netformat import parse_network_text
from nnaccel.network import Layer, Network
from nnaccel.netwrite import dumps_network
from nnaccel.reference import run_reference
from nnaccel.shapes import output_shape
from nnaccel.simulate import simulate


def _layer(ltype: str, shapes, co: int = 0, inputs=None, **fields) -> Layer:
    out = output_shape(ltype, tuple(shapes), co, **{k: v for k, v in fields.items()
                                                    if k in ("kernel", "stride", "padding",
                                                             "dilation", "channels", "scale")})
    return Layer("x", ltype, tuple(inputs or ["input"] * len(shapes)), tuple(shapes), out,
                 **fields)


@st.composite
def new_layers(draw) -> Layer:
    c = draw(st.integers(1, 6))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kind = draw(st.sampled_from(["dilated", "asym", "sparse", "mul_se", "mul", "affine",
                                 "nearest", "linear", "gap"]))
    if kind in ("dilated", "asym", "sparse"):
        k = draw(st.integers(1, 3))
        d = draw(st.integers(1, 3)) if kind == "dilated" else 1
        span = d * (k - 1) + 1
        pads = tuple(draw(st.integers(0, span - 1)) for _ in range(4 if kind == "asym" else 2))
        if h + pads[0] + pads[-2] < span or w + pads[1] + pads[-1] < span:
            pads = (span, span)
        return _layer("conv", [(c, h, w)], draw(st.integers(1, 6)), kernel=(k, k),
                      stride=(draw(st.integers(1, 2)),) * 2, padding=pads, dilation=(d, d),
                      sparsity=draw(st.sampled_from([None, 0.0, 0.6, 0.25])))
    if kind == "mul_se":
        return _layer("mul", [(c, h, w), (c, 1, 1)], inputs=["a", "b"])
    if kind == "mul":
        return _layer("mul", [(c, h, w), (c, h, w)], inputs=["a", "b"])
    if kind == "affine":
        return _layer("affine", [(c, h, w)], bias=draw(st.booleans()))
    if kind == "gap":
        return _layer("global_avgpool", [(c, h, w)])
    return _layer("upsample", [(c, h, w)], scale=(draw(st.integers(1, 3)),) * 2, mode=kind)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_step_and_fast_agree_on_the_new_kinds(data):
    layer = data.draw(new_layers())
    buffer = data.draw(st.sampled_from([64, 1 << 20]))  # small: global pools as reductions
    hw = Hardware(name="t", buffer_bytes=buffer) if buffer > 64 else Hardware(name="t")
    net = Network("t", layer.input_shapes[0], (layer,), "test")
    (low,) = lower_network(net, hw)
    assert low.vector is not None
    hv = low.hardware_vector(data.draw(hardware()))
    m = data.draw(mappings(low.vector))
    s = step.simulate(low.vector, hv, m)
    f = fast.evaluate(low.vector, hv, m[None, :])[0]
    assert np.array_equal(s, f), (layer, s, f)


def test_a_dilated_kernel_runs_as_its_span_with_zeros_between_the_taps():
    hw = Hardware(sparsity=0.4)
    layer = _layer("conv", [(4, 9, 9)], 4, kernel=(3, 3), padding=(2, 2), dilation=(2, 2))
    (low,) = lower_network(Network("t", (4, 9, 9), (layer,), "test"), hw)
    assert (low.vector[L.L_KH], low.vector[L.L_KW]) == (5, 5)
    assert low.density == Fraction(3, 5) * Fraction(9, 25)


def test_a_layers_own_sparsity_replaces_the_hardwares():
    layer = _layer("conv", [(4, 9, 9)], 4, kernel=(3, 3), sparsity=0.75)
    (low,) = lower_network(Network("t", (4, 9, 9), (layer,), "test"), Hardware())
    hv = low.hardware_vector(Hardware().vector())
    assert (hv[L.H_DNUM], hv[L.H_DDEN]) == (1, 4)


def test_se_multiply_and_affine_are_dense_depthwise_convs_slices_and_shuffles_move_nothing():
    hw = Hardware()
    layers = (
        _layer("slice", [(8, 4, 4)], channels=(0, 4)),
        Layer("sh", "shuffle", ("x",), ((4, 4, 4),), (4, 4, 4), groups=2),
        Layer("se", "mul", ("sh", "gate"), ((4, 4, 4), (4, 1, 1)), (4, 4, 4)),
        Layer("bn", "affine", ("se",), ((4, 4, 4),), (4, 4, 4), bias=True),
    )
    gate = Layer("gate", "global_avgpool", ("sh",), ((4, 4, 4),), (4, 1, 1))
    net = Network("t", (8, 4, 4), (*layers[:2], gate, *layers[2:]), "test")
    lows = {low.layer.name: low for low in lower_network(net, hw)}
    assert lows["x"].vector is None and lows["sh"].vector is None
    for name in ("se", "bn"):
        v = lows[name].vector
        assert (v[L.L_KIND], v[L.L_G], v[L.L_CGI], v[L.L_CGO]) == (L.KIND_CONV, 4, 1, 1)
        assert lows[name].density == 1
    result = simulate(net, preset("paper-8x8"))
    assert [r.cycles > 0 for r in result.layers] == [False, False, True, True, True]


BASE = {"name": "t", "input_shape": [8, 6, 6], "source": "test", "layers": [
    {"name": "c", "type": "conv", "inputs": ["input"], "input_shapes": [[8, 6, 6]],
     "output_shape": [8, 6, 6], "kernel": [3, 3], "padding": [2, 2], "dilation": [2, 2],
     "sparsity": 0.5},
    {"name": "s", "type": "slice", "inputs": ["c"], "input_shapes": [[8, 6, 6]],
     "output_shape": [4, 6, 6], "channels": [2, 6]},
    {"name": "p", "type": "shuffle", "inputs": ["c"], "input_shapes": [[8, 6, 6]],
     "output_shape": [8, 6, 6], "groups": 4},
    {"name": "g", "type": "global_avgpool", "inputs": ["p"], "input_shapes": [[8, 6, 6]],
     "output_shape": [8, 1, 1]},
    {"name": "m", "type": "mul", "inputs": ["p", "g"], "input_shapes": [[8, 6, 6], [8, 1, 1]],
     "output_shape": [8, 6, 6]},
    {"name": "a", "type": "affine", "inputs": ["m"], "input_shapes": [[8, 6, 6]],
     "output_shape": [8, 6, 6], "bias": False},
    {"name": "u", "type": "upsample", "inputs": ["s"], "input_shapes": [[4, 6, 6]],
     "output_shape": [4, 12, 18], "scale": [2, 3], "mode": "linear"},
    {"name": "q", "type": "conv", "inputs": ["u"], "input_shapes": [[4, 12, 18]],
     "output_shape": [2, 6, 9], "kernel": [2, 2], "stride": [2, 2], "padding": [0, 0, 1, 1]},
]}


def test_the_new_fields_load_write_back_and_match_the_reference(tmp_path):
    path = tmp_path / "n.json"
    path.write_text(json.dumps(BASE))
    net = load_network(path)
    assert net.layer("c").sparsity == 0.5 and net.layer("c").sparsity_source == "file"
    assert net.layer("a").params == 8 and net.layer("u").elementwise_ops == 4 * 4 * 12 * 18
    again = parse_network_text(dumps_network(net), "again")
    assert [Layer(**f) for f in again["layers"]] == [
        Layer(**{**f.__dict__, "sparsity_source": ""}) for f in net.layers]
    run = run_reference(net)
    assert run.ok, run.problems


@pytest.mark.parametrize(("index", "field", "value", "words"), [
    (1, "channels", [6, 2], "start < end"),
    (1, "channels", [2, 9], "end <= 8"),
    (2, "groups", 3, "do not divide into 3 groups"),
    (4, "input_shapes", [[8, 6, 6], [4, 6, 6]], "[C, 1, 1]"),
    (6, "mode", "cubic", "nearest, linear"),
    (6, "output_shape", [4, 12, 12], "the scale give [4, 12, 18]"),
    (0, "output_shape", [8, 7, 7], "dilation"),
])
def test_bad_new_fields(tmp_path, index, field, value, words):
    data = json.loads(json.dumps(BASE))
    data["layers"][index][field] = value
    if field == "input_shapes":
        data["layers"][index]["inputs"] = ["p", "s"]
    with pytest.raises(NetworkError) as info:
        parse_network_text(json.dumps(data), "bad.json")
    assert words in str(info.value)
