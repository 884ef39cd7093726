"""Compute time per dataflow, and the counts the loop order does not change (docs/model.md §4).

WS: per (c-tile, k-tile, group) the weight-load cycles Σ ceil(r·q/PORT) and the streaming
cycles; OS: Σ over pixel blocks, chunks and channels of max(m·nnz(c), ceil(words/PORT)),
where nnz(c) takes two values (`tiles._sparsity`). The totals over a tile-size combo are
tables on the dimensions they depend on (`_compute_tables`); the per-tile values the walk
looks up, with the OS drains timed, are `tilecompute`'s.
"""

from __future__ import annotations

import numpy as np

from nnaccel.engines.layout import (
    C_ALU,
    C_ARRAY,
    C_BUF_RD,
    C_BUF_WR,
    C_COMPUTE,
    C_OPS,
    C_RF,
    C_TILES,
    DF_WS,
    H_ALU,
    H_BW,
    H_DDEN,
    H_DNUM,
    H_LAT,
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
    L_CGI,
    L_CGO,
    L_G,
    L_HO,
    L_KH,
    L_KIND,
    L_KW,
    L_PKH,
    L_PKW,
    L_RES,
    L_SH,
    L_SW,
    L_VE,
    L_VR,
    L_WO,
    L_WRES,
)

from .base import (
    _cdiv,
    _fill,
    _kernel,
    _pure,
    _separate,
)
from .tiles import (
    CS_N,
    CS_RV,
    CS_SNCB,
    CS_T0,
    KS_N,
    KS_NCH,
    KS_SWN,
    KS_T0,
    KS_TL,
    SP_BV,
    SP_N,
    SP_NBLK,
    SP_PSPAN,
    SP_SEMIT,
    SP_SF,
    _sparsity,
)


@_pure
def _ws_pixel(r, q, first, hw):
    """Cycles one WS pixel streams (§4): its r inputs and (but on the first contribution) its
    q partial sums through the read port, its q updated sums through the write port."""
    pw = _cdiv(hw[H_PSUM], hw[H_WORD])
    reads = r if first else r + pw * q
    return max(1, _cdiv(reads, hw[H_RD]), _cdiv(pw * q, hw[H_WR]))


@_pure
def _os_step(mv, words, conv, hw):
    """Cycles of an OS step (§4): mv broadcasts one a cycle, the window over the input bus,
    and the read port carrying the window and (conv) the broadcast weights."""
    return max(mv, _cdiv(words, hw[H_PORT]), _cdiv(words + (mv if conv else 0), hw[H_RD]))


