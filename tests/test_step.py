"""The ``step`` engine on layers worked by hand, cycle by cycle (docs/model.md §3–§5).

Every expected number below is derived in the comments from the rules of docs/model.md, not
read off the engine, so these derivations can move into the model's worked examples.

Hardware used throughout (unless a test says otherwise): ``Pr x Pc`` array as given, buffer
port ``PORT`` words/cycle, ``RF_PSUMS`` partial sums per PE, WORD = 2 B, PSUM = 4 B,
LAT = 100 cycles, BW = 16 B/cycle, density DNUM/DDEN = 3/5 (40% sparsity), BUF = 32 KiB.
A DRAM request of n bytes takes ``xfer(n) = 100 + ceil(n / 16)`` cycles.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnaccel.engines import step
from nnaccel.engines.layout import (
    C_LEN,
    COUNT_NAMES,
    DF_OS,
    DF_WS,
    H_ALU,
    H_BUF,
    H_BW,
    H_DDEN,
    H_DNUM,
    H_LAT,
    H_LEN,
    H_OUT,
    H_PC,
    H_PORT,
    H_PR,
    H_PSUM,
    H_RD,
    H_RF_PSUMS,
    H_WORD,
    H_WR,
    KIND_CONV,
    KIND_WINDOW,
    L_LEN,
    L_PHO,
    L_PKH,
    L_PKW,
    L_PPH,
    L_PPW,
    L_PSH,
    L_PSW,
    L_PWO,
    L_RES,
    L_WRES,
    LOOP_C,
    LOOP_K,
    LOOP_X,
    LOOP_Y,
)


def layer(
    kind: int, g: int, cgi: int, cgo: int, h: int, w: int, k: int, s: int, p: int
) -> np.ndarray:
    """Square kernel, stride and padding; output size by the usual floor rule."""
    ho = (h + 2 * p - k) // s + 1
    wo = (w + 2 * p - k) // s + 1
    v = np.zeros(L_LEN, np.int64)  # no fused post-operations (model.md §3a)
    v[:14] = [kind, g, cgi, cgo, h, w, k, k, s, s, p, p, ho, wo]
    return v


def hardware(pr: int, pc: int, port: int, rf_psums: int, dnum: int = 3, out: int = 1) -> np.ndarray:
    hw = np.zeros(H_LEN, np.int64)
    hw[H_PR] = pr
    hw[H_PC] = pc
    hw[H_PORT] = port
    hw[H_RF_PSUMS] = rf_psums
    hw[H_WORD] = 2
    hw[H_PSUM] = 4
    hw[H_LAT] = 100
    hw[H_BW] = 16
    hw[H_DNUM] = dnum
    hw[H_DDEN] = 5
    hw[H_BUF] = 32768
    hw[H_OUT] = out
    hw[H_RD] = pr + 2 * pc  # the defaults of docs/model.md §9 (a partial sum is two words)
    hw[H_WR] = 2 * pc
    hw[H_ALU] = pc
    return hw


def mapping(df: int, order: str, tx: int, ty: int, tc: int, tk: int) -> np.ndarray:
    loops = {"x": LOOP_X, "y": LOOP_Y, "c": LOOP_C, "k": LOOP_K}
    return np.array([df, *(loops[ch] for ch in order), tx, ty, tc, tk], np.int64)


def run(lay: np.ndarray, hw: np.ndarray, mp: np.ndarray) -> tuple[dict[str, int], list]:
    counts, trace = step.simulate_trace(lay, hw, mp)
    assert counts.dtype == np.int64 and counts.shape == (C_LEN,)
    c = dict(zip(COUNT_NAMES, (int(v) for v in counts), strict=True))
    if c["alu_ops"] == 0:  # only layers with fused post-operations have output-path work
        del c["alu_ops"]
    return c, trace.tolist()


def test_ws_conv_one_tile() -> None:
    # conv 3x3, stride 1, pad 1, G = 1, CGI = 2, CGO = 3, 3x3 input -> 3x3 output.
    # Array 4x4, PORT 4. WS, the whole layer in one tile: TX = TY = 3, TC = 2, TK = 3.
    #
    # Data (§3): input 1 group * 2 ch * 3 rows * 3 cols = 18 (padding is not fetched);
    #   weights 3 * 2 * 9 = 54. load(0) = 72 elements = 144 B -> xfer = 100 + 9 = 109.
    #   output 3 * 3 * 3 = 27 values, final (ic = nc-1) -> 54 B -> xfer = 100 + 4 = 104.
    # Compute (§4 WS): one group, one input block (r = 2), one output block (q = 3),
    #   9 kernel positions = 9 passes of ceil(r*q / PORT) + npix = ceil(6/4) + 9 = 11 cycles:
    #   99 cycles.
    # Timeline (§5): eL0 = 109; cs0 = 109, ce0 = 208; store(0) starts at 208, ends 312.
    #   cycles 312, compute 99, stall 213.
    # Counts, 9 passes (accesses in words: a partial sum is PSW = 2 of them):
    #   ops    = 9 * npix*r*q = 9 * 9*6 = 486
    #   RF     = 9 * (r*q + npix*r*q) = 9 * (6 + 54) = 540
    #   array  = 9 * npix*r*q partial-sum hops, 2 words each = 972
    #   buf rd = 9 * (r*q + npix*r) + 2 * 8 * npix*q (p = 0 is the first contribution)
    #          + 2 * 27 (store, DMA side: the tile is held at partial-sum width)
    #          = 216 + 432 + 54 = 702
    #   buf wr = 2 * 9 * npix*q + 72 (load, DMA side) = 486 + 72 = 558
    #   DRAM   = 144 B read, 54 B written
    c, tr = run(
        layer(KIND_CONV, 1, 2, 3, 3, 3, 3, 1, 1),
        hardware(4, 4, 4, 4),
        mapping(DF_WS, "xyck", 3, 3, 2, 3),
    )
    assert c == {
        "cycles": 312,
        "compute_cycles": 99,
        "stall_cycles": 213,
        "pe_ops": 486,
        "rf_accesses": 540,
        "array_transfers": 972,
        "buffer_reads": 702,
        "buffer_writes": 558,
        "dram_read_bytes": 144,
        "dram_write_bytes": 54,
        "tiles": 1,
    }
    assert tr == [[109, 208, 109, 312]]  # compute start, compute end, load end, store end


def test_ws_conv_later_image_of_a_batch() -> None:
    # model.md §5 "Batch": the small WS conv above as a later image of a batch, its one weight
    # tile left in the buffer: load(0) is the 18 input elements alone, 36 B, 100 + 3 = 103
    # cycles; compute 103..202; store 202..306.
    lay = layer(KIND_CONV, 1, 2, 3, 3, 3, 3, 1, 1)
    lay[L_WRES] = 1
    c, tr = run(lay, hardware(4, 4, 4, 4), mapping(DF_WS, "xyck", 3, 3, 2, 3))
    assert (c["cycles"], c["compute_cycles"], c["dram_read_bytes"]) == (306, 99, 36)
    assert c["buffer_writes"] == 558 - 54  # the 54 weights are not written again
    assert tr == [[103, 202, 103, 306]]


def test_ws_conv_port_bound_stream() -> None:
    # model.md §11 "A port-bound WS stream": the small WS conv above with a read port of 5
    # words and a write port of 8 (a partial sum is 2 words). A pixel of a pass with r = 2,
    # q = 3 reads 2 inputs and 3 partial sums (8 words: 2 cycles through 5) and writes 3 (6
    # words: 1 cycle); on the first contribution (p = 0) it reads only its 2 inputs: 1 cycle.
    # Weights: 6 words through min(PORT 4, 5): 2 cycles. Passes: p = 0: 2 + 9 * 1 = 11;
    # p = 1..8: 2 + 9 * 2 = 20 each -> compute 171. Load 0..109, compute 109..280, store
    # 280..384. The counts are those of the unbounded stream.
    hw = hardware(4, 4, 4, 4)
    hw[H_RD] = 5
    hw[H_WR] = 8
    c, tr = run(layer(KIND_CONV, 1, 2, 3, 3, 3, 3, 1, 1), hw, mapping(DF_WS, "xyck", 3, 3, 2, 3))
    assert (c["cycles"], c["compute_cycles"], c["stall_cycles"]) == (384, 171, 213)
    assert (c["pe_ops"], c["buffer_reads"], c["buffer_writes"]) == (486, 702, 558)
    assert tr == [[109, 280, 109, 384]]
    # no cycle moves more than the ports allow: the array's buffer words fit in 171 cycles
    array_reads = 9 * 6 + 9 * 9 * 2 + 8 * 9 * 3 * 2  # weights, inputs, partial sums (words)
    assert array_reads <= 5 * 171


def test_os_conv_sparse_one_tile() -> None:
    # conv 3x3, stride 1, pad 1, G = 1, CGI = 3, CGO = 2, input 4x5 -> output 4x5.
    # Array 4x4, PORT 4, RF_PSUMS 1 (so each output channel is its own chunk). OS, one tile:
    # TX = 5, TY = 4, TC = 3, TK = 2. Density 3/5.
    #
    # Nonzeros (§4): N(x) = floor((2*3*x*9 + 5) / 10) = floor((54x + 5) / 10):
    #   N(0) = 0, N(1) = 5, N(2) = 11, N(3) = 16 -> nnz(c) = 5, 6, 5 (16 of 27 = 0.6).
    # Pixel blocks: by = 0 (a = 4); bx = 0 (b = 4) and bx = 1 (b = 1, the edge).
    #   block A 4x4: words = (3*1 + 3) * (3*1 + 3) = 36 -> ceil(36/4) = 9 port cycles
    #   block B 4x1: words = (3*1 + 3) * (0*1 + 3) = 18 -> ceil(18/4) = 5 port cycles
    # Steps, m = 1: A: max(5,9) + max(6,9) + max(5,9) = 27 per chunk (window-bound)
    #               B: max(5,5) + max(6,5) + max(5,5) = 16 per chunk (c = 1 weight-bound)
    #   2 chunks * (27 + 16) = 86 cycles of steps. (The read port, RD = 4 + 2*4 = 12 words,
    #   carries a window and its broadcast weights, e.g. 36 + 5: 4 cycles; it never binds.)
    # Drains (§4): a chunk's m*a*b sums, 2 words each, through WR = 8: A 32 words, 4 cycles;
    #   B 8 words, 1 cycle. Each hides behind the next chunk's steps (27, 16, 16 cycles);
    #   the last one ends the tile: compute = 86 + 1 = 87.
    # Data: input 3 ch * 4 rows * 5 cols = 60, weights 2*3*9 = 54 -> 114 elements, 228 B,
    #   xfer = 100 + 15 = 115. Output 2*4*5 = 40 values, final -> 80 B, xfer = 105.
    # Timeline: cs0 = 115, ce0 = 202, store 202..307. cycles 307, stall 220.
    # Counts:
    #   ops = sum m*nnz*a*b = 2 chunks * 16 nnz * (16 + 4) PEs = 640 (= 20 px * 2 * 16)
    #   RF = 2 words (a partial-sum accumulate) per op = 1280
    #   array = sum (words + m*nnz): A: 2 * (3*36 + 16) = 248, B: 2 * (3*18 + 16) = 140 -> 388
    #   buf rd = 388 + 2 * 40 (store, DMA side, at partial-sum width) = 468; ic = 0 so no
    #            partial sums resume
    #   buf wr = drains, 2 words per m*a*b: 2 * (2*16 + 2*4) = 80, + 114 (load) = 194
    c, tr = run(
        layer(KIND_CONV, 1, 3, 2, 4, 5, 3, 1, 1),
        hardware(4, 4, 4, 1),
        mapping(DF_OS, "xyck", 5, 4, 3, 2),
    )
    assert c == {
        "cycles": 307,
        "compute_cycles": 87,
        "stall_cycles": 220,
        "pe_ops": 640,
        "rf_accesses": 1280,
        "array_transfers": 388,
        "buffer_reads": 468,
        "buffer_writes": 194,
        "dram_read_bytes": 228,
        "dram_write_bytes": 80,
        "tiles": 1,
    }
    assert tr == [[115, 202, 115, 307]]


@pytest.mark.parametrize("cgo, compute, cycles, trace", [
    # 2 chunks: chunk 0 0-4, its drain 4-20 while chunk 1 computes 4-8; chunk 1's drain
    # follows on the write port 20-36 and ends the tile (the array waits 8-36).
    (8, 36, 255, [[103, 139, 103, 255]]),
    # 3 chunks: chunk 2 needs chunk 0's register set, free at 20: it computes 20-24 and
    # the array stalls 8-20 for the drain; drains 4-20, 20-36, 36-52: the tile takes 52.
    (12, 52, 280, [[104, 156, 104, 280]]),
])
def test_os_drain_longer_than_the_next_chunk_stalls(cgo, compute, cycles, trace) -> None:
    # conv 1x1, CGI = 1, CGO = 8 (12), 4x4 map, dense (density 5/5); array 4x4, PORT 4,
    # RF_PSUMS 4; one tile, one 4x4 block, chunks of 4 output channels (model.md §11).
    # A chunk's one step: 4 broadcasts, 16 window words / PORT 4 = 4 cycles, read port
    #   (16 + 4) / 12 = 2: 4 cycles. Its 4*16 partial sums, 2 words each, drain through
    #   WR = 8 words a cycle: 128 / 8 = 16 cycles, four times the next chunk's compute.
    # Data: 16 inputs + CGO weights; outputs CGO*16 values: CGO = 8: load 48 B (103 cycles),
    #   store 256 B (116): 103 + 36 + 116 = 255. CGO = 12: 56 B (104), 384 B (124): 280.
    c, tr = run(
        layer(KIND_CONV, 1, 1, cgo, 4, 4, 1, 1, 0),
        hardware(4, 4, 4, 4, dnum=5),
        mapping(DF_OS, "xyck", 4, 4, 1, cgo),
    )
    assert (c["compute_cycles"], c["cycles"], c["pe_ops"]) == (compute, cycles, 16 * cgo)
    # each chunk's sums leave once: buffer writes = 2 words * 16 * CGO drained + the loaded
    # elements
    assert c["buffer_writes"] == 2 * 16 * cgo + 16 + cgo
    assert tr == trace


def test_fc_transfer_bound() -> None:
    # fc 64 -> 16 = 1x1 conv on a 1x1 map, CGI = 64, CGO = 16. Array 4x4, PORT 4.
    # WS, order x, y, k, c (c innermost), TC = 16, TK = 16: nc = 4 tiles, T = 4.
    #
    # Every tile loads its input (c changes): 16 elements, and its weights 16*16 = 256:
    #   load = 272 elements = 544 B -> xfer = 100 + 34 = 134 cycles.
    # The output tile stays open over the 4 tiles (only c changes): opened at t = 0 (ic = 0,
    #   no partial sums read), closed at t = 3 with ic = nc-1: 16 values * 2 B = 32 B, xfer 102.
    #   store(0..2) move nothing and are skipped.
    # Compute per tile: 4 input blocks (r = 4) x 4 output blocks (q = 4) x 1 position =
    #   16 passes of ceil(16/4) + 1 pixel = 5 cycles -> 80 cycles.
    # Timeline (§5), the DMA never idles until the last store:
    #   eL0 = 134.  t0: cs 134, ce 214; load(1) 134..268
    #   t1: cs max(268, 214) = 268, ce 348; load(2) starts max(268, ce0 = 214) = 268 -> 402
    #   t2: cs 402, ce 482; load(3) starts max(402, ce1 = 348) -> 536
    #   t3: cs 536, ce 616; store(3) starts max(536, 616) = 616 -> 718
    #   cycles 718 = 4 * 134 + 80 + 102; compute 320; stall 398.
    # Counts, 64 passes with npix = 1, r*q = 16:
    #   ops = 64 * 16 = 1024 (= 64 * 16 MACs); RF = 64 * (16 + 16) = 2048
    #   array = 1024 partial-sum hops of 2 words = 2048
    #   buf rd = 64 * (16 weights + 4 inputs) + 2 * 60 * 4 partial sums (the 4 passes of t0
    #            with cb = 0 are first contributions) + 2 * 16 (store) = 1280 + 480 + 32 = 1792
    #   buf wr = 2 * 64 * 4 + 4 * 272 (loads) = 512 + 1088 = 1600
    #   DRAM read 4 * 544 = 2176 B, write 32 B
    c, tr = run(
        layer(KIND_CONV, 1, 64, 16, 1, 1, 1, 1, 0),
        hardware(4, 4, 4, 4),
        mapping(DF_WS, "xykc", 1, 1, 16, 16),
    )
    assert c == {
        "cycles": 718,
        "compute_cycles": 320,
        "stall_cycles": 398,
        "pe_ops": 1024,
        "rf_accesses": 2048,
        "array_transfers": 2048,
        "buffer_reads": 1792,
        "buffer_writes": 1600,
        "dram_read_bytes": 2176,
        "dram_write_bytes": 32,
        "tiles": 4,
    }
    assert tr == [[134, 214, 134, 0], [268, 348, 268, 0], [402, 482, 402, 0], [536, 616, 536, 718]]


def test_fc_with_two_outstanding_requests() -> None:
    # model.md §11 "A DMA with two outstanding requests": the transfer-bound FC above with
    # dma_outstanding = 2. A request is issued once the one two before it has ended; its
    # latency runs from its issue, its bytes after the bytes of the request before it.
    #   load(0): issued 0, bytes from 100, ends 134.       t0: 134..214
    #   load(1): ready 0 (slot free), issued 0 (one in flight), latency to 100, bytes after
    #            load(0)'s: 134..168.                      t1: max(168, 214) = 214..294
    #   load(2): ready ce0 = 214 (its slot is tile 0's), latency to 314, ends 348.
    #                                                      t2: 348..428
    #   load(3): ready ce1 = 294, latency to 394, bytes after load(2)'s: 394..428.
    #                                                      t3: 428..508
    #   store(3): ready 508, ends 508 + 100 + 2 = 610.
    #   cycles 610 (718 with one request at a time), compute 320, stall 290. The counts
    #   do not change.
    c, tr = run(
        layer(KIND_CONV, 1, 64, 16, 1, 1, 1, 1, 0),
        hardware(4, 4, 4, 4, out=2),
        mapping(DF_WS, "xykc", 1, 1, 16, 16),
    )
    assert (c["cycles"], c["compute_cycles"], c["stall_cycles"]) == (610, 320, 290)
    assert (c["dram_read_bytes"], c["buffer_writes"]) == (2176, 1600)
    assert tr == [[134, 214, 134, 0], [214, 294, 168, 0], [348, 428, 348, 0], [428, 508, 428, 610]]
    # and with more in flight nothing is gained here: load(2) waits for its slot, not the DMA
    c3, _ = run(layer(KIND_CONV, 1, 64, 16, 1, 1, 1, 1, 0), hardware(4, 4, 4, 4, out=3),
                mapping(DF_WS, "xykc", 1, 1, 16, 16))
    assert c3["cycles"] == 610
    # with no latency at all: loads of 34 cycles, t0 34..114, t1 114..194, load(2) 114..148,
    # t2 194..274, load(3) 194..228, t3 274..354, store 354..356: 36 stalled cycles, the part
    # of the stall the bandwidth alone causes (model.md §10)
    hw0 = hardware(4, 4, 4, 4)
    hw0[H_LAT] = 0
    c0, _ = run(layer(KIND_CONV, 1, 64, 16, 1, 1, 1, 1, 0), hw0, mapping(DF_WS, "xykc", 1, 1, 16, 16))
    assert (c0["cycles"], c0["stall_cycles"]) == (356, 36)


def test_multi_tile_edges_and_spills() -> None:
    # conv 3x3, stride 1, pad 1, G = 1, CGI = 5, CGO = 3, 5x5 -> 5x5. Array 4x4, PORT 4. WS.
    # Order c, k, y, x (c outermost: every output tile is left and reopened per c-tile).
    # TX = 3, TY = 5, TC = 2, TK = 2: nx = 2 (tx = 3, 2), ny = 1, nc = 3 (tc = 2, 2, 1),
    # nk = 2 (tk = 2, 1): T = 12, t = (ic*2 + ik)*2 + ix.
    #
    # Input rows: y0 = 0, ty = 5: [-1, 6) clipped to [0, 5) -> 5. Columns: ix = 0 reads
    #   [-1, 4) -> 4; ix = 1 (x0 = 3, tx = 2) reads [2, 6) -> [2, 5) = 3.
    #   x changes every tile, so the input is loaded every tile: tc*5*4 or tc*5*3.
    # Weights tk*tc*9 at the tiles where c or k changes: t = 0, 2, 4, 6, 8, 10.
    # Every tile opens and closes its output (x changes every tile): partial sums read back
    #   (4 B each) when ic > 0; written as spills (4 B) when ic < 2, final (2 B) when ic = 2.
    #
    #  t ic ik ix | in  wgt psum | load B              | out | store B
    #  0  0  0  0 | 40  36   -   | 80+72       = 152   | 30  | 120
    #  1  0  0  1 | 30   -   -   | 60                  | 20  |  80
    #  2  0  1  0 | 40  18   -   | 80+36       = 116   | 15  |  60
    #  3  0  1  1 | 30   -   -   | 60                  | 10  |  40
    #  4  1  0  0 | 40  36  30   | 80+72+120   = 272   | 30  | 120
    #  5  1  0  1 | 30   -  20   | 60+80       = 140   | 20  |  80
    #  6  1  1  0 | 40  18  15   | 80+36+60    = 176   | 15  |  60
    #  7  1  1  1 | 30   -  10   | 60+40       = 100   | 10  |  40
    #  8  2  0  0 | 20  18  30   | 40+36+120   = 196   | 30  |  60
    #  9  2  0  1 | 15   -  20   | 30+80       = 110   | 20  |  40
    # 10  2  1  0 | 20   9  15   | 40+18+60    = 118   | 15  |  30
    # 11  2  1  1 | 15   -  10   | 30+40       =  70   | 10  |  20
    # DRAM read = 1570 B, written = 750 B (of which 600 B are the spills and 150 B final).
    #
    # Compute: r = tc <= 2, q = tk <= 2, so one pass per kernel position, 1 weight cycle:
    #   9 * (1 + npix): ix = 0 (npix 15) 144 cycles, ix = 1 (npix 10) 99 cycles; sum 1458.
    # xfer: loads 110 104 108 104 117 109 111 107 113 107 108 105,
    #       stores 108 105 104 103 108 105 104 103 104 103 102 102.
    # Timeline (§5): cs[t] = max(eL[t], ce[t-1], eS[t-2]); load(t+1) starts at
    #   max(dma, ce[t-1]), store(t) at max(dma, ce[t]):
    #   t0: cs 110 ce 254 | L1 110..214  | S0 254..362
    #   t1: cs 254 ce 353 | L2 362..470  | S1 470..575
    #   t2: cs 470 ce 614 | L3 575..679  | S2 679..783
    #   t3: cs 679 ce 778 | L4 783..900  | S3 900..1003
    #   t4: cs 900 ce 1044 | L5 1003..1112 | S4 1112..1220
    #   t5: cs 1112 ce 1211 | L6 1220..1331 | S5 1331..1436
    #   t6: cs 1331 ce 1475 | L7 1436..1543 | S6 1543..1647
    #   t7: cs 1543 ce 1642 | L8 1647..1760 | S7 1760..1863
    #   t8: cs 1760 ce 1904 | L9 1863..1970 | S8 1970..2074
    #   t9: cs 1970 ce 2069 | L10 2074..2182 | S9 2182..2285
    #   t10: cs 2182 ce 2326 | L11 2285..2390 | S10 2390..2492
    #   t11: cs 2390 ce 2489 | S11 2492..2594
    #   cycles 2594: the DMA is busy from 0 to the end except 214..254 (waiting for tile 0 to
    #   finish before store(0)): 2554 transfer cycles + 40 = 2594. Stall = 2594 - 1458 = 1136.
    # Counts:
    #   ops = 25 px * 3 * 5 * 9 = 3375 (padding streams as zeros, still MACs)
    #   array = 3375 partial-sum hops of 2 words = 6750
    #   RF = 3375 + sum of r*q over passes = 3375 + 9 * (2+2+1)*(2+1) * 2 = 3375 + 270 = 3645
    #   buf rd (words): weights 270 + inputs 9 * 25 * 5 * 2 (k-tiles) = 2250 + partial sums
    #           2 * (9 * 25 * 3 * 3 (c-tiles) - 75 (first contributions, ic = 0, p = 0)) = 3900,
    #           + 2 * 225 stored elements (read at partial-sum width) = 6870
    #   buf wr: 2 * 9 * 25 * 3 * 3 = 4050 partial sums + the loads: 635 elements, of which
    #           the 150 partial sums read back take 2 words: 785 -> 4835
    c, tr = run(
        layer(KIND_CONV, 1, 5, 3, 5, 5, 3, 1, 1),
        hardware(4, 4, 4, 4),
        mapping(DF_WS, "ckyx", 3, 5, 2, 2),
    )
    assert c == {
        "cycles": 2594,
        "compute_cycles": 1458,
        "stall_cycles": 1136,
        "pe_ops": 3375,
        "rf_accesses": 3645,
        "array_transfers": 6750,
        "buffer_reads": 6870,
        "buffer_writes": 4835,
        "dram_read_bytes": 1570,
        "dram_write_bytes": 750,
        "tiles": 12,
    }
    assert tr == [
        [110, 254, 110, 362],
        [254, 353, 214, 575],
        [470, 614, 470, 783],
        [679, 778, 679, 1003],
        [900, 1044, 900, 1220],
        [1112, 1211, 1112, 1436],
        [1331, 1475, 1331, 1647],
        [1543, 1642, 1543, 1863],
        [1760, 1904, 1760, 2074],
        [1970, 2069, 1970, 2285],
        [2182, 2326, 2182, 2492],
        [2390, 2489, 2390, 2594],
    ]

    # The same tiles with c innermost (order k, y, x, c): no spills and no partial sums read.
    # Every tile still loads its input (c changes) and its weights (c changes):
    #   input = 2 k-tiles * 5 channels * 5 rows * (4 + 3) cols = 350 elements = 700 B
    #   weights = 2 x-tiles * 3 * 5 * 9 = 270 elements = 540 B  -> read 1240 B
    #   written: only the final outputs, 75 values * 2 B = 150 B.
    c, _ = run(
        layer(KIND_CONV, 1, 5, 3, 5, 5, 3, 1, 1),
        hardware(4, 4, 4, 4),
        mapping(DF_WS, "kyxc", 3, 5, 2, 2),
    )
    assert (c["dram_read_bytes"], c["dram_write_bytes"], c["tiles"]) == (1240, 150, 12)
    assert c["pe_ops"] == 3375


def test_maxpool_3x3_s2() -> None:
    # maxpool 3x3 stride 2 on 2 channels of 5x5 -> 2x2: window, G = 2, CGI = CGO = 1.
    # Array 4x4, PORT 4. OS, one tile TX = TY = 2, TC = 1, TK = 2 (both groups).
    #
    # Input: 2 groups * 1 ch * 5 rows * 5 cols = 50 elements, 100 B, xfer = 100 + 7 = 107.
    # One 2x2 pixel block, which leaves room for 16 / 4 = 4 channels side by side: both
    #   channels in one step (model.md §4), nnz = 9 (window elements), words 2 * 25 = 50
    #   (25 = ((2-1)*2 + 3)^2 each) -> ceil(50/4) = 13; step = max(9, 13) = 13.
    # The chunk's 2*4 sums drain in 2*8 words / WR 8 = 2 cycles, which end the tile: 15.
    # Output 2*2*2 = 8 values, 16 B, xfer 101. Timeline: 107 -> 122 -> store 122..223.
    # Counts: ops = 2 * 9*4 = 72, RF 2 words each = 144; array = 2 * 25 = 50 (no weights to
    #   broadcast); buf rd = 50 + 2 * 8 (store, read at partial-sum width) = 66;
    #   buf wr = one chunk's drain, 2 * m*a*b = 2 * 2*4 = 16, + 50 (load) = 66.
    c, tr = run(
        layer(KIND_WINDOW, 2, 1, 1, 5, 5, 3, 2, 0),
        hardware(4, 4, 4, 4),
        mapping(DF_OS, "xyck", 2, 2, 1, 2),
    )
    assert c == {
        "cycles": 223,
        "compute_cycles": 15,
        "stall_cycles": 208,
        "pe_ops": 72,
        "rf_accesses": 144,
        "array_transfers": 50,
        "buffer_reads": 66,
        "buffer_writes": 66,
        "dram_read_bytes": 100,
        "dram_write_bytes": 16,
        "tiles": 1,
    }
    assert tr == [[107, 122, 107, 223]]


def test_add() -> None:
    # add of two (2, 3, 3) tensors: window, G = 2, CGI = 2 (the two operands), CGO = 1, 1x1.
    # Array 4x4, PORT 4. OS, one tile TX = TY = 3, TC = 2, TK = 2.
    #
    # Input: 2 groups * 2 operands * 3 * 3 = 36 elements, 72 B, xfer = 100 + 5 = 105.
    # One 3x3 block, room for 16 // 9 = 1 channel: per group one chunk (m = 1) and two
    #   channels (the operands), nnz = 1: words = 3*3 = 9 -> 3 port cycles; step = max(1, 3)
    #   = 3; a chunk 6 cycles. Its 9 sums drain in 2*9 / WR 8 = 3 cycles: the first drain
    #   hides behind the second chunk, the last ends the tile: 6 + 6 + 3 = 15 cycles.
    # Output 2*9 = 18 values, 36 B, xfer 103. Timeline: 105 -> 120 -> store 120..223.
    # Counts: ops = 4 steps * 1*1*9 = 36 (each operand value is accumulated once), RF 2 words
    #   each = 72; array = 4 * 9 = 36; buf rd = 36 + 2 * 18 (store) = 72; buf wr = 2 * 2 * 9
    #   (drains) + 36 (load) = 72.
    c, tr = run(
        layer(KIND_WINDOW, 2, 2, 1, 3, 3, 1, 1, 0),
        hardware(4, 4, 4, 4),
        mapping(DF_OS, "xyck", 3, 3, 2, 2),
    )
    assert c == {
        "cycles": 223,
        "compute_cycles": 15,
        "stall_cycles": 208,
        "pe_ops": 36,
        "rf_accesses": 72,
        "array_transfers": 36,
        "buffer_reads": 72,
        "buffer_writes": 72,
        "dram_read_bytes": 72,
        "dram_write_bytes": 36,
        "tiles": 1,
    }
    assert tr == [[105, 120, 105, 223]]


def test_os_tile_with_no_nonzero_weight() -> None:
    # 1x1 conv, 1 -> 1 channel, 1x1 map, density 1/5: N(1) = floor((2*1*1*1 + 5) / 10) = 0,
    # so the only channel is skipped and the tile computes nothing; its one partial sum still
    # drains (2 words through WR 8: 1 cycle): the tile runs 101..102 after its load (4 B, xfer
    # 101) and its 2 B store 102..203.
    # Counts: no op, RF or array access; the (block, chunk)'s partial sums still leave the
    # PEs once (model.md §4, "per (block, chunk) of a tile, once"): buf wr 2 words + 2 loaded,
    # buf rd 2 words stored.
    c, tr = run(
        layer(KIND_CONV, 1, 1, 1, 1, 1, 1, 1, 0),
        hardware(4, 4, 4, 4, dnum=1),
        mapping(DF_OS, "xyck", 1, 1, 1, 1),
    )
    assert (c["cycles"], c["compute_cycles"], c["pe_ops"], c["rf_accesses"]) == (203, 1, 0, 0)
    assert (c["buffer_reads"], c["buffer_writes"]) == (2, 4)
    assert tr == [[101, 102, 101, 203]]


def test_rejects_window_in_ws() -> None:
    with pytest.raises(ValueError, match="only in OS"):
        step.simulate(
            layer(KIND_WINDOW, 2, 1, 1, 5, 5, 3, 2, 0),
            hardware(4, 4, 4, 4),
            mapping(DF_WS, "xyck", 2, 2, 1, 2),
        )


def test_rejects_bad_order() -> None:
    mp = mapping(DF_OS, "xyck", 2, 2, 1, 2)
    mp[2] = mp[1]
    with pytest.raises(ValueError, match="permutation"):
        step.simulate(layer(KIND_WINDOW, 2, 1, 1, 5, 5, 3, 2, 0), hardware(4, 4, 4, 4), mp)


def test_fused_add_and_pool() -> None:
    # conv 1x1, CGI = 2, CGO = 2, 4x4 -> 4x4, with a residual add (RES = 1) and a 2x2/2
    # max pooling fused into its output path (model.md §3a) -> pooled 2x2.
    # Array 4x4, PORT 4. WS, tiles TX = 4, TY = 2, TC = 2, TK = 2: two tiles (rows 0-1, 2-3).
    #
    # Pooled row j has its last conv row at min(2j + 1, 3): j = 0 in tile 0, j = 1 in tile 1;
    #   both pooled columns end in the one x-tile. Each tile stores 2 ch * 1 * 2 = 4 values, 8 B.
    # load(0) = input 2*2*4 = 16 + weights 2*2 = 4 + residual 2*2*4 = 16 -> 36 el, 72 B, xfer 105
    # load(1) = input 16 + residual 16 (weights stay) -> 32 el, 64 B, xfer 104
    # store(0) = store(1) = 8 B, 1 cycle of bytes, but the output path's 16 adds and 16
    #   compares take 32 / 4 ALUs = 8 cycles: 100 + 8 = 108 (model.md §5)
    # Compute: one pass per tile, ceil(2*2/4) + 8 pixels = 9 cycles.
    # Timeline: eL0 = 105; t0 105..114; load(1) 105..209; store(0) 209..317;
    #   t1 209..218; store(1) 317..425. cycles 425, compute 18, stall 407.
    # Counts: ops = 2 * 8*2*2 = 64, array 2 words a hop = 128; RF = 2 * (4 + 32) = 72
    #   buf rd = 2 * (4 + 8*2) (no partial sum before the first contribution)
    #          + 2 * (2 * 16 + 16) (output path: the 2*2*4 tile, held at partial-sum width,
    #          and its residual) = 40 + 96 = 136
    #   buf wr = 2 * 2 * 8*2 (partial sums) + 36 + 32 = 132; DRAM read 136 B, written 16 B
    #   ALU = per tile 16 adds + 4 pooled * 4 = 32 -> 64
    lay = layer(KIND_CONV, 1, 2, 2, 4, 4, 1, 1, 0)
    lay[[L_RES, L_PKH, L_PKW, L_PSH, L_PSW, L_PPH, L_PPW, L_PHO, L_PWO]] = (1, 2, 2, 2, 2, 0, 0, 2, 2)
    c, tr = run(lay, hardware(4, 4, 4, 4), mapping(DF_WS, "xyck", 4, 2, 2, 2))
    assert c == {
        "cycles": 425,
        "compute_cycles": 18,
        "stall_cycles": 407,
        "pe_ops": 64,
        "rf_accesses": 72,
        "array_transfers": 128,
        "buffer_reads": 136,
        "buffer_writes": 132,
        "dram_read_bytes": 136,
        "dram_write_bytes": 16,
        "tiles": 2,
        "alu_ops": 64,
    }
    assert tr == [[105, 114, 105, 317], [209, 218, 209, 425]]
