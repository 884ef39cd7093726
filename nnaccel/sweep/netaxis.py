"""The network axis of a sweep: bundled names, files, globs, and generated SqueezeNexts.

An item is a bundled network's name, a path, a glob (``networks/sqnxt*.json``), ``all`` (every
bundled network) or a SqueezeNext family ``sqnxt:KEY=VALUE,...`` built by the zoo's builder with
each key's values (``|``-separated) crossed:

  depth=2-4-14-1|6-6-8-1   depth lists, one number of blocks per stage
  blocks=21 [min=1]        instead of depth: every depth list with that many blocks in all
  width=1.0|2.0            width multiplier        conv1=5|7    first layer's kernel
  layout=v1|v5             block layout (paper §5) groups=1|2   grouped variant (G-SqNxt)
  ida=0|1                  aggregation nodes       input=227    input size

Every network is loaded (and so validated) before a sweep starts.
"""

from __future__ import annotations

import glob
import itertools
import math
from collections.abc import Sequence
from pathlib import Path

from nnaccel.loader import bundled_networks, load_network
from nnaccel.network import Network
from nnaccel.sweep.axes import SweepError

PREFIX = "sqnxt:"
_GLOB = set("*?[")
#: Most networks one family may generate (blocks=60 would be 32,509 lists).
MAX_FAMILY = 20_000


def _ints(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SweepError(f"sqnxt: {key}={text!r} is not a whole number") from None


def _values(key: str, text: str) -> list:
    items = text.split("|")
    if key == "depth":
        out = []
        for item in items:
            out.append(tuple(_ints(key, d) for d in item.split("-")))
        return out
    if key == "width":
        try:
            return [float(i) for i in items]
        except ValueError:
            raise SweepError(f"sqnxt: width={text!r} is not a number") from None
    if key == "layout":
        return items
    if key == "ida":
        bad = [i for i in items if i not in ("0", "1", "true", "false")]
        if bad:
            raise SweepError(f"sqnxt: ida={bad[0]!r} is not 0 or 1")
        return [i in ("1", "true") for i in items]
    return [_ints(key, i) for i in items]


_FIELDS = {"depth": "depth", "width": "width", "conv1": "conv1_kernel", "layout": "layout",
           "groups": "groups", "ida": "ida", "input": "input_size"}
_KEYS = (*_FIELDS, "blocks", "min")


def squeezenext_family(text: str) -> list[Network]:
    """The networks of a ``sqnxt:...`` item (see the module's docstring)."""
    from nnaccel.zoo.squeezenext import BASE_WIDTHS, SqnxtSpec, build_spec, depth_lists

    options: dict[str, list] = {}
    for part in filter(None, text.removeprefix(PREFIX).split(",")):
        key, eq, value = part.partition("=")
        key = key.strip()
        if key not in _KEYS:
            raise SweepError(f"{text}: unknown key {key!r}; known: {', '.join(_KEYS)}")
        if not eq or not value.strip():
            raise SweepError(f"{text}: {key} has no value (write {key}=VALUE)")
        options[key] = _values(key, value.strip())
    if "blocks" in options:
        if "depth" in options:
            raise SweepError(f"{text}: give depth or blocks, not both")
        minimum = options.pop("min", [1])[0]
        if minimum < 1:
            raise SweepError(f"{text}: min must be at least 1 (every stage has a block)")
        blocks = options.pop("blocks")
        # count first: the lists of a large number of blocks are too many to enumerate
        stages = len(BASE_WIDTHS)
        count = sum(math.comb(b - stages * minimum + stages - 1, stages - 1)
                    for b in blocks if b >= stages * minimum)
        if count > MAX_FAMILY:
            raise SweepError(f"{text}: {count} depth lists, more than {MAX_FAMILY}")
        options["depth"] = [d for b in blocks for d in depth_lists(b, minimum)]
        if not options["depth"]:
            raise SweepError(f"{text}: no depth list has that many blocks")
    elif "min" in options:
        raise SweepError(f"{text}: min goes with blocks")
    keys = list(options)
    combos = list(itertools.product(*(options[k] for k in keys)))
    if len(combos) > MAX_FAMILY:
        raise SweepError(f"{text}: {len(combos)} networks, more than {MAX_FAMILY}")
    out = []
    for combo in combos:
        try:
            spec = SqnxtSpec(**{_FIELDS[k]: v for k, v in zip(keys, combo, strict=True)})
            out.append(build_spec(spec))
        except ValueError as e:  # the builder's shape rules and the spec's own checks
            raise SweepError(f"{text}: {e}") from None
    return out


def resolve_networks(items: Sequence[str]) -> list[Network]:
    """Every network the items name, in order, each once (by name)."""
    if not items:
        raise SweepError("no networks: give NET... (names, files, globs, all or sqnxt:...)")
    out: dict[str, Network] = {}
    for item in items:
        item = str(item).strip()
        if not item:
            raise SweepError("an empty network name")
        if item.startswith(PREFIX):
            found = squeezenext_family(item)
        elif item == "all":
            found = [load_network(p) for p in bundled_networks()]
        elif _GLOB & set(item):
            paths = sorted(glob.glob(item))
            paths = [p for p in paths if Path(p).name != "schema.json"]
            if not paths:
                raise SweepError(f"{item}: no file matches")
            found = [load_network(p) for p in paths]
        else:
            found = [load_network(item)]
        for net in found:
            out.setdefault(net.name, net)
    return list(out.values())
