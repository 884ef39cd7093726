"""ONNX in and out: a front end that reads an ONNX model into the same Network the JSON loader
gives (``import_onnx``), writes any network as an ONNX model (``export_onnx``), and checks an
import against onnxruntime (``check_with_onnxruntime``). docs/network-format.md, "ONNX".

The ``onnx`` and ``onnxruntime`` packages are an extra (``pip install 'nnaccel[onnx]'``);
nothing else in nnaccel imports them, and this package says how to install them when missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnaccel.errors import NnaccelError

if TYPE_CHECKING:
    from pathlib import Path

    from nnaccel.network import Network

INSTALL_HINT = "pip install 'nnaccel[onnx]' (or `make install` in a checkout)"


def require(module: str, path: str | Path = "") -> None:
    """Raise a one-line NnaccelError naming the extra when `module` cannot be imported."""
    try:
        __import__(module)
    except ImportError:
        where = f"{path}: " if path else ""
        raise NnaccelError(f"{where}reading or writing ONNX needs the '{module}' package: "
                           f"{INSTALL_HINT}") from None


def import_onnx(path: str | Path, measured: bool | str = False, name: str | None = None
                ) -> Network:
    """The network of an ONNX model file; see ``nnaccel.onnxio.importer``."""
    require("onnx", path)
    from nnaccel.onnxio.importer import import_model

    return import_model(path, measured=measured, name=name)


def export_onnx(network: Network, path: str | Path, weights: str = "zeros", seed: int = 0) -> None:
    """Write `network` as an ONNX model; see ``nnaccel.onnxio.exporter``."""
    require("onnx", path)
    from nnaccel.onnxio.exporter import write_model

    write_model(network, path, weights=weights, seed=seed)


def check_with_onnxruntime(path: str | Path, network: Network):
    """onnxruntime's shapes and the initializers' parameters against `network`; see check.py."""
    require("onnx", path)
    from nnaccel.onnxio.check import check_with_onnxruntime as check

    return check(path, network)
