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
#: Most blocks of one generated network: a depth list sums to its blocks, each four layers
#: or more, and the network file's limit is 2**20 layers.
MAX_FAMILY_BLOCKS = 100_000


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


def _family_options(text: str) -> dict[str, list]:
    """The keys of a ``sqnxt:...`` item and their values, checked (``blocks`` not expanded)."""
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
        if options.get("min", [1])[0] < 1:
            raise SweepError(f"{text}: min must be at least 1 (every stage has a block)")
    elif "min" in options:
        raise SweepError(f"{text}: min goes with blocks")
    return options


def _depth_count(blocks: list[int], minimum: int) -> int:
    """How many depth lists have one of `blocks` blocks in all (counted, not listed: the
    lists of a large number of blocks are too many to enumerate)."""
    from nnaccel.zoo.squeezenext import BASE_WIDTHS

    stages = len(BASE_WIDTHS)
    return sum(math.comb(b - stages * minimum + stages - 1, stages - 1)
               for b in blocks if b >= stages * minimum)


def family_size(text: str) -> int:
    """How many networks a ``sqnxt:...`` item generates, without building any."""
    options = _family_options(text)
    if "blocks" in options:
        options["depth"] = [None] * _depth_count(options.pop("blocks"),
                                                 options.pop("min", [1])[0])
    return math.prod(len(v) for v in options.values())


def squeezenext_family(text: str) -> list[Network]:
    """The networks of a ``sqnxt:...`` item (see the module's docstring), each checked
    against the size limits of a network file (`netformat.check_sizes`)."""
    from nnaccel.netformat import check_sizes
    from nnaccel.zoo.squeezenext import SqnxtSpec, build_spec

    options = _family_options(text)
    if "blocks" in options:
        minimum = options.pop("min", [1])[0]
        blocks = options.pop("blocks")
        count = _depth_count(blocks, minimum)
        if count > MAX_FAMILY:
            raise SweepError(f"{text}: {count} depth lists, more than {MAX_FAMILY}")
        options["depth"] = [d for b in blocks for d in _depth_lists(b, minimum)]
        if not options["depth"]:
            raise SweepError(f"{text}: no depth list has that many blocks")
    keys = list(options)
    count = math.prod(len(options[k]) for k in keys)
    if count > MAX_FAMILY:
        raise SweepError(f"{text}: {count} networks, more than {MAX_FAMILY}")
    out = []
    seen: set = set()  # layer shapes already checked: a family repeats a few many times
    for combo in itertools.product(*(options[k] for k in keys)):
        values = dict(zip(keys, combo, strict=True))
        if "depth" in values and sum(values["depth"]) > MAX_FAMILY_BLOCKS:
            raise SweepError(f"{text}: depth {'-'.join(map(str, values['depth']))} has more than"
                             f" {MAX_FAMILY_BLOCKS:,} blocks")
        try:
            spec = SqnxtSpec(**{_FIELDS[k]: v for k, v in values.items()})
            net = build_spec(spec)
        except ValueError as e:  # the builder's shape rules and the spec's own checks
            raise SweepError(f"{text}: {e}") from None
        check_sizes(net, f"{text}: {net.name}", seen)
        out.append(net)
    return out


def _depth_lists(blocks: int, minimum: int) -> list[tuple[int, ...]]:
    from nnaccel.zoo.squeezenext import depth_lists

    return depth_lists(blocks, minimum)


def count_networks(items: Sequence[str]) -> int:
    """At most how many networks the items name, found without loading or building any
    (so that a sweep too large is refused before any work)."""
    total = 0
    for item in items:
        item = str(item).strip()
        if item.startswith(PREFIX):
            total += family_size(item)
        elif item == "all":
            total += len(bundled_networks())
        elif _GLOB & set(item):
            total += len(glob.glob(item))
        else:
            total += 1
    return total


def resolve_networks(items: Sequence[str]) -> list[Network]:
    """Every network the items name, in order, each once: a network named twice (the same
    name and the same layers) is one. Different networks may share a name (`run.plan` makes
    the names unique)."""
    if not items:
        raise SweepError("no networks: give NET... (names, files, globs, all or sqnxt:...)")
    out: dict[tuple, Network] = {}
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
            out.setdefault((net.name, net.input_shape, net.layers), net)
    return list(out.values())
