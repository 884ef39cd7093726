"""Physics that must hold on every bundled network (issue 3, 'Done when')."""

from __future__ import annotations

import numpy as np
import pytest

from nnaccel.engines import fast
from nnaccel.engines import layout as L
from nnaccel.hardware import preset
from nnaccel.lowering import lower_network
from nnaccel.network import bundled_networks, load_network
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
        assert c[L.C_CYCLES] == c[L.C_COMPUTE] + c[L.C_STALL]
        assert r.energy_total == pytest.approx(sum(r.energy.values()))
        if r.layer.type in ("conv", "fc"):
            # every MAC of the layer is performed, except zero weights skipped in OS
            assert c[L.C_OPS] <= r.layer.macs
            if r.mapping.dataflow == "ws":
                assert c[L.C_OPS] == r.layer.macs
    assert result.energy_total == pytest.approx(sum(result.energy.values()))


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
            c = fast.evaluate(vec, base.with_(Pr=pr, Pc=pc).vector(), m)[0]
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
