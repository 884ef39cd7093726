"""Energy: access counts times the energy table, by level (paper §3: "similar to Eyeriss").

Levels, each in the table's unit (one MAC by default, as the paper's Table 3):
MAC (PE operations performed, and the output path's ALU operations), RF, array (PE to PE),
buffer (reads + writes) and DRAM (16-bit accesses = bytes / word size). The total is the sum
of the levels, by construction.
"""

from __future__ import annotations

import numpy as np

from .engines import layout as L
from .hardware import Hardware

LEVELS = ("mac", "rf", "array", "buffer", "dram")


def level_weights(hw: Hardware) -> dict[str, np.ndarray]:
    """For each level, the energy of one unit of each count (layout.C_*); 0 where it does not count."""
    e = hw.energy
    out = {lvl: np.zeros(L.C_LEN) for lvl in LEVELS}
    out["mac"][L.C_OPS] = e.mac
    out["mac"][L.C_ALU] = e.mac  # an add or compare of the output path costs what a MAC does
    out["rf"][L.C_RF] = e.rf
    out["array"][L.C_ARRAY] = e.array
    out["buffer"][[L.C_BUF_RD, L.C_BUF_WR]] = e.buffer
    out["dram"][[L.C_DRAM_RD, L.C_DRAM_WR]] = e.dram / hw.word_bytes
    return out


def energy_per_count(hw: Hardware) -> np.ndarray:
    """Energy of one unit of each count, all levels together (what the tiler weighs counts by)."""
    return sum(level_weights(hw).values())


def level_matrix(hw: Hardware) -> np.ndarray:
    """level_weights as one [levels, counts] matrix, rows in the order of LEVELS."""
    w = level_weights(hw)
    return np.stack([w[lvl] for lvl in LEVELS])


def energy_by_level(counts: np.ndarray, hw: Hardware, matrix: np.ndarray | None = None) -> dict[str, float]:
    """Energy of a counts vector, per level (`matrix`: level_matrix(hw), when already at hand)."""
    m = level_matrix(hw) if matrix is None else matrix
    e = m @ np.asarray(counts, dtype=np.float64)
    return dict(zip(LEVELS, e.tolist(), strict=True))
