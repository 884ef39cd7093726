"""Silicon area of a hardware configuration, and the static energy it leaks over a run.

The cost axis of a design-space sweep (docs/model.md, "Area"): the PE array (per PE one MAC
unit and its register file) plus the global buffer's SRAM, each from `Hardware.area`, a table
in one technology node. Static energy is leakage per mm² per cycle times area times cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

from .hardware import KIB, Hardware

UM2_PER_MM2 = 1e6


@dataclass(frozen=True)
class Area:
    """Area in mm² by part; `total_mm2` is their sum."""

    pe_array_mm2: float
    buffer_mm2: float

    @property
    def total_mm2(self) -> float:
        return self.pe_array_mm2 + self.buffer_mm2


def rf_bytes(hw: Hardware) -> int:
    """Register file of one PE: its partial sums (`rf_psums` of `psum_bytes`, the OS
    accumulators of docs/model.md §4) and the weight and input word it multiplies."""
    return hw.rf_psums * hw.psum_bytes + 2 * hw.word_bytes


def pe_um2(hw: Hardware) -> float:
    """One PE: the MAC, scaled from the table's width by the square of the word width (an
    array multiplier has one partial-product cell per pair of operand bits), and its RF."""
    a = hw.area
    scale = (8 * hw.word_bytes / a.mac_bits) ** 2
    return a.mac_um2 * scale + rf_bytes(hw) * a.rf_um2_per_byte


def area(hw: Hardware) -> Area:
    """The configuration's area: Pr x Pc PEs and the global buffer."""
    return Area(
        pe_array_mm2=hw.pes * pe_um2(hw) / UM2_PER_MM2,
        buffer_mm2=hw.buffer_bytes / KIB * hw.area.sram_um2_per_kb / UM2_PER_MM2,
    )


def static_energy(hw: Hardware, cycles: int) -> float:
    """Leakage over `cycles` clock cycles, in the energy table's unit."""
    return hw.area.leakage_per_mm2_cycle * area(hw).total_mm2 * cycles