@_pure
def _chunk_sum(v, words, conv, hw, cnt_p, sum_p, r):
    """Sum over all chunks m (histogram by prefix sums) of the step cycles with m·v
    broadcasts, v > 0. Where the read port cannot bind (it is wider than the bus by the
    broadcast weight) the step is max(m·v, w), summed in closed form."""
    w = _cdiv(words, hw[H_PORT])
    if hw[H_RD] >= hw[H_PORT] + (1 if conv else 0):
        ms = min(r, w // v)
        return w * cnt_p[ms] + v * (sum_p[r] - sum_p[ms])
    total = 0
    for m in range(1, r + 1):
        n = cnt_p[m] - cnt_p[m - 1]
        if n > 0:
            total += n * _os_step(m * v, words, conv, hw)
    return total


@_pure
def _window_steps(tk, a, b, words, k2, conv, hw):
    """Σ of the steps of one input channel over one (a x b) block, for tk channels of a window
    operation spread s at a time over the PEs the block leaves free (§4). (`conv` is False,
    passed as a variable: one compiled `_os_step` for every caller.)"""
    s = max(1, (hw[H_PR] * hw[H_PC]) // (a * b))
    total = (tk // s) * _os_step(k2, s * words, conv, hw)
    if tk % s > 0:
        total += _os_step(k2, (tk % s) * words, conv, hw)
    return total


@_pure
def _os_compute_total(layer, hw, ys, xs, ks_row, cnt_p, sum_p, out):
    """Σ over tiles of OS compute: out[0] over all blocks (a, b), all chunks m and all
    channels c; out[1], out[2]: per channel, Σ over blocks and chunks of the step cycles with
    nnz = hi, nnz = lo.

    Each input channel belongs to exactly one c-tile, so the sum over c-tiles and their
    channels is a sum over the filter's channels: independent of TC.
    """
    hi, lo, nh, nl = _sparsity(layer, hw)
    r = hw[H_RF_PSUMS]
    conv = layer[L_KIND] == KIND_CONV
    a_tot = 0
    b_tot = 0
    for i in range(3):
        av = ys[SP_BV + 2 * i]
        ac = ys[SP_BV + 2 * i + 1]
        if ac == 0:
            continue
        for j in range(3):
            bv = xs[SP_BV + 2 * j]
            bc = xs[SP_BV + 2 * j + 1]
            if bc == 0:
                continue
            words = ((av - 1) * layer[L_SH] + layer[L_KH]) * ((bv - 1) * layer[L_SW] + layer[L_KW])
            if not conv:  # channels spread over the PEs: full k-tiles, then the last one
                a_tot += ac * bc * (
                    (ks_row[KS_N] - 1) * _window_steps(ks_row[KS_T0], av, bv, words, hi, conv, hw)
                    + _window_steps(ks_row[KS_TL], av, bv, words, hi, conv, hw))
                continue
            a_tot += ac * bc * _chunk_sum(hi, words, conv, hw, cnt_p, sum_p, r)
            if lo > 0:
                b_tot += ac * bc * _chunk_sum(lo, words, conv, hw, cnt_p, sum_p, r)
    out[0] = nh * a_tot + nl * b_tot
    out[1] = a_tot
    out[2] = b_tot


@_pure
def _ws_blocks(hw, rv, rc, hq, out):
    """For rc channel blocks of rv channels against every output block (hq[q] of q channels):
    out[0] += weight-load cycles, out[1] += streaming cycles per pixel, out[2] += what a
    first contribution saves per pixel."""
    port = min(hw[H_PORT], hw[H_RD])  # weights pass the input bus and the read port
    for q in range(1, hw[H_PC] + 1):
        if hq[q] > 0:
            n = rc * hq[q]
            out[0] += n * _cdiv(rv * q, port)
            f = _ws_pixel(rv, q, False, hw)
            out[1] += n * f
            out[2] += n * (f - _ws_pixel(rv, q, True, hw))


@_kernel
def _ws_sums(hw, cs_row, hq, out):
    """WS compute sums over (k-tile, group) for a c-tile size (§4): out[0] weight loads and
    out[1] streaming cycles per pixel, over all c-tiles and channel blocks; out[2] what first
    contributions save per pixel (the first channel block of the first c-tile); out[3],
    out[4] the loads and streaming of the first c-tile alone."""
    pr = hw[H_PR]
    tmp = np.zeros(3, dtype=np.int64)
    for i in range(5):
        out[i] = 0
    for i in range(3):
        rv = cs_row[CS_RV + 2 * i]
        rc = cs_row[CS_RV + 2 * i + 1]
        if rc > 0:
            _ws_blocks(hw, rv, rc, hq, out)
    tc0 = cs_row[CS_T0]
    out[2] = 0
    _fill(tmp, np.int64(0))
    _ws_blocks(hw, min(pr, tc0), np.int64(1), hq, tmp)
    out[2] = tmp[2]
    for i in range(2):
        rv = pr if i == 0 else tc0 % pr
        rc = tc0 // pr if i == 0 else (1 if tc0 % pr > 0 else 0)
        if rc > 0:
            _fill(tmp, np.int64(0))
            _ws_blocks(hw, rv, rc, hq, tmp)
            out[3] += tmp[0]
            out[4] += tmp[1]


# Constants of a (layer, hardware) pair that the per-combo closed forms use, computed once.
K_K2 = 0  # KH·KW
K_CGI = 1
K_KO = 2  # G·CGO
K_PIX = 3  # HO·WO
K_NZ = 4  # N(CGI): nonzeros of a filter (window: KH·KW·CGI, every element is an op)
K_STEP = 5  # OS: input channels stepped (nnz > 0)
K_CONV = 6
K_GROUPED = 7
K_WORD = 8
K_PS = 9
K_LAT = 10
K_BW = 11
K_PRPC = 12  # Pr·Pc
K_RES = 13  # §3a: operands of the fused residual add
K_POOL2 = 14  # §3a: PKH·PKW of the fused pooling, 0 without
K_LO = 15  # the smaller nonzero count of a channel (see `_sparsity`)
K_DNUM = 16
K_DDEN = 17
K_PR = 18
K_OUT = 19  # DMA requests in flight at once (§5)
K_WRES = 20  # the first tile's weights are in the buffer already (§5, "Batch")
K_ALU = 21  # the output path's ALU operations per cycle (§3a)
K_VE = 22  # §1b: the output path's lane cycles per output element of a vector kind
K_VR = 23  # §1b: and per output pixel of a final tile (a row's reciprocal or rsqrt)
K_RD = 24  # the buffer's read port, words per cycle (an OS fill's path)
K_LEN = 25


@_kernel
def _consts(layer, hw):
    k = np.empty(K_LEN, dtype=np.int64)
    k2 = layer[L_KH] * layer[L_KW]
    cgi = layer[L_CGI]
    hi, lo, nh, nl = _sparsity(layer, hw)
    k[K_K2] = k2
    k[K_CGI] = cgi
    k[K_KO] = layer[L_G] * layer[L_CGO]
    k[K_PIX] = layer[L_HO] * layer[L_WO]
    k[K_NZ] = nh * hi + nl * lo
    k[K_STEP] = nh + (nl if lo > 0 else 0)
    k[K_CONV] = 1 if layer[L_KIND] == KIND_CONV else 0
    k[K_GROUPED] = 1 if layer[L_G] > 1 else 0
    k[K_WORD] = hw[H_WORD]
    k[K_PS] = hw[H_PSUM]
    k[K_LAT] = hw[H_LAT]
    k[K_BW] = hw[H_BW]
    k[K_PRPC] = hw[H_PR] * hw[H_PC]
    k[K_RES] = layer[L_RES]
    k[K_POOL2] = layer[L_PKH] * layer[L_PKW] if layer[L_PKH] > 0 else 0
    k[K_LO] = lo
    k[K_DNUM] = hw[H_DNUM]
    k[K_DDEN] = hw[H_DDEN]
    k[K_PR] = hw[H_PR]
    k[K_OUT] = hw[H_OUT]
    k[K_WRES] = 1 if layer[L_WRES] > 0 and layer[L_KIND] == KIND_CONV else 0
    k[K_ALU] = hw[H_ALU]
    k[K_VE] = layer[L_VE]
    k[K_VR] = layer[L_VR]
    k[K_RD] = hw[H_RD]
    return k


@_pure
def _static(k, df, xs, ys, cs, ks, a, b, c, d, compute, out):
    """The counts the loop order does not change: everything on the array side (§4)."""
    k2 = k[K_K2]
    cgi = k[K_CGI]
    ko = k[K_KO]
    pix = k[K_PIX]
    nxy = xs[a, SP_N] * ys[b, SP_N]
    nc = cs[c, CS_N]
    _fill(out, np.int64(0))
    out[C_COMPUTE] = compute
    out[C_TILES] = nxy * nc * ks[d, KS_N]
    # The output path (§3a): every output value meets its residual operands once, every
    # pooled value its window once (each output tile closes final exactly once).
    out[C_ALU] = ko * ((k[K_RES] + k[K_VE]) * pix + k[K_POOL2] * ys[b, SP_SEMIT] * xs[a, SP_SEMIT])
    out[C_ALU] += k[K_VR] * ks[d, KS_N] * pix  # §1b: every pixel once per k-tile
    # §3a: a pooled value whose window spans n output tiles is written to the line buffer and
    # read back n - 1 times (every pooled row is emitted once: SP_SEMIT is the pooled size)
    lbw = 0
    if k[K_POOL2] > 0:
        lbw = ko * (ys[b, SP_PSPAN] * xs[a, SP_PSPAN] - ys[b, SP_SEMIT] * xs[a, SP_SEMIT])
    psw = _cdiv(k[K_PS], k[K_WORD])  # counts are in words: a partial sum is psw of them
    if df == DF_WS:
        ops = k2 * pix * cgi * ko
        out[C_OPS] = ops
        out[C_RF] = k2 * nxy * cgi * ko + ops
        out[C_ARRAY] = psw * ops  # the column sums hop down at partial-sum width
        # weights + inputs + partial sums, less the first contribution of every output value
        out[C_BUF_RD] = (k2 * (nxy * cgi * ko + pix * cgi * ks[d, KS_SWN])
                         + psw * (k2 * pix * cs[c, CS_SNCB] * ko - pix * ko))
        out[C_BUF_WR] = psw * k2 * pix * cs[c, CS_SNCB] * ko + lbw
        out[C_BUF_RD] += lbw
        return
    windows = ks[d, KS_NCH] * ys[b, SP_SF] * xs[a, SP_SF]  # Σ words over one channel's steps
    ops = pix * ko * k[K_NZ]
    array = k[K_STEP] * windows
    if k[K_CONV]:
        array += ys[b, SP_NBLK] * xs[a, SP_NBLK] * ko * k[K_NZ]  # weight broadcasts
    out[C_OPS] = ops
    out[C_RF] = psw * ops  # every op accumulates into a partial-sum register
    out[C_ARRAY] = array
    out[C_BUF_RD] = array + psw * (nc - 1) * pix * ko + lbw  # fills
    out[C_BUF_WR] = psw * nc * pix * ko + lbw  # drains


@_separate
def _compute_tables(layer, hw, df, xs, ys, cs, ks, hq, cnt_p, sum_p):
    """Σ compute per (TX, TY, TC, TK) as tables on the dimensions they depend on, and what
    `_close_stalls` needs. WS: wp[part, c, d], the parts of `_ws_sums`. OS: ost[part, a, b, d],
    the parts of `_os_compute_total`."""
    nx_, ny_, nc_, nk_ = xs.shape[0], ys.shape[0], cs.shape[0], ks.shape[0]
    if df == DF_WS:
        wp = np.empty((5, nc_, nk_), dtype=np.int64)
        tmp = np.empty(5, dtype=np.int64)
        for c in range(nc_):
            for d in range(nk_):
                _ws_sums(hw, cs[c], hq[d], tmp)
                for e in range(5):
                    wp[e, c, d] = tmp[e]
        return wp, np.zeros((1, 1, 1, 1), dtype=np.int64)
    ost = np.empty((3, nx_, ny_, nk_), dtype=np.int64)
    tmp = np.empty(3, dtype=np.int64)
    for a in range(nx_):
        for b in range(ny_):
            for d in range(nk_):
                _os_compute_total(layer, hw, ys[b], xs[a], ks[d], cnt_p[d], sum_p[d], tmp)
                for e in range(3):
                    ost[e, a, b, d] = tmp[e]
    return np.zeros((1, 1, 1), dtype=np.int64), ost


@_pure
def _combo_compute(k, df, xs, ys, cs, ks, wp, ost, a, b, c, d):
    """Σ compute of a tile-size combo (from the tables of `_compute_tables`). OS: a lower
    bound, its steps and its fills (a c-tile after the first refills every output value's
    partial sum before its chunk steps, through the read port), without the drains' waits
    (exact: `walk._os_totals`)."""
    if df == DF_WS:
        return (k[K_K2] * (xs[a, SP_N] * ys[b, SP_N] * wp[0, c, d] + k[K_PIX] * wp[1, c, d])
                - k[K_PIX] * wp[2, c, d])
    fills = _cdiv(k[K_PS], k[K_WORD]) * (cs[c, CS_N] - 1) * k[K_PIX] * k[K_KO]
    return ost[0, a, b, d] + _cdiv(fills, k[K_RD])
