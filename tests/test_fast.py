"""The `fast` engine and the tiler.

The engine is checked against layers worked by hand (docs/model.md §11 and below) and, on
random small cases, against `literal`: a plain reading of docs/model.md that walks every tile,
pass, block, chunk and channel and runs the §5 recurrence with its arrays, sharing nothing
with the engine's closed forms. (The agreement with the `step` engine is tests/test_engines_agree.)
The tiler is checked against exhaustive evaluation of its own candidate set.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nnaccel import tiler
from nnaccel.engines import fast
from nnaccel.engines import layout as L
from nnaccel.errors import MappingError

X, Y, C, K = L.LOOP_X, L.LOOP_Y, L.LOOP_C, L.LOOP_K
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


# --- vectors -------------------------------------------------------------------------------


def conv(g, cgi, cgo, h, w, kh=1, kw=1, sh=1, sw=1, ph=0, pw=0, kind=L.KIND_CONV, post=None):
    v = np.zeros(L.L_LEN, dtype=np.int64)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    v[:14] = (kind, g, cgi, cgo, h, w, kh, kw, sh, sw, ph, pw, ho, wo)
    if post is not None:
        v[[L.L_RES, L.L_PKH, L.L_PKW, L.L_PSH, L.L_PSW, L.L_PPH, L.L_PPW, L.L_PHO, L.L_PWO]] = post
    return v


def _with(v, slot, value):
    v[slot] = value
    return v


def fc(ci, co):
    return conv(1, ci, co, 1, 1)


def hw(pr, pc, port=None, rf=16, lat=100, bw=16, buf=1 << 30, word=2, psum=4, dnum=3, dden=5,
       out=1, rd=None, wr=None, alu=None):
    """A hardware vector; the buffer's ports default as in `Hardware` (docs/model.md §9), and a
    slot not named here takes the first of its test values in layout.py (its plain value)."""
    v = np.array([0 if s.test is None else s.test[0] for s in L.HARDWARE_SLOTS], dtype=np.int64)
    pw = -(-psum // word)
    slots = (L.H_PR, L.H_PC, L.H_PORT, L.H_RF_PSUMS, L.H_WORD, L.H_PSUM, L.H_LAT, L.H_BW,
             L.H_DNUM, L.H_DDEN, L.H_BUF, L.H_OUT, L.H_RD, L.H_WR, L.H_ALU)
    v[list(slots)] = (pr, pc, pc if port is None else port, rf, word, psum, lat, bw, dnum, dden,
                      buf, out, pr + pw * pc if rd is None else rd, pw * pc if wr is None else wr,
                      pc if alu is None else alu)
    return v


def mapping(df, order, tx, ty, tc, tk):
    return np.array([df, *order, tx, ty, tc, tk], dtype=np.int64)


def counts_of(layer, hwv, m) -> dict[str, int]:
    return dict(zip(L.COUNT_NAMES, fast.evaluate(layer, hwv, m[None])[0].tolist(), strict=True))


# --- a literal reading of docs/model.md -----------------------------------------------------


def literal(layer, hwv, m) -> list[int]:
    """Counts by walking every tile, pass (WS) or step (OS), then §5 with its arrays."""
    kind, G, CGI, CGO, H, W, KH, KW, SH, SW, PH, PW, HO, WO = (int(v) for v in layer[:14])
    RES, PKH, PKW, PSH, PSW, PPH, PPW, PHO, PWO = (int(v) for v in layer[14:23])
    WRES = int(layer[L.L_WRES])  # the first tile's weights are in the buffer already
    Pr, Pc, PORT, R, WORD, PSUM, LAT, BW, DNUM, DDEN, OUT, RD, WR, ALU = (
        int(hwv[i]) for i in (L.H_PR, L.H_PC, L.H_PORT, L.H_RF_PSUMS, L.H_WORD, L.H_PSUM,
                              L.H_LAT, L.H_BW, L.H_DNUM, L.H_DDEN, L.H_OUT, L.H_RD, L.H_WR,
                              L.H_ALU))
    PSUM_W = cdiv(PSUM, WORD)  # words of a partial sum through a port
    df = int(m[L.M_DATAFLOW])
    order = [int(v) for v in m[L.M_ORDER:L.M_ORDER + 4]]
    TX, TY, TC, TK = (int(m[i]) for i in (L.M_TX, L.M_TY, L.M_TC, L.M_TK))
    KO, K2 = G * CGO, KH * KW
    trips = {X: cdiv(WO, TX), Y: cdiv(HO, TY), C: cdiv(CGI, TC), K: cdiv(KO, TK)}
    nc = trips[C]
    tiles = []
    for combo in itertools.product(*(range(trips[lp]) for lp in order)):
        d = dict(zip(order, combo, strict=True))
        tiles.append((d[X], d[Y], d[C], d[K]))
    T = len(tiles)

    def N(x):
        return (2 * DNUM * x * K2 + DDEN) // (2 * DDEN)

    def nnz(c):
        return K2 if kind == L.KIND_WINDOW else N(c + 1) - N(c)

    UH, UW, UN = (int(layer[i]) for i in (L.L_UH, L.L_UW, L.L_UN))

    def span(o0, n, s, p, k, size, up):  # distinct real input rows the windows touch
        if up:  # an upsample's source rows (§1a): nearest, or the two around the centre
            centre = [math.floor((o + 0.5) / up - 0.5) for o in range(o0, o0 + n)]
            rows = {o // up for o in range(o0, o0 + n)} if UN == 1 else {
                c + j for c in centre for j in (0, 1)}
            return len(rows & set(range(size // up)))
        return len({o * s - p + j for o in range(o0, o0 + n) for j in range(k)} & set(range(size)))

    def emit(o0, n, ps, pp, pk, nout, npool):
        return sum(1 for j in range(npool) if o0 <= min(j * ps - pp + pk - 1, nout - 1) < o0 + n)

    def differ(a, b, loops):
        return any(a[lp] != b[lp] for lp in loops)

    cnt = [0] * L.C_LEN
    loads, stores, store_alu, comps = [], [], [], []
    in_deps = [X, Y, C] + ([K] if G > 1 else [])
    for t, (ix, iy, ic, ik) in enumerate(tiles):
        alu_before = cnt[L.C_ALU]
        x0, y0, c0, k0 = ix * TX, iy * TY, ic * TC, ik * TK
        tx, ty, tc, tk = min(TX, WO - x0), min(TY, HO - y0), min(TC, CGI - c0), min(TK, KO - k0)
        k1 = k0 + tk
        groups = [min(k1, (g + 1) * CGO) - max(k0, g * CGO)
                  for g in range(k0 // CGO, (k1 - 1) // CGO + 1)]
        here = tiles[t]
        load_b = load_el = 0
        if t == 0 or differ(tiles[t - 1], here, in_deps):
            e = len(groups) * tc * span(y0, ty, SH, PH, KH, H, UH) * span(x0, tx, SW, PW, KW, W, UW)
            load_b, load_el = load_b + e * WORD, load_el + e
        if kind == L.KIND_CONV and ((t == 0 and not WRES) or (t > 0 and differ(tiles[t - 1], here, [C, K]))):
            e = tk * tc * K2
            load_b, load_el = load_b + e * WORD, load_el + e
        opened = t == 0 or differ(tiles[t - 1], here, [X, Y, K])
        closed = t == T - 1 or differ(here, tiles[t + 1], [X, Y, K])
        final = closed and ic == nc - 1
        if opened and ic > 0:  # buffer accesses in words: a partial sum is PSUM_W of them
            e = tk * ty * tx
            load_b, load_el = load_b + e * PSUM, load_el + e * PSUM_W
        if final and RES:
            e = RES * tk * ty * tx
            load_b, load_el = load_b + e * WORD, load_el + e
            cnt[L.C_BUF_RD] += e
            cnt[L.C_ALU] += e
        if final:  # a transformer kind's output-path work, per value and per row (model.md §1b)
            cnt[L.C_ALU] += int(layer[L.L_VE]) * tk * ty * tx + int(layer[L.L_VR]) * ty * tx
        cnt[L.C_DRAM_RD] += load_b
        cnt[L.C_BUF_WR] += load_el
        store_b = 0
        if closed:  # the output tile is held at partial-sum width
            cnt[L.C_BUF_RD] += PSUM_W * tk * ty * tx
            if final and PKH:
                e = tk * emit(y0, ty, PSH, PPH, PKH, HO, PHO) * emit(x0, tx, PSW, PPW, PKW, WO, PWO)
                store_b = e * WORD
                cnt[L.C_ALU] += PKH * PKW * e
            else:
                store_b = tk * ty * tx * (WORD if final else PSUM)
            cnt[L.C_DRAM_WR] += store_b
        loads.append(load_b)
        stores.append(store_b)
        store_alu.append(cnt[L.C_ALU] - alu_before)  # the output path's work at this store
        npix = tx * ty
        comp = 0
        if df == L.DF_WS:
            for kg in groups:
                for cb in range(cdiv(tc, Pr)):
                    r = min(Pr, tc - cb * Pr)
                    for kb in range(cdiv(kg, Pc)):
                        q = min(Pc, kg - kb * Pc)
                        for p in range(K2):
                            first = ic == 0 and cb == 0 and p == 0
                            reads = r + (0 if first else PSUM_W * q)
                            comp += cdiv(r * q, min(PORT, RD)) + npix * max(
                                1, cdiv(reads, RD), cdiv(PSUM_W * q, WR))
                            cnt[L.C_OPS] += npix * r * q
                            cnt[L.C_RF] += r * q + npix * r * q
                            cnt[L.C_ARRAY] += PSUM_W * npix * r * q
                            cnt[L.C_BUF_RD] += r * q + npix * r + (0 if first else PSUM_W * npix * q)
                            cnt[L.C_BUF_WR] += PSUM_W * npix * q
        else:
            chunks = []  # (fill + step cycles, drain cycles) of each chunk, in order
            for by in range(cdiv(ty, Pr)):
                a = min(Pr, ty - by * Pr)
                for bx in range(cdiv(tx, Pc)):
                    b = min(Pc, tx - bx * Pc)
                    words = ((a - 1) * SH + KH) * ((b - 1) * SW + KW)
                    if kind == L.KIND_WINDOW:  # channels side by side on the free PEs
                        s = max(1, (Pr * Pc) // (a * b))
                        for mm in [s] * (len(groups) // s) + [len(groups) % s] * (len(groups) % s > 0):
                            fc = 0 if ic == 0 else cdiv(PSUM_W * mm * a * b, RD)
                            for _ in range(c0, c0 + tc):
                                fc += max(K2, cdiv(mm * words, PORT), cdiv(mm * words, RD))
                                cnt[L.C_OPS] += mm * K2 * a * b
                                cnt[L.C_RF] += PSUM_W * mm * K2 * a * b
                                cnt[L.C_ARRAY] += mm * words
                                cnt[L.C_BUF_RD] += mm * words
                            cnt[L.C_BUF_WR] += PSUM_W * mm * a * b
                            if ic > 0:
                                cnt[L.C_BUF_RD] += PSUM_W * mm * a * b
                            chunks.append((fc, cdiv(PSUM_W * mm * a * b, WR)))
                        continue
                    for kg in groups:
                        for j in range(cdiv(kg, R)):
                            mm = min(R, kg - j * R)
                            fc = 0 if ic == 0 else cdiv(PSUM_W * mm * a * b, RD)
                            for c in range(c0, c0 + tc):
                                nz = nnz(c)
                                if nz == 0:
                                    continue
                                bcr = 0 if kind == L.KIND_WINDOW else mm * nz
                                fc += max(mm * nz, cdiv(words, PORT), cdiv(words + bcr, RD))
                                cnt[L.C_OPS] += mm * nz * a * b
                                cnt[L.C_RF] += PSUM_W * mm * nz * a * b
                                extra = 0 if kind == L.KIND_WINDOW else mm * nz
                                cnt[L.C_ARRAY] += words + extra
                                cnt[L.C_BUF_RD] += words + extra
                            cnt[L.C_BUF_WR] += PSUM_W * mm * a * b
                            if ic > 0:
                                cnt[L.C_BUF_RD] += PSUM_W * mm * a * b
                            chunks.append((fc, cdiv(PSUM_W * mm * a * b, WR)))
            # Two register sets: chunk j computes in set j % 2 once that set's last drain is
            # over; a drain goes through the write port after the drain before it. The tile
            # ends with its last drain.
            free, port, t_arr = [0, 0], 0, 0
            for j, (fc, dr) in enumerate(chunks):
                start = max(t_arr, free[j % 2])
                t_arr = start + fc
                port = max(t_arr, port) + dr
                free[j % 2] = port
            comp = max(t_arr, port)
        comps.append(comp)

    if PKH:  # §3a: a pooled value carried between the tiles its window spans, each way
        def window(j, ps, pp, pk, nout):
            last = min(j * ps - pp + pk - 1, nout - 1)
            return set(range(min(max(0, j * ps - pp), last), last + 1))

        for j in range(PHO):
            rows = window(j, PSH, PPH, PKH, HO)
            for i in range(PWO):
                cols = window(i, PSW, PPW, PKW, WO)
                touched = [(ix, iy) for ix in range(trips[X]) for iy in range(trips[Y])
                           if rows & set(range(iy * TY, iy * TY + TY))
                           and cols & set(range(ix * TX, ix * TX + TX))]
                cnt[L.C_BUF_RD] += KO * (len(touched) - 1)
                cnt[L.C_BUF_WR] += KO * (len(touched) - 1)

    ends = []  # completion of every request made, in order

    def request(ready, n, alu=0):  # §5: issued once the request OUT before has ended; data in
        # order, a store as fast as the output path's ALUs do its work (§3a)
        start = max(ready, ends[-OUT] if len(ends) >= OUT else 0)
        ends.append(max(start + LAT, ends[-1] if ends else 0) + max(cdiv(n, BW), cdiv(alu, ALU)))
        return ends[-1]

    eL, eS, ce = [0] * (T + 1), [0] * T, [0] * T
    eL[0] = request(0, loads[0]) if loads[0] else 0
    for t in range(T):
        cs = max(eL[t], ce[t - 1] if t >= 1 else 0, eS[t - 2] if t >= 2 else 0)
        ce[t] = cs + comps[t]
        if t + 1 < T and loads[t + 1] > 0:
            eL[t + 1] = request(ce[t - 1] if t >= 1 else 0, loads[t + 1])
        if stores[t] > 0:
            eS[t] = request(ce[t], stores[t], store_alu[t])
    cnt[L.C_CYCLES] = max(ce[T - 1], ends[-1] if ends else 0)
    cnt[L.C_COMPUTE] = sum(comps)
    cnt[L.C_STALL] = cnt[L.C_CYCLES] - cnt[L.C_COMPUTE]
    cnt[L.C_TILES] = T
    return cnt


# --- layers worked by hand -------------------------------------------------------------------


def test_model_md_small_ws_conv():
    c = counts_of(conv(1, 2, 3, 3, 3, 3, 3, ph=1, pw=1), hw(4, 4), mapping(0, (X, Y, C, K), 3, 3, 2, 3))
    assert (c["cycles"], c["compute_cycles"], c["stall_cycles"]) == (312, 99, 213)
    # accesses in words: partial sums (PSW = 2) hop down the columns and go through the buffer
    assert (c["pe_ops"], c["array_transfers"], c["rf_accesses"]) == (486, 972, 540)
    assert (c["buffer_reads"], c["buffer_writes"]) == (702, 558)
    assert (c["dram_read_bytes"], c["dram_write_bytes"], c["tiles"]) == (144, 54, 1)


def test_model_md_small_os_conv_with_sparsity():
    c = counts_of(conv(1, 3, 2, 4, 5, 3, 3, ph=1, pw=1), hw(4, 4, rf=1),
                  mapping(1, (X, Y, C, K), 5, 4, 3, 2))
    assert (c["cycles"], c["compute_cycles"]) == (307, 87)
    assert (c["pe_ops"], c["rf_accesses"]) == (640, 1280)  # an accumulate: a 2-word partial sum
    assert (c["dram_read_bytes"], c["dram_write_bytes"]) == (228, 80)


def test_model_md_transfer_bound_fc():
    c = counts_of(fc(64, 16), hw(4, 4), mapping(0, (X, Y, K, C), 1, 1, 16, 16))
    assert (c["cycles"], c["compute_cycles"], c["stall_cycles"]) == (718, 320, 398)
    assert (c["tiles"], c["dram_read_bytes"], c["dram_write_bytes"]) == (4, 4 * 544, 32)


def test_model_md_port_bound_ws_stream():
    c = counts_of(conv(1, 2, 3, 3, 3, 3, 3, ph=1, pw=1), hw(4, 4, 4, rd=5, wr=8),
                  mapping(0, (X, Y, C, K), 3, 3, 2, 3))
    assert (c["cycles"], c["compute_cycles"], c["stall_cycles"]) == (384, 171, 213)


def test_model_md_fused_pool_line_buffer():
    # 1x1 conv 4 -> 8 on 8x8 with a fused 3x3/2 max pooling (3x3 pooled); TX 8, TY 4, TC 4,
    # TK 4: tiles 2 * (256 in + 32 weights + 512 partial sums) = 1600 B. The pooled row whose
    # window spans rows 2..4 is open across the y-boundary: 3 pooled columns of it, for the
    # k-tile's 4 channels when k runs outside y (24 B), for all 8 when inside (48 B).
    layer = conv(1, 4, 8, 8, 8, post=(0, 3, 3, 2, 2, 0, 0, 3, 3))
    k_outer = mapping(0, (K, Y, X, C), 8, 4, 4, 4)
    k_inner = mapping(0, (Y, K, X, C), 8, 4, 4, 4)
    assert fast.footprint(layer, hw(4, 4), np.array([k_outer, k_inner])).tolist() == [1624, 1648]
    # the search keeps a mapping only if its own line buffer fits: at 1640 B just one does
    m, _ = tiler.search(layer, hw(4, 4, buf=1640), E, "cycles", (L.DF_WS,))
    assert fast.footprint(layer, hw(4, 4), m[None])[0] <= 1640


def test_global_pooling_uses_the_whole_array():
    # global average pooling of 512 channels of 7x7 (a window op, 1x1 output) on 16x16: each
    # 1x1 block leaves 256 PEs, so 256 channels go side by side: 2 steps of max(49 elements,
    # 256 * 49 words / PORT 16 = 784, / RD 48 = 262) = 784 cycles (one channel at a time it
    # was 512 * 49 = 25088 cycles), and the last chunk's 256 sums drain in 2 * 256 / WR 32 =
    # 16 cycles (the first chunk's drain hides behind the second's 784).
    layer = conv(512, 1, 1, 7, 7, 7, 7, kind=L.KIND_WINDOW)
    c = counts_of(layer, hw(16, 16), mapping(1, (X, Y, C, K), 1, 1, 1, 512))
    assert (c["compute_cycles"], c["pe_ops"]) == (2 * 784 + 16, 512 * 49)


def test_model_md_dma_with_two_outstanding_requests():
    m = mapping(0, (X, Y, K, C), 1, 1, 16, 16)
    c = counts_of(fc(64, 16), hw(4, 4, out=2), m)
    assert (c["cycles"], c["compute_cycles"], c["stall_cycles"]) == (610, 320, 290)
    for out in (2, 3, 8):  # the bound stays a bound with requests in flight
        lb = fast.lower_bound(fc(64, 16), hw(4, 4, out=out), m[None])[0]
        assert 0 < lb <= 610


def test_ws_one_tile_by_hand():
    # 1x1 conv 3 -> 3 on 2x2, array 2x2, PORT 2: passes (r, q) = (2,2) (2,1) (1,2) (1,1)
    # take 2+4, 1+4, 1+4, 1+4 = 21 cycles; load 12 + 9 elements = 42 B (103 cycles), compute
    # 103-124, store 24 B 124-226. Counts in words (a partial sum is 2): array 2 * 36 hops;
    # buffer reads 9 weights + 24 inputs + 2 * 12 partial sums (the r = 1 passes follow the
    # first contribution) + 2 * 12 stored = 81; writes 2 * 24 partial sums + 21 loaded = 69.
    c = counts_of(conv(1, 3, 3, 2, 2), hw(2, 2, 2), mapping(0, (X, Y, C, K), 2, 2, 3, 3))
    assert list(c.values()) == [226, 21, 205, 36, 45, 72, 81, 69, 42, 24, 1, 0]


def test_os_one_tile_with_sparsity_by_hand():
    # 3x3 pad 1 on 3x3, CGI 2, CGO 3; array 2x2, PORT 2, RF_PSUMS 2 (chunks of 2 and 1);
    # nnz = 5, 6. Blocks 2x2 (w 8), 2x1 and 1x2 (w 6), 1x1 (w 5): 38 + 34 + 34 + 33 = 139.
    # Chunks (m = 2 then 1) take 22, 16 | 22, 12 | 22, 12 | 22, 11; their drains (2·m·a·b
    # words through WR = 4) at most 4 cycles: hidden, but for the last (1x1, m = 1): 1 cycle.
    # LAT 10, BW 4: load 144 B 0-46, compute 46-186, store 54 B 186-210. In words: RF 2 per
    # op (a partial-sum accumulate); buffer reads 328 (windows, weights) + 2 * 27 stored;
    # writes 2 * 27 drained + 72 loaded.
    c = counts_of(conv(1, 2, 3, 3, 3, 3, 3, ph=1, pw=1), hw(2, 2, 2, rf=2, lat=10, bw=4),
                  mapping(1, (X, Y, C, K), 3, 3, 2, 3))
    assert list(c.values()) == [210, 140, 70, 297, 594, 328, 382, 126, 144, 54, 1, 0]


@pytest.mark.parametrize("order, cycles, dram_wr, bufs", [
    # k outer: loads 8 B (14 cycles) back to back, the output closes every 2nd tile (2 B, 11):
    # eL = 14, 28, 42, 67; ce = 16, 30, 44, 69; stores 42-53 and 69-80. Buffer words: reads
    # 8 weights + 8 inputs + 2 * 2 partial sums + 2 * 2 closes; writes 2 * 4 sums + 16 loaded.
    ((K, C, X, Y), 80, 4, (24, 24)),
    # c outer: every tile closes; ic = 0 spills 4 B psums (12 cycles), ic = 1 reads them
    # back (t = 2 loads 12 B: 16 cycles): eL = 14, 26, 54, 80; stores end 38, 66, 91, 102.
    # Buffer words: reads 16 + 2 * 2 + 2 * 4 closes; writes 2 * 4 + 4 inputs + 8 weights +
    # 2 * 2 partial sums read back.
    ((C, K, X, Y), 102, 12, (28, 24)),
])
def test_transfer_bound_tiles_through_the_recurrence(order, cycles, dram_wr, bufs):
    # fc 4 -> 2, TC 2, TK 1: 4 tiles of one 2-cycle pass; LAT 10, BW 2.
    c = counts_of(fc(4, 2), hw(2, 2, 2, lat=10, bw=2), mapping(0, order, 1, 1, 2, 1))
    assert (c["cycles"], c["compute_cycles"], c["tiles"]) == (cycles, 8, 4)
    assert (c["dram_read_bytes"], c["dram_write_bytes"]) == (32, dram_wr)
    assert (c["buffer_reads"], c["buffer_writes"]) == bufs


@pytest.mark.parametrize("tx, ty, alu, cycles", [
    # 2x2 tiles each emit one pooled value (2 B, 11 cycles) and load the residual (8 B):
    # eL = 19, 37, 66, 95; stores end 48, 77, 106, 117. The output path's 4 adds and 4
    # compares per tile take 1 cycle at 8 a cycle: they keep up with the DMA.
    (2, 2, 8, 117),
    # at 2 a cycle they take 4: each store holds the channel 10 + 4 = 14 cycles, not 11
    (2, 2, 2, 129),
    # 4x1 tiles: rows 0 and 2 emit nothing, their stores are skipped.
    (4, 1, 8, 102),
])
def test_fused_add_and_pooling_by_hand(tx, ty, alu, cycles):
    layer = conv(1, 1, 1, 4, 4, post=(1, 2, 2, 2, 2, 0, 0, 2, 2))
    c = counts_of(layer, hw(2, 2, 2, lat=10, bw=2, alu=alu), mapping(0, (Y, X, C, K), tx, ty, 1, 1))
    assert c["cycles"] == cycles
    assert (c["dram_read_bytes"], c["dram_write_bytes"], c["alu_ops"]) == (66, 8, 32)
    # words: reads 4 weights + 16 inputs + the output path's 16 sums (2 words) and 16 operands;
    # writes 16 sums (2 words) + 16 inputs + 1 weight + 16 operands loaded. With 4x1 tiles
    # each pooled value's window spans two of them (rows 2j, 2j + 1): the first writes its
    # partial max to the line buffer, the second reads it back: 4 more each way (§3a).
    carried = 4 if ty == 1 else 0
    assert (c["buffer_reads"], c["buffer_writes"]) == (68 + carried, 65 + carried)


def test_footprint_by_hand():
    layer = conv(2, 3, 4, 10, 10, 3, 3, ph=1, pw=1)
    m = mapping(0, (X, Y, C, K), 4, 5, 2, 3)
    # k-tiles [0,3) [3,6) [6,8) of CGO 4: the middle one touches 2 groups.
    # IN 2·2·7·6·2 = 336, WGT 3·2·9·2 = 108, OUT 3·5·4·4 = 240
    assert fast.footprint(layer, hw(2, 2), m[None]).tolist() == [2 * (336 + 108 + 240)]
    layer[L.L_RES] = 1  # + RES·TK·TY·TX·WORD = 120
    assert fast.footprint(layer, hw(2, 2), m[None]).tolist() == [2 * (336 + 108 + 240 + 120)]


# --- random cases against the literal reading ------------------------------------------------


@st.composite
def cases(draw, side=8, ch=6, small_tiles=False):
    kind = draw(st.sampled_from(["conv", "conv", "grouped", "window"]))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, kh)), draw(st.integers(0, kw))  # kh: windows of padding only
    h = draw(st.integers(max(1, kh - 2 * ph), side))
    w = draw(st.integers(max(1, kw - 2 * pw), side))
    if kind == "window":
        g, cgi, cgo, k = draw(st.integers(1, 5)), draw(st.integers(1, 2)), 1, L.KIND_WINDOW
    elif kind == "grouped":
        g, cgi, cgo, k = draw(st.integers(2, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4)), 0
    else:
        g, cgi, cgo, k = 1, draw(st.integers(1, ch)), draw(st.integers(1, ch)), L.KIND_CONV
    layer = conv(g, cgi, cgo, h, w, kh, kw, sh, sw, ph, pw, kind=k)
    ho, wo = int(layer[L.L_HO]), int(layer[L.L_WO])
    if k == L.KIND_CONV and draw(st.booleans()):
        res = draw(st.sampled_from([0, 1, 2]))
        pk = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
        ps = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
        pp = [draw(st.integers(0, pk[0] - 1)), draw(st.integers(0, pk[1] - 1))]
        po = [max(1, (n + 2 * p - q) // s + draw(st.integers(0, 1)) + 1)
              for n, q, s, p in ((ho, pk[0], ps[0], pp[0]), (wo, pk[1], ps[1], pp[1]))]
        pool = draw(st.booleans())
        layer[L.L_RES:L.L_PWO + 1] = ((res, *pk, *ps, *pp, *po) if pool else (res, *[0] * 8))
        layer[L.L_WRES] = draw(st.sampled_from([0, 0, 1]))  # a later image of a batch
    if draw(st.booleans()):  # the output path's work of a transformer kind (model.md §1b)
        layer[L.L_VE] = draw(st.sampled_from([0, 1, 8, 23]))
        layer[L.L_VR] = draw(st.sampled_from([0, 5, 9]))
    dden = draw(st.integers(1, 5))
    hwv = hw(draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4)),
             rf=draw(st.integers(1, 5)), lat=draw(st.integers(0, 30)), bw=draw(st.integers(1, 8)),
             word=draw(st.integers(1, 2)), psum=draw(st.integers(2, 4)),
             dnum=draw(st.integers(0, dden)), dden=dden, out=draw(st.integers(1, 3)),
             rd=draw(st.one_of(st.none(), st.integers(1, 9))),
             wr=draw(st.one_of(st.none(), st.integers(1, 9))),
             alu=draw(st.one_of(st.none(), st.integers(1, 3))))
    df = L.DF_OS if k == L.KIND_WINDOW else draw(st.sampled_from([L.DF_WS, L.DF_OS]))
    order = draw(st.permutations([X, Y, C, K]))
    top = (lambda n: max(1, n // 4)) if small_tiles else (lambda n: n + 1)
    m = mapping(df, order, draw(st.integers(1, top(wo))), draw(st.integers(1, top(ho))),
                draw(st.integers(1, cgi + 1)), draw(st.integers(1, g * cgo + 1)))
    return layer, hwv, m


@settings(max_examples=300, **SETTINGS)
@given(cases())
def test_fast_agrees_with_the_literal_reading(case):
    layer, hwv, m = case
    assert fast.evaluate(layer, hwv, m[None])[0].tolist() == literal(layer, hwv, m)


@settings(max_examples=60, **SETTINGS)
@given(st.sampled_from(["nearest", "linear"]), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 4), st.integers(1, 5), st.data())
def test_upsample_source_rows_agree_with_the_literal_reading(mode, sh, sw, h, w, data):
    """An upsample's DMA fetches the source rows and columns its tile reads (§1a), on any
    tiling of its output grid."""
    from nnaccel.hardware import Hardware
    from nnaccel.lowering import lower_network
    from nnaccel.network import Layer, Network

    layer = Layer("up", "upsample", ("a",), ((2, h, w),), (2, h * sh, w * sw), scale=(sh, sw),
                  mode=mode)
    (low,) = lower_network(Network("t", (2, h, w), (layer,), "test"), Hardware())
    v = low.vector
    order = data.draw(st.permutations([X, Y, C, K]))
    m = mapping(1, order, data.draw(st.integers(1, w * sw)), data.draw(st.integers(1, h * sh)),
                data.draw(st.integers(1, int(v[L.L_CGI]))), data.draw(st.integers(1, 2)))
    hwv = hw(4, 4)
    assert fast.evaluate(v, hwv, m[None])[0].tolist() == literal(v, hwv, m)


@settings(max_examples=40, **SETTINGS)
@given(cases(side=28, ch=24, small_tiles=True))
def test_fast_agrees_on_long_loops(case):
    """Many tiles per loop: the walk's skipping of repeated iterations is exercised."""
    layer, hwv, m = case
    assert fast.evaluate(layer, hwv, m[None])[0].tolist() == literal(layer, hwv, m)


