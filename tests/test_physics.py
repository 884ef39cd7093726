"""Physics that must hold on every bundled network (issue 3, 'Done when')."""

from __future__ import annotations

import numpy as np
import pytest

from nnaccel.energy import level_matrix
from nnaccel.engines import fast
from nnaccel.engines import layout as L
from nnaccel.hardware import preset
from nnaccel.loader import bundled_networks, load_network
from nnaccel.lowering import lower_network
from nnaccel.simulate import SearchCache, simulate

CONFIGS = ("paper-8x8", "paper-16x16")
NETWORKS = sorted(p.stem for p in bundled_networks())


@pytest.fixture(scope="module")
def caches():
    return {c: SearchCache() for c in CONFIGS}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", NETWORKS)
def test_bounds_and_energy(name, config, caches):
    hw = preset(config)
    result = simulate(load_network(name), hw, cache=caches[config])
    for r in result.layers:
        c = np.array(r.counts)
        assert c[L.C_CYCLES] * hw.pes >= c[L.C_OPS], r.layer.name
        assert c[L.C_CYCLES] * hw.dram_bytes_per_cycle >= c[L.C_DRAM_RD] + c[L.C_DRAM_WR], r.layer.name
        if r.mapping is not None:  # the layer runs: the first load arrives before the array
            # starts, the last store leaves after it ends, each paying the latency
            assert c[L.C_STALL] >= 2 * (hw.dram_latency_cycles + 1), r.layer.name
        assert c[L.C_COMPUTE] * hw.pes >= c[L.C_OPS], r.layer.name
        # at least what its DRAM bytes cost: 200 per 16-bit word moved, 100 a byte
        assert r.energy_total >= 100 * (c[L.C_DRAM_RD] + c[L.C_DRAM_WR]), r.layer.name
        if r.layer.type in ("conv", "fc"):
            # every MAC of the layer is performed, except zero weights skipped in OS
            assert c[L.C_OPS] <= r.layer.macs
            if r.mapping.dataflow == "ws":
                assert c[L.C_OPS] == r.layer.macs


@pytest.mark.parametrize("word, psum, levels", [
    # One MAC worked by hand: a 1x1 conv, one input and one output channel, one pixel, on a
    # 1x1 array (WS). Words of `word` bytes; the partial sum is PSW = psum / word words.
    # 16-bit words, 32-bit partial sums (PSW 2), the table's entries at scale 1:
    #   MAC 1; RF: the weight written, then read = 2; array: the sum's hop, 2 words x 2 = 4;
    #   buffer: reads weight 1 + input 1 + the output tile at partial-sum width 2, writes the
    #   partial sum 2 + the loaded weight and input 2: 8 words x 6 = 48;
    #   DRAM: 4 B in, 2 B out, 100 a byte = 600.
    (2, 4, {"mac": 1, "rf": 2, "array": 4, "buffer": 48, "dram": 600}),
    # 8-bit words, 32-bit partial sums (PSW 4): a word access costs half its 16-bit entry, a
    # multiply a quarter. MAC 0.25; RF 2 x 0.5 = 1; array 4 words x 2 x 0.5 = 4; buffer reads
    # 1 + 1 + 4, writes 4 + 2: 12 words x 3 = 36, of which the partial-sum write alone is
    # 4 x 3 = 12, four times a word's 3; DRAM 2 B + 1 B, 300.
    (1, 4, {"mac": 0.25, "rf": 1, "array": 4, "buffer": 36, "dram": 300}),
])
def test_a_partial_sum_costs_its_bits(word, psum, levels):
    from nnaccel.energy import energy_by_level
    from nnaccel.engines import step
    from nnaccel.hardware import Hardware

    hw = Hardware(Pr=1, Pc=1, word_bytes=word, psum_bytes=psum)
    layer = np.zeros(L.L_LEN, np.int64)
    layer[:14] = (L.KIND_CONV, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1)
    m = np.array([L.DF_WS, L.LOOP_X, L.LOOP_Y, L.LOOP_C, L.LOOP_K, 1, 1, 1, 1], np.int64)
    got = energy_by_level(step.simulate(layer, hw.vector(), m), hw)
    assert got == pytest.approx(levels)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", ["sqnxt23v5", "squeezenet-v1.0", "tiny-darknet", "mobilenet"])
