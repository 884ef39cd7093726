"""The hardware description: parsing, presets, TOML, and validation at construction."""

from __future__ import annotations

import numpy as np
import pytest

from nnaccel.energy import LEVELS, energy_by_level, energy_per_count
from nnaccel.engines import fast
from nnaccel.engines import layout as L
from nnaccel.errors import HardwareError
from nnaccel.hardware import Hardware, load_toml, parse_array, parse_size, preset


@pytest.mark.parametrize(
    "text,want",
    [("8x8", (8, 8)), ("16x16", (16, 16)), ("4X32", (4, 32)), (" 1x1 ", (1, 1))],
)
def test_parse_array(text, want):
    assert parse_array(text) == want


@pytest.mark.parametrize("text", ["0x8", "8", "8x", "x8", "8x8x8", "-1x8", "axb", ""])
def test_parse_array_rejects(text):
    with pytest.raises(HardwareError):
        parse_array(text)


@pytest.mark.parametrize(
    "text,want",
    [("32KB", 32768), ("128KiB", 131072), ("1MB", 1048576), ("4096", 4096), ("512B", 512),
     ("32kb", 32768), ("0.5KB", 512)],
)
def test_parse_size(text, want):
    assert parse_size(text) == want


@pytest.mark.parametrize("text", ["12XB", "0", "KB", "-3KB", "1.3B", ""])
def test_parse_size_rejects(text):
    with pytest.raises(HardwareError):
        parse_size(text)


def test_presets_are_the_papers():
    a, b = preset("paper-8x8"), preset("paper-16x16")
    assert (a.Pr, a.Pc, a.buffer_bytes) == (8, 8, 32 * 1024)
    assert (b.Pr, b.Pc, b.buffer_bytes) == (16, 16, 128 * 1024)
    # 16 GB/s at 1 GHz is 16 bytes per cycle; latency 100 cycles (paper §3).
    assert a.dram_bytes_per_cycle == 16 and a.dram_latency_cycles == 100
    with pytest.raises(HardwareError, match="unknown hardware preset"):
        preset("paper-4x4")


def test_vector_layout():
    v = Hardware(Pr=4, Pc=6, sparsity=0.4).vector()
    assert v[L.H_PR] == 4 and v[L.H_PC] == 6 and v[L.H_PORT] == 6
    assert (v[L.H_DNUM], v[L.H_DDEN]) == (3, 5)  # density 0.6 exactly
    assert v[L.H_BW] == 16 and v[L.H_LAT] == 100 and v[L.H_BUF] == 32768


@pytest.mark.parametrize(
    "kwargs",
    [dict(Pr=0), dict(Pc=-1), dict(buffer_bytes=0), dict(sparsity=1.5), dict(sparsity=1.0),
     dict(sparsity=-0.1), dict(psum_bytes=3), dict(dram_bandwidth_bytes_per_s=12.5e9),
     dict(clock_hz=0), dict(Pr=2.5), dict(rf_psums=True), dict(dma_outstanding=0),
     dict(buffer_read_port_words=-1), dict(buffer_write_port_words=1.5), dict(batch=0),
     dict(output_alu_ops_per_cycle=-2), dict(dma_outstanding=5000), dict(batch=2**21),
     dict(buffer_banks=-1), dict(buffer_bank_bits=0), dict(buffer_banks=1, buffer_bank_bits=8),
     dict(buffer_banks=4096, buffer_bank_bits=4096)],
)
def test_invalid_fields_rejected_at_construction(kwargs):
    with pytest.raises(HardwareError):
        Hardware(**kwargs)


def test_data_path_fields():
    """Defaults (docs/model.md §9): the buffer is one bank per PE column, each with 64-bit
    ports, so an 8x16 array's read and write ports carry 16 x 64 bits = 64 words of 16 bits.
    A 3x3 conv, 8 -> 16 channels on 10x10, one tile: 9 passes of 128 weights through the
    16-word bus (8 cycles) and 100 pixels; a pixel after the first contribution reads 8
    inputs and 16 partial sums of 2 words (40 words) and writes 32: one cycle, so
    9 x (8 + 100) = 972 cycles; a read port of 39 words takes 2 cycles a pixel on the 8 later
    passes: 972 + 800."""
    hw = Hardware(Pr=8, Pc=16)
    assert (hw.banks, hw.read_port_words, hw.write_port_words) == (16, 64, 64)
    layer = np.zeros(L.L_LEN, np.int64)
    layer[:14] = (L.KIND_CONV, 1, 8, 16, 10, 10, 3, 3, 1, 1, 1, 1, 10, 10)
    m = np.array([L.DF_WS, L.LOOP_X, L.LOOP_Y, L.LOOP_C, L.LOOP_K, 10, 10, 8, 16], np.int64)
    assert fast.evaluate(layer, hw.vector(), m[None])[0][L.C_COMPUTE] == 972
    narrow = hw.with_(buffer_read_port_words=39)
    assert fast.evaluate(layer, narrow.vector(), m[None])[0][L.C_COMPUTE] == 972 + 800
    assert hw.dma_outstanding == 1
    assert hw.output_alu_ops == 16 and hw.with_(output_alu_ops_per_cycle=3).vector()[L.H_ALU] == 3
    v = hw.with_(buffer_read_port_words=5, buffer_write_port_words=3, dma_outstanding=4).vector()
    assert (v[L.H_RD], v[L.H_WR], v[L.H_OUT]) == (5, 3, 4)
    # 8 banks of 64 bits carry 64 bytes: 64 words of 8 bits, 16 of 32; 2 banks of 8 bits
    # carry one 16-bit word (a word wider than a bank spans banks)
    assert Hardware(word_bytes=1, psum_bytes=4).write_port_words == 64
    assert Hardware(word_bytes=4, psum_bytes=4).read_port_words == 16
    assert Hardware(buffer_banks=2, buffer_bank_bits=8).read_port_words == 1
    # the output path's lanes: one per bank
    assert Hardware(buffer_banks=5).output_alu_ops == 5


