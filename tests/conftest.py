"""Session set-up shared by every test file."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Property tests try the same examples on every run (each test's own fixed sequence), so that a
# run that passes on one machine passes in CI, and a failure is seen again where it is run.
# HYPOTHESIS_PROFILE=explore draws new examples each run, to look for what the fixed ones miss.
settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))


def pytest_configure(config) -> None:
    """Ctrl-C as Python has it by default, also when the run was started with SIGINT ignored
    (a shell's background job is): the interrupt tests send SIGINT to the commands they start,
    which inherit an ignored SIGINT across exec and would then never be interrupted."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def npz_beside_json(tmp_path) -> Path:
    """SqueezeNet v1.1 written as tmp_path/sq.json with tmp_path/sq.npz beside it, whose
    conv and fc weights are a quarter zeros (the measured sparsity the tests expect)."""
    from nnaccel.loader import load_network
    from nnaccel.netwrite import dumps_network

    network = load_network("squeezenet-v1.1")
    path = tmp_path / "sq.json"
    path.write_text(dumps_network(network))
    arrays = {}
    for layer in network.layers:
        if layer.type in ("conv", "fc"):
            w = np.ones(layer.weights, np.float32)
            w[: layer.weights // 4] = 0
            arrays[layer.name] = w
    np.savez(tmp_path / "sq.npz", **arrays)
    return path
