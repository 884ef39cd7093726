"""torchvision's models as torch.onnx exports them (built with onnx.helper, tests/onnx_zoo.py):
imported with the framework's parameter and MAC counts, run on both paper presets, with the
step and fast engines agreeing on every layer."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import pytest

pytest.importorskip("onnx")

from onnx_zoo import MODELS  # noqa: E402

from nnaccel.hardware import preset  # noqa: E402
from nnaccel.onnxio.importer import import_model  # noqa: E402
from nnaccel.simulate import simulate  # noqa: E402

_BIG = ("alexnet", "vgg16")  # hundreds of MB of weights to build: slow-marked
CASES = [pytest.param(name, marks=pytest.mark.slow) if name in _BIG else name for name in MODELS]


@cache  # each structure built and imported once for both tests
def _imported(name: str):
    """The imported network. The big two keep their (zero) weights as external data in a
    sparse file, as an exporter writes a large model: in memory they took 1.7 GB."""
    build, _, _ = MODELS[name]
    net = build()
    if name not in _BIG:
        return import_model(f"{name}.onnx", model=net.model(net.out))
    with tempfile.TemporaryDirectory() as folder:
        return import_model(Path(folder) / f"{name}.onnx",
                            model=net.model(net.out, external=Path(folder)))


@pytest.mark.parametrize("name", CASES)
def test_counts_equal_the_frameworks(name):
    _, params, gmacs = MODELS[name]
    network = _imported(name)
    assert network.params == params
    assert round(network.macs / 1e9, 2) == gmacs


@pytest.mark.parametrize("name", CASES)
def test_runs_on_both_presets_and_the_engines_agree(name):
    network = _imported(name)
    for config in ("paper-8x8", "paper-16x16"):
        hw = preset(config)
        fast = simulate(network, hw)
        step = simulate(network, hw, engine="step")
        assert fast.cycles > 0
        for a, b in zip(fast.layers, step.layers, strict=True):
            assert a.counts == b.counts, (config, a.layer.name)
