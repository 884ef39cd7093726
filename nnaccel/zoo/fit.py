"""Choosing depth lists for SqueezeNext-34 and -44, which no public file defines.

The paper gives only their parameter counts at widths 1.0, 1.5 and 2.0. We rank every depth
list [a, b, c, 1] with the right number of blocks by its largest relative deviation from those
counts over the three widths (then by the sum of squared deviations, then by the list itself,
so the ranking is total and deterministic). Parameters are additive over blocks, so one build
per stage and width is enough to score every list exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnaccel.zoo.squeezenext import SqnxtSpec, build_squeezenext

#: The paper's params (millions) at widths 1.0/1.5/2.0 (Tables 1 and 2).
PAPER_PARAMS_M = {
    34: {1.0: 1.0, 1.5: 2.1, 2.0: 3.8},
    44: {1.0: 1.2, 1.5: 2.6, 2.0: 4.4},
}


@dataclass(frozen=True)
class DepthFit:
    depth: tuple[int, ...]
    deviations: tuple[float, ...]  # relative, one per width in PAPER_PARAMS_M order

    @property
    def worst(self) -> float:
        return max(abs(d) for d in self.deviations)

    def key(self) -> tuple[float, float, tuple[int, ...]]:
        return (round(self.worst, 12), round(sum(d * d for d in self.deviations), 12),
                self.depth)


def _params(depth: tuple[int, ...], width: float) -> int:
    return build_squeezenext("fit", SqnxtSpec(width=width, depth=depth), "fit", {}).params


def rank_depths(modules: int) -> list[DepthFit]:
    """Every [a, b, c, 1] for SqNxt-``modules`` (modules - 2 blocks), best fit first."""
    targets = PAPER_PARAMS_M[modules]
    blocks = modules - 2  # the name counts conv1 and the FC too: 23 = 21 blocks + 2
    ones = (1, 1, 1, 1)
    base = {w: _params(ones, w) for w in targets}
    # Params added by one more ordinary block in stage s (stages 1-3; stage 4 stays 1).
    per_block = {
        w: [_params(tuple(2 if i == s else 1 for i in range(4)), w) - base[w] for s in range(3)]
        for w in targets
    }
    fits = []
    for a in range(1, blocks):
        for b in range(1, blocks - a):
            c = blocks - 1 - a - b
            if c < 1:
                continue
            deviations = tuple(
                (base[w] + (a - 1) * per_block[w][0] + (b - 1) * per_block[w][1]
                 + (c - 1) * per_block[w][2]) / (target * 1e6) - 1
                for w, target in targets.items()
            )
            fits.append(DepthFit((a, b, c, 1), deviations))
    return sorted(fits, key=DepthFit.key)