def test_8_bit_never_costs_more_energy_than_16_bit_on_the_same_mapping(name, config):
    hw16 = preset(config)
    hw8 = hw16.with_(word_bytes=1, psum_bytes=2)
    net = load_network(name)
    result = simulate(net, hw16)
    m16, m8 = level_matrix(hw16), level_matrix(hw8)
    for low, r in zip(lower_network(net, hw16), result.layers, strict=True):
        if low.vector is None:
            continue
        m = r.mapping.vector()[None, :]
        c16 = fast.evaluate(low.vector, hw16.vector(), m)[0]
        c8 = fast.evaluate(low.vector, hw8.vector(), m)[0]
        e16 = (m16 @ c16).sum()
        e8 = (m8 @ c8).sum()
        assert e8 <= e16, (r.layer.name, e8, e16)
        assert c8[L.C_DRAM_RD] + c8[L.C_DRAM_WR] < c16[L.C_DRAM_RD] + c16[L.C_DRAM_WR]
    total8 = simulate(net, hw8).energy_total
    assert total8 < result.energy_total


@pytest.mark.parametrize("name", ["sqnxt23v5", "mobilenet", "squeezenet-v1.1", "alexnet"])
def test_bigger_buffer_never_worse(name):
    small = simulate(load_network(name), preset("paper-8x8"))
    big = simulate(load_network(name), preset("paper-8x8").with_(buffer_bytes=64 * 1024))
    for a, b in zip(small.layers, big.layers, strict=True):
        assert b.cycles <= a.cycles, a.layer.name


