"""Two of the layer kinds of docs/model.md §1a worked by hand on the step engine, through the
lowering a network layer takes (the numbers are docs/model.md §11's; fast agrees by the
agreement tests). Hardware as in tests/test_step.py: WORD 2 B, PSUM 4 B, LAT 100,
BW 16 B/cycle: a request of n bytes takes 100 + ceil(n / 16) cycles."""

from __future__ import annotations

import numpy as np

from nnaccel.engines import fast, step
from nnaccel.engines import layout as L
from nnaccel.hardware import Hardware
from nnaccel.lowering import lower_network
from nnaccel.network import Layer, Network


def _lowered(layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    hw = Hardware(Pr=4, Pc=4, buffer_port_words=4, rf_psums=1, sparsity=0.4,
                  buffer_read_port_words=12, buffer_write_port_words=8)  # §11's ports
    (low,) = lower_network(Network("t", layer.input_shapes[0], (layer,), "test"), hw)
    return low.vector, low.hardware_vector(hw.vector())


def _counts(vec: np.ndarray, hv: np.ndarray, tx: int, ty: int, tc: int, tk: int) -> dict:
    m = np.array([L.DF_OS, L.LOOP_K, L.LOOP_C, L.LOOP_Y, L.LOOP_X, tx, ty, tc, tk], np.int64)
    s = step.simulate(vec, hv, m)
    assert np.array_equal(s, fast.evaluate(vec, hv, m[None, :])[0])
    return {n: int(v) for n, v in zip(L.COUNT_NAMES, s, strict=True) if n != "alu_ops"}


def test_squeeze_and_excitation_multiply():
    # (2, 2, 3) times (2, 1, 1): a depthwise 1x1 conv, G = 2, whose weights are the 2 factors,
    # dense (density 1, whatever the hardware's). OS, one tile TX = 3, TY = 2, TC = 1, TK = 2.
    # Load: 2 groups * 2 * 3 inputs + 2 weights = 14 values, 28 B: 102 cycles.
    # One 2x3 pixel block; per group one chunk (m = 1) and one channel with nnz = 1:
    #   window words = 2 * 3 = 6 -> 2 port cycles; step = max(1, 2) = 2; 2 groups: 4 cycles.
    #   A chunk's 6 sums drain in 2*6 / WR 8 = 2 cycles: the first hides behind the second
    #   group's step, the last ends the tile: 6 cycles (docs/model.md §4).
    # Store 12 values, 24 B: 102. Timeline: 0..102 load, 102..108, 108..210 store.
    # ops = 2 * 6 = 12, RF 2 words each (a partial-sum accumulate) = 24; array = buffer reads
    # of the steps = 2 * (6 + 1) = 14; buffer reads 14 + 2 * 12 (store, at partial-sum width)
    # = 38; writes 2 * 2 * 6 (drains) + 14 (load) = 38.
    layer = Layer("se", "mul", ("a", "b"), ((2, 2, 3), (2, 1, 1)), (2, 2, 3))
    vec, hv = _lowered(layer)
    assert (hv[L.H_DNUM], hv[L.H_DDEN]) == (1, 1)
    assert _counts(vec, hv, 3, 2, 1, 2) == {
        "cycles": 210, "compute_cycles": 6, "stall_cycles": 204, "pe_ops": 12,
        "rf_accesses": 24, "array_transfers": 14, "buffer_reads": 38, "buffer_writes": 38,
        "dram_read_bytes": 28, "dram_write_bytes": 24, "tiles": 1}


def test_nearest_upsample():
    # (1, 2, 2) upsampled by 2: a window operation on the 4x4 output grid, CGI = 1 (each output
    # reads its one source value by a repeated address), 1x1. OS, one tile TX = TY = 4.
    # Load the 4 source values the tile's outputs read, 8 B (the input's size, not the 32 B
    # of the output grid): 101. One 4x4 block, one step: words 16 -> 4 port cycles, nnz 1:
    # 4 cycles, then the drain of its 16 values, 32 words through WR 8: 4. Store 16 values:
    # 102. Timeline 0..101, 101..109, 109..211.
    # ops = array = 16, RF 32; buffer reads 16 + 2 * 16 (store); writes 2 * 16 (drain) + 4
    # (load): words, a partial sum is 2 of them.
    layer = Layer("up", "upsample", ("a",), ((1, 2, 2),), (1, 4, 4), scale=(2, 2))
    vec, hv = _lowered(layer)
    assert _counts(vec, hv, 4, 4, 1, 1) == {
        "cycles": 211, "compute_cycles": 8, "stall_cycles": 203, "pe_ops": 16,
        "rf_accesses": 32, "array_transfers": 16, "buffer_reads": 48, "buffer_writes": 36,
        "dram_read_bytes": 8, "dram_write_bytes": 32, "tiles": 1}


def test_upsample_tiles_read_their_source_rows():
    # (1, 3, 3) by 2 to 6x6, one output row a tile (TY = 1, TX = 6): nearest, each tile reads
    # one source row of 3 values: 6 tiles x 3 = 18 values, 36 B, twice the input's 18 B (each
    # source row serves two tiles). Linear, the output row y reads source rows
    # floor((y + 1/2)/2 - 1/2) and the next, inside 0..2: rows {0}, {0,1}, {0,1}, {1,2},
    # {1,2}, {2}: 10 rows of 3 columns, for each of the 4 neighbour planes: 120 values, 240 B.
    for mode, read in (("nearest", 36), ("linear", 240)):
        layer = Layer("up", "upsample", ("a",), ((1, 3, 3),), (1, 6, 6), scale=(2, 2), mode=mode)
        vec, hv = _lowered(layer)
        assert _counts(vec, hv, 6, 1, 4 if mode == "linear" else 1, 1)["dram_read_bytes"] == read
