"""Lowering: fused post-operations and their chains (docs/model.md §3a)."""

from __future__ import annotations

import json

import numpy as np

from nnaccel.engines import layout as L
from nnaccel.engines import step
from nnaccel.hardware import Hardware
from nnaccel.loader import load_network
from nnaccel.lowering import lower_network
from nnaccel.simulate import simulate


def _residual_block_then_pool(tmp_path):
    """conv a -> conv b; add(a, b); maxpool 2x2/2: the add's last producer is b, and the
    pooling reads only the add: an add-then-pool chain in b's output path."""
    c = 4
    layers = [
        {"name": "a", "type": "conv", "inputs": ["input"], "input_shapes": [[c, 8, 8]],
         "output_shape": [c, 8, 8], "kernel": [3, 3], "stride": [1, 1], "padding": [1, 1]},
        {"name": "b", "type": "conv", "inputs": ["a"], "input_shapes": [[c, 8, 8]],
         "output_shape": [c, 8, 8], "kernel": [1, 1], "stride": [1, 1], "padding": [0, 0]},
        {"name": "sum", "type": "add", "inputs": ["a", "b"], "input_shapes": [[c, 8, 8]] * 2,
         "output_shape": [c, 8, 8]},
        {"name": "pool", "type": "maxpool", "inputs": ["sum"], "input_shapes": [[c, 8, 8]],
         "output_shape": [c, 4, 4], "kernel": [2, 2], "stride": [2, 2], "padding": [0, 0]},
    ]
    path = tmp_path / "chain.json"
    path.write_text(json.dumps({"name": "chain", "input_shape": [c, 8, 8], "source": "a test",
                                "layers": layers}))
    return load_network(path)


def test_add_then_pool_chain_is_fused_into_the_conv(tmp_path):
    net = _residual_block_then_pool(tmp_path)
    low = {x.layer.name: x for x in lower_network(net, Hardware())}
    assert low["sum"].fused_into == "b" and low["pool"].fused_into == "b"
    assert low["sum"].vector is None and low["pool"].vector is None
    v = low["b"].vector
    assert v[L.L_RES] == 1  # the add first, then the pooling (§3a)
    assert (v[L.L_PKH], v[L.L_PKW], v[L.L_PSH], v[L.L_PHO], v[L.L_PWO]) == (2, 2, 2, 4, 4)
    assert low["a"].vector[L.L_RES] == 0 and low["a"].vector[L.L_PKH] == 0


def test_chain_runs_in_one_layer_and_the_engines_agree(tmp_path):
    net = _residual_block_then_pool(tmp_path)
    hw = Hardware(Pr=4, Pc=4, buffer_bytes=4096)
    fused = simulate(net, hw)
    by = {r.layer.name: r for r in fused.layers}
    b = by["b"]
    # b stores the pooled 4x4 outputs (4 channels, 2 B): 128 B, and loads the add's operand
    assert b.count("dram_write_bytes") == 4 * 4 * 4 * 2
    assert b.count("alu_ops") == 4 * 8 * 8 + 4 * 4 * 4 * 4  # the adds, then 4 per pooled value
    assert by["pool"].cycles == 0 and by["sum"].cycles == 0
    low = {x.layer.name: x for x in lower_network(net, hw)}
    s = step.simulate(low["b"].vector, hw.vector(), b.mapping.vector())
    assert np.array_equal(s, np.array(b.counts))
    # without fusion the add and the pooling are layers of their own, and cost more
    apart = simulate(net, hw.with_(fuse_pool=False, fuse_add=False))
    assert apart.cycles > fused.cycles
    assert apart.total("dram_read_bytes") > fused.total("dram_read_bytes")


def test_a_batch_fetches_one_weight_tile_once(tmp_path):
    """docs/model.md §5 "Batch": the small WS conv of §11 as a network, three images. Its
    mapping holds all weights in one tile, so images 2 and 3 load only their inputs:
    312 + 2 * 306 cycles, 144 + 2 * 36 bytes read."""
    layers = [{"name": "c", "type": "conv", "inputs": ["input"], "input_shapes": [[2, 3, 3]],
               "output_shape": [3, 3, 3], "kernel": [3, 3], "stride": [1, 1], "padding": [1, 1]}]
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"name": "one", "input_shape": [2, 3, 3], "source": "a test",
                                "layers": layers}))
    net = load_network(path)
    hw = Hardware(Pr=4, Pc=4, buffer_bytes=1 << 20)
    one = simulate(net, hw, dataflow="ws")
    assert one.layers[0].mapping.tk == 3 and one.layers[0].mapping.tc == 2
    assert (one.cycles, one.total("dram_read_bytes")) == (312, 144)
    three = simulate(net, hw.with_(batch=3), dataflow="ws")
    assert (three.cycles, three.total("dram_read_bytes")) == (312 + 2 * 306, 144 + 2 * 36)
    t = three.totals()
    assert t["batch"] == 3 and t["cycles_per_image"] == (312 + 2 * 306) / 3
    # The stall split (docs/model.md §5) by hand: with no latency the first image loads 144 B
    # in 9 cycles and stores 54 B in 4 (13 stalled), a later one 36 B in 3 and 4 (7 each):
    # 27 cycles of bandwidth; the rest, one latency of 100 for each of the 6 requests, 600.
    assert three.total("stall_bandwidth_cycles") == 13 + 2 * 7
    assert three.total("stall_latency_cycles") == 600
    for engine in ("step",):
        assert simulate(net, hw.with_(batch=3), dataflow="ws", engine=engine).cycles == 924
