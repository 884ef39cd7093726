"""Finding and reading a network file of any kind: one loader that dispatches by file kind.

The formats live above the value types of ``nnaccel.network`` and build them: a JSON file through
``netformat``, an ONNX model through ``onnxio`` (the optional ``onnx`` extra), measured weight
sparsity from an npz through ``sparsity``. Nothing below this module imports it.
"""

from __future__ import annotations

from pathlib import Path

from nnaccel import limits
from nnaccel.errors import NetworkError, did_you_mean
from nnaccel.netformat import parse_network_text, read_name
from nnaccel.network import Layer, Network
from nnaccel.paths import file_problem

#: load_network's `sparsity` for "measure real weights where the file has them".
AUTO = "auto"


def networks_dir() -> Path:
    """The repository's ``networks/`` folder, where the bundled network files live."""
    return Path(__file__).resolve().parent.parent / "networks"


def bundled_networks() -> list[Path]:
    """Every network file shipped in ``networks/``, sorted by file name: the paper's CNNs
    (``compare --all`` runs these; the transformers are in ``transformer_networks``)."""
    return sorted(networks_dir().glob("*.json"))


def transformer_networks() -> list[Path]:
    """The transformers shipped in ``networks/transformers/``, sorted by file name."""
    return sorted((networks_dir() / "transformers").glob("*.json"))


def resolve_network(path_or_name: str | Path) -> Path:
    """A path as given if it exists, else a bundled network by file stem or paper name."""
    path = Path(path_or_name)
    problem = file_problem(path, limits.MAX_FILE_BYTES)
    if problem is None:
        return path
    text = str(path_or_name)
    if "/" not in text and len(text) < 256:
        for folder in (networks_dir(), networks_dir() / "transformers"):
            bundled = folder / f"{text.removesuffix('.json')}.json"
            if bundled.is_file():
                return bundled
        for candidate in bundled_networks() + transformer_networks():
            if read_name(candidate) == text:
                return candidate
    if problem != "no such file":
        raise NetworkError(text, problem)
    stems = [p.stem for p in bundled_networks() + transformer_networks()]
    guess = did_you_mean(text.removesuffix(".json"), [*stems, *paper_names()])
    raise NetworkError(text, f"no such file, and no bundled network of that name{guess}"
                       f" (bundled: {', '.join(stems)})")


def paper_names() -> list[str]:
    """The bundled networks' own names (the paper's: 1.0-SqNxt-23v5, ...)."""
    return [n for n in (read_name(p) for p in bundled_networks() + transformer_networks()) if n]


def load_network(path_or_name: str | Path, sparsity: str | None = None,
                 name: str | None = None) -> Network:
    """Read and validate a network file; ``path_or_name`` may name a bundled network.

    A ``.onnx`` file is imported (``nnaccel.onnxio``, which needs the ``onnx`` extra).
    ``sparsity="measured"`` sets each conv/fc layer's sparsity to the zeros of its actual
    weights: an ONNX file's initializers, or for a JSON file the ``.npz`` of the same stem
    beside it; ``"measured=FILE.npz"`` names the weights file. ``sparsity="auto"`` (what
    the commands use when no ``--sparsity`` is given) measures wherever the file carries real
    weights (an ONNX model's, an ``.npz`` beside a JSON file) and otherwise leaves each layer
    to the hardware's figure, the paper's 40% by default (``nnaccel.assumptions``).
    `name` renames an ONNX model's network (its graph's or file's name otherwise).
    Raises NetworkError, naming the file, the layer and the field, for anything wrong.
    """
    path = resolve_network(path_or_name)
    if path.suffix.lower() == ".onnx":
        from nnaccel.onnxio import import_onnx  # the optional dependency, only when needed

        return import_onnx(path, measured="auto" if sparsity == AUTO
                           else sparsity is not None and sparsity != "", name=name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NetworkError(str(path), f"cannot read the file: {exc}") from None
    data = parse_network_text(text, str(path))
    layers = tuple(Layer(**fields, sparsity_source="file" if fields.get("sparsity") is not None
                         else "") for fields in data.pop("layers"))
    network = Network(layers=layers, path=str(path), **data)
    if sparsity == AUTO:
        sparsity = "measured" if path.with_suffix(".npz").is_file() else None
    if sparsity:
        from nnaccel.sparsity import measured_from_npz

        network = measured_from_npz(network, sparsity)
    return network