@settings(max_examples=25, **SETTINGS)
@given(st.integers(12, 40), st.integers(1, 4), st.integers(2, 9), st.data())
def test_fast_agrees_with_periodic_nonzero_counts(cgi, tc, dden, data):
    """OS c-tiles whose nonzero counts repeat with a period > 1 (density 3/5 of 9 weights:
    5, 6, 5, 6, 5 ...): the walk skips whole periods."""
    layer = conv(1, cgi, 3, 6, 6, 3, 3, ph=1, pw=1)
    hwv = hw(2, 2, 2, rf=2, lat=data.draw(st.integers(0, 40)), bw=8,
             dnum=data.draw(st.integers(1, dden - 1)), dden=dden)
    order = data.draw(st.permutations([X, Y, C, K]))
    m = mapping(L.DF_OS, order, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), tc,
                data.draw(st.integers(1, 3)))
    assert fast.evaluate(layer, hwv, m[None])[0].tolist() == literal(layer, hwv, m)


@settings(max_examples=200, **SETTINGS)
@given(st.one_of(cases(), cases(side=40, ch=40, small_tiles=True)))
# a 1x1/2 pooling drops the second row tile's outputs: it stores nothing, and its row work
# (VR) is not timed; the bound had counted it (11 > 10 cycles)
@example((_with(conv(1, 1, 1, 2, 1, post=(0, 1, 1, 2, 1, 0, 0, 1, 1)), L.L_VR, 5),
          hw(1, 1, port=1, rf=1, lat=0, bw=1, word=1, psum=2, dnum=0, dden=1, rd=3, wr=2),
          mapping(L.DF_WS, (X, Y, C, K), 1, 1, 1, 1)))