@pytest.mark.parametrize("name", ["sqnxt23v5", "mobilenet", "tiny-darknet"])
def test_more_pes_never_more_compute_cycles_at_the_same_mapping(name):
    base = preset("paper-8x8")
    net = load_network(name)
    result = simulate(net, base)
    for low, r in zip(lower_network(net, base), result.layers, strict=True):
        vec = low.vector
        if vec is None:
            continue
        m = r.mapping.vector()[None, :]
        prev = None
        for pr, pc in ((8, 8), (8, 16), (16, 16), (32, 16)):
            # The OS drains (docs/model.md §4) put a block's Pr·Pc partial sums through the
            # write port, whose default width grows with Pc only: more rows at that port
            # would drain longer. With the port grown with the array (the same words a cycle
            # per PE as 8x8's default), more PEs never take more cycles.
            hw = base.with_(Pr=pr, Pc=pc, buffer_write_port_words=2 * pc * pr // 8)
            c = fast.evaluate(vec, hw.vector(), m)[0]
            if prev is not None:
                assert c[L.C_COMPUTE] <= prev, (r.layer.name, pr, pc)
            prev = c[L.C_COMPUTE]


def test_ws_on_depthwise_uses_at_most_one_column():
    hw = preset("paper-16x16")
    result = simulate(load_network("mobilenet"), hw, dataflow="ws")
    dw = [r for r in result.layers if r.layer.type == "conv" and r.layer.groups > 1]
    assert dw
    for r in dw:
        assert r.mapping.dataflow == "ws"
        assert r.utilization <= 1 / hw.Pc, r.layer.name


@pytest.mark.parametrize("name", ["sqnxt23v5", "squeezenet-v1.0"])
@pytest.mark.parametrize(
    "field, values",
    [("dma_outstanding", (1, 2, 4)), ("dram_bandwidth_bytes_per_s", (8e9, 16e9, 32e9)),
     ("buffer_port_words", (4, 8, 16)), ("buffer_bytes", (32 * 1024, 48 * 1024)),
     ("output_alu_ops_per_cycle", (2, 8, 64))],
)
def test_more_of_a_resource_never_costs_cycles(name, field, values):
    """More requests in flight, more DRAM bandwidth, a wider buffer port, a bigger buffer or
    more ALUs in the output path: no layer gets slower (the tiler's candidates do not depend
    on them, and each candidate's cycles only fall)."""
    net = load_network(name)
    prev = None
    for v in values:
        result = simulate(net, preset("paper-8x8").with_(**{field: v}))
        cycles = [r.cycles for r in result.layers]
        if prev is not None:
            for a, b, r in zip(prev, cycles, result.layers, strict=True):
                assert b <= a, (r.layer.name, field, v)
        prev = cycles


@pytest.mark.parametrize("config", CONFIGS)
def test_stall_split(config, caches):
    """The bandwidth part is the stall with a DRAM latency of 0; the latency part the rest.
    Both are parts, and with no latency there is no latency part."""
    hw = preset(config)
    net = load_network("sqnxt23v5")
    result = simulate(net, hw, cache=caches[config])
    assert any(r.stall_latency_cycles > 0 for r in result.layers)
    for r in result.layers:
        assert 0 <= r.stall_bandwidth_cycles <= r.count("stall_cycles"), r.layer.name
    flat = simulate(net, hw.with_(dram_latency_cycles=0))
    assert all(r.stall_latency_cycles == 0 for r in flat.layers)
    # with requests in flight the latency part can only shrink
    more = simulate(net, hw.with_(dma_outstanding=4))
    assert more.total("stall_latency_cycles") < result.total("stall_latency_cycles")


@pytest.mark.parametrize("ports", [(0, 0), (6, 4), (12, 8)])
@pytest.mark.parametrize("name", ["sqnxt23v5", "squeezenet-v1.0"])
def test_no_layer_moves_more_buffer_words_than_its_ports_allow(name, ports):
    """Array side of the buffer: what the array read (wrote) is at most the read (write) port
    times the cycles it computed. The DMA side moves the bytes of DRAM: a layer without fused
    post-operations and with its input channels in one tile (no partial sums through DRAM)
    reads for its stores their values at partial-sum width (PSW words each) and writes what
    it loads. OS drains and fills are timed through the ports (docs/model.md §4): they count."""
    rd, wr = ports
    hw = preset("paper-8x8").with_(buffer_read_port_words=rd, buffer_write_port_words=wr)
    result = simulate(load_network(name), hw)
    checked = set()
    for r in result.layers:
        c = np.array(r.counts)
        if r.mapping is None or c[L.C_ALU] > 0:
            continue
        cgi = r.layer.input_shape[0] // r.layer.groups if r.layer.type == "conv" else 1
        if r.layer.type == "fc" or r.mapping.tc < cgi:
            continue  # partial sums may spill to DRAM: the DMA side is not its stores alone
        array_reads = c[L.C_BUF_RD] - hw.psum_words * c[L.C_DRAM_WR] // hw.word_bytes
        array_writes = c[L.C_BUF_WR] - c[L.C_DRAM_RD] // hw.word_bytes
        assert array_reads <= hw.read_port_words * c[L.C_COMPUTE], r.layer.name
        assert array_writes <= hw.write_port_words * c[L.C_COMPUTE], r.layer.name
        checked.add(r.mapping.dataflow)
    assert checked


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", ["squeezenet-v1.0", "squeezenet-v1.1", "sqnxt23v5", "tiny-darknet"])
def test_every_chosen_mapping_fits_the_buffer(name, config, caches):
    """What every chosen mapping moves fits the double buffer, read a second way: the step
    engine's own data of each tile (input rows found by marking them, docs/model.md §3). Two
    slots hold the largest load (input, weights, partial sums read back, the add's operands)
    and two the largest output tile, held at partial-sum width: both within the buffer."""
    from nnaccel.engines.step.data import tile_data

    hw = preset(config)
    net = load_network(name)
    result = simulate(net, hw, cache=caches[config])
    pooled = 0
    for low, r in zip(lower_network(net, hw), result.layers, strict=True):
        if low.vector is None:
            continue
        hv = low.hardware_vector(hw.vector())
        _, _, lb, _, _, _, _ = tile_data(low.vector, hv, r.mapping.vector())
        m = r.mapping
        out_tile = m.tx * m.ty * m.tk * hw.psum_bytes
        assert 2 * int(lb.max()) <= hw.buffer_bytes, r.layer.name
        assert 2 * out_tile <= hw.buffer_bytes, r.layer.name
        pooled += low.vector[L.L_PKH] > 0
    assert pooled > 0 or name == "sqnxt23v5" or name == "tiny-darknet"


@pytest.mark.parametrize("config", CONFIGS)
def test_a_batch_never_costs_more_per_image(config):
    """Images after the first reuse a one-tile layer's weights (docs/model.md §5, "Batch"):
    no layer costs more per image in a batch, and a network with such layers reads less."""
    hw = preset(config)
    net = load_network("sqnxt23v5")
    one = simulate(net, hw)
    four = simulate(net, hw.with_(batch=4))
    for a, b in zip(one.layers, four.layers, strict=True):
        assert b.cycles <= 4 * a.cycles, a.layer.name
        assert b.count("dram_read_bytes") <= 4 * a.count("dram_read_bytes"), a.layer.name
        assert b.energy_total <= 4 * a.energy_total * (1 + 1e-12), a.layer.name
    assert four.total("dram_read_bytes") < 4 * one.total("dram_read_bytes")
    assert four.totals()["cycles_per_image"] <= one.cycles
