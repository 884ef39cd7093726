"""Tile statistics per dimension (docs/model.md §2, §3, §3a, §7).

Every count but the cycles is a sum over tiles of products of per-dimension factors, so its
total is a product of per-dimension sums: O(nx + ny + nc + nk) per mapping, never O(tiles).
The statistics of one tile size along one dimension are a small int64 vector: `SP_*` for a
spatial dimension (x over output columns, blocks of Pc; y over rows, blocks of Pr), `CS_*`
for the input channels of a group, `KS_*` for the output channels over all groups. Also here:
the nonzero count `N(x)` of §4 and the buffer footprint of §7, both functions of the tiles.
"""

from __future__ import annotations

import numpy as np

from nnaccel.engines.layout import (
    H_DDEN,
    H_DNUM,
    H_PC,
    H_PR,
    H_PSUM,
    H_RF_PSUMS,
    H_WORD,
    KIND_CONV,
    KIND_WINDOW,
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
    L_W,
    L_WO,
    LOOP_K,
    LOOP_X,
    LOOP_Y,
)

from .base import (
    _BIG,
    _cdiv,
    _fill,
    _kernel,
    _pure,
    _separate,
)

# --- per-dimension statistics ---------------------------------------------------------------
# A spatial dimension (x over output columns with blocks of Pc, y over rows with blocks of Pr).
SP_N = 0  # number of tiles
SP_SIN = 1  # sum over tiles of the input span (rows_in / cols_in, clipped)
SP_MININ = 2  # smallest input span of a tile (0: some tile reads only padding)
SP_FP = 3  # input extent of a full tile for the footprint (`_extent`, §7)
SP_T0 = 4  # size of the first tile
SP_IN0 = 5  # input span of the first tile
SP_TL = 6  # size of the last tile
SP_NBLK = 7  # OS pixel blocks summed over tiles
SP_SF = 8  # sum over tiles and blocks of the block's input-window extent (b-1)*stride + k
SP_BV = 9  # SP_BV + 2i: value of the i-th block size (i < 3), SP_BV + 2i + 1: its count
SP_SEMIT = 15  # final outputs stored per output column or row, summed over tiles (§3a pooling)
SP_NEMIT = 16  # tiles that store any (the others' final store is empty and skipped)
SP_EMITL = 17  # what the last tile stores
SP_PSPAN = 18  # Σ over pooled rows of the tiles their window touches (§3a line buffer)
SP_LEN = 19
# The c dimension (input channels of a group, blocks of Pr in WS).
CS_N = 0
CS_T0 = 1
CS_TL = 2
CS_SNCB = 3  # WS channel blocks summed over c-tiles
CS_RV = 4  # CS_RV + 2i: value of the i-th channel-block size (i < 3), then its count
CS_LEN = 10
# The k dimension (output channels over all groups).
KS_N = 0
KS_T0 = 1
KS_TL = 2
KS_SNG = 3  # groups touched, summed over k-tiles
KS_NGMAX = 4  # most groups one k-tile touches
KS_NG0 = 5  # groups the first k-tile touches
KS_SWN = 6  # WS output-channel blocks, summed over (k-tile, group)
KS_NCH = 7  # OS chunks, summed over (k-tile, group)
KS_LEN = 8


