"""What a result assumed, said where the result is: the weight sparsity used and where it came
from (the hardware's default, a flag, a hardware file, the network file's own figures, or the
zeros measured in the network's actual weights).

The paper (§3) times every layer with 40% zero weights. That is the hardware's default, and a
network without weights of its own (a shape-only JSON file) keeps it; a network carrying its
weights (an ONNX model, a JSON file with an ``.npz`` beside it) is timed with its measured
zeros unless ``--sparsity`` says otherwise (``nnaccel.loader``). Every table title, file,
figure and report says which (`sparsity_use`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nnaccel.network import Network
from nnaccel.shapes import WEIGHTED_TYPES

#: The hardware's sparsity as nobody set it: the paper's figure.
DEFAULT_SOURCE = "the default, paper §3"
#: The paper's figure (§3), the hardware's default (hardware.Hardware.sparsity).
DEFAULT_SPARSITY = 0.4
#: ``--sparsity S`` on the command line.
FLAG_SOURCE = "--sparsity"


def percent(x: float) -> str:
    """0.4 -> '40%', 0.1234 -> '12.3%', 0.0004 -> '0.04%'."""
    return f"{100 * x:.3g}%"


def hardware_source(hw_sparsity: float, given: str = "") -> str:
    """Where a hardware's sparsity comes from: `given`, else the default when it is the
    default's figure, else the hardware description."""
    if given:
        return given
    return DEFAULT_SOURCE if hw_sparsity == DEFAULT_SPARSITY else "the hardware description"


def layer_source(source: str) -> str:
    """A layer's `sparsity_source` in words: 'measured: m.onnx' -> 'measured in m.onnx'."""
    if source.startswith("measured: "):
        return "measured in " + source.removeprefix("measured: ")
    if source in ("", "file"):
        return "the network file's own"
    return source


@dataclass(frozen=True)
class SparsityUse:
    """The weight sparsity a run used: `overall` is the fraction of the conv/fc weights that
    are zero (layers weighted by their weights); `source` says where it came from, `text`
    says both in a phrase for a title, `short` in a few words for a legend."""

    overall: float
    source: str
    text: str
    short: str


def sparsity_use(network: Network, hw_sparsity: float, hw_source: str = DEFAULT_SOURCE
                 ) -> SparsityUse:
    """The sparsity `network`'s conv/fc layers run with on hardware whose own figure is
    `hw_sparsity` (set by `hw_source`): a layer's own sparsity, else the hardware's."""
    by_source: dict[str, list[float]] = {}  # source -> [weights, zero weights, layers]
    for layer in network.layers:
        if layer.type not in WEIGHTED_TYPES:
            continue
        own = layer.sparsity is not None
        s = layer.sparsity if own else hw_sparsity
        src = layer_source(layer.sparsity_source) if own else hw_source
        acc = by_source.setdefault(src, [0.0, 0.0, 0.0])
        acc[0] += layer.weights
        acc[1] += layer.weights * s
        acc[2] += 1
    weights = sum(a[0] for a in by_source.values())
    overall = sum(a[1] for a in by_source.values()) / weights if weights else hw_sparsity
    if not by_source or list(by_source) == [hw_source]:
        text = f"{percent(hw_sparsity)} zero weights ({hw_source})"
        return SparsityUse(hw_sparsity, hw_source, text, f"{percent(hw_sparsity)}, {hw_source}")
    parts = []
    for src, (w, z, n) in by_source.items():
        if src == hw_source:
            parts.append(f"{int(n)} layers at the hardware's {percent(hw_sparsity)} ({src})")
        else:
            parts.append(f"{int(n)} layers {src} ({percent(z / w if w else 0.0)} of their weights)")
    source = "; ".join(by_source)
    text = f"{percent(overall)} zero weights overall: " + ", ".join(parts)
    short = f"{percent(overall)}, " + (", ".join(by_source) if len(by_source) == 1 else "mixed")
    return SparsityUse(overall, source, text, short)
