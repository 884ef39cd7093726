"""Per-layer weight sparsity: a layer's own ``sparsity`` and the sparsity measured in real weights.

The paper (§3) gives one figure, 40% zero weights, for every layer; a network file may give
each conv/fc layer its own, and ``--sparsity measured`` takes it from the actual weights: the
fraction of exact zeros in each layer's weight tensor (an ONNX file's initializers, or the
arrays of an ``.npz`` keyed by layer name). How the accelerator times uneven zeros is defined
in docs/model.md ("Weight sparsity per layer").
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from nnaccel.errors import NetworkError
from nnaccel.network import Network
from nnaccel.shapes import WEIGHTED_TYPES

#: What ``--sparsity`` accepts besides a number.
MEASURED = "measured"


def density(sparsity: float) -> Fraction:
    """1 - sparsity as an exact fraction, rounded as the hardware rounds its own figure."""
    return (1 - Fraction(repr(float(sparsity)))).limit_denominator(10**6)


def zero_fraction(weights: np.ndarray) -> float:
    """The fraction of exact zeros in a weight tensor (0 for an empty one)."""
    return float(np.count_nonzero(weights == 0)) / weights.size if weights.size else 0.0


def with_sparsity(network: Network, values: dict[str, float], source: str) -> Network:
    """`network` with the layers named in `values` given that sparsity, from `source`."""
    layers = tuple(
        replace(layer, sparsity=values[layer.name], sparsity_source=source)
        if layer.name in values else layer
        for layer in network.layers
    )
    return replace(network, layers=layers)


def npz_path(network_path: str, spec: str) -> Path:
    """The weights file `spec` names ('measured=FILE'), or the .npz beside the network file."""
    _, _, given = spec.partition("=")
    return Path(given) if given else Path(network_path).with_suffix(".npz")


def measured_from_npz(network: Network, spec: str) -> Network:
    """Each conv/fc layer's sparsity measured in the ``.npz`` of weights `spec` points to.

    Only the members of those layers are read, each checked before its data
    (`nnaccel.npzfile`); any malformed file is a NetworkError of one line."""
    from nnaccel.npzfile import NpzError, member_info, open_npz, scan_member

    path = npz_path(network.path, spec)
    what = "--sparsity measured reads an .npz of weights keyed by layer name"
    try:
        archive = open_npz(path)
    except NpzError as exc:
        raise NetworkError(str(path), f"{exc} ({what})") from None
    values = {}
    with archive:
        for layer in network.layers:
            if layer.type not in WEIGHTED_TYPES:
                continue
            info = member_info(archive, layer.name)
            if info is None:
                raise NetworkError(str(path), "no array of this name: --sparsity measured needs "
                                   "every conv/fc layer's weights", layer=layer.name)
            zeros = [0]

            def count(chunk: np.ndarray, zeros: list[int] = zeros) -> None:
                zeros[0] += chunk.size - int(np.count_nonzero(chunk))

            try:
                scan_member(archive, info, layer.weights, count)
            except NpzError as exc:
                raise NetworkError(str(path), str(exc), layer=layer.name) from None
            values[layer.name] = zeros[0] / layer.weights if layer.weights else 0.0
    return with_sparsity(network, values, f"measured: {path.name}")