def test_lower_bound_is_below_the_cycles(case):
    layer, hwv, m = case
    lb = fast.lower_bound(layer, hwv, m[None])[0]
    assert 0 <= lb <= fast.evaluate(layer, hwv, m[None])[0, L.C_CYCLES]


def test_evaluate_many_mappings_at_once():
    layer, hwv = conv(1, 5, 7, 6, 6, 3, 3, ph=1, pw=1), hw(2, 3)
    ms = np.array([mapping(df, o, 2, 3, 2, 3) for df in (0, 1) for o in fast.ORDERS[:6]])
    out = fast.evaluate(layer, hwv, ms)
    assert out.shape == (12, L.C_LEN) and out.dtype == np.int64
    assert out.tolist() == [literal(layer, hwv, m) for m in ms]


def test_bad_mappings_are_refused():
    with pytest.raises(ValueError):
        fast.evaluate(conv(2, 1, 1, 4, 4, kind=L.KIND_WINDOW), hw(2, 2),
                      mapping(0, (X, Y, C, K), 1, 1, 1, 1)[None])
    with pytest.raises(ValueError):
        fast.evaluate(fc(4, 4), hw(2, 2), mapping(0, (X, X, C, K), 1, 1, 1, 1)[None])
    with pytest.raises(ValueError):
        fast.evaluate(fc(4, 4), hw(2, 2), mapping(0, (X, Y, C, K), 1, 1, 0, 1)[None])


