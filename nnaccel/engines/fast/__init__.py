"""The `fast` engine: the machine model of docs/model.md by closed forms, and the tiler's kernel.

One module per part of the model, in dependency order:

| module | docs/model.md | what |
|---|---|---|
| `base` | | kernel decorators, small array helpers, the loop orders |
| `tiles` | §2, §3, §3a, §7 | tile statistics per dimension, `N(x)`, the footprint |
| `compute` | §4 | compute time per dataflow over a combo, the counts the loop order does not change |
| `tilecompute` | §4 | per-tile compute tables, with the OS partial-sum drains timed |
| `traffic` | §3 "Reuse", §5 | what a loop order moves; cycle bounds without a walk |
| `context` | §4, §5 | a combo's per-index tables shared by every loop order; its exact OS compute |
| `walk` | §5 | the DMA and double-buffer recurrence over the tiles |
| `keys` | §8 | the tiler's keys under each objective, and how they compare |
| `bounds` | §8 | a tile-size combo's bounds, the queue of combos, a class of orders' counts |
| `search` | §8 | the tiler's branch and bound: the queue's loop and the walks |
| `api` | §6 | `evaluate`, `lower_bound`, `footprint` of given mappings |

Spec readings where docs/model.md leaves room (the most literal one each time):
* input depends on the k loop whenever G > 1: a change of k-tile refetches the input even if
  the new k-tile touches the same groups;
* OS: a channel with nnz(c) = 0 is skipped (no cycles, no counts), but the once-per
  (block, chunk) partial-sum buffer write (and read when ic > 0) still happens, even if every
  channel of the tile is skipped;
* OS: the `m·a·b` partial-sum buffer read applies to every tile with ic > 0, whether the output
  tile came back from DRAM or stayed in the buffer;
* §3a: the residual operands are part of load(t) of the closing tile t, so they are fetched
  (prefetched during tile t-1) like its input; a final close whose pooled output is empty
  stores 0 bytes, a skipped request, yet still reads its tile from the buffer once;
* a load or store of 0 bytes (also when a tile's input window lies wholly in the padding) is
  skipped: its `eL`/`eS` is 0, as §5 says;
* a mapping's tile sizes are used as given (a size above its loop bound means one tile); the
  footprint (§7) uses the tile sizes, not the clipped tiles.
"""

from __future__ import annotations

from . import api, base, bounds, compute, context, keys, search, tilecompute, tiles, traffic, walk
from .api import check_vectors, evaluate, evaluate_checked, footprint, footprint_checked, lower_bound
from .base import ORDERS
from .search import N_ORDERS, OBJ_CYCLES, OBJ_EDP, OBJ_ENERGY, _energy, search_grid
from .traffic import F_COUT, F_KIN, F_XW, F_YW, _order_flags

#: The package's modules, in dependency order (`engines.warm` finds kernels by name in them).
MODULES = (base, tiles, compute, tilecompute, traffic, context, walk, keys, bounds, search, api)

__all__ = ["F_COUT", "F_KIN", "F_XW", "F_YW", "MODULES", "N_ORDERS", "OBJ_CYCLES", "OBJ_EDP",
           "OBJ_ENERGY", "ORDERS", "check_vectors", "evaluate", "evaluate_checked", "footprint",
           "footprint_checked", "lower_bound",
           "search_grid", "_energy", "_order_flags"]
