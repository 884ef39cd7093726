"""The contract of docs/design.md §3: `step` and `fast` agree on every cycle and every count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import hardware, layers, mappings

from nnaccel.engines import fast, step
from nnaccel.engines import layout as L
from nnaccel.hardware import preset
from nnaccel.loader import load_network
from nnaccel.lowering import lower_network
from nnaccel.simulate import simulate


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    return ", ".join(f"{n}: step {x} fast {y}" for n, x, y in zip(L.COUNT_NAMES, a, b, strict=True) if x != y)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_step_and_fast_agree_on_random_layers(data):
    layer = data.draw(layers())
    hw = data.draw(hardware())
    m = data.draw(mappings(layer))
    s = step.simulate(layer, hw, m)
    f = fast.evaluate(layer, hw, m[None, :])[0]
    assert np.array_equal(s, f), _diff(s, f)


@pytest.mark.parametrize("config", ["paper-8x8", "paper-16x16"])
@pytest.mark.parametrize("name", ["sqnxt23v5", "mobilenet", "squeezenet-v1.0"])
def test_step_and_fast_agree_on_bundled_networks(name, config):
    """Every layer of three real networks, with the mapping the tiler chose (docs/design.md §3):
    SqueezeNext's residual adds and strided 1x1s, MobileNet's depthwise layers, SqueezeNet's
    fused poolings."""
    hw = preset(config)
    net = load_network(name)
    result = simulate(net, hw)
    for low, r in zip(lower_network(net, hw), result.layers, strict=True):
        vec = low.vector
        if vec is None:
            continue
        s = step.simulate(vec, hw.vector(), r.mapping.vector())
        assert np.array_equal(s, np.array(r.counts)), (r.layer.name, _diff(s, np.array(r.counts)))


def test_step_and_fast_agree_with_every_data_path_option():
    """A real network on hardware that uses every option of the data paths at once: 8-bit
    words, narrow buffer ports, requests in flight and a slow output path."""
    hw = preset("paper-8x8").with_(word_bytes=1, psum_bytes=2, dma_outstanding=2,
                                   buffer_read_port_words=6, buffer_write_port_words=4,
                                   output_alu_ops_per_cycle=2)
    net = load_network("squeezenet-v1.1")
    result = simulate(net, hw)
    for low, r in zip(lower_network(net, hw), result.layers, strict=True):
        if low.vector is None:
            continue
        s = step.simulate(low.vector, hw.vector(), r.mapping.vector())
        assert np.array_equal(s, np.array(r.counts)), (r.layer.name, _diff(s, np.array(r.counts)))
