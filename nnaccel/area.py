"""Silicon area of a hardware configuration, and the static energy it leaks over a run.

The cost axis of a design-space sweep (docs/model.md §12): the PE array (per PE one MAC unit
and its register file: both sets of partial-sum registers the timing relies on, and the
weight and input it multiplies) plus the global buffer's SRAM with the ports the timing uses,
each from `Hardware.area`, a table in one technology node: its cells, what each port beyond
the first adds to them, and each port's column periphery in proportion to the port's width.
Static energy is leakage per mm² per cycle times area times cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

from .hardware import KIB, Hardware

UM2_PER_MM2 = 1e6

#: Partial-sum register sets per PE: one accumulates while the other drains (docs/model.md
#: §4, "Partial-sum drains"); the timing has exactly two, so the area counts two.
PSUM_REGISTER_SETS = 2

#: Ports of every buffer bank: the array side's read port and write port, which the engines
#: use in the same cycle (a WS pixel reads its partial sums while the one before writes its
#: own; an OS chunk's windows come in while the other set drains), and the DMA side's, which
#: moves tiles while the array computes (§4, §5).
BUFFER_PORTS = 3


@dataclass(frozen=True)
class Area:
    """Area in mm² by part; `total_mm2` is their sum. `psum_registers_mm2` (both register
    sets of every PE) is part of `pe_array_mm2`; `buffer_ports_mm2` (what the ports beyond
    the first add to the SRAM's cells) and `buffer_port_width_mm2` (every port's column
    periphery, by its width) are parts of `buffer_mm2`."""

    pe_array_mm2: float
    buffer_mm2: float
    psum_registers_mm2: float = 0.0
    buffer_ports_mm2: float = 0.0
    buffer_port_width_mm2: float = 0.0

    @property
    def total_mm2(self) -> float:
        return self.pe_array_mm2 + self.buffer_mm2


def rf_bytes(hw: Hardware) -> int:
    """Register file of one PE: two sets of `rf_psums` partial sums of `psum_bytes` (the OS
    accumulators of docs/model.md §4, one accumulating, one draining) and the weight and
    input word it multiplies."""
    return PSUM_REGISTER_SETS * hw.rf_psums * hw.psum_bytes + 2 * hw.word_bytes


def pe_um2(hw: Hardware) -> float:
    """One PE: the MAC, scaled from the table's width by the square of the word width (an
    array multiplier has one partial-product cell per pair of operand bits), and its RF."""
    a = hw.area
    scale = (8 * hw.word_bytes / a.mac_bits) ** 2
    return a.mac_um2 * scale + rf_bytes(hw) * a.rf_um2_per_byte


def port_bits(hw: Hardware) -> int:
    """Width of the buffer's three ports together, in bits: the array side's read and write
    ports at the words the timing gives them, the DMA's at the bytes it moves a cycle."""
    word_bits = 8 * hw.word_bytes
    return (hw.read_port_words + hw.write_port_words) * word_bits + 8 * hw.dram_bytes_per_cycle


def area(hw: Hardware) -> Area:
    """The configuration's area: Pr x Pc PEs and the global buffer with its ports."""
    a = hw.area
    cells = hw.buffer_bytes / KIB * a.sram_um2_per_kb
    ports = cells * a.sram_port_factor * (BUFFER_PORTS - 1)
    width = port_bits(hw) * a.sram_port_bit_cells * a.sram_um2_per_kb / (8 * KIB)
    psums = PSUM_REGISTER_SETS * hw.rf_psums * hw.psum_bytes * a.rf_um2_per_byte
    return Area(
        pe_array_mm2=hw.pes * pe_um2(hw) / UM2_PER_MM2,
        buffer_mm2=(cells + ports + width) / UM2_PER_MM2,
        psum_registers_mm2=hw.pes * psums / UM2_PER_MM2,
        buffer_ports_mm2=ports / UM2_PER_MM2,
        buffer_port_width_mm2=width / UM2_PER_MM2,
    )


def static_energy(hw: Hardware, cycles: int) -> float:
    """Leakage over `cycles` clock cycles, in the energy table's unit."""
    return hw.area.leakage_per_mm2_cycle * area(hw).total_mm2 * cycles
