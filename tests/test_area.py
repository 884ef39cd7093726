"""The area model: PE array (MAC + register file) and SRAM from Hardware.area, leakage over a run."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnaccel.area import area, pe_um2, port_bits, rf_bytes, static_energy
from nnaccel.errors import HardwareError
from nnaccel.hardware import AreaTable, Hardware, from_mapping, preset


def test_paper_8x8_area_worked_by_hand():
    # docs/model.md §12, by hand (EIE's 45 nm figures):
    # RF: two sets of 16 partial sums x 4 B + the weight and input word (2 x 2 B) = 132 B,
    #   at 18934/2048 = 9.2451 um2 a byte: 1220.36 um2; PE = 3110 + 1220.36 = 4330.36 um2;
    #   64 PEs: 0.277143 mm2, of which the partial-sum registers 64 x 128 x 9.2451 = 0.075736.
    # Buffer: 32 KB x 594786/162 = 3671.52 um2/KB: 0.117489 mm2 of single-ported cells; three
    #   ports (array read, array write, DMA) add 2 x 1/3 of that: 0.078326.
    # Port width: 8 banks of 64 bits give the read and the write port 512 bits each, the DMA
    #   moves 16 B = 128 bits a cycle: 1152 bits, each the periphery of 163 bit cells of
    #   3671.52/8192 = 0.448184 um2: 1152 x 163 x 0.448184 = 84158.1 um2 = 0.084158 mm2.
    #   Buffer 0.117489 + 0.078326 + 0.084158 = 0.279973 mm2.
    hw = preset("paper-8x8")
    assert rf_bytes(hw) == 132
    assert port_bits(hw) == 1152
    assert pe_um2(hw) == pytest.approx(4330.36, abs=0.01)
    got = area(hw)
    assert got.pe_array_mm2 == pytest.approx(0.277143, abs=1e-6)
    assert got.psum_registers_mm2 == pytest.approx(0.075736, abs=1e-6)
    assert got.buffer_ports_mm2 == pytest.approx(0.078326, abs=1e-6)
    assert got.buffer_port_width_mm2 == pytest.approx(0.084158, abs=1e-6)
    assert got.buffer_mm2 == pytest.approx(0.279973, abs=1e-6)
    assert got.total_mm2 == pytest.approx(0.557116, abs=2e-6)
    # paper-16x16: 256 PEs 1.108571; 128 KB: cells 0.469954, ports 0.313303, width
    #   (1024 + 1024 + 128 bits) x 163 x 0.448184 = 0.158965
    assert area(preset("paper-16x16")).total_mm2 == pytest.approx(2.050793, abs=2e-6)


def test_port_width_costs_area_in_proportion():
    # The width term alone: doubling the banks' width doubles the array side's 1024 bits and
    # leaves the DMA's 128; no other term moves.
    hw = preset("paper-8x8")
    wide = hw.with_(buffer_bank_bits=128)
    assert port_bits(wide) == 2048 + 128
    a, b = area(hw), area(wide)
    assert b.buffer_port_width_mm2 == pytest.approx(a.buffer_port_width_mm2 * 2176 / 1152)
    assert b.pe_array_mm2 == a.pe_array_mm2 and b.buffer_ports_mm2 == a.buffer_ports_mm2
    # explicit port widths are what the area charges: a 24-word read and 16-word write port
    assert port_bits(hw.with_(buffer_read_port_words=24, buffer_write_port_words=16)) == 768


def test_custom_table_and_quadratic_word_width():
    table = AreaTable(mac_um2=1000.0, mac_bits=16, rf_um2_per_byte=10.0, sram_um2_per_kb=2000.0,
                      sram_port_bit_cells=4.096)
    hw = Hardware(Pr=2, Pc=3, buffer_bytes=4096, word_bytes=1, psum_bytes=2, rf_psums=4,
                  area=table)
    # 8-bit MAC: (8/16)^2 of the 16-bit one: 250; RF two sets of 4 x 2 B + 2 x 1 = 18 B: 180
    assert pe_um2(hw) == pytest.approx(430.0)
    # 6 PEs 2580 um2; 4 KB of cells 8000 um2 and two more ports at 1/3 each: 13333.33 um2;
    # 3 banks of 64 bits: read and write ports 192 bits each, DMA 128: 512 bits of 4.096 cells
    # of 2000/8192 um2 (1 um2 a bit): 512 um2
    assert area(hw).total_mm2 == pytest.approx(0.01642533, abs=1e-8)


@given(st.integers(1, 64), st.integers(1, 64), st.integers(1, 1 << 22))
def test_area_grows_with_every_part(pr, pc, buf):
    base = area(Hardware(Pr=pr, Pc=pc, buffer_bytes=buf)).total_mm2
    assert area(Hardware(Pr=pr + 1, Pc=pc, buffer_bytes=buf)).total_mm2 > base
    assert area(Hardware(Pr=pr, Pc=pc, buffer_bytes=buf + 1024)).total_mm2 > base


def test_static_energy_is_leakage_times_area_times_cycles():
    hw = preset("paper-16x16")
    assert static_energy(hw, 10**6) == 0.0  # the source gives no leakage: none by default
    leaky = hw.with_(area=AreaTable(leakage_per_mm2_cycle=0.5))
    assert static_energy(leaky, 1000) == pytest.approx(0.5 * 2.050793 * 1000)  # its 2.0508 mm2


def test_area_table_from_toml_mapping_and_its_errors():
    hw = from_mapping({"area": {"mac_um2": 500.0, "leakage_per_mm2_cycle": 0.1}})
    assert hw.area.mac_um2 == 500.0 and hw.area.leakage_per_mm2_cycle == 0.1
    assert hw.area.sram_um2_per_kb == AreaTable().sram_um2_per_kb
    with pytest.raises(HardwareError, match="area.bogus"):
        from_mapping({"area": {"bogus": 1}})
    with pytest.raises(HardwareError, match="area.mac_um2"):
        from_mapping({"area": {"mac_um2": -1}})
    with pytest.raises(HardwareError, match="area must be a table"):
        from_mapping({"area": 3})
