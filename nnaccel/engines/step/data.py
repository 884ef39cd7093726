"""The data of every tile (docs/model.md §3, §3a): what the DMA is asked to move.

Found by walking: the input rows a tile reads by marking them, the nonzero weights of a
channel by walking the filter's explicit sparsity mask, the pooled values a tile emits by
testing every pooled row and column. No formula of the fast engine is restated here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nnaccel.engines.layout import (
    H_PSUM,
    H_WORD,
    KIND_CONV,
    L_CGI,
    L_CGO,
    L_G,
    L_H,
    L_HO,
    L_KH,
    L_KIND,
    L_KW,
    L_PH,
    L_PHO,
    L_PKH,
    L_PKW,
    L_PPH,
    L_PPW,
    L_PSH,
    L_PSW,
    L_PW,
    L_PWO,
    L_RES,
    L_SH,
    L_SW,
    L_UH,
    L_UN,
    L_UW,
    L_VE,
    L_VR,
    L_W,
    L_WO,
    L_WRES,
    LOOP_C,
    LOOP_K,
    LOOP_X,
    LOOP_Y,
    M_ORDER,
    M_TC,
    M_TK,
    M_TX,
    M_TY,
)


@njit(cache=True)
def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@njit(cache=True)
def _rows_read(o0: int, n: int, s: int, p: int, k: int, size: int, up: int, nb: int) -> int:
    # Input rows (or columns) the outputs [o0, o0+n) read, found by marking every row each
    # kernel tap of each output touches inside the real input: padding is not fetched, and
    # rows no window touches (stride above the kernel) are not either (model.md §3). An
    # upsample by `up` reads its source rows (model.md §1a): the one nearest, or the two
    # neighbours around the output's centre, (y + 1/2) / up - 1/2, inside the source.
    seen = np.zeros(max(size, 1), np.bool_)
    count = 0
    for o in range(o0, o0 + n):
        for j in range(nb if up > 0 else k):
            if up == 0:
                row = o * s - p + j
            elif nb == 1:
                row = o // up
            else:
                row = int(np.floor((o + 0.5) / up - 0.5)) + j
                if row >= size // up:
                    row = -1
            if 0 <= row < size and not seen[row]:
                seen[row] = True
                count += 1
    return count


@njit(cache=True)
def _filter_nnz(cgi: int, k2: int, dnum: int, dden: int) -> np.ndarray:
    # nnz(c) of every input channel of a filter, from its explicit sparsity mask: the
    # filter's cgi*k2 weights, channel-major, are walked with an error accumulator that
    # makes a weight nonzero whenever the running density crosses the next half (the same
    # mask in every filter, model.md §4). Counting the mask's ones per channel is the
    # step engine's own derivation of nnz(c) = N(c+1) - N(c).
    nnz = np.zeros(cgi, np.int64)
    acc = dden  # in units of 1 / (2*dden): starts at one half
    for c in range(cgi):
        for _ in range(k2):
            acc += 2 * dnum
            if acc >= 2 * dden:
                acc -= 2 * dden
                nnz[c] += 1
    return nnz


@njit(cache=True)
def _loops(layer, mapping):
    """Trip counts per loop and the stride of each loop in the tile number t: tile t's index
    in loop l is (t // stride[l]) % sizes[l]; the innermost loop of the order has stride 1."""
    sizes = np.empty(4, np.int64)
    sizes[LOOP_X] = _cdiv(layer[L_WO], mapping[M_TX])
    sizes[LOOP_Y] = _cdiv(layer[L_HO], mapping[M_TY])
    sizes[LOOP_C] = _cdiv(layer[L_CGI], mapping[M_TC])
    sizes[LOOP_K] = _cdiv(layer[L_G] * layer[L_CGO], mapping[M_TK])
    stride = np.empty(4, np.int64)
    n = 1
    for pos in range(3, -1, -1):
        lp = mapping[M_ORDER + pos]
        stride[lp] = n
        n *= sizes[lp]
    return sizes, stride, n


@njit(cache=True)
def _emitted(o0, n, pk, ps, pp, nout, npool):
    # pooled rows whose window ends in the conv rows [o0, o0+n), found by testing each
    count = 0
    for j in range(npool):
        last = min(j * ps - pp + pk - 1, nout - 1)
        if o0 <= last < o0 + n:
            count += 1
    return count


@njit(cache=True)
def _tiles_touched(t, pk, ps, pp, nout, npool):
    # Σ over pooled rows of the tiles of t conv rows that its window's rows touch, found by
    # testing every tile (a window of padding alone belongs to the last row's tile)
    total = 0
    for j in range(npool):
        first = max(0, j * ps - pp)
        last = min(j * ps - pp + pk - 1, nout - 1)
        if first > last:
            first = last
        for i in range(_cdiv(nout, t)):
            if i * t <= last and first < i * t + t:
                total += 1
    return total


@njit(cache=True)
def line_buffer_words(layer, mapping):
    """Line-buffer accesses of a fused pooling (model.md §3a), each way: a pooled value whose
    window spans n tiles is written at the end of each but the last and read back by the
    next: n - 1 times, for every output channel."""
    if layer[L_PKH] == 0:
        return 0
    rows = _tiles_touched(mapping[M_TY], layer[L_PKH], layer[L_PSH], layer[L_PPH],
                          layer[L_HO], layer[L_PHO])
    cols = _tiles_touched(mapping[M_TX], layer[L_PKW], layer[L_PSW], layer[L_PPW],
                          layer[L_WO], layer[L_PWO])
    return layer[L_G] * layer[L_CGO] * (rows * cols - layer[L_PHO] * layer[L_PWO])


@njit(cache=True)
def tile_data(layer, hw, mapping):
    """Per tile t: load(t) bytes and elements, store(t) bytes, the output path's buffer
    reads and ALU operations at that store (model.md §3, §3a)."""
    G = layer[L_G]
    CGI = layer[L_CGI]
    CGO = layer[L_CGO]
    HO = layer[L_HO]
    WO = layer[L_WO]
    RES = layer[L_RES]
    PKH = layer[L_PKH]
    WORD = hw[H_WORD]
    PSUM = hw[H_PSUM]
    PSW = _cdiv(PSUM, WORD)  # buffer words of a partial sum
    TX = mapping[M_TX]
    TY = mapping[M_TY]
    TC = mapping[M_TC]
    TK = mapping[M_TK]
    KT = G * CGO
    sizes, stride, T = _loops(layer, mapping)
    nx, ny, nc, nk = sizes[LOOP_X], sizes[LOOP_Y], sizes[LOOP_C], sizes[LOOP_K]
    sx, sy, sc, sk = stride[LOOP_X], stride[LOOP_Y], stride[LOOP_C], stride[LOOP_K]
    lb = np.zeros(T, np.int64)  # load(t), bytes
    le = np.zeros(T, np.int64)  # load(t), elements (buffer writes on the DMA side)
    sb = np.zeros(T, np.int64)  # store(t), bytes
    se = np.zeros(T, np.int64)  # store(t), buffer reads of the output path
    alu = np.zeros(T, np.int64)  # store(t), ALU operations of the output path (§3a)
    px = py = pc = pk = -1
    for t in range(T):
        ix = (t // sx) % nx
        iy = (t // sy) % ny
        ic = (t // sc) % nc
        ik = (t // sk) % nk
        tx = min(TX, WO - ix * TX)
        ty = min(TY, HO - iy * TY)
        tc = min(TC, CGI - ic * TC)
        k0 = ik * TK
        k1 = min(k0 + TK, KT)
        tk = k1 - k0
        ng = (k1 - 1) // CGO - k0 // CGO + 1
        first = t == 0
        elems = 0
        nbytes = 0
        if first or ix != px or iy != py or ic != pc or (G > 1 and ik != pk):
            n_in = (ng * tc * _rows_read(iy * TY, ty, layer[L_SH], layer[L_PH], layer[L_KH],
                                         layer[L_H], layer[L_UH], layer[L_UN])
                    * _rows_read(ix * TX, tx, layer[L_SW], layer[L_PW], layer[L_KW], layer[L_W],
                                 layer[L_UW], layer[L_UN]))
            elems += n_in
            nbytes += n_in * WORD
        # weights: at a change of c or k tile; at the first tile unless the previous image
        # of a batch left them in the buffer (model.md §5, "Batch")
        w_new = layer[L_WRES] == 0 if first else (ic != pc or ik != pk)
        if layer[L_KIND] == KIND_CONV and w_new:
            n_w = tk * tc * layer[L_KH] * layer[L_KW]
            elems += n_w
            nbytes += n_w * WORD
        opened = first or ix != px or iy != py or ik != pk
        if opened and ic > 0:
            n_p = tk * ty * tx
            elems += n_p * PSW  # buffer words: a partial sum is PSW of them
            nbytes += n_p * PSUM
        if t + 1 == T:
            closed = True
        else:
            closed = (
                ((t + 1) // sx) % nx != ix
                or ((t + 1) // sy) % ny != iy
                or ((t + 1) // sk) % nk != ik
            )
        final = closed and ic == nc - 1
        n_o = tk * ty * tx
        if final and RES > 0:
            # a fused residual add: the other operands of this output tile come in with the
            # tile that finishes it (model.md §3a)
            elems += RES * n_o
            nbytes += RES * n_o * WORD
        le[t] = elems
        lb[t] = nbytes
        if final:
            n_st = n_o
            if PKH > 0:
                rows = _emitted(iy * TY, ty, PKH, layer[L_PSH], layer[L_PPH], HO, layer[L_PHO])
                cols = _emitted(ix * TX, tx, layer[L_PKW], layer[L_PSW], layer[L_PPW], WO,
                                layer[L_PWO])
                n_st = tk * rows * cols
                alu[t] += n_st * PKH * layer[L_PKW]
            alu[t] += RES * n_o
            # a vector kind's work (model.md §1b): per value, and per pixel (a row's
            # reciprocal or rsqrt) of the tile
            alu[t] += layer[L_VE] * n_o + layer[L_VR] * ty * tx
            # the output path reads the tile (held at partial-sum width) and the operands
            se[t] = PSW * n_o + RES * n_o
            sb[t] = n_st * WORD
        elif closed:
            se[t] = PSW * n_o
            sb[t] = n_o * PSUM
        px = ix
        py = iy
        pc = ic
        pk = ik
    return sizes, stride, lb, le, sb, se, alu
