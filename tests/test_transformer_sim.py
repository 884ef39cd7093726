"""Transformers on the engines (docs/model.md §1b): the output path's work and the products
worked by hand, step equal to fast on every layer of the decode step and of ViT-B/16, and a
decode step bound by its DRAM traffic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnaccel.engines import fast, step
from nnaccel.engines import layout as L
from nnaccel.errors import MappingError
from nnaccel.hardware import Hardware, preset
from nnaccel.loader import load_network
from nnaccel.lowering import lower_network
from nnaccel.network import Layer, Network
from nnaccel.report import bound, layer_rows, tokens_per_second
from nnaccel.simulate import simulate
from nnaccel.tiler import candidate_grid

# docs/model.md §11's hardware: LAT 100, BW 16 B/cycle, WORD 2, PSUM 4, PORT 4, 4 lanes,
# RD = Pr + 2·Pc = 12, WR = 2·Pc = 8 words (set: the ports §11 is worked with).
HW = Hardware(Pr=4, Pc=4, buffer_port_words=4, rf_psums=1, sparsity=0.4,
              buffer_read_port_words=12, buffer_write_port_words=8)


def _run(layers: list[Layer], name: str, df: int, tiles: tuple[int, int, int, int],
         inputs=()) -> tuple[np.ndarray, dict]:
    net = Network("t", layers[0].input_shapes[0], tuple(layers), "test", inputs=inputs)
    (low,) = [x for x in lower_network(net, HW) if x.layer.name == name]
    vec, hv = low.vector, low.hardware_vector(HW.vector())
    m = np.array([df, L.LOOP_K, L.LOOP_C, L.LOOP_Y, L.LOOP_X, *tiles], np.int64)
    s = step.simulate(vec, hv, m)
    assert np.array_equal(s, fast.evaluate(vec, hv, m[None, :])[0])
    return vec, {n: int(v) for n, v in zip(L.COUNT_NAMES, s, strict=True)}


def test_a_softmax_is_timed_on_the_output_path():
    # [4, 8]: 4 rows of 8; VE = exp + 4 = 8, VR = divide = 5. Load 64 B: 104. The array copies
    # in 2 steps of 4 channels side by side, 4 cycles each: 8, and the second chunk's 4·4 sums
    # drain in 2·16 / WR 8 = 4 cycles (the first chunk's drain hides behind the second): 12.
    # The store's 64 B take 4 cycles, its 8·32 + 5·4 = 276 lane cycles 69 on 4 lanes:
    # 100 + 69. 104 + 12 + 169 = 285.
    sm = Layer("sm", "softmax", ("input",), ((4, 8),), (4, 8))
    vec, c = _run([sm], "sm", L.DF_OS, (1, 4, 1, 8))
    assert (vec[L.L_VE], vec[L.L_VR]) == (8, 5)
    assert (c["cycles"], c["compute_cycles"], c["alu_ops"]) == (285, 12, 276)
    assert (c["dram_read_bytes"], c["dram_write_bytes"]) == (64, 64)


def test_a_layernorm_pays_its_rsqrt_once_per_row():
    # VE = 1 + 3 + 2 + 1 = 7, VR = rsqrt + 2 = 9: 7·32 + 9·4 = 260 lane cycles, 65 cycles.
    ln = Layer("ln", "layernorm", ("input",), ((4, 8),), (4, 8), bias=True)
    vec, c = _run([ln], "ln", L.DF_OS, (1, 4, 1, 8))
    assert (vec[L.L_VE], vec[L.L_VR]) == (7, 9)
    assert (c["cycles"], c["alu_ops"]) == (104 + 12 + 165, 260)


def test_attention_scores_with_the_scale_in_their_output_path():
    # Q [2, 2, 4] x K [2, 3, 4]ᵀ: grouped conv G = 2 (heads), CGI = 4, CGO = 3, 2 pixels,
    # density 1. Load Q 16 + K 24 values, 80 B: 105. Per head ceil(12/4) + 2 = 5: 10. Store
    # 24 B: 2 cycles, or the scale's 12 lane cycles on 4 lanes: 3 -> 103. 218 cycles.
    qk = Layer("qk", "matmul", ("input", "k"), ((2, 2, 4), (2, 3, 4)), (2, 2, 3),
               transpose_b=True)
    sc = Layer("sc", "activation", ("qk",), ((2, 2, 3),), (2, 2, 3), function="scale")
    vec, c = _run([qk, sc], "qk", L.DF_WS, (1, 2, 4, 6), inputs=(("k", (2, 3, 4)),))
    assert tuple(vec[[L.L_KIND, L.L_G, L.L_CGI, L.L_CGO, L.L_H, L.L_W]]) == (
        L.KIND_CONV, 2, 4, 3, 2, 1)
    assert (c["cycles"], c["compute_cycles"], c["pe_ops"], c["dram_read_bytes"]) == (
        218, 10, 48, 80)
    net = Network("t", (2, 2, 4), (qk, sc), "test", inputs=(("k", (2, 3, 4)),))
    low = lower_network(net, HW)
    assert low[1].fused_into == "qk" and low[0].density == 1  # no weight sparsity, ever


def test_a_gelu_in_a_linear_output_path():
    # [4, 8] x [8, 8]: load 32 + 64 values, 192 B: 112. 4 passes of 4 + 4: 32. Store 64 B
    # while the lanes do 23 lane cycles per value (exp 4 + divide 5 + 14): 736 / 4 = 184.
    li = Layer("fc1", "linear", ("input",), ((4, 8),), (4, 8))
    ge = Layer("g", "activation", ("fc1",), ((4, 8),), (4, 8), function="gelu")
    vec, c = _run([li, ge], "fc1", L.DF_WS, (1, 4, 8, 8))
    assert vec[L.L_VE] == 23
    assert (c["cycles"], c["compute_cycles"], c["alu_ops"]) == (428, 32, 736)
    # without fusion the GELU is a layer of its own: a copy with the same lane cycles
    alone = lower_network(Network("t", (4, 8), (li, ge), "test"),
                          HW.with_(fuse_activation=False))
    assert alone[0].vector[L.L_VE] == 0 and alone[1].vector[L.L_VE] == 23


def test_slower_exp_and_divide_slow_a_softmax_down():
    sm = Layer("sm", "softmax", ("input",), ((64, 128),), (64, 128))
    net = Network("t", (64, 128), (sm,), "test")
    base = simulate(net, preset("paper-8x8")).layers[0]
    slow = simulate(net, preset("paper-8x8").with_(exp_cycles=16, divide_cycles=20)).layers[0]
    assert slow.count("alu_ops") == 64 * 128 * (16 + 4) + 64 * 20
    assert base.count("alu_ops") == 64 * 128 * (4 + 4) + 64 * 5
    assert slow.cycles > base.cycles


def test_a_row_reduction_keeps_whole_rows_in_a_tile():
    sm = Layer("sm", "softmax", ("input",), ((12, 197, 197),), (12, 197, 197))
    (low,) = lower_network(Network("t", (12, 197, 197), (sm,), "test"), preset("paper-8x8"))
    hv = preset("paper-8x8").vector()
    assert list(candidate_grid(low.vector, hv, L.DF_OS)[3]) == [197]


def test_layout_moves_are_free_or_timed_as_the_model_says():
    vit = load_network("vit-b16")
    result = simulate(vit, preset("paper-16x16"))
    by = {r.layer.name: r for r in result.layers}
    # patch flattening moves the last axis: a timed move through the buffer
    assert by["tokens"].cycles > 0 and by["tokens"].count("dram_read_bytes") == 196 * 768 * 2
    # head split and merge keep the last axis: addressing, free
    p = "encoder.layers.encoder_layer_0.self_attention"
    for name in (f"{p}.q.split", f"{p}.q.heads", f"{p}.tokens", f"{p}.merge"):
        assert by[name].cycles == 0 and by[name].mapping is None
    rows = {r["layer"]: r for r in layer_rows(result)}
    assert rows["tokens"]["bound"] in ("dram", "array") and rows[f"{p}.merge"]["bound"] == ""


@pytest.mark.parametrize("config", ["paper-8x8", "paper-16x16"])
def test_step_equals_fast_on_every_layer_of_the_decode_step(config):
    hw = preset(config)
    net = load_network("gpt2-decode-127")
    result = simulate(net, hw)
    checked = 0
    for low, r in zip(lower_network(net, hw), result.layers, strict=True):
        if low.vector is None:
            continue
        s = step.simulate(low.vector, low.hardware_vector(hw.vector()), r.mapping.vector())
        assert np.array_equal(s, np.array(r.counts)), r.layer.name
        checked += 1
    assert checked == 113


@pytest.mark.slow
@pytest.mark.parametrize("config", ["paper-8x8", "paper-16x16"])
def test_step_equals_fast_on_every_layer_of_vit_b16(config):
    hw = preset(config)
    net = load_network("vit-b16")
    result = simulate(net, hw)
    # The 12 encoder blocks repeat one block's layers: each distinct (layer, hardware,
    # mapping) is stepped once (the step engine is a pure function of the three) and its
    # counts compared with every layer that has it.
    stepped: dict[bytes, np.ndarray] = {}
    checked = 0
    for low, r in zip(lower_network(net, hw), result.layers, strict=True):
        if low.vector is None:
            continue
        hv, mv = low.hardware_vector(hw.vector()), r.mapping.vector()
        key = low.vector.tobytes() + hv.tobytes() + mv.tobytes()
        if key not in stepped:
            stepped[key] = step.simulate(low.vector, hv, mv)
        assert np.array_equal(stepped[key], np.array(r.counts)), r.layer.name
        checked += 1
    assert checked == 125 and len(stepped) == 13  # 13 distinct of 125 mapped layers


def test_a_decode_step_is_bound_by_its_dram_traffic():
    hw = preset("paper-16x16")
    net = load_network("gpt2-decode-127")
    result = simulate(net, hw)
    t = result.totals()
    moved = t["dram_read_bytes"] + t["dram_write_bytes"]
    # every weight matrix of the 12 blocks, the tied head's (the token table, read whole) and
    # the cache of 24 tensors [12, 127, 64], at 2 bytes each, at least
    weights = 12 * (768 * 2304 + 768 * 768 + 2 * 768 * 3072) + 768 * 50257
    cache = 24 * 12 * 127 * 64
    assert t["dram_read_bytes"] >= 2 * (weights + cache)
    assert t["cycles"] >= moved // hw.dram_bytes_per_cycle
    assert moved // hw.dram_bytes_per_cycle > 0.9 * t["cycles"]  # DRAM busy > 90%
    assert all(bound(r, hw) == "dram" for r in result.layers if r.cycles)
    assert tokens_per_second(result) == pytest.approx(hw.clock_hz / t["cycles"])
    # a prefill of 128 tokens reuses each weight over 128 pixels: it is array-bound
    prefill = simulate(load_network("gpt2-prefill-128"), hw)
    linears = [r for r in prefill.layers if r.layer.type == "linear"]
    assert sum(bound(r, hw) == "array" for r in linears) > len(linears) / 2


@pytest.mark.parametrize("stem", ["vit-b16", "bert-base-128", "gpt2-prefill-128",
                                  "gpt2-decode-127", "llama-small-128"])
def test_every_bundled_transformer_runs_on_both_presets(stem):
    net = load_network(stem)
    for config in ("paper-8x8", "paper-16x16"):
        result = simulate(net, preset(config))
        t = result.totals()
        assert t["macs"] == net.macs and t["cycles"] > 0
        # the array cannot beat its PEs: at most Pr·Pc MACs a cycle (no sparsity in a
        # matmul; a linear's zero weights are skipped only in OS, and counted as MACs)
        assert t["pe_ops"] <= t["cycles"] * preset(config).pes


def _random_block(t: int, heads: int, dh: int, kv: int, past: int, norm: str, act: str):
    """One pre-norm attention block and MLP, as the zoo's transformers write them, of the
    given sizes (grouped-query when kv < heads; a cache of `past` keys and values)."""
    from nnaccel.zoo._builder import NetBuilder

    d = heads * dh
    cache = {"past_k": (kv, past, dh), "past_v": (kv, past, dh)} if past else None
    b = NetBuilder((t,), cache)
    x = b.embedding("emb", "input", 50, d)
    h = b.layernorm("n1", x) if norm == "layernorm" else b.rmsnorm("n1", x)

    def heads_of(name: str, n: int) -> str:
        y = b.reshape(f"{name}.split", b.linear(name, h, n * dh), (t, n, dh))
        return b.transpose(f"{name}.heads", y, (1, 0, 2))

    q, k, v = heads_of("q", heads), heads_of("k", kv), heads_of("v", kv)
    if past:
        k = b.concat_axis("k.all", 1, "past_k", k)
        v = b.concat_axis("v.all", 1, "past_v", v)
    s = b.activation("scale", b.matmul("scores", q, k, transpose_b=True), "scale")
    s = b.add("masked", s, b.constant("mask", (t, t + past), learned=False))
    o = b.matmul("context", b.softmax("p", s), v)
    o = b.reshape("merge", b.transpose("tokens", o, (1, 0, 2)), (t, d))
    x = b.add("res1", x, b.linear("o", o, d))
    m = b.activation("act", b.linear("up", x, 2 * d), act)
    x = b.add("res2", x, b.linear("down", m, d))
    b.transpose("out.t", x, (1, 0))  # a timed move: the last axis moves
    return b.network("random block", "tests", {})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=st.integers(1, 12), heads=st.integers(1, 4), dh=st.integers(1, 8),
       group=st.sampled_from([1, 2]), past=st.sampled_from([0, 0, 5]),
       norm=st.sampled_from(["layernorm", "rmsnorm"]),
       act=st.sampled_from(["gelu", "gelu_tanh", "silu", "relu", "tanh"]),
       side=st.integers(2, 6), kb=st.sampled_from([2, 8, 64]), alu=st.integers(0, 3))
def test_random_blocks_load_check_and_agree_on_both_engines(t, heads, dh, group, past, norm,
                                                            act, side, kb, alu):
    """Transformer blocks of random sizes: the file round-trips, the numpy reference finds
    the file's shapes and MACs, and step equals fast on every layer the tiler maps."""
    from nnaccel.netformat import parse_network_text
    from nnaccel.netwrite import dumps_network
    from nnaccel.reference import run_reference

    kv = heads // group if heads % group == 0 else heads
    net = _random_block(t, heads, dh, kv, past, norm, act)
    data = parse_network_text(dumps_network(net), "x")
    again = Network(layers=tuple(Layer(**f) for f in data.pop("layers")), **data)
    assert again == net
    run = run_reference(net)
    assert run.ok, run.problems
    hw = Hardware(Pr=side, Pc=side + 1, buffer_bytes=kb * 1024, output_alu_ops_per_cycle=alu)
    try:
        result = simulate(net, hw)
    except MappingError:
        return  # a 2 KB buffer may hold no tile of a wide row: said in one line, checked apart
    for low, r in zip(lower_network(net, hw), result.layers, strict=True):
        if low.vector is not None:
            s = step.simulate(low.vector, low.hardware_vector(hw.vector()), r.mapping.vector())
            assert np.array_equal(s, np.array(r.counts)), r.layer.name
    by = {r.layer.name: r for r in result.layers}
    assert by["act"].fused_into == "up" and by["scale"].fused_into == "scores"
    assert by["out.t"].cycles > 0 and by["tokens"].cycles == 0
