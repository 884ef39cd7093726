"""The zoo: Python builders that generate every network file in ``networks/``.

The files are the product; the builders are how they are made and kept honest. A test
regenerates them and compares bytes, so files and builders cannot drift apart. Regenerate
with ``python -m nnaccel.zoo [FOLDER]`` (default: the repository's ``networks/``); this also
writes the format's JSON Schema, ``nnaccel/network.schema.json`` (``netschema.SCHEMA_PATH``):
it ships inside the package, so that ``networks/`` holds networks only and
``nnaccel validate networks/*.json`` checks exactly the networks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from nnaccel.netschema import SCHEMA_PATH, dumps_schema
from nnaccel.network import Network
from nnaccel.netwrite import dumps_network
from nnaccel.zoo.alexnet import alexnet
from nnaccel.zoo.darknet import tiny_darknet
from nnaccel.zoo.mobilenet import mobilenet
from nnaccel.zoo.squeezenet import squeezenet_v10, squeezenet_v11
from nnaccel.zoo.squeezenext import VARIANTS, build_variant
from nnaccel.zoo.transformers import bert_base, gpt2, llama_small, vit_b16
from nnaccel.zoo.vgg import vgg19

#: File stem -> builder, in the order of the paper's tables.
BUILDERS: tuple[tuple[str, Callable[[], Network]], ...] = (
    ("alexnet", alexnet),
    ("squeezenet-v1.0", squeezenet_v10),
    ("squeezenet-v1.1", squeezenet_v11),
    ("tiny-darknet", tiny_darknet),
    ("mobilenet", mobilenet),
    ("vgg19", vgg19),
    *((stem, partial(build_variant, stem)) for stem, *_ in VARIANTS),
)


#: File stem -> builder of the transformers, written to ``networks/transformers/``.
TRANSFORMERS: tuple[tuple[str, Callable[[], Network]], ...] = (
    ("vit-b16", vit_b16),
    ("bert-base-128", bert_base),
    ("gpt2-prefill-128", gpt2),
    ("gpt2-decode-127", partial(gpt2, 1, 127)),
    ("llama-small-128", llama_small),
)


def build_all() -> dict[str, Network]:
    """Every zoo network, keyed by file stem."""
    return {stem: build() for stem, build in BUILDERS}


def write_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Write the network format's JSON Schema to ``path``; return it."""
    path = Path(path)
    path.write_text(dumps_schema(), encoding="utf-8")
    return path


def write_all(folder: str | Path) -> list[Path]:
    """Write every zoo network as ``<folder>/<stem>.json``; return the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, network in build_all().items():
        path = folder / f"{stem}.json"
        path.write_text(dumps_network(network), encoding="utf-8")
        written.append(path)
    (folder / "transformers").mkdir(exist_ok=True)
    for stem, build in TRANSFORMERS:
        path = folder / "transformers" / f"{stem}.json"
        path.write_text(dumps_network(build()), encoding="utf-8")
        written.append(path)
    return written
