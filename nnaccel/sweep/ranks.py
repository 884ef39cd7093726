"""Where the paper's own SqueezeNext variants fall among the networks of a sweep (paper §5).

The paper chose 1.0-SqNxt-23 (v1) and the depth lists of v2-v5 by hand. A sweep over a
family (e.g. every 4-stage depth list of 21 blocks) says how they rank among all of them on
each hardware point. A variant is recognised by its content (`point.network_hash`), so it
counts whether it came from its bundled file or from the family's builder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nnaccel.sweep.pareto import config_label, varying_columns
from nnaccel.sweep.point import network_hash

#: The paper's §5 variants (bundled file stems) and what the paper calls them.
PAPER_VARIANTS = (("sqnxt23", "v1"), ("sqnxt23v2", "v2"), ("sqnxt23v3", "v3"),
                  ("sqnxt23v4", "v4"), ("sqnxt23v5", "v5"))


@dataclass(frozen=True)
class Rank:
    variant: str  # v1..v5
    network: str  # its name in the sweep
    config: str  # the hardware point's label
    ranks: tuple[tuple[str, int], ...]  # (metric, rank) with 1 = best (lowest)
    of: int

    def line(self) -> str:
        parts = ", ".join(f"{m} {r} of {self.of} (top {100 * r / self.of:.0f}%)"
                          for m, r in self.ranks)
        return f"paper {self.variant} ({self.network}) on {self.config}: {parts}"


def paper_hashes() -> dict[str, str]:
    """network_hash -> the paper's variant name (v1..v5)."""
    from nnaccel.zoo.squeezenext import build_variant

    return {network_hash(build_variant(stem)): name for stem, name in PAPER_VARIANTS}


def paper_ranks(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("cycles", "energy_total")
                ) -> list[Rank]:
    """For each hardware point and metric, the rank of each paper variant among the rows'
    networks there (rows without figures are left out)."""
    known = paper_hashes()
    if not any(r["network_hash"] in known for r in rows):
        return []
    varying = varying_columns(rows)
    by_config: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if not r.get("error"):
            by_config.setdefault(config_label(r, varying), []).append(r)
    out = []
    for config, members in by_config.items():
        # ties share the best rank: a variant is not worse than a network equal to it
        sorted_values = {m: sorted(r[m] for r in members) for m in metrics}
        for r in members:
            variant = known.get(r["network_hash"])
            if variant:
                ranks = tuple((m, sorted_values[m].index(r[m]) + 1) for m in metrics)
                out.append(Rank(variant, r["network"], config, ranks, len(members)))
    return sorted(out, key=lambda k: (k.config, k.variant))