def test_default_write_port_binds_an_os_drain():
    """docs/model.md §11, "A drain bound by the default write port": paper-8x8 (8 banks of
    64 bits: WR = 32 words), conv 1x1, 4 -> 32 channels on 8x8, one tile, OS. Nonzeros of
    the 1-channel-deep filters at density 3/5: N(x) = floor((6x + 5)/10) = 0, 1, 1, 2, 2, so
    channels 0 and 2 have one, 1 and 3 none (skipped). A chunk of 16 output channels: two
    steps of max(16 broadcasts, 64 window words / PORT 8 = 8, (64 + 16) / RD 32 = 3) = 16
    cycles, 32 in all. Its drain: 16 x 64 partial sums of 2 words through WR 32: 64 cycles.
    Chunk 0 computes 0-32 and drains 32-96; chunk 1 computes 32-64 and waits for the port
    until 96; its drain 96-160 ends the tile: compute 160 (64 without drains). With the
    ports of before (WR = 2 x Pc = 16 words) each drain takes 128: 32 + 128 + 128 = 288."""
    from nnaccel.engines import step

    hw = preset("paper-8x8")
    layer = np.zeros(L.L_LEN, np.int64)
    layer[:14] = (L.KIND_CONV, 1, 4, 32, 8, 8, 1, 1, 1, 1, 0, 0, 8, 8)
    m = np.array([L.DF_OS, L.LOOP_X, L.LOOP_Y, L.LOOP_C, L.LOOP_K, 8, 8, 4, 32], np.int64)
    assert fast.evaluate(layer, hw.vector(), m[None])[0][L.C_COMPUTE] == 160
    assert step.simulate(layer, hw.vector(), m)[L.C_COMPUTE] == 160
    before = hw.with_(buffer_read_port_words=24, buffer_write_port_words=16)
    assert fast.evaluate(layer, before.vector(), m[None])[0][L.C_COMPUTE] == 288
    assert step.simulate(layer, before.vector(), m)[L.C_COMPUTE] == 288


def test_toml(tmp_path):
    p = tmp_path / "hw.toml"
    p.write_text('array = "16x8"\nbuffer = "64KB"\nsparsity = 0.5\n[energy]\ndram = 100\n')
    hw = load_toml(p)
    assert (hw.Pr, hw.Pc, hw.buffer_bytes, hw.sparsity, hw.energy.dram) == (16, 8, 65536, 0.5, 100)
    p.write_text("preset = \"paper-16x16\"\ndram_latency_cycles = 50\n")
    hw = load_toml(p)
    assert (hw.Pr, hw.buffer_bytes, hw.dram_latency_cycles) == (16, 131072, 50)
    p.write_text("dma_outstanding = 2\nbuffer_read_port_words = 12\nbuffer_write_port_words = 6\n")
    hw = load_toml(p)
    assert (hw.dma_outstanding, hw.read_port_words, hw.write_port_words) == (2, 12, 6)


@pytest.mark.parametrize(
    "text,match",
    [("arrays = '8x8'\n", "unknown key 'arrays'"),
     ("Pr = '8'\n", "Pr must be a int"),
     ("sparsity = 'lots'\n", "sparsity must be a number"),
     ("[energy]\nsram = 3\n", "unknown key 'energy.sram'"),
     ("array = 8x8\n", "not valid TOML"),
     ("buffer = '12XB'\n", "12XB")],
)
def test_toml_errors_name_file_and_key(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(HardwareError, match=match) as e:
        load_toml(p)
    assert str(p) in str(e.value)


def test_the_tiler_weighs_counts_as_energy_does():
    """The tiler's per-count weights and `energy_by_level` are one table read twice: a counts
    vector's energy is the same either way (docs/model.md "Precision"; the levels themselves
    are worked by hand in tests/test_physics.py::test_a_partial_sum_costs_its_bits)."""
    for word, psum in ((2, 4), (1, 4), (4, 8)):
        hw = Hardware(word_bytes=word, psum_bytes=psum)
        counts = np.arange(1, L.C_LEN + 1, dtype=np.int64) * 1000
        levels = energy_by_level(counts, hw)
        assert list(levels) == list(LEVELS)
        assert float(energy_per_count(hw) @ counts) == pytest.approx(sum(levels.values()))
        assert energy_per_count(hw)[L.C_CYCLES] == 0  # time costs no dynamic energy
