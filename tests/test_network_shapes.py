"""Hand-worked layers: exact shapes, params and MACs; and the shape rule against the reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nnaccel.netformat import parse_network_text
from nnaccel.network import Layer, Network
from nnaccel.netwrite import dumps_network
from nnaccel.reference import _Weights, run_layer
from nnaccel.shapes import ShapeError, output_shape, pool_output_size


def conv(ci, h, w, co, k, s=(1, 1), p=(0, 0), g=1, bias=False, bn=False) -> Layer:
    out = output_shape("conv", ((ci, h, w),), co, k, s, p)
    return Layer("c", "conv", ("input",), ((ci, h, w),), out, k, s, p, g, bias, bn)


def test_conv_with_padding_and_stride():
    # 16x28x28 -> 32 filters 3x3, stride 2, pad 1: floor((28 + 2 - 3) / 2) + 1 = 14.
    layer = conv(16, 28, 28, 32, (3, 3), (2, 2), (1, 1), bn=True)
    assert layer.output_shape == (32, 14, 14)
    assert layer.params == 32 * 16 * 9 + 2 * 32 == 4672
    assert layer.macs == 32 * 14 * 14 * 16 * 9 == 903_168
    assert layer.macs_paper_rule == 903_168 + 32 * 14 * 14


def test_conv_rounds_down():
    # AlexNet conv1: (227 - 11) / 4 + 1 = 55 exactly; 224 gives 54.25 -> 54.
    layer = conv(3, 227, 227, 96, (11, 11), (4, 4), bias=True)
    assert layer.output_shape == (96, 55, 55)
    assert layer.params == 96 * 3 * 121 + 96 == 34_944
    assert layer.macs == 96 * 55 * 55 * 363 == 105_415_200
    assert conv(3, 224, 224, 96, (11, 11), (4, 4)).output_shape == (96, 54, 54)


def test_asymmetric_separable_conv():
    # SqueezeNext's 3x1 with pad (1, 0) keeps 55x55.
    layer = conv(8, 55, 55, 16, (3, 1), p=(1, 0), bn=True)
    assert layer.output_shape == (16, 55, 55)
    assert layer.params == 16 * 8 * 3 + 32 == 416
    assert layer.macs == 16 * 55 * 55 * 8 * 3 == 1_161_600


def test_grouped_conv():
    # AlexNet conv2: 96 -> 256, 5x5, pad 2, two groups: each filter sees 48 channels.
    layer = conv(96, 27, 27, 256, (5, 5), p=(2, 2), g=2, bias=True)
    assert layer.output_shape == (256, 27, 27)
    assert layer.params == 256 * 48 * 25 + 256 == 307_456
    assert layer.macs == 256 * 27 * 27 * 48 * 25 == 223_948_800


def test_depthwise_conv():
    # MobileNet conv2_1/dw: 32 groups of one channel each.
    layer = conv(32, 112, 112, 32, (3, 3), p=(1, 1), g=32, bn=True)
    assert layer.output_shape == (32, 112, 112)
    assert layer.params == 32 * 9 + 64 == 352
    assert layer.macs == 32 * 112 * 112 * 9 == 3_612_672


@pytest.mark.parametrize(("n", "k", "s", "p", "ceil", "expected"), [
    (111, 3, 2, 0, True, 55),   # exact: both roundings agree
    (112, 3, 2, 0, True, 56),   # SqNxt-23v5 pool1: 54.5 rounds up to 56 windows
    (112, 3, 2, 0, False, 55),
    (13, 3, 2, 0, True, 6),     # SqueezeNet's last pool
    (55, 2, 2, 0, True, 28),    # a 2x2 pool on an odd size keeps the half window
    (55, 2, 2, 0, False, 27),
    (6, 3, 2, 1, True, 4),      # padded: ceil(5 / 2) + 1 = 4; the last window starts in the image
    (5, 2, 2, 1, True, 3),      # ceil gives 4, but window 4 would start in the far padding
])
def test_caffe_pool_rounding(n, k, s, p, ceil, expected):
    assert pool_output_size(n, k, s, p, ceil) == expected
    layer = Layer("p", "maxpool", ("input",), ((2, n, n),), (2, expected, expected),
                  (k, k), (s, s), (p, p), ceil_mode=ceil)
    y, macs = run_layer(layer, [np.ones((2, n, n), np.float32)], _Weights(0))
    assert y.shape == (2, expected, expected) and macs == 0
    assert layer.params == 0 and layer.macs == 0 and layer.macs_paper_rule == 0


def test_fc_reads_the_whole_map():
    # AlexNet fc6 on pool5's 256x6x6.
    shape = output_shape("fc", ((256, 6, 6),), 4096)
    layer = Layer("fc6", "fc", ("pool5",), ((256, 6, 6),), shape, bias=True)
    assert shape == (4096, 1, 1)
    assert layer.params == 9216 * 4096 + 4096 == 37_752_832
    assert layer.macs == 37_748_736
    assert layer.macs_paper_rule == 37_748_736 + 4096


def test_add_concat_and_global_pool():
    assert output_shape("add", ((32, 55, 55), (32, 55, 55)), 0) == (32, 55, 55)
    assert output_shape("concat", ((64, 55, 55), (64, 55, 55), (8, 55, 55)), 0) == (136, 55, 55)
    assert output_shape("global_avgpool", ((128, 7, 7),), 0) == (128, 1, 1)
    with pytest.raises(ShapeError, match="add needs inputs of one shape"):
        output_shape("add", ((32, 55, 55), (32, 54, 55)), 0)
    with pytest.raises(ShapeError, match="one spatial size"):
        output_shape("concat", ((64, 55, 55), (64, 54, 54)), 0)
    add = Layer("a", "add", ("x", "y"), ((4, 2, 2), (4, 2, 2)), (4, 2, 2))
    assert add.params == add.macs == add.macs_paper_rule == 0


def test_network_totals_and_lookup():
    c1 = conv(3, 8, 8, 4, (3, 3), p=(1, 1), bias=True)
    net = Network("n", (3, 8, 8), (c1,), "test", {"params_m": 0.1, "depth": [1, 2]})
    assert net.params == c1.params == 4 * 27 + 4
    assert net.macs == 4 * 64 * 27 and net.macs_paper_rule == net.macs + 4 * 64
    assert net.layer("c") is c1 and net.paper["depth"] == (1, 2)
    with pytest.raises(KeyError):
        net.layer("nope")
    with pytest.raises(TypeError):
        net.paper["params_m"] = 2  # read-only


@st.composite
def window_layers(draw):
    ltype = draw(st.sampled_from(["conv", "maxpool", "avgpool"]))
    groups = draw(st.integers(1, 3)) if ltype == "conv" else 1
    ci = groups * draw(st.integers(1, 3))
    co = groups * draw(st.integers(1, 3)) if ltype == "conv" else ci
    h, w = draw(st.integers(1, 17)), draw(st.integers(1, 17))
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    if ltype == "conv":
        p = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    else:
        p = (draw(st.integers(0, k[0] - 1)), draw(st.integers(0, k[1] - 1)))
    ceil = ltype != "conv" and draw(st.booleans())
    return ltype, (ci, h, w), co, k, s, p, groups, ceil


@settings(max_examples=300, deadline=None)
@given(window_layers())
def test_shape_rule_agrees_with_the_reference(case):
    """The loader's rule and numpy's actual windows give the same output, on random layers."""
    ltype, in_shape, co, k, s, p, groups, ceil = case
    try:
        out = output_shape(ltype, (in_shape,), co, k, s, p, ceil)
    except ShapeError:
        assume(False)
    layer = Layer("l", ltype, ("input",), (in_shape,), out, k, s, p, groups, ceil_mode=ceil)
    # The file the zoo would write for this layer passes the loader ...
    net = Network("n", in_shape, (layer,), "test")
    parsed = parse_network_text(dumps_network(net), "case.json")
    assert parsed["layers"][0]["output_shape"] == out
    # ... and numpy, doing the work, lands on the same shape and the same MAC count.
    x = np.random.default_rng(0).standard_normal(in_shape).astype(np.float32)
    y, macs = run_layer(layer, [x], _Weights(0))
    assert y.shape == out
    assert macs == layer.macs
    assert np.isfinite(y).all()  # no pooling window fell entirely into padding