@_pure
def _span_in(o0: int, n: int, stride: int, pad: int, k: int, size: int, up: int, nb: int) -> int:
    """Input rows (or columns) read by output rows [o0, o0+n), clipped to the real input (§3):
    one interval when the windows overlap or touch (k >= stride), else a sum of windows. An
    upsample by `up` (§1a) reads source rows: `y // up` (nb = 1, nearest), or the two
    neighbours `floor((2y + 1 - up) / 2up)` and the next, clipped to the `size / up` rows."""
    if up > 0:
        if nb == 1:
            return (o0 + n - 1) // up - o0 // up + 1
        lo = max(0, (2 * o0 + 1 - up) // (2 * up))
        hi = min(size // up - 1, (2 * (o0 + n - 1) + 1 - up) // (2 * up) + 1)
        return hi - lo + 1
    if k >= stride:
        lo = o0 * stride - pad
        hi = (o0 + n - 1) * stride - pad + k
        v = min(size, hi) - max(0, lo)
        return v if v > 0 else 0
    total = 0
    for o in range(o0, o0 + n):
        lo = o * stride - pad
        v = min(size, lo + k) - max(0, lo)
        total += v if v > 0 else 0
    return total


@_pure
def _nz_prefix(x: int, k2: int, dnum: int, dden: int) -> int:
    """N(x): nonzero weights among a filter's first x input channels (§4, round half up)."""
    return (2 * dnum * x * k2 + dden) // (2 * dden)


@_pure
def _pooled_before(v, pk, ps, pp, nout, npool):
    """Pooled rows j (0 <= j < npool) whose last conv row, min(j·ps - pp + pk - 1, nout - 1),
    is below v (§3a): the pooled rows emitted by the output rows [0, v)."""
    if v >= nout:
        return npool
    a = v + pp - pk + 1  # j·ps < a
    j = -((-a) // ps)  # ceil(a / ps), exact for negative a too
    return min(max(j, 0), npool)


@_pure
def _emit(o0, n, pk, ps, pp, nout, npool):
    """Final outputs per column (row) stored by a tile's columns (rows) [o0, o0+n): all of
    them, or with a fused pooling (pk > 0) the pooled ones whose window ends there (§3a)."""
    if pk == 0:
        return n
    return (_pooled_before(o0 + n, pk, ps, pp, nout, npool)
            - _pooled_before(o0, pk, ps, pp, nout, npool))


@_pure
def _pooled_span(t, pk, ps, pp, nout, npool):
    """Σ over pooled rows j of the tiles (of t rows) that j's window, conv rows
    [max(0, j·ps - pp), min(j·ps - pp + pk - 1, nout - 1)], touches (§3a): a window of
    padding alone belongs to its last row's tile. 0 without pooling."""
    if pk == 0:
        return 0
    total = 0
    for j in range(npool):
        last = min(j * ps - pp + pk - 1, nout - 1)
        first = min(max(0, j * ps - pp), last)
        total += last // t - first // t + 1
    return total


@_pure
def _sp_stats(nout, t, stride, pad, k, nin, p, pk, ps, pp, npool, up, nb, out):
    n = _cdiv(nout, t)
    tl = nout - (n - 1) * t
    sin = 0
    minin = _BIG
    semit = 0
    nemit = 0
    for i in range(n):
        tt = t if i < n - 1 else tl
        s = _span_in(i * t, tt, stride, pad, k, nin, up, nb)
        sin += s
        minin = min(minin, s)
        em = _emit(i * t, tt, pk, ps, pp, nout, npool)
        semit += em
        nemit += 1 if em > 0 else 0
    out[SP_SEMIT] = semit
    out[SP_NEMIT] = nemit
    out[SP_EMITL] = _emit((n - 1) * t, tl, pk, ps, pp, nout, npool)
    out[SP_PSPAN] = _pooled_span(t, pk, ps, pp, nout, npool)
    nfull = n - 1
    out[SP_N] = n
    out[SP_SIN] = sin
    out[SP_MININ] = minin
    out[SP_FP] = min(nin, _extent(t, stride, k))
    out[SP_T0] = min(t, nout)
    out[SP_IN0] = _span_in(np.int64(0), min(t, nout), stride, pad, k, nin, up, nb)
    out[SP_TL] = tl
    # Block sizes over all tiles: full blocks of p, the remainder of a full tile, of the last.
    out[SP_BV] = p
    out[SP_BV + 1] = nfull * (t // p) + tl // p
    out[SP_BV + 2] = t % p
    out[SP_BV + 3] = nfull if t % p > 0 else 0
    out[SP_BV + 4] = tl % p
    out[SP_BV + 5] = 1 if tl % p > 0 else 0
    nblk = 0
    sf = 0
    for i in range(3):
        v = out[SP_BV + 2 * i]
        c = out[SP_BV + 2 * i + 1]
        nblk += c
        if c > 0:
            sf += c * ((v - 1) * stride + k)
    out[SP_NBLK] = nblk
    out[SP_SF] = sf


@_pure
def _c_stats(cgi, t, pr, out):
    n = _cdiv(cgi, t)
    tl = cgi - (n - 1) * t
    nfull = n - 1
    out[CS_N] = n
    out[CS_T0] = min(t, cgi)
    out[CS_TL] = tl
    out[CS_RV] = pr
    out[CS_RV + 1] = nfull * (t // pr) + tl // pr
    out[CS_RV + 2] = t % pr
    out[CS_RV + 3] = nfull if t % pr > 0 else 0
    out[CS_RV + 4] = tl % pr
    out[CS_RV + 5] = 1 if tl % pr > 0 else 0
    out[CS_SNCB] = out[CS_RV + 1] + out[CS_RV + 3] + out[CS_RV + 5]


@_pure
def _k_groups(ik, tk, ko, cgo):
    """Groups of k-tile ik (§2): first group's kg, middle groups' count (kg = CGO), last kg.

    Returns (kg_first, n_middle, kg_last) with kg_last = 0 when the tile lies in one group.
    """
    k0 = ik * tk
    k1 = min(k0 + tk, ko)
    g0 = k0 // cgo
    g1 = (k1 - 1) // cgo
    if g0 == g1:
        return k1 - k0, 0, 0
    return (g0 + 1) * cgo - k0, g1 - g0 - 1, k1 - g1 * cgo


@_pure
def _hist_add(h, kg, mult, p):
    """Blocks of p (and the remainder) of kg channels, `mult` times, into histogram h."""
    h[p] += mult * (kg // p)
    if kg % p > 0:
        h[kg % p] += mult


@_kernel
def _k_stats(g, cgo, t, pc, r, out, hq, cnt_p, sum_p):
    """k statistics; hq[q]: WS blocks of q channels; cnt_p/sum_p: OS chunk-size prefix sums."""
    ko = g * cgo
    n = _cdiv(ko, t)
    _fill(hq, np.int64(0))
    hm = np.zeros(r + 1, dtype=np.int64)
    one = np.int64(1)
    sng = 0
    ngmax = 0
    for ik in range(n):
        kg1, nmid, kg3 = _k_groups(ik, t, ko, cgo)
        ng = 1 + nmid + (1 if kg3 > 0 else 0)
        sng += ng
        ngmax = max(ngmax, ng)
        _hist_add(hq, kg1, one, pc)
        _hist_add(hm, kg1, one, r)
        if nmid > 0:
            _hist_add(hq, cgo, nmid, pc)
            _hist_add(hm, cgo, nmid, r)
        if kg3 > 0:
            _hist_add(hq, kg3, one, pc)
            _hist_add(hm, kg3, one, r)
    kg1, nmid, kg3 = _k_groups(one - 1, t, ko, cgo)
    out[KS_N] = n
    out[KS_T0] = min(t, ko)
    out[KS_TL] = ko - (n - 1) * t
    out[KS_SNG] = sng
    out[KS_NGMAX] = ngmax
    out[KS_NG0] = 1 + nmid + (1 if kg3 > 0 else 0)
    swn = 0
    for q in range(pc + 1):
        swn += hq[q]
    out[KS_SWN] = swn
    nch = 0
    for m in range(r + 1):
        nch += hm[m]
    out[KS_NCH] = nch
    cnt_p[0] = 0
    sum_p[0] = 0
    for m in range(1, r + 1):
        cnt_p[m] = cnt_p[m - 1] + hm[m]
        sum_p[m] = sum_p[m - 1] + m * hm[m]


@_pure
def _sparsity(layer, hw):
    """(hi, lo, NH, NL): nnz(c) is hi for NH channels of a filter and lo for the NL others.

    N(x) is a floor of a line, so its steps take two values q0 and q0+1; a window operation
    has nnz = KH·KW everywhere (NL = 0).
    """
    k2 = layer[L_KH] * layer[L_KW]
    cgi = layer[L_CGI]
    if layer[L_KIND] == KIND_WINDOW:
        return k2, 0, cgi, 0
    q0 = (hw[H_DNUM] * k2) // hw[H_DDEN]
    nh = _nz_prefix(cgi, k2, hw[H_DNUM], hw[H_DDEN]) - q0 * cgi
    return q0 + 1, q0, nh, cgi - nh


@_pure
def _extent(t, stride, k):
    """Input rows t output rows read at most (§7): an interval, or t windows with gaps."""
    return (t - 1) * stride + k if k >= stride else t * k


@_pure
def _footprint(layer, hw, tx, ty, tc, tk, ngmax):
    """Bytes of the double-buffered tiles (§7, §3a)."""
    word = hw[H_WORD]
    rows = min(layer[L_H], _extent(ty, layer[L_SH], layer[L_KH]))
    cols = min(layer[L_W], _extent(tx, layer[L_SW], layer[L_KW]))
    inp = ngmax * tc * rows * cols * word
    wgt = tk * tc * layer[L_KH] * layer[L_KW] * word if layer[L_KIND] == KIND_CONV else 0
    out = tk * ty * tx * hw[H_PSUM]
    res = layer[L_RES] * tk * ty * tx * word  # the fused add's other operands (§3a)
    return 2 * (inp + wgt + out + res)


@_pure
def _line_buffer(layer, hw, tx, ty, tk, k_in_y, k_in_x, x_in_y, y_in_x):
    """Bytes of the fused pooling's line buffer (§3a, §7): one word per pooled value whose
    window has begun in a tile the output path has closed and ends in one it has not.

    At a boundary between y-tiles at most ceil((PKH-1)/PSH) pooled rows are open: over the
    whole pooled width when x runs inside y, else over the columns of one x-tile; for every
    output channel when k runs inside y, else for one k-tile's. The same for x-tiles. The
    flags (0 or 1) say whether the first loop runs inside the second (among loops of more than
    one trip); all 0 gives the least a mapping of these tile sizes can need."""
    pkh = layer[L_PKH]
    if pkh == 0:
        return 0
    pkw = layer[L_PKW]
    psh = layer[L_PSH]
    psw = layer[L_PSW]
    ko = layer[L_G] * layer[L_CGO]
    held = 0
    if ty < layer[L_HO]:
        cols = layer[L_PWO] if x_in_y else min(layer[L_PWO], _cdiv(tx + pkw - 1, psw))
        held += _cdiv(pkh - 1, psh) * cols * (ko if k_in_y else tk)
    if tx < layer[L_WO]:
        rows = layer[L_PHO] if y_in_x else min(layer[L_PHO], _cdiv(ty + pkh - 1, psh))
        held += _cdiv(pkw - 1, psw) * rows * (ko if k_in_x else tk)
    return held * hw[H_WORD]


@_pure
def _line_buffer_least(layer, hw, tx, ty, tk, nx, ny, nk):
    """The least `_line_buffer` over the loop orders (only the order of x, y and k counts)."""
    if layer[L_PKH] == 0:
        return 0
    least = _BIG
    for pk in range(3):
        for px in range(3):
            for py in range(3):
                if pk == px or pk == py or px == py:
                    continue
                k_in_y = 1 if nk > 1 and pk > py else 0
                k_in_x = 1 if nk > 1 and pk > px else 0
                x_in_y = 1 if nx > 1 and px > py else 0
                y_in_x = 1 if ny > 1 and py > px else 0
                least = min(least, _line_buffer(layer, hw, tx, ty, tk, k_in_y, k_in_x, x_in_y,
                                                y_in_x))
    return least


@_pure
def _line_buffer_order(layer, hw, tx, ty, tk, perm, nx, ny, nk):
    """`_line_buffer` of a loop order (perm: outermost first)."""
    px = py = pk = 0
    for p in range(4):
        if perm[p] == LOOP_X:
            px = p
        elif perm[p] == LOOP_Y:
            py = p
        elif perm[p] == LOOP_K:
            pk = p
    k_in_y = 1 if nk > 1 and pk > py else 0
    k_in_x = 1 if nk > 1 and pk > px else 0
    x_in_y = 1 if nx > 1 and px > py else 0
    y_in_x = 1 if ny > 1 and py > px else 0
    return _line_buffer(layer, hw, tx, ty, tk, k_in_y, k_in_x, x_in_y, y_in_x)


@_kernel
def _spatial_arrays(nout, t, stride, pad, k, nin, pk, ps, pp, npool, up, nb):
    """Per tile along x (or y): size, input span and final outputs stored."""
    n = _cdiv(nout, t)
    size = np.empty(n, dtype=np.int64)
    span = np.empty(n, dtype=np.int64)
    emit = np.empty(n, dtype=np.int64)
    for i in range(n):
        size[i] = min(t, nout - i * t)
        span[i] = _span_in(i * t, size[i], stride, pad, k, nin, up, nb)
        emit[i] = _emit(i * t, size[i], pk, ps, pp, nout, npool)
    return size, span, emit


@_kernel
def _ngmax(g, cgo, tk):
    ko = g * cgo
    best = 0
    for ik in range(_cdiv(ko, tk)):
        _, nmid, kg3 = _k_groups(ik, tk, ko, cgo)
        best = max(best, 1 + nmid + (1 if kg3 > 0 else 0))
    return best


@_separate
def _grid_stats(layer, hw, gx, gy, gc, gk):
    pc = hw[H_PC]
    r = hw[H_RF_PSUMS]
    xs = np.empty((gx.size, SP_LEN), dtype=np.int64)
    ys = np.empty((gy.size, SP_LEN), dtype=np.int64)
    cs = np.empty((gc.size, CS_LEN), dtype=np.int64)
    ks = np.empty((gk.size, KS_LEN), dtype=np.int64)
    hq = np.empty((gk.size, pc + 1), dtype=np.int64)
    cnt_p = np.empty((gk.size, r + 1), dtype=np.int64)
    sum_p = np.empty((gk.size, r + 1), dtype=np.int64)
    pooled = layer[L_PKH] > 0
    pkw = layer[L_PKW] if pooled else 0
    pkh = layer[L_PKH] if pooled else 0
    for i in range(gx.size):
        _sp_stats(layer[L_WO], gx[i], layer[L_SW], layer[L_PW], layer[L_KW], layer[L_W], pc,
                  pkw, layer[L_PSW], layer[L_PPW], layer[L_PWO], layer[L_UW], layer[L_UN], xs[i])
    for i in range(gy.size):
        _sp_stats(layer[L_HO], gy[i], layer[L_SH], layer[L_PH], layer[L_KH], layer[L_H],
                  hw[H_PR], pkh, layer[L_PSH], layer[L_PPH], layer[L_PHO], layer[L_UH], layer[L_UN],
                  ys[i])
    for i in range(gc.size):
        _c_stats(layer[L_CGI], gc[i], hw[H_PR], cs[i])
    for i in range(gk.size):
        _k_stats(layer[L_G], layer[L_CGO], gk[i], pc, r, ks[i], hq[i], cnt_p[i], sum_p[i])
    return xs, ys, cs, ks, hq, cnt_p, sum_p
