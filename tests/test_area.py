"""The area model: PE array (MAC + register file) and SRAM from Hardware.area, leakage over a run."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnaccel.area import area, pe_um2, rf_bytes, static_energy
from nnaccel.errors import HardwareError
from nnaccel.hardware import AreaTable, Hardware, from_mapping, preset


def test_paper_8x8_area_worked_by_hand():
    # RF: 16 psums x 4 B + weight and input word (2 x 2 B) = 68 B per PE.
    hw = preset("paper-8x8")
    assert rf_bytes(hw) == 68
    a = hw.area
    pe = a.mac_um2 + 68 * a.rf_um2_per_byte
    assert pe_um2(hw) == pytest.approx(pe)
    got = area(hw)
    assert got.pe_array_mm2 == pytest.approx(64 * pe / 1e6)
    assert got.buffer_mm2 == pytest.approx(32 * a.sram_um2_per_kb / 1e6)
    assert got.total_mm2 == pytest.approx(got.pe_array_mm2 + got.buffer_mm2)
    # the EIE-derived defaults: 3110 um2 per MAC, 18934/2048 um2 per RF byte, 594786/162 per KB
    assert got.pe_array_mm2 == pytest.approx(64 * (3110 + 68 * 18934 / 2048) / 1e6)
    assert got.buffer_mm2 == pytest.approx(32 * 594786 / 162 / 1e6)


def test_custom_table_and_quadratic_word_width():
    table = AreaTable(mac_um2=1000.0, mac_bits=16, rf_um2_per_byte=10.0, sram_um2_per_kb=2000.0)
    hw = Hardware(Pr=2, Pc=3, buffer_bytes=4096, word_bytes=1, psum_bytes=2, rf_psums=4,
                  area=table)
    # 8-bit MAC: (8/16)^2 of the 16-bit one; RF 4 x 2 + 2 x 1 = 10 B
    assert pe_um2(hw) == pytest.approx(250.0 + 100.0)
    assert area(hw).total_mm2 == pytest.approx((6 * 350.0 + 4 * 2000.0) / 1e6)


@given(st.integers(1, 64), st.integers(1, 64), st.integers(1, 1 << 22))
def test_area_grows_with_every_part(pr, pc, buf):
    base = area(Hardware(Pr=pr, Pc=pc, buffer_bytes=buf)).total_mm2
    assert area(Hardware(Pr=pr + 1, Pc=pc, buffer_bytes=buf)).total_mm2 > base
    assert area(Hardware(Pr=pr, Pc=pc, buffer_bytes=buf + 1024)).total_mm2 > base


def test_static_energy_is_leakage_times_area_times_cycles():
    hw = preset("paper-16x16")
    assert static_energy(hw, 10**6) == 0.0  # the source gives no leakage: none by default
    leaky = hw.with_(area=AreaTable(leakage_per_mm2_cycle=0.5))
    assert static_energy(leaky, 1000) == pytest.approx(0.5 * area(leaky).total_mm2 * 1000)


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
