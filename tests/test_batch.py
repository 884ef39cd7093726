"""Batch-aware tiling (docs/model.md §5, "Batch"): a layer whose windows are single pixels runs
the whole batch as one layer of batch times the pixels, when that costs less."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnaccel.engines import fast, step
from nnaccel.engines import layout as L
from nnaccel.hardware import Hardware
from nnaccel.loader import load_network
from nnaccel.lowering import batch_vector, lower_network
from nnaccel.simulate import BATCHED, KEPT, PER_IMAGE, simulate

#: The §11 hardware: array 4x4, PORT 4, LAT 100, BW 16 B/cycle, density 3/5.
HW = Hardware(Pr=4, Pc=4, buffer_bytes=1 << 20, sparsity=0.4)


def _net(tmp_path, layers, input_shape, name="b"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "input_shape": input_shape, "source": "a test",
                                "layers": layers}))
    return load_network(path)


def _fc(tmp_path, ci=64, co=16):
    return _net(tmp_path, [{"name": "fc", "type": "fc", "inputs": ["input"],
                            "input_shapes": [[ci, 1, 1]], "output_shape": [co, 1, 1]}], [ci, 1, 1])


def test_batched_fc_by_hand(tmp_path):
    """docs/model.md §11 "A batch of four through an FC": the transfer-bound FC (fc 64 -> 16,
    WS, order x y k c, TC = TK = 16) with 4 images side by side, one x-tile of 4 pixels. Each of
    the 4 c-tiles loads 16·4 inputs + 256 weights = 640 B (140 cycles) and computes 16 passes of
    ceil(16/4) + 4 = 8 cycles (128); the last stores 16·4 outputs, 128 B (108). Timeline: loads
    0-140, 140-280, 280-420, 420-560; tiles 140-268, 280-408, 420-548, 560-688; store 688-796.
    Image by image the layer takes 718 cycles and reads 4·544 B each time: its weights (2,048 B)
    are read once for the batch, not 4 times."""
    (low,) = lower_network(_fc(tmp_path), HW)
    whole = batch_vector(low, 4)
    assert (whole[L.L_H], whole[L.L_W], whole[L.L_HO], whole[L.L_WO]) == (1, 4, 1, 4)
    m = np.array([L.DF_WS, L.LOOP_X, L.LOOP_Y, L.LOOP_K, L.LOOP_C, 4, 1, 16, 16], dtype=np.int64)
    hw = HW.vector()
    for counts in (step.simulate(whole, hw, m), fast.evaluate(whole, hw, m[None])[0]):
        c = dict(zip(L.COUNT_NAMES, counts.tolist(), strict=True))
        assert (c["cycles"], c["compute_cycles"], c["stall_cycles"]) == (796, 512, 284)
        assert (c["dram_read_bytes"], c["dram_write_bytes"]) == (64 * 16 * 2 + 4 * 64 * 2, 128)
    one = fast.evaluate(low.vector, hw, np.array([[L.DF_WS, 0, 1, 3, 2, 1, 1, 16, 16]]))[0]
    assert (one[L.C_CYCLES], one[L.C_DRAM_RD]) == (718, 4 * 544)


def test_a_batch_of_four_reads_an_fc_s_weights_once(tmp_path):
    """The same FC on a 4KB buffer: one image's weights (2,048 B) do not fit beside its tiles
    in one tile (2·(128 + 2048 + 64) = 4,480 B), so image by image each image reads them again:
    4·(2048 + 128) = 8,704 B. The tiler runs the batch as one layer instead, and reads the
    weights once and each image's 128 B of inputs once: 2,560 B."""
    net = _fc(tmp_path)
    hw = HW.with_(buffer_bytes=4096)
    one = simulate(net, hw)
    assert one.total("dram_read_bytes") == 2048 + 128 and one.layers[0].batch_mode == ""
    four = simulate(net, hw.with_(batch=4))
    assert four.layers[0].batch_mode == BATCHED
    assert four.total("dram_read_bytes") == 2048 + 4 * 128
    assert four.total("dram_write_bytes") == 4 * 16 * 2
    assert four.macs == 4 * 64 * 16 and four.total("pe_ops") == 4 * one.total("pe_ops")
    assert four.cycles < 4 * one.cycles