# --- the tiler -------------------------------------------------------------------------------

E = np.zeros(L.C_LEN)
E[[L.C_OPS, L.C_RF, L.C_ARRAY, L.C_BUF_RD, L.C_BUF_WR, L.C_DRAM_RD, L.C_DRAM_WR, L.C_ALU]] = (
    1, 1, 2, 6, 6, 100, 100, 1)


def candidates(layer, hwv, df):
    """Every candidate of a dataflow with its index, in the tiler's enumeration, footprint
    filtered, equivalent orders dropped."""
    grid = tiler.candidate_grid(layer, hwv, df)
    rows, index = [], []
    for combo, sizes in enumerate(itertools.product(*grid)):
        tx, ty, tc, tk = sizes
        trips = [cdiv(int(layer[L.L_WO]), tx), cdiv(int(layer[L.L_HO]), ty),
                 cdiv(int(layer[L.L_CGI]), tc), cdiv(int(layer[L.L_G] * layer[L.L_CGO]), tk)]
        seen = set()
        for o, perm in enumerate(fast.ORDERS.tolist()):
            reduced = tuple(lp for lp in perm if trips[lp] > 1)
            if reduced in seen:
                continue
            seen.add(reduced)
            rows.append(mapping(df, perm, *sizes))
            index.append(combo * len(fast.ORDERS) + o)
    ms = np.array(rows)
    fits = fast.footprint(layer, hwv, ms) <= hwv[L.H_BUF]
    return ms[fits], np.array(index)[fits]


