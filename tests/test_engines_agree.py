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
from nnaccel.lowering import lower_network
from nnaccel.network import load_network
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
def test_step_and_fast_agree_on_sqnxt23v5(config):
    """Every layer of a real network, with the mapping the tiler chose (docs/design.md §3)."""
    hw = preset(config)
    net = load_network("sqnxt23v5")
    result = simulate(net, hw)
    for low, r in zip(lower_network(net, hw), result.layers, strict=True):
        vec = low.vector
        if vec is None:
            continue
        s = step.simulate(vec, hw.vector(), r.mapping.vector())
        assert np.array_equal(s, np.array(r.counts)), (r.layer.name, _diff(s, np.array(r.counts)))