def _mixed(tmp_path):
    """A 3x3 conv (its windows straddle images: image by image), a pointwise conv, an add,
    a pool and an fc (single-pixel windows: the batch may run as one layer)."""
    layers = [
        {"name": "c3", "type": "conv", "inputs": ["input"], "input_shapes": [[4, 6, 6]],
         "output_shape": [8, 6, 6], "kernel": [3, 3], "stride": [1, 1], "padding": [1, 1]},
        {"name": "c1", "type": "conv", "inputs": ["c3"], "input_shapes": [[8, 6, 6]],
         "output_shape": [8, 6, 6], "kernel": [1, 1], "stride": [1, 1], "padding": [0, 0]},
        {"name": "sum", "type": "add", "inputs": ["c3", "c1"], "input_shapes": [[8, 6, 6]] * 2,
         "output_shape": [8, 6, 6]},
        {"name": "pool", "type": "global_avgpool", "inputs": ["sum"], "input_shapes": [[8, 6, 6]],
         "output_shape": [8, 1, 1]},
        {"name": "fc", "type": "fc", "inputs": ["pool"], "input_shapes": [[8, 1, 1]],
         "output_shape": [40, 1, 1]},
    ]
    return _net(tmp_path, layers, [4, 6, 6], "mixed")


def test_only_single_pixel_windows_run_as_one_layer(tmp_path):
    net = _mixed(tmp_path)
    low = {x.layer.name: x for x in lower_network(net, HW.with_(fuse_add=False))}
    assert batch_vector(low["c3"], 4) is None  # a 3x3 window would straddle two images
    assert batch_vector(low["c1"], 1) is None  # one image: nothing to batch
    for name in ("c1", "sum", "fc"):
        v = batch_vector(low[name], 4)
        assert v[L.L_W] == 4 * low[name].vector[L.L_W] and v[L.L_H] == low[name].vector[L.L_H]


def test_a_matmul_s_second_operand_is_not_shared_by_a_batch(tmp_path):
    """A matmul's "weights" are the image's own activations: each image has its own."""
    net = _net(tmp_path, [{"name": "qk", "type": "matmul", "inputs": ["input", "input"],
                           "input_shapes": [[2, 4, 4], [2, 4, 4]], "output_shape": [2, 4, 4]}],
               [2, 4, 4], "mm")
    (low,) = lower_network(net, HW)
    assert low.own_weights and batch_vector(low, 4) is None
    assert simulate(net, HW.with_(batch=4)).layers[0].batch_mode in (KEPT, PER_IMAGE)


def test_both_engines_agree_on_a_batch(tmp_path):
    net = _mixed(tmp_path)
    for hw in (HW.with_(batch=3, buffer_bytes=2048), HW.with_(batch=4, buffer_bytes=1024)):
        f, s = simulate(net, hw), simulate(net, hw, engine="step")
        assert BATCHED in {r.batch_mode for r in f.layers}
        for a, b in zip(f.layers, s.layers, strict=True):
            assert (a.mapping, a.counts, a.batch_mode) == (b.mapping, b.counts, b.batch_mode)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ci=st.integers(1, 48), co=st.integers(1, 48), side=st.integers(1, 5),
       batch=st.integers(2, 9), buf=st.sampled_from([1024, 2048, 8192, 1 << 16]),
       objective=st.sampled_from(["cycles", "energy"]))
def test_a_batch_never_costs_more_per_image(tmp_path_factory, ci, co, side, batch, buf, objective):
    """Per image, a batch never costs more than one image, in cycles, DRAM bytes or energy:
    image by image, a later image's work is the first's or less (it may keep the weights),
    and the batch runs as one layer only where that is no worse in any of them."""
    path = tmp_path_factory.mktemp("p")
    net = _net(path, [{"name": "pw", "type": "conv", "inputs": ["input"],
                       "input_shapes": [[ci, side, side]], "output_shape": [co, side, side],
                       "kernel": [1, 1], "stride": [1, 1], "padding": [0, 0]}], [ci, side, side])
    hw = HW.with_(buffer_bytes=buf)
    one = simulate(net, hw, objective=objective)
    many = simulate(net, hw.with_(batch=batch), objective=objective)
    assert many.cycles <= batch * one.cycles
    dram = ("dram_read_bytes", "dram_write_bytes")
    assert sum(many.total(n) for n in dram) <= batch * sum(one.total(n) for n in dram)
    assert many.energy_total <= batch * one.energy_total * (1 + 1e-12)