def exhaustive(layer, hwv, objective, dataflows=(L.DF_WS, L.DF_OS)):
    best = None
    for df in dataflows:
        if layer[L.L_KIND] == L.KIND_WINDOW and df == L.DF_WS:
            continue
        ms, idx = candidates(layer, hwv, df)
        if not len(ms):
            continue
        cnts = fast.evaluate(layer, hwv, ms)
        keys = []
        for cn, i in zip(cnts, idx, strict=True):
            cyc, dram = int(cn[L.C_CYCLES]), int(cn[L.C_DRAM_RD] + cn[L.C_DRAM_WR])
            en = tiler.energy(cn, E)
            keys.append({"cycles": (cyc, dram, en, i), "energy": (en, cyc, dram, i),
                         "edp": (en * cyc, cyc, dram, i)}[objective])
        j = min(range(len(keys)), key=keys.__getitem__)
        cn = cnts[j]
        cross = tiler._cross_key(objective, int(cn[L.C_CYCLES]), tiler.energy(cn, E), df)
        if best is None or cross < best[0]:
            best = (cross, ms[j], cn)
    return best


@st.composite
def small_layers(draw):
    kind = draw(st.sampled_from(["conv", "conv", "grouped", "window", "fc"]))
    if kind == "fc":
        return fc(draw(st.integers(1, 40)), draw(st.integers(1, 20)))
    k = draw(st.integers(1, 3))
    h, w = draw(st.integers(k, 7)), draw(st.integers(k, 7))
    p = draw(st.integers(0, k // 2))
    if kind == "window":
        v = conv(draw(st.integers(1, 6)), 1, 1, h, w, k, k, 1, 1, p, p, kind=L.KIND_WINDOW)
        v[L.L_VE], v[L.L_VR] = draw(st.sampled_from([(0, 0), (8, 5), (7, 9), (23, 0)]))
        return v
    if kind == "grouped":
        return conv(draw(st.integers(2, 3)), 2, 2, h, w, k, k, 1, 1, p, p)
    ho, wo = h + 2 * p - k + 1, w + 2 * p - k + 1
    posts = [None, (1, 0, 0, 0, 0, 0, 0, 0, 0)]
    if ho >= 3 and wo >= 3:  # a fused 3x3/2 pooling: its line buffer depends on the order
        posts.append((0, 3, 3, 2, 2, 0, 0, (ho - 3) // 2 + 1, (wo - 3) // 2 + 1))
    post = draw(st.sampled_from(posts))
    v = conv(1, draw(st.integers(1, 6)), draw(st.integers(1, 6)), h, w, k, k, 1, 1, p, p,
             post=post)
    # a transformer kind's output-path work (model.md §1b): the bounds must stay below it
    v[L.L_VE] = draw(st.sampled_from([0, 0, 8, 23]))
    v[L.L_VR] = draw(st.sampled_from([0, 0, 5]))
    return v


@settings(max_examples=30, **SETTINGS)
@given(small_layers(), st.sampled_from(tiler.OBJECTIVES), st.integers(1, 3),
       st.sampled_from([400, 1000, 4000, 1 << 20]), st.sampled_from([1, 1, 2, 4]),
       st.sampled_from([(None, None), (None, None), (1, 1), (3, 2)]))
def test_search_is_the_exhaustive_optimum(layer, objective, p, buf, out, ports):
    # narrow read/write ports make OS fills and drains bind: the search's exact OS compute
    # (the drains' waits) and its bounds must still keep the optimum
    hwv = hw(p, p + 1, buf=buf, lat=20, bw=4, out=out, rd=ports[0], wr=ports[1])
    want = exhaustive(layer, hwv, objective)
    if want is None:
        with pytest.raises(MappingError):
            tiler.search(layer, hwv, E, objective)
        return
    m, cn = tiler.search(layer, hwv, E, objective)
    assert m.tolist() == want[1].tolist()
    assert cn.tolist() == want[2].tolist()


@settings(max_examples=30, **SETTINGS)
@given(small_layers(), st.integers(1, 3), st.integers(300, 3000), st.integers(0, 20000))
def test_a_bigger_buffer_is_never_worse(layer, p, small, extra):
    lo, hi = hw(p, p, buf=small, lat=20, bw=4), hw(p, p, buf=small + extra, lat=20, bw=4)
    try:
        _, c_lo = tiler.search(layer, lo, E)
    except MappingError:
        return
    _, c_hi = tiler.search(layer, hi, E)
    key = lambda c: (int(c[L.C_CYCLES]), tiler.energy(c, E))  # noqa: E731
    assert key(c_hi) <= key(c_lo)


@settings(max_examples=40, **SETTINGS)
@given(small_layers(), st.sampled_from(tiler.OBJECTIVES), st.integers(1, 3),
       st.lists(st.integers(200, 6000), min_size=1, max_size=5, unique=True),
       st.sampled_from([(None, None), (1, 1)]), st.booleans())
def test_a_ladder_search_is_each_buffers_own(layer, objective, p, bufs, ports, incumbents):
    """One branch and bound for several buffers gives each buffer what its own search gives
    (a mapping, or the same too-small error), also when capped by incumbents."""
    def hw_of(buf, bw=4):
        return hw(p, p + 1, buf=buf, lat=20, bw=bw, rd=ports[0], wr=ports[1])

    family = []
    if incumbents:  # winners of the same layer on another bandwidth, as a sweep keeps them
        for b in bufs:
            try:
                family.append(tiler.search(layer, hw_of(b, bw=9), E, objective)[0])
            except MappingError:
                pass
    got = tiler.search_family(layer, [hw_of(1)], E, objective, (L.DF_WS, L.DF_OS), bufs,
                              incumbents=family)[0]
    for b, r in zip(bufs, got, strict=True):
        try:
            want = tiler.search(layer, hw_of(b), E, objective)
        except MappingError as e:
            assert isinstance(r, MappingError) and str(r) == str(e)
            continue
        assert not isinstance(r, MappingError), (b, r)
        assert r[0].tolist() == want[0].tolist() and r[1].tolist() == want[1].tolist()


@settings(max_examples=30, **SETTINGS)
@given(small_layers(), st.sampled_from(tiler.OBJECTIVES), st.integers(1, 3),
       st.lists(st.integers(200, 6000), min_size=1, max_size=3, unique=True),
       st.lists(st.tuples(st.integers(1, 12), st.integers(0, 60)), min_size=1, max_size=3,
                unique=True))
def test_a_family_search_is_each_variants_own(layer, objective, p, bufs, drams):
    """One search for hardware equal but for the DRAM's bandwidth and latency (and the
    buffer) gives each variant and buffer what its own search gives."""
    def hw_of(buf, bw, lat):
        return hw(p, p + 1, buf=buf, lat=lat, bw=bw)

    got = tiler.search_family(layer, [hw_of(1, bw, lat) for bw, lat in drams], E, objective,
                              (L.DF_WS, L.DF_OS), bufs)
    assert len(got) == len(drams)
    for (bw, lat), per_buffer in zip(drams, got, strict=True):
        for b, r in zip(bufs, per_buffer, strict=True):
            try:
                want = tiler.search(layer, hw_of(b, bw, lat), E, objective)
            except MappingError as e:
                assert isinstance(r, MappingError) and str(r) == str(e)
                continue
            assert not isinstance(r, MappingError), (bw, lat, b, r)
            assert r[0].tolist() == want[0].tolist() and r[1].tolist() == want[1].tolist()


def test_a_family_search_refuses_variants_that_differ_elsewhere():
    layer = conv(1, 16, 16, 8, 8, 3, 3, ph=1, pw=1)
    with pytest.raises(ValueError, match="bandwidth and latency"):
        tiler.search_family(layer, [hw(4, 4, bw=4), hw(8, 8, bw=4)], E, "cycles",
                            (L.DF_WS, L.DF_OS), [4096])


def test_candidate_grid_does_not_depend_on_the_buffer():
    for layer in (conv(1, 64, 64, 56, 56, 3, 3, ph=1, pw=1), fc(9216, 4096),
                  conv(32, 1, 1, 112, 112, 3, 3, ph=1, pw=1), conv(8, 1, 1, 9, 9, 3, 3, 2, 2,
                                                                  kind=L.KIND_WINDOW)):
        for df in (L.DF_WS, L.DF_OS):
            grids = [tiler.candidate_grid(layer, hw(8, 8, buf=b), df) for b in (1024, 32768, 1 << 30)]
            for g in grids[1:]:
                assert [a.tolist() for a in g] == [a.tolist() for a in grids[0]]
            for bound, g in zip((L.L_WO, L.L_HO, L.L_CGI), grids[0][:3], strict=True):
                # down to one, or to the fewest that cut the loop into MAX_TILES tiles (9216)
                smallest = -(-int(layer[bound]) // tiler.MAX_TILES)
                assert g[0] == smallest and g[-1] == layer[bound] and (np.diff(g) > 0).all()


def test_search_is_deterministic():
    layer, hwv = conv(1, 32, 16, 56, 56), hw(8, 8, buf=32768)
    first = tiler.search(layer, hwv, E)
    for _ in range(3):
        again = tiler.search(layer, hwv, E)
        assert first[0].tolist() == again[0].tolist() and first[1].tolist() == again[1].tolist()


def test_search_returns_the_counts_of_its_mapping():
    layer, hwv = conv(1, 64, 64, 28, 28, 3, 3, ph=1, pw=1), hw(8, 8, buf=32768)
    for objective in tiler.OBJECTIVES:
        m, cn = tiler.search(layer, hwv, E, objective)
        assert cn.tolist() == fast.evaluate(layer, hwv, m[None])[0].tolist()
        assert fast.footprint(layer, hwv, m[None])[0] <= 32768


def test_a_window_layer_runs_in_os():
    m, _ = tiler.search(conv(16, 1, 1, 14, 14, 3, 3, 2, 2, kind=L.KIND_WINDOW), hw(8, 8), E)
    assert m[L.M_DATAFLOW] == L.DF_OS
    with pytest.raises(ValueError):
        tiler.search(conv(16, 1, 1, 14, 14, kind=L.KIND_WINDOW), hw(8, 8), E, "cycles", (L.DF_WS,))


def test_too_small_a_buffer_names_the_smallest_that_fits():
    layer = conv(1, 3, 8, 8, 8, 3, 3, ph=1, pw=1, post=(1, 0, 0, 0, 0, 0, 0, 0, 0))
    # the smallest tile, TX = TY = TC = TK = 1: IN 3·3·2, WGT 9·2, OUT 4, RES 2
    need = 2 * (18 + 18 + 4 + 2)
    with pytest.raises(MappingError) as err:
        tiler.search(layer, hw(8, 8, buf=need - 1), E)
    assert err.value.min_buffer_bytes == need
    assert f"{need} bytes" in str(err.value) and "KB" in str(err.value)
    m, _ = tiler.search(layer, hw(8, 8, buf=need), E)
    assert m[L.M_TX:].tolist() == [1, 1, 1, 1]


def test_the_buffer_named_for_a_pooled_layer_is_the_smallest_that_fits():
    """With a fused pooling the smallest footprint includes the least line buffer of a loop
    order, whatever buffers are searched: the named size fits, one byte less does not, and a
    ladder search names the same."""
    layer = conv(1, 4, 8, 8, 8, 3, 3, ph=1, pw=1, post=(0, 2, 2, 2, 2, 0, 0, 4, 4))
    with pytest.raises(MappingError) as err:
        tiler.search(layer, hw(4, 4, buf=16), E)
    need = err.value.min_buffer_bytes
    tiler.search(layer, hw(4, 4, buf=need), E)
    with pytest.raises(MappingError) as less:
        tiler.search(layer, hw(4, 4, buf=need - 1), E)
    assert less.value.min_buffer_bytes == need
    ladder = tiler.search_family(layer, [hw(4, 4)], E, "cycles", (L.DF_WS, L.DF_OS),
                                 [need - 1, need, 1 << 20])[0]
    assert str(ladder[0]) == str(less.value) and not isinstance(ladder[1], MappingError)


def test_objective_and_energy_table_are_checked():
    with pytest.raises(ValueError):
        tiler.search(fc(8, 8), hw(2, 2), E, "speed")
    with pytest.raises(ValueError):
        tiler.search(fc(8, 8), hw(2, 2), -E)


@pytest.mark.parametrize("slot, value, vector", [
    (L.L_G, 0, "layer"), (L.L_KIND, 7, "layer"), (L.L_PH, -1, "layer"), (L.L_VR, -1, "layer"),
    (L.L_PSH, 0, "pooled layer"), (L.L_UN, 3, "upsampled layer"),
    (L.H_PR, 0, "hardware"), (L.H_BW, 0, "hardware"), (L.H_LAT, -1, "hardware"),
    (L.H_DNUM, 6, "hardware"),  # a density above one (DNUM > DDEN = 5)
])
def test_the_kernels_get_no_vector_they_cannot_trust(slot, value, vector):
    layer = conv(1, 4, 4, 6, 6, 3, 3, post=(0, 3, 3, 2, 2, 0, 0, 1, 1)
                 if vector == "pooled layer" else None)
    if vector == "upsampled layer":
        layer[[L.L_UH, L.L_UW, L.L_UN]] = (2, 2, 1)
    h = hw(2, 2)
    fast.check_vectors(layer, h)  # the vectors as built are good
    (h if vector == "hardware" else layer)[slot] = value
    with pytest.raises(ValueError, match=f"bad .*{'hardware' if vector == 'hardware' else ''}"):
        fast.check_vectors(layer, h)
