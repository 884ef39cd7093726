"""The numpy reference: correct arithmetic, and every bundled network passes it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nnaccel.loader import bundled_networks, load_network
from nnaccel.network import Network
from nnaccel.reference import conv, pool, run_reference


def naive_conv(x, w, stride, pad, groups):
    """Six nested loops' worth of convolution, to check the im2col version against."""
    ci, h, wd = x.shape
    co, cig, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    ho = (h + 2 * pad[0] - kh) // stride[0] + 1
    wo = (wd + 2 * pad[1] - kw) // stride[1] + 1
    out = np.zeros((co, ho, wo), np.float64)
    per_group = co // groups
    for o in range(co):
        g = o // per_group
        for i in range(ho):
            for j in range(wo):
                patch = xp[g * cig:(g + 1) * cig, i * stride[0]:i * stride[0] + kh,
                           j * stride[1]:j * stride[1] + kw]
                out[o, i, j] = np.sum(patch * w[o])
    return out


@pytest.mark.parametrize(("ci", "co", "k", "stride", "pad", "groups"), [
    (3, 4, (3, 3), (1, 1), (1, 1), 1),
    (4, 6, (3, 1), (2, 1), (1, 0), 2),
    (6, 6, (3, 3), (2, 2), (1, 1), 6),   # depthwise
    (4, 8, (5, 5), (3, 2), (2, 0), 4),
])
def test_conv_matches_naive(ci, co, k, stride, pad, groups):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((ci, 9, 10)).astype(np.float32)
    w = rng.standard_normal((co, ci // groups, *k)).astype(np.float32)
    y, macs = conv(x, w, stride, pad, groups)
    expected = naive_conv(x, w, stride, pad, groups)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    assert macs == co * y.shape[1] * y.shape[2] * (ci // groups) * k[0] * k[1]


def test_pooling_as_caffe_does_it():
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5)
    # 3x3 stride 2 rounding up on 5: windows start at 0 and 2 -> 2x2 (exact, no overhang).
    assert pool(x, "maxpool", (3, 3), (2, 2), (0, 0), True).tolist() == [[[12, 14], [22, 24]]]
    # 2x2 stride 2 rounding up on 5: a third, half window at the edge.
    m = pool(x, "maxpool", (2, 2), (2, 2), (0, 0), True)
    assert m.tolist() == [[[6, 8, 9], [16, 18, 19], [21, 23, 24]]]
    # Caffe's average divides by the window clipped to the padded input, not by k*k.
    a = pool(x, "avgpool", (2, 2), (2, 2), (0, 0), True)
    assert a[0, 0, 2] == (4 + 9) / 2 and a[0, 2, 2] == 24 and a[0, 0, 0] == (0 + 1 + 5 + 6) / 4
    # With padding 1 the padded zeros count in the divisor (Caffe's AVE pooling).
    p = pool(x, "avgpool", (3, 3), (2, 2), (1, 1), True)
    assert p.shape == (1, 3, 3) and p[0, 0, 0] == (0 + 1 + 5 + 6) / 9


@pytest.mark.parametrize("path", [
    pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem == "vgg19" else [])
    for p in bundled_networks()
])
def test_every_bundled_network_passes(path):
    net = load_network(path)
    run = run_reference(net)
    assert run.ok, run.problems
    assert run.macs == net.macs
    assert run.output.shape == net.output_shape and np.isfinite(run.output).all()


def test_sqnxt23_runs_in_a_few_seconds():
    run = run_reference(load_network("sqnxt23"))
    assert run.ok and run.seconds < 3.0


def _with_layer(net: Network, name: str, **changes) -> Network:
    """``net`` with one layer changed, built directly so that the loader never checks it."""
    layers = tuple(replace(la, **changes) if la.name == name else la for la in net.layers)
    return Network(net.name, net.input_shape, layers, net.source)


def test_reference_catches_a_wrong_shape():
    # Claim v5's pool1 rounds down: the file still says 56x56, numpy computes 55x55.
    bad = _with_layer(load_network("sqnxt23v5"), "pool1", ceil_mode=False)
    run = run_reference(bad)
    assert not run.ok
    assert run.problems[0] == ("layer 'pool1': the file says output [64, 56, 56], "
                               "the reference computed [64, 55, 55]")


def test_reference_catches_a_wrong_mac_count():
    # A conv whose recorded input has twice the channels it really gets counts twice the MACs.
    net = load_network("sqnxt23")
    bad = _with_layer(net, "s1b1_sq2", input_shapes=((32, 55, 55),))
    run = run_reference(bad)
    real = net.layer("s1b1_sq2").macs
    assert run.problems == [f"layer 's1b1_sq2': the file counts {2 * real} MACs, "
                            f"the reference performed {real}"]


def test_reference_is_seeded():
    net = load_network("g-sqnxt23")
    a, b = run_reference(net, seed=3).output, run_reference(net, seed=3).output
    assert np.array_equal(a, b)
    assert not np.array_equal(a, run_reference(net, seed=4).output)
