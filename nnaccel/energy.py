"""Energy: access counts times the energy table, by level (paper §3: "similar to Eyeriss").

Levels, each in the table's unit (one 16-bit MAC by default, as the paper's Table 3): MAC (PE
operations performed, and the output path's ALU operations), RF, array (PE to PE), buffer
(reads + writes) and DRAM (bytes moved).

The table gives the energy of one access of a 16-bit value (Eyeriss' normalized costs are for
16-bit data). An access of another width costs in proportion to the bits it moves or
combines (docs/model.md, "Precision"): memories and wires (RF, array, buffer, DRAM) spend
their energy per bit, so they scale with `word_bytes / 2` (DRAM per byte moved: `dram / 2`);
a multiplier's energy grows with the product of its operand widths, so a MAC scales with
`(word_bytes / 2)**2`; the output path's adds and compares are adders, linear in the width.
"""

from __future__ import annotations

import numpy as np

from .engines import layout as L
from .hardware import Hardware

LEVELS = ("mac", "rf", "array", "buffer", "dram")

#: Bytes of the value an energy table entry is the cost of (16 bits: Eyeriss, the paper §3).
REFERENCE_BYTES = 2


def width_scales(hw: Hardware) -> dict[str, float]:
    """The factor each kind of access costs at `hw.word_bytes` relative to a 16-bit one."""
    lin = hw.word_bytes / REFERENCE_BYTES
    return {"mac": lin * lin, "alu": lin, "rf": lin, "array": lin, "buffer": lin}


def level_weights(hw: Hardware) -> dict[str, np.ndarray]:
    """For each level, the energy of one unit of each count (layout.C_*); 0 where it does not count."""
    e = hw.energy
    s = width_scales(hw)
    out = {lvl: np.zeros(L.C_LEN) for lvl in LEVELS}
    out["mac"][L.C_OPS] = e.mac * s["mac"]
    out["mac"][L.C_ALU] = e.mac * s["alu"]  # an add or compare of the output path: an adder
    out["rf"][L.C_RF] = e.rf * s["rf"]
    out["array"][L.C_ARRAY] = e.array * s["array"]
    out["buffer"][[L.C_BUF_RD, L.C_BUF_WR]] = e.buffer * s["buffer"]
    out["dram"][[L.C_DRAM_RD, L.C_DRAM_WR]] = e.dram / REFERENCE_BYTES  # per byte, any width
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
