"""The `fast` engine: the machine model of docs/model.md by closed forms, and the tiler's kernel.

Counts. Every count except the cycles is a sum over tiles of products of per-dimension
factors (§3-4, §3a), so its total is a product of per-dimension sums: O(nx + ny + nc + nk) per
mapping, never O(tiles). Per-dimension statistics are small int64 vectors (slots `SP_*`,
`CS_*`, `KS_*`). The loop order only decides how often each operand is fetched: a product of
trip counts, summed up in four flags (`F_*`, `_order_flags`); orders with equal flags share
every count but the cycles.

Cycles. The DMA and double-buffer recurrence of §5 is walked over the tiles (`_walk`), each
tile's compute an O(1) lookup in per-index tables (`_context`). The walk skips repeated loop
iterations exactly: an iteration's effect on the recurrence's state is a composition of max
and +constant, so once an iteration has shifted the whole state by one delay, the following
iterations with the same parameters shift it by that delay again.

Bounds. `lower_bound` never walks: the most of first load + compute + last store, the DMA
channel's busy time, ops / (Pr·Pc), and the stalls every order with c inside the output loops
has at its output closes (`_close_stalls`). `search_grid`, the tiler's branch and bound, uses
them; it lives here because numba's on-disk cache of a function is invalidated only by
changes to its own file, so a kernel in tiler.py calling these functions could run stale
copies of them.

Spec readings where docs/model.md leaves room (the most literal one each time):
* input depends on the k loop whenever G > 1: a change of k-tile refetches the input even if
  the new k-tile touches the same groups;
* OS: a channel with nnz(c) = 0 is skipped (no cycles, no counts), but the once-per
  (block, chunk) partial-sum buffer write (and read when ic > 0) still happens, even if every
  channel of the tile is skipped;
* OS: the `m·a·b` partial-sum buffer read applies to every tile with ic > 0, whether the output
  tile came back from DRAM or stayed in the buffer;
* §3a: the residual operands are part of load(t) of the closing tile t, so they are fetched
  (prefetched during tile t-1) like its input; a final close whose pooled output is empty
  stores 0 bytes, a skipped request, yet still reads its tile from the buffer once;
* a load or store of 0 bytes (also when a tile's input window lies wholly in the padding) is
  skipped: its `eL`/`eS` is 0, as §5 says;
* a mapping's tile sizes are used as given (a size above its loop bound means one tile); the
  footprint (§7) uses the tile sizes, not the clipped tiles.
"""

from __future__ import annotations

import itertools

import numpy as np
from numba import njit

from nnaccel.engines.layout import (
    C_ALU,
    C_ARRAY,
    C_BUF_RD,
    C_BUF_WR,
    C_COMPUTE,
    C_CYCLES,
    C_DRAM_RD,
    C_DRAM_WR,
    C_LEN,
    C_OPS,
    C_RF,
    C_STALL,
    C_TILES,
    DF_OS,
    DF_WS,
    H_BUF,
    H_BW,
    H_DDEN,
    H_DNUM,
    H_LAT,
    H_LEN,
    H_PC,
    H_PORT,
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
    L_LEN,
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
    L_W,
    L_WO,
    LOOP_C,
    LOOP_K,
    LOOP_X,
    LOOP_Y,
    M_DATAFLOW,
    M_LEN,
    M_ORDER,
    M_TC,
    M_TK,
    M_TX,
    M_TY,
)

# --- per-dimension statistics ---------------------------------------------------------------
# A spatial dimension (x over output columns with blocks of Pc, y over rows with blocks of Pr).
SP_N = 0  # number of tiles
SP_SIN = 1  # sum over tiles of the input span (rows_in / cols_in, clipped)
SP_MININ = 2  # smallest input span of a tile (0: some tile reads only padding)
SP_FP = 3  # input extent of a full tile for the footprint, min(size, (T-1)*stride + k)
SP_T0 = 4  # size of the first tile
SP_IN0 = 5  # input span of the first tile
SP_TL = 6  # size of the last tile
SP_NBLK = 7  # OS pixel blocks summed over tiles
SP_SF = 8  # sum over tiles and blocks of the block's input-window extent (b-1)*stride + k
SP_BV = 9  # SP_BV + 2i: value of the i-th block size (i < 3), SP_BV + 2i + 1: its count
SP_SEMIT = 15  # final outputs stored per output column or row, summed over tiles (§3a pooling)
SP_NEMIT = 16  # tiles that store any (the others' final store is empty and skipped)
SP_EMITL = 17  # what the last tile stores
SP_LEN = 18

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

# Loop orders, outermost first, in itertools order; the tiler's candidate index uses it.
ORDERS = np.array(list(itertools.permutations(range(4))), dtype=np.int64)

_BIG = np.int64(2**62)

# Internal kernels are only called from other kernels: no Python wrappers to compile. A
# constant that reaches a kernel call is written np.int64(0), not 0: numba types calls while
# it still infers, and a literal 0 costs a second compiled specialization of the callee.
_kernel = njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, error_model="numpy")
# Kernels that allocate nothing are compiled without the runtime's reference counting: numba
# otherwise counts references to every array argument, at every call, and in the search's
# per-combo loops those atomic counts cost more than the arithmetic.
_pure = njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, error_model="numpy",
             _nrt=False)


@_pure
def _fill(a, v):
    """a[:] = v, as a loop (numba compiles slice assignment slowly)."""
    for i in range(a.size):
        a[i] = v


@_pure
def _copy(dst, src):
    for i in range(src.size):
        dst[i] = src[i]


@_kernel
def _argsort(keys, n):
    """Indices that sort keys[:n] ascending (a shell sort: np.argsort takes seconds to compile)."""
    order = np.arange(n)
    gap = 1
    while gap < n // 3:
        gap = 3 * gap + 1
    while gap > 0:
        for i in range(gap, n):
            v = order[i]
            j = i
            while j >= gap and keys[order[j - gap]] > keys[v]:
                order[j] = order[j - gap]
                j -= gap
            order[j] = v
        gap //= 3
    return order


@_kernel
def _perm(m):
    """The loop order of a mapping as its own array (one array type for every caller)."""
    perm = np.empty(4, dtype=np.int64)
    for p in range(4):
        perm[p] = m[M_ORDER + p]
    return perm


@_pure
def _cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


@_pure
def _xfer(nbytes: int, lat: int, bw: int) -> int:
    """Channel time of one DMA request; an empty request is skipped (§5)."""
    if nbytes <= 0:
        return 0
    return lat + (nbytes + bw - 1) // bw


@_pure
def _span_in(o0: int, n: int, stride: int, pad: int, k: int, size: int) -> int:
    """Input rows (or columns) read by output rows [o0, o0+n), clipped to the real input (§3)."""
    lo = o0 * stride - pad
    hi = (o0 + n - 1) * stride - pad + k
    v = min(size, hi) - max(0, lo)
    return v if v > 0 else 0


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
def _sp_stats(nout, t, stride, pad, k, nin, p, pk, ps, pp, npool, out):
    n = _cdiv(nout, t)
    tl = nout - (n - 1) * t
    sin = 0
    minin = _BIG
    semit = 0
    nemit = 0
    for i in range(n):
        tt = t if i < n - 1 else tl
        s = _span_in(i * t, tt, stride, pad, k, nin)
        sin += s
        minin = min(minin, s)
        em = _emit(i * t, tt, pk, ps, pp, nout, npool)
        semit += em
        nemit += 1 if em > 0 else 0
    out[SP_SEMIT] = semit
    out[SP_NEMIT] = nemit
    out[SP_EMITL] = _emit((n - 1) * t, tl, pk, ps, pp, nout, npool)
    nfull = n - 1
    out[SP_N] = n
    out[SP_SIN] = sin
    out[SP_MININ] = minin
    out[SP_FP] = min(nin, (t - 1) * stride + k)
    out[SP_T0] = min(t, nout)
    out[SP_IN0] = _span_in(np.int64(0), min(t, nout), stride, pad, k, nin)
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
def _chunk_sum(v, w, cnt_p, sum_p, r):
    """Sum over all chunks m (histogram by prefix sums) of max(m·v, w), v > 0."""
    ms = min(r, w // v)
    return w * cnt_p[ms] + v * (sum_p[r] - sum_p[ms])


@_pure
def _os_compute_total(layer, hw, ys, xs, cnt_p, sum_p):
    """Σ over tiles of OS compute: over all blocks (a, b), all chunks m and all channels c.

    Each input channel belongs to exactly one c-tile, so the sum over c-tiles and their
    channels is a sum over the filter's channels: independent of TC. Returns the total and
    its parts per channel: Σ over blocks and chunks of max(m·hi, w), of max(m·lo, w).
    """
    hi, lo, nh, nl = _sparsity(layer, hw)
    r = hw[H_RF_PSUMS]
    port = hw[H_PORT]
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
            w = _cdiv(words, port)
            a_tot += ac * bc * _chunk_sum(hi, w, cnt_p, sum_p, r)
            if lo > 0:
                b_tot += ac * bc * _chunk_sum(lo, w, cnt_p, sum_p, r)
    return nh * a_tot + nl * b_tot, a_tot, b_tot


@_pure
def _ws_weight_load_one(hw, tc, hq):
    """Σ over (k-tile, group) of the WS weight-load cycles of one c-tile of tc channels."""
    port = hw[H_PORT]
    pr = hw[H_PR]
    total = 0
    for i in range(2):
        rv = pr if i == 0 else tc % pr
        rc = tc // pr if i == 0 else (1 if tc % pr > 0 else 0)
        if rc == 0:
            continue
        for q in range(1, hw[H_PC] + 1):
            if hq[q] > 0:
                total += rc * hq[q] * _cdiv(rv * q, port)
    return total


@_pure
def _ws_weight_load_total(hw, cs, hq):
    """Σ over (c-tile, k-tile, group) of the WS weight-load cycles Σ_cb Σ_kb ceil(r·q/PORT)."""
    port = hw[H_PORT]
    pc = hw[H_PC]
    total = 0
    for i in range(3):
        rv = cs[CS_RV + 2 * i]
        rc = cs[CS_RV + 2 * i + 1]
        if rc == 0:
            continue
        for q in range(1, pc + 1):
            if hq[q] > 0:
                total += rc * hq[q] * _cdiv(rv * q, port)
    return total


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
K_LEN = 19


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
    out[C_ALU] = ko * (k[K_RES] * pix + k[K_POOL2] * ys[b, SP_SEMIT] * xs[a, SP_SEMIT])
    if df == DF_WS:
        ops = k2 * pix * cgi * ko
        out[C_OPS] = ops
        out[C_RF] = k2 * nxy * cgi * ko + ops
        out[C_ARRAY] = ops
        # weights + inputs + partial sums, less the first contribution of every output value
        out[C_BUF_RD] = (
            k2 * (nxy * cgi * ko + pix * cgi * ks[d, KS_SWN] + pix * cs[c, CS_SNCB] * ko) - pix * ko
        )
        out[C_BUF_WR] = k2 * pix * cs[c, CS_SNCB] * ko
        return
    windows = ks[d, KS_NCH] * ys[b, SP_SF] * xs[a, SP_SF]  # Σ words over one channel's steps
    ops = pix * ko * k[K_NZ]
    array = k[K_STEP] * windows
    if k[K_CONV]:
        array += ys[b, SP_NBLK] * xs[a, SP_NBLK] * ko * k[K_NZ]  # weight broadcasts
    out[C_OPS] = ops
    out[C_RF] = ops
    out[C_ARRAY] = array
    out[C_BUF_RD] = array + (nc - 1) * pix * ko
    out[C_BUF_WR] = nc * pix * ko


@_pure
def _trip(loop, nx, ny, nc, nk):
    if loop == LOOP_X:
        return nx
    if loop == LOOP_Y:
        return ny
    if loop == LOOP_C:
        return nc
    return nk


@_pure
def _levels(perm, nx, ny, nc, nk, grouped):
    """(d_in, d_w, d_out): per operand the level of the innermost loop it depends on whose
    trip exceeds 1, or -1. The operand is fetched exactly at the tiles whose incremented level
    is at or above it (§3 "Reuse"): a change there resets every inner loop, a change below
    touches none of its loops. Input depends on x, y, c (and k when G > 1), weights on c, k,
    the output on x, y, k.
    """
    d_in = -1
    d_w = -1
    d_out = -1
    for p in range(4):
        lp = perm[p]
        if _trip(lp, nx, ny, nc, nk) == 1:
            continue
        if lp != LOOP_K or grouped:
            d_in = p
        if lp == LOOP_C or lp == LOOP_K:
            d_w = p
        if lp != LOOP_C:
            d_out = p
    return d_in, d_w, d_out

# Order flags: how a loop order multiplies the DMA traffic (computed by `_order_flags`).
F_KIN = 1  # k multiplies the input traffic (G = 1 and k above the input's innermost loop)
F_XW = 2  # x multiplies the weight traffic
F_YW = 4  # y multiplies the weight traffic
F_COUT = 8  # c above the output's innermost loop: partial sums spilled and read back


@njit(cache=True, error_model="numpy")
def _order_flags(perm, nx, ny, nc, nk, grouped):
    """F_* flags of a loop order. With d the level of an operand's innermost dependent loop
    (trip > 1), the operand is fetched once per index combination of levels 0..d, so a loop
    it does not depend on at a level above d multiplies its traffic by its trip count.
    """
    d_in, d_w, d_out = _levels(perm, nx, ny, nc, nk, grouped)
    flags = 0
    for p in range(4):
        lp = perm[p]
        if _trip(lp, nx, ny, nc, nk) == 1:
            continue
        if p <= d_in and lp == LOOP_K and not grouped:
            flags |= F_KIN
        if p <= d_w and lp == LOOP_X:
            flags |= F_XW
        if p <= d_w and lp == LOOP_Y:
            flags |= F_YW
        if p <= d_out and lp == LOOP_C:
            flags |= F_COUT
    return flags


@_pure
def _traffic(k, flags, xs, ys, cs, ks, a, b, c, d):
    """What a loop order (its F_* flags) moves: elements of input, weights, partial sums (each
    way), the add's operands and final outputs stored; and the loads and stores that are not
    empty (the loads a lower bound)."""
    nx = xs[a, SP_N]
    ny = ys[b, SP_N]
    nc = cs[c, CS_N]
    nk = ks[d, KS_N]
    ko = k[K_KO]
    mult_in = nk if flags & F_KIN else 1
    mult_w = (nx if flags & F_XW else 1) * (ny if flags & F_YW else 1)
    c_outer = (flags & F_COUT) != 0
    in_el = mult_in * ys[b, SP_SIN] * xs[a, SP_SIN] * k[K_CGI]
    if k[K_GROUPED]:
        in_el *= ks[d, KS_SNG]
    w_el = mult_w * k[K_CGI] * ko * k[K_K2] if k[K_CONV] else 0
    out_el = k[K_PIX] * ko
    psum_el = (nc - 1) * out_el if c_outer else 0  # spilled, and read back as often
    res_el = k[K_RES] * out_el  # §3a: loaded by the final closes
    final_el = ko * ys[b, SP_SEMIT] * xs[a, SP_SEMIT]  # stored by the final closes
    # Stores: every spill, and the final closes that store anything (a fused pooling may
    # leave a tile nothing to store). Every tile loads something when no input span is
    # empty: its incremented loop changes the input or, for k in a conv, the weights.
    n_store = nx * ny * nk * (nc - 1) if c_outer else 0
    n_store += nk * ys[b, SP_NEMIT] * xs[a, SP_NEMIT]
    if xs[a, SP_MININ] > 0 and ys[b, SP_MININ] > 0:
        n_load = nx * ny * nc * nk
    elif k[K_CONV]:
        n_load = nc * nk * mult_w  # the weight fetches
    else:
        n_load = 0
    return in_el, w_el, psum_el, res_el, final_el, n_load, n_store


@_pure
def _busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store):
    """The DMA channel's busy time, at least: every request's latency, the bytes at the
    bandwidth."""
    word = k[K_WORD]
    ps = k[K_PS]
    moved = word * (in_el + w_el + res_el + final_el) + 2 * ps * psum_el
    return k[K_LAT] * (n_load + n_store) + _cdiv(moved, k[K_BW])


@_pure
def _dma_flags(k, flags, xs, ys, cs, ks, a, b, c, d, out):
    """`_dma` for a loop order given by its F_* flags (all that the counts depend on).

    Returns (cycle lower bound, lower bound on the number of DMA requests, channel time of
    the last store, the bound's chain part: first load + compute + last store).
    """
    word = k[K_WORD]
    ps = k[K_PS]
    in_el, w_el, psum_el, res_el, final_el, n_load, n_store = _traffic(
        k, flags, xs, ys, cs, ks, a, b, c, d)
    out_el = k[K_PIX] * k[K_KO]
    out[C_DRAM_RD] = word * (in_el + w_el + res_el) + ps * psum_el
    out[C_DRAM_WR] = word * final_el + ps * psum_el
    out[C_BUF_WR] += in_el + w_el + psum_el + res_el
    out[C_BUF_RD] += out_el + psum_el + res_el  # each close reads its tile once (§3a)
    busy = _busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store)
    store_last, chain, macs = _chain(k, xs, ys, cs, ks, a, b, c, d, out)
    return max(busy, chain, macs), n_load + n_store, store_last, chain


@_pure
def _chain(k, xs, ys, cs, ks, a, b, c, d, out):
    """(last store's channel time, first load + compute + last store, ops / (Pr·Pc)): the
    array cannot start before the first tile is in, the last store not before it is done."""
    word = k[K_WORD]
    lat = k[K_LAT]
    bw = k[K_BW]
    load0 = ks[d, KS_NG0] * cs[c, CS_T0] * ys[b, SP_IN0] * xs[a, SP_IN0]
    if k[K_CONV]:
        load0 += ks[d, KS_T0] * cs[c, CS_T0] * k[K_K2]
    store_last = _xfer(ks[d, KS_TL] * ys[b, SP_EMITL] * xs[a, SP_EMITL] * word, lat, bw)
    chain = _xfer(load0 * word, lat, bw) + out[C_COMPUTE] + store_last
    return store_last, chain, _cdiv(out[C_OPS], k[K_PRPC])


@_pure
def _orders_bound(k, flags_tab, mask, ncls, xs, ys, cs, ks, a, b, c, d, chain, stalls, macs):
    """The least cycle bound over a combo's classes of loop orders (as `_dma_flags` and
    `_close_stalls` bound each)."""
    least = _BIG
    for j in range(ncls):
        f = flags_tab[mask, j]
        in_el, w_el, psum_el, res_el, final_el, n_load, n_store = _traffic(
            k, f, xs, ys, cs, ks, a, b, c, d)
        bound = max(_busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store), chain,
                    macs)
        if (f & F_COUT) == 0:
            bound = max(bound, chain + stalls)
        least = min(least, bound)
    return least


@_pure
def _footprint(layer, hw, tx, ty, tc, tk, ngmax):
    """Bytes of the double-buffered tiles (§7, §3a)."""
    word = hw[H_WORD]
    rows = min(layer[L_H], (ty - 1) * layer[L_SH] + layer[L_KH])
    cols = min(layer[L_W], (tx - 1) * layer[L_SW] + layer[L_KW])
    inp = ngmax * tc * rows * cols * word
    wgt = tk * tc * layer[L_KH] * layer[L_KW] * word if layer[L_KIND] == KIND_CONV else 0
    out = tk * ty * tx * hw[H_PSUM]
    res = layer[L_RES] * tk * ty * tx * word  # the fused add's other operands (§3a)
    return 2 * (inp + wgt + out + res)


@_pure
def _ws_group_load(tc, kg, pr, pc, port):
    """Σ_cb Σ_kb ceil(r·q/PORT) for one group: blocks of Pr channels by Pc output channels."""
    total = 0
    for i in range(2):
        r = pr if i == 0 else tc % pr
        nr = tc // pr if i == 0 else (1 if tc % pr > 0 else 0)
        if nr == 0:
            continue
        for j in range(2):
            q = pc if j == 0 else kg % pc
            nq = kg // pc if j == 0 else (1 if kg % pc > 0 else 0)
            if nq > 0:
                total += nr * nq * _cdiv(r * q, port)
    return total


@_pure
def _os_group_sum(kg, a, b, layer, hw, hi, lo, res):
    """Σ over the chunks of one group and over one (a x b) block of max(m·nnz, w): res[0] for
    nnz = hi, res[1] for nnz = lo (0 when lo = 0: those channels are skipped)."""
    r = hw[H_RF_PSUMS]
    words = ((a - 1) * layer[L_SH] + layer[L_KH]) * ((b - 1) * layer[L_SW] + layer[L_KW])
    w = _cdiv(words, hw[H_PORT])
    for j in range(2):
        m = r if j == 0 else kg % r
        nm = kg // r if j == 0 else (1 if kg % r > 0 else 0)
        if nm == 0:
            continue
        res[0] += nm * max(m * hi, w)
        if lo > 0:
            res[1] += nm * max(m * lo, w)


@_pure
def _block_types(t, p, vals, cnts):
    vals[0] = p
    cnts[0] = t // p
    vals[1] = t % p
    cnts[1] = 1 if t % p > 0 else 0


@_kernel
def _os_tables(layer, hw, txs, tys, nk, tk, ko, cgo):
    """A[ys, xs, ik], B[...]: OS compute of a tile = n_hi(ic)·A + n_lo(ic)·B."""
    hi, lo, _, _ = _sparsity(layer, hw)
    a_tab = np.zeros((2, 2, nk), dtype=np.int64)
    b_tab = np.zeros((2, 2, nk), dtype=np.int64)
    av = np.empty(2, dtype=np.int64)
    ac = np.empty(2, dtype=np.int64)
    bv = np.empty(2, dtype=np.int64)
    bc = np.empty(2, dtype=np.int64)
    res = np.zeros(2, dtype=np.int64)
    for sy in range(2):
        _block_types(tys[sy], hw[H_PR], av, ac)
        for sx in range(2):
            _block_types(txs[sx], hw[H_PC], bv, bc)
            prev = (-1, -1, -1)
            for ik in range(nk):
                kg1, nmid, kg3 = _k_groups(ik, tk, ko, cgo)
                if (kg1, nmid, kg3) == prev:  # same groups as the k-tile before
                    a_tab[sy, sx, ik] = a_tab[sy, sx, ik - 1]
                    b_tab[sy, sx, ik] = b_tab[sy, sx, ik - 1]
                    continue
                prev = (kg1, nmid, kg3)
                sa = 0
                sb = 0
                for i in range(2):
                    for j in range(2):
                        mult = ac[i] * bc[j]
                        if mult == 0:
                            continue
                        _fill(res, np.int64(0))
                        _os_group_sum(kg1, av[i], bv[j], layer, hw, hi, lo, res)
                        if kg3 > 0:
                            _os_group_sum(kg3, av[i], bv[j], layer, hw, hi, lo, res)
                        ra = res[0]
                        rb = res[1]
                        if nmid > 0:
                            _fill(res, np.int64(0))
                            _os_group_sum(cgo, av[i], bv[j], layer, hw, hi, lo, res)
                            ra += nmid * res[0]
                            rb += nmid * res[1]
                        sa += mult * ra
                        sb += mult * rb
                a_tab[sy, sx, ik] = sa
                b_tab[sy, sx, ik] = sb
    return a_tab, b_tab


@_kernel
def _ws_tables(hw, tcs, nk, tk, ko, cgo):
    """WP[tc_sel, ik] (weight-load cycles of one kernel position) and WN[ik] (blocks of q)."""
    pr = hw[H_PR]
    pc = hw[H_PC]
    port = hw[H_PORT]
    wp = np.zeros((2, nk), dtype=np.int64)
    wn = np.zeros(nk, dtype=np.int64)
    prev = (-1, -1, -1)
    for ik in range(nk):
        kg1, nmid, kg3 = _k_groups(ik, tk, ko, cgo)
        if (kg1, nmid, kg3) == prev:  # same groups as the k-tile before
            wn[ik] = wn[ik - 1]
            wp[0, ik] = wp[0, ik - 1]
            wp[1, ik] = wp[1, ik - 1]
            continue
        prev = (kg1, nmid, kg3)
        wn[ik] = _cdiv(kg1, pc) + nmid * _cdiv(cgo, pc) + (_cdiv(kg3, pc) if kg3 > 0 else 0)
        for s in range(2):
            v = _ws_group_load(tcs[s], kg1, pr, pc, port)
            if nmid > 0:
                v += nmid * _ws_group_load(tcs[s], cgo, pr, pc, port)
            if kg3 > 0:
                v += _ws_group_load(tcs[s], kg3, pr, pc, port)
            wp[s, ik] = v
    return wp, wn


@_kernel
def _spatial_arrays(nout, t, stride, pad, k, nin, pk, ps, pp, npool):
    """Per tile along x (or y): size, input span and final outputs stored."""
    n = _cdiv(nout, t)
    size = np.empty(n, dtype=np.int64)
    span = np.empty(n, dtype=np.int64)
    emit = np.empty(n, dtype=np.int64)
    for i in range(n):
        size[i] = min(t, nout - i * t)
        span[i] = _span_in(i * t, size[i], stride, pad, k, nin)
        emit[i] = _emit(i * t, size[i], pk, ps, pp, nout, npool)
    return size, span, emit


@_kernel
def _context(layer, hw, ws, tx, ty, tcv, tkv):
    """Per-index tables of a tile-size combo, shared by every loop order: tile sizes, input
    spans, nonzero-weight classes, groups, compute tables and runs of equal indices."""
    conv = layer[L_KIND] == KIND_CONV
    k2 = layer[L_KH] * layer[L_KW]
    cgi = layer[L_CGI]
    cgo = layer[L_CGO]
    ko = layer[L_G] * cgo
    pooled = layer[L_PKH] > 0
    tx_, cols, ex_ = _spatial_arrays(layer[L_WO], tx, layer[L_SW], layer[L_PW], layer[L_KW],
                                     layer[L_W], layer[L_PKW] if pooled else 0, layer[L_PSW],
                                     layer[L_PPW], layer[L_PWO])
    ty_, rows, ey_ = _spatial_arrays(layer[L_HO], ty, layer[L_SH], layer[L_PH], layer[L_KH],
                                     layer[L_H], layer[L_PKH] if pooled else 0, layer[L_PSH],
                                     layer[L_PPH], layer[L_PHO])
    nx = tx_.size
    ny = ty_.size
    nc = _cdiv(cgi, tcv)
    tc_ = np.empty(nc, dtype=np.int64)
    nhi = np.empty(nc, dtype=np.int64)
    nlo = np.empty(nc, dtype=np.int64)
    hi, lo, _, _ = _sparsity(layer, hw)
    for ic in range(nc):
        c0 = ic * tcv
        tc_[ic] = min(tcv, cgi - c0)
        if conv:
            nz = (_nz_prefix(c0 + tc_[ic], k2, hw[H_DNUM], hw[H_DDEN])
                  - _nz_prefix(c0, k2, hw[H_DNUM], hw[H_DDEN]))
            nhi[ic] = nz - lo * tc_[ic]
            nlo[ic] = tc_[ic] - nhi[ic]
        else:
            nhi[ic] = tc_[ic]
            nlo[ic] = 0
    nk = _cdiv(ko, tkv)
    tk_ = np.empty(nk, dtype=np.int64)
    ng_ = np.empty(nk, dtype=np.int64)
    for ik in range(nk):
        tk_[ik] = min(tkv, ko - ik * tkv)
        kg1, nmid, kg3 = _k_groups(ik, tkv, ko, cgo)
        ng_[ik] = 1 + nmid + (1 if kg3 > 0 else 0)
    # Size classes: index 0 is a full tile, 1 the last one (the only one when n = 1).
    sizes = np.empty(2, dtype=np.int64)
    if ws:
        sizes[0] = tcv
        sizes[1] = tc_[nc - 1]
        wp, wn = _ws_tables(hw, sizes, nk, tkv, ko, cgo)
        ncb = np.empty(2, dtype=np.int64)
        ncb[0] = _cdiv(sizes[0], hw[H_PR])
        ncb[1] = _cdiv(sizes[1], hw[H_PR])
        a_tab = np.zeros((2, 2, 1), dtype=np.int64)
        b_tab = a_tab
    else:
        txs = np.empty(2, dtype=np.int64)
        tys = np.empty(2, dtype=np.int64)
        txs[0] = tx
        txs[1] = tx_[nx - 1]
        tys[0] = ty
        tys[1] = ty_[ny - 1]
        a_tab, b_tab = _os_tables(layer, hw, txs, tys, nk, tkv, ko, cgo)
        wp = np.zeros((2, 1), dtype=np.int64)
        wn = np.zeros(1, dtype=np.int64)
        ncb = np.zeros(2, dtype=np.int64)

    # Per loop: the period of its indices' parameters and how far each index keeps it, for
    # skipping repeated iterations (see `_walk`).
    runs = np.empty((4, max(nx, ny, nc, nk)), dtype=np.int64)
    periods = np.empty(4, dtype=np.int64)
    sig = np.empty((nx, 3), dtype=np.int64)
    for i in range(nx):
        sig[i, 0] = tx_[i]
        sig[i, 1] = cols[i]
        sig[i, 2] = ex_[i]
    periods[LOOP_X] = _periodic_runs(sig, nx, runs[LOOP_X])
    sig = np.empty((ny, 3), dtype=np.int64)
    for i in range(ny):
        sig[i, 0] = ty_[i]
        sig[i, 1] = rows[i]
        sig[i, 2] = ey_[i]
    periods[LOOP_Y] = _periodic_runs(sig, ny, runs[LOOP_Y])
    sig = np.empty((nc, 3), dtype=np.int64)
    for i in range(nc):
        sig[i, 0] = tc_[i]
        sig[i, 1] = nhi[i]
        sig[i, 2] = nlo[i]
    periods[LOOP_C] = _periodic_runs(sig, nc, runs[LOOP_C])
    sig = np.zeros((nk, 10), dtype=np.int64)
    for i in range(nk):
        sig[i, 0] = tk_[i]
        sig[i, 1] = ng_[i]
        if ws:
            sig[i, 2] = wp[0, i]
            sig[i, 3] = wp[1, i]
            sig[i, 4] = wn[i]
        else:
            for sy in range(2):
                for sx in range(2):
                    sig[i, 2 + 2 * sy + sx] = a_tab[sy, sx, i]
                    sig[i, 6 + 2 * sy + sx] = b_tab[sy, sx, i]
    periods[LOOP_K] = _periodic_runs(sig, nk, runs[LOOP_K])
    return (tx_, cols, ex_, ty_, rows, ey_, tc_, nhi, nlo, tk_, ng_, wp, wn, ncb, a_tab, b_tab,
            runs, periods)


_MAX_PERIOD = 16  # longest period of a loop's parameters that skipping looks for


@_pure
def _same(sig, i, j):
    for f in range(sig.shape[1]):
        if sig[i, f] != sig[j, f]:
            return False
    return True


@_pure
def _periodic_runs(sig, n, out):
    """The period P of a loop's per-index parameters (rows of `sig`) and, in `out`, how far it
    holds: out[m] is the last j such that every index in [m, j] has the parameters of the
    index P before it (m - 1 if m itself does not). The first and last index never repeat
    another (the first reads no partial sums; the last closes differently, and is the last
    size class). P is the smallest in 1.._MAX_PERIOD that holds over all other indices (the
    nonzero-weight counts of c-tiles repeat with a period up to DDEN), else 1.
    """
    period = 1
    for p in range(1, min(_MAX_PERIOD, n) + 1):
        ok = True
        for m in range(p + 1, n - 1):
            if not _same(sig, m, m - p):
                ok = False
                break
        if ok:
            period = p
            break
    out[n - 1] = n - 2
    for m in range(n - 2, -1, -1):
        if m - period >= 1 and _same(sig, m, m - period):
            out[m] = out[m + 1]
        else:
            out[m] = m - 1
    return period


@_kernel
def _walk(layer, hw, ws, perm, ctx, thr, comp_total, n_req, bytes_total, store_last):
    """The cycles of one loop order of a combo (`_context`): the recurrence of §5 over its
    tiles. Returns -1 as soon as they are sure to exceed `thr`: the array still has the rest of
    `comp_total` to compute and then the last store (`store_last`) to wait for; the channel
    still has at least the requests of `n_req` not yet made and the bytes of `bytes_total` not
    yet moved.

    Skipping, exactly. A *macro-step* at level q is one iteration of that loop (all inner
    tiles) plus the load it issues for the next one. Its effect on the state (eL[t], ce[t-1],
    eS[t-1], eS[t-2], channel free time) is a composition of max and +constant, so it is the
    same map for two iterations whose indices have equal parameters (same run), and it
    commutes with adding one delay to every live time (a skipped request's 0 never decides a
    max: each max also takes ce or the channel time). So when an iteration moved the whole
    state by one delay and the next iterations are the same map, each of them moves it by that
    delay again: they are skipped in one step, with their compute, requests and bytes.
    """
    (tx_, cols, ex_, ty_, rows, ey_, tc_, nhi, nlo, tk_, ng_, wp, wn, ncb, a_tab, b_tab, runs,
     periods) = ctx
    res = layer[L_RES]
    word = hw[H_WORD]
    ps = hw[H_PSUM]
    lat = hw[H_LAT]
    bw = hw[H_BW]
    conv = layer[L_KIND] == KIND_CONV
    grouped = layer[L_G] > 1
    k2 = layer[L_KH] * layer[L_KW]
    nx = tx_.size
    ny = ty_.size
    nc = tc_.size
    nk = tk_.size
    d_in, d_w, d_out = _levels(perm, nx, ny, nc, nk, grouped)
    n_lvl = np.empty(4, dtype=np.int64)
    pos = np.empty(4, dtype=np.int64)
    inner = np.empty(4, dtype=np.int64)  # tiles per iteration of each level
    inner[3] = 1
    for p in range(4):
        n_lvl[p] = _trip(perm[p], nx, ny, nc, nk)
        pos[perm[p]] = p
    for p in range(2, -1, -1):
        inner[p] = inner[p + 1] * n_lvl[p + 1]
    px = pos[LOOP_X]
    py = pos[LOOP_Y]
    pcc = pos[LOOP_C]
    pk = pos[LOOP_K]
    idx = np.zeros(4, dtype=np.int64)
    total = nx * ny * nc * nk
    # Checkpoints per level and index modulo the level's period: the index, the state and the
    # running totals at the start of that iteration.
    per = np.empty(4, dtype=np.int64)
    for p in range(4):
        per[p] = periods[perm[p]]
    ck_idx = np.empty((4, _MAX_PERIOD), dtype=np.int64)
    for q in range(4):
        _fill(ck_idx[q], np.int64(-1))
    ck = np.zeros((4, _MAX_PERIOD, 8), dtype=np.int64)

    load = ng_[0] * tc_[0] * rows[0] * cols[0] * word
    if conv:
        load += tk_[0] * tc_[0] * k2 * word
    if res > 0 and nc == 1 and _next_level(idx, n_lvl) <= d_out:
        load += res * tk_[0] * ty_[0] * tx_[0] * word  # tile 0 closes final (§3a)
    e_load = _xfer(load, lat, bw)  # eL[t] of the current tile
    dma = e_load
    bounded = thr < _BIG
    comp_done = 0
    req_done = 1 if load > 0 else 0
    bytes_done = load
    ce_prev = np.int64(0)  # ce[t-1]
    es_1 = np.int64(0)  # eS[t-1]
    es_2 = np.int64(0)  # eS[t-2]
    ix = 0
    iy = 0
    ic = 0
    ik = 0
    lvl = 0  # the level whose index incremented to reach the current tile
    t = 0
    while True:
        # The current tile starts an iteration of every level from lvl inwards.
        for q in range(lvl, 4):
            i = idx[q]
            pq = per[q]
            if i == 0:
                for r in range(_MAX_PERIOD):  # a new pass of this loop: older checkpoints
                    ck_idx[q, r] = -1  # do not apply
            elif q == lvl and ck_idx[q, i % pq] == i - pq:
                reach = runs[perm[q], i]  # the period holds for indices i..reach
                reps = (reach - i) // pq  # whole periods that can be skipped
                if reps > 0:
                    s0 = i % pq
                    delta = ce_prev - ck[q, s0, 1]
                    ok = dma - ck[q, s0, 4] == delta
                    ok = ok and _shifted(e_load, ck[q, s0, 0], delta)
                    ok = ok and _shifted(es_1, ck[q, s0, 2], delta)
                    ok = ok and _shifted(es_2, ck[q, s0, 3], delta)
                    if ok:
                        comp_done += reps * (comp_done - ck[q, s0, 5])
                        req_done += reps * (req_done - ck[q, s0, 6])
                        bytes_done += reps * (bytes_done - ck[q, s0, 7])
                        shift = reps * delta
                        ce_prev += shift
                        dma += shift
                        if e_load > 0:
                            e_load += shift
                        if es_1 > 0:
                            es_1 += shift
                        if es_2 > 0:
                            es_2 += shift
                        idx[q] = i + reps * pq
                        t += reps * pq * inner[q]
                        ix = idx[px]
                        iy = idx[py]
                        ic = idx[pcc]
                        ik = idx[pk]
                        for r in range(_MAX_PERIOD):
                            ck_idx[q, r] = -1
            slot = idx[q] % pq
            ck_idx[q, slot] = idx[q]
            ck[q, slot, 0] = e_load
            ck[q, slot, 1] = ce_prev
            ck[q, slot, 2] = es_1
            ck[q, slot, 3] = es_2
            ck[q, slot, 4] = dma
            ck[q, slot, 5] = comp_done
            ck[q, slot, 6] = req_done
            ck[q, slot, 7] = bytes_done

        if ws:
            s = 0 if ic < nc - 1 else 1
            comp = k2 * (wp[s, ik] + tx_[ix] * ty_[iy] * ncb[s] * wn[ik])
        else:
            sy = 0 if iy < ny - 1 else 1
            sx = 0 if ix < nx - 1 else 1
            comp = nhi[ic] * a_tab[sy, sx, ik] + nlo[ic] * b_tab[sy, sx, ik]
        cs = max(e_load, ce_prev, es_2)
        ce = cs + comp
        comp_done += comp
        e_next = np.int64(0)
        last = t + 1 == total
        closed = True
        jx = ix
        jy = iy
        jc = ic
        jk = ik
        if not last:
            p = 3
            while True:  # odometer: p ends as the level that incremented
                idx[p] += 1
                if idx[p] < n_lvl[p]:
                    break
                idx[p] = 0
                p -= 1
            lvl = p
            jx = idx[px]
            jy = idx[py]
            jc = idx[pcc]
            jk = idx[pk]
            closed = p <= d_out
            load = 0
            if p <= d_in:
                load += ng_[jk] * tc_[jc] * rows[jy] * cols[jx] * word
            if conv and p <= d_w:
                load += tk_[jk] * tc_[jc] * k2 * word
            if p <= d_out and jc > 0:
                load += tk_[jk] * ty_[jy] * tx_[jx] * ps
            if res > 0 and jc == nc - 1 and _next_level(idx, n_lvl) <= d_out:
                # the next tile closes its output final: it loads the add's operands (§3a)
                load += res * tk_[jk] * ty_[jy] * tx_[jx] * word
            if load > 0:
                e_next = max(dma, ce_prev) + _xfer(load, lat, bw)
                dma = e_next
                req_done += 1
                bytes_done += load
        es = np.int64(0)
        if closed:
            if ic == nc - 1:  # final: what the output path emits (§3a)
                store = tk_[ik] * ey_[iy] * ex_[ix] * word
            else:  # a partial-sum spill
                store = tk_[ik] * ty_[iy] * tx_[ix] * ps
            if store > 0:
                es = max(dma, ce) + _xfer(store, lat, bw)
                dma = es
                req_done += 1
                bytes_done += store
        es_2 = es_1
        es_1 = es
        ce_prev = ce
        e_load = e_next
        if bounded:
            if ce + (comp_total - comp_done) + store_last > thr:
                return -1
            rest = lat * max(n_req - req_done, 0) + _cdiv(max(bytes_total - bytes_done, 0), bw)
            if dma + rest > thr:
                return -1
        if last:
            return max(ce_prev, dma)
        ix = jx
        iy = jy
        ic = jc
        ik = jk
        t += 1


@_pure
def _next_level(idx, n_lvl):
    """The level that increments after the tile at `idx`: -1 after the last tile, which
    closes; a tile closes its output tile when that level is at or above d_out (§3)."""
    for p in range(3, -1, -1):
        if idx[p] + 1 < n_lvl[p]:
            return p
    return -1


@_pure
def _shifted(now, then, delta):
    """A state time moved by delta, or a skipped request's 0 both times."""
    if now == 0 and then == 0:
        return True
    return then > 0 and now - then == delta


@_pure
def _close_stalls(k, df, xs, ys, cs, ks, a, b, c, d, wp1, osa, osb):
    """Stalls every order with c inside the output loops must have, beyond first load +
    compute + last store (0 when nc = 1).

    With c innermost among the loops that move, each output tile's visit is nc tiles and
    closes at its last one. For the first tile t of each later visit, load(t+1) is issued after
    ce[t-1] and behind store(t-1), and tile t+1 starts after it and after tile t: with
    D_t = ce[t] - ce[t-1], D_t + D_{t+1} >= max(c_t, S_{t-1} + L_{t+1}) + c_{t+1}. These pairs
    are disjoint, so the layer takes at least Σ max(0, S + L - c) more than its compute, and
    Σ max(0, .) >= max(0, Σ .). The sums over the visits are closed forms: a sum of channel
    times is at least its latencies plus its bytes at the bandwidth, and the first tiles'
    compute is at most that of every visit's first tile.
    """
    nc = cs[c, CS_N]
    if nc < 2:
        return 0
    word = k[K_WORD]
    lat = k[K_LAT]
    bw = k[K_BW]
    k2 = k[K_K2]
    ko = k[K_KO]
    nx = xs[a, SP_N]
    ny = ys[b, SP_N]
    nk = ks[d, KS_N]
    visits = nx * ny * nk
    # The final stores of all visits but the last.
    stored = ko * ys[b, SP_SEMIT] * xs[a, SP_SEMIT] * word
    n_stored = nk * ys[b, SP_NEMIT] * xs[a, SP_NEMIT]
    last = _xfer(ks[d, KS_TL] * ys[b, SP_EMITL] * xs[a, SP_EMITL] * word, lat, bw)
    stores = lat * n_stored + _cdiv(stored, bw) - last
    # The loads of the second tile (ic = 1) of all visits but the first: input and weights,
    # and the add's operands if that tile closes (nc = 2).
    tc1 = cs[c, CS_T0] if nc > 2 else cs[c, CS_TL]
    sng = ks[d, KS_SNG] if k[K_GROUPED] else nk
    loaded = tc1 * sng * ys[b, SP_SIN] * xs[a, SP_SIN]
    first = tc1 * ks[d, KS_NG0] * ys[b, SP_IN0] * xs[a, SP_IN0]
    if k[K_CONV]:
        loaded += tc1 * k2 * ko * nx * ny
        first += tc1 * k2 * ks[d, KS_T0]
    if k[K_RES] > 0 and nc == 2:
        loaded += k[K_RES] * ko * k[K_PIX]
        first += k[K_RES] * ks[d, KS_T0] * ys[b, SP_T0] * xs[a, SP_T0]
    every = k[K_CONV] or (ys[b, SP_MININ] > 0 and xs[a, SP_MININ] > 0)  # no load is empty
    loads = (lat * (visits - 1) if every else 0) + _cdiv(word * (loaded - first), bw)
    # The compute of every visit's first tile (ic = 0, a full c-tile).
    tc0 = cs[c, CS_T0]
    if df == DF_WS:
        comp = k2 * (nx * ny * wp1[c, d] + k[K_PIX] * _cdiv(tc0, k[K_PR]) * ks[d, KS_SWN])
    else:
        lo = k[K_LO]
        nhi0 = tc0
        if k[K_CONV]:
            nhi0 = _nz_prefix(tc0, k2, k[K_DNUM], k[K_DDEN]) - lo * tc0
        comp = nhi0 * osa[a, b, d] + (tc0 - nhi0) * osb[a, b, d]
    return max(0, stores + loads - comp)


@_kernel
def _closed_one(layer, hw, m, counts):
    """Counts of one mapping except cycles and stalls (the search's own closed forms on a grid
    of one candidate); returns (cycle lower bound, request lower bound, last store time)."""
    grid = np.empty((4, 1), dtype=np.int64)
    grid[0, 0] = m[M_TX]
    grid[1, 0] = m[M_TY]
    grid[2, 0] = m[M_TC]
    grid[3, 0] = m[M_TK]
    df = m[M_DATAFLOW]
    xs, ys, cs, ks, hq, cnt_p, sum_p = _grid_stats(layer, hw, grid[0], grid[1], grid[2], grid[3])
    wp, wp1, ost, osa, osb = _compute_tables(layer, hw, df, xs, ys, cs, ks, hq, cnt_p, sum_p)
    kon = _consts(layer, hw)
    z = np.int64(0)
    comp = _combo_compute(kon, df, xs, ys, cs, ks, wp, ost, z, z, z, z)
    _static(kon, df, xs, ys, cs, ks, z, z, z, z, comp, counts)
    flags = _order_flags(_perm(m), xs[0, SP_N], ys[0, SP_N], cs[0, CS_N], ks[0, KS_N],
                         layer[L_G] > 1)
    lb, n_req, store_last, chain = _dma_flags(kon, flags, xs, ys, cs, ks, z, z, z, z, counts)
    if (flags & F_COUT) == 0:  # c inside the output loops (or nc = 1)
        lb = max(lb, chain + _close_stalls(kon, df, xs, ys, cs, ks, z, z, z, z, wp1, osa, osb))
    return lb, n_req, store_last


@njit(cache=True, error_model="numpy")
def _evaluate_many(layer, hw, mappings):
    """Counts of each mapping: the closed forms, then the timeline walked for the cycles.

    (The steps are inlined here rather than wrapped in a per-mapping function: numba
    compiles every caller together with all it calls, so fewer levels compile faster.)
    """
    n = mappings.shape[0]
    out = np.zeros((n, C_LEN), dtype=np.int64)
    for i in range(n):
        m = mappings[i]
        counts = out[i]
        _, n_req, store_last = _closed_one(layer, hw, m, counts)
        ws = m[M_DATAFLOW] == DF_WS
        ctx = _context(layer, hw, ws, m[M_TX], m[M_TY], m[M_TC], m[M_TK])
        cycles = _walk(layer, hw, ws, _perm(m), ctx, _BIG, counts[C_COMPUTE], n_req,
                       counts[C_DRAM_RD] + counts[C_DRAM_WR], store_last)
        counts[C_CYCLES] = cycles
        counts[C_STALL] = cycles - counts[C_COMPUTE]
    return out


@njit(cache=True, error_model="numpy")
def _bounds_many(layer, hw, mappings):
    n = mappings.shape[0]
    lb = np.empty(n, dtype=np.int64)
    tmp = np.empty(C_LEN, dtype=np.int64)
    for i in range(n):
        lb[i] = _closed_one(layer, hw, mappings[i], tmp)[0]
    return lb

@_kernel
def _ngmax(g, cgo, tk):
    ko = g * cgo
    best = 0
    for ik in range(_cdiv(ko, tk)):
        _, nmid, kg3 = _k_groups(ik, tk, ko, cgo)
        best = max(best, 1 + nmid + (1 if kg3 > 0 else 0))
    return best


@njit(cache=True, error_model="numpy")
def _footprint_many(layer, hw, mappings):
    n = mappings.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        m = mappings[i]
        ngmax = _ngmax(layer[L_G], layer[L_CGO], m[M_TK])
        out[i] = _footprint(layer, hw, m[M_TX], m[M_TY], m[M_TC], m[M_TK], ngmax)
    return out


# --- the tiler's kernel ----------------------------------------------------------------------
# The branch and bound of `nnaccel.tiler` (its docstring defines candidates and keys). It
# lives in this file because numba's on-disk cache of a function is invalidated only by
# changes to the function's own file: a kernel in tiler.py calling the functions above would
# go on running stale copies of them after this file changes.

OBJ_CYCLES = 0
OBJ_ENERGY = 1
OBJ_EDP = 2
N_ORDERS = ORDERS.shape[0]
# The counts a loop order changes are the DMA side's; every slot before the first of them is
# fixed by the tile sizes, so that part of the energy is summed once per tile-size combo.
FIRST_DMA_SLOT = min(C_BUF_RD, C_BUF_WR, C_DRAM_RD, C_DRAM_WR)
assert max(C_OPS, C_RF, C_ARRAY, C_COMPUTE) < FIRST_DMA_SLOT


@_pure
def _energy_range(s, counts, e, i0, i1):
    """s + Σ counts[i]·e[i] for i in [i0, i1), in slot order (the same float operations
    whether a candidate's energy is summed at once or in two parts)."""
    for i in range(i0, i1):
        s += counts[i] * e[i]
    return s


@njit(cache=True, error_model="numpy")
def _energy(counts, e):
    return _energy_range(0.0, counts, e, np.int64(0), np.int64(C_LEN))


@_pure
def _key(obj, cycles, dram, energy, code, out):
    """The objective's key (docs above) into out[0..4]; `cycles` may be a lower bound."""
    cyc = float(cycles)
    if obj == 0:
        out[0] = cyc
        out[1] = float(dram)
        out[2] = energy
        out[3] = 0.0
    elif obj == 1:
        out[0] = energy
        out[1] = cyc
        out[2] = float(dram)
        out[3] = 0.0
    else:
        out[0] = energy * cyc
        out[1] = cyc
        out[2] = float(dram)
        out[3] = energy
    out[4] = float(code)


@_pure
def _less(a, b):
    for i in range(5):
        if a[i] < b[i]:
            return True
        if a[i] > b[i]:
            return False
    return False


@_pure
def _decode(code, df, gx, gy, gc, gk, m):
    o = code % N_ORDERS
    rest = code // N_ORDERS
    d = rest % gk.size
    rest //= gk.size
    c = rest % gc.size
    rest //= gc.size
    b = rest % gy.size
    a = rest // gy.size
    m[M_DATAFLOW] = df
    for p in range(4):
        m[M_ORDER + p] = ORDERS[o, p]
    m[M_TX] = gx[a]
    m[M_TY] = gy[b]
    m[M_TC] = gc[c]
    m[M_TK] = gk[d]


@_kernel
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
                  pkw, layer[L_PSW], layer[L_PPW], layer[L_PWO], xs[i])
    for i in range(gy.size):
        _sp_stats(layer[L_HO], gy[i], layer[L_SH], layer[L_PH], layer[L_KH], layer[L_H],
                  hw[H_PR], pkh, layer[L_PSH], layer[L_PPH], layer[L_PHO], ys[i])
    for i in range(gc.size):
        _c_stats(layer[L_CGI], gc[i], hw[H_PR], cs[i])
    for i in range(gk.size):
        _k_stats(layer[L_G], layer[L_CGO], gk[i], pc, r, ks[i], hq[i], cnt_p[i], sum_p[i])
    return xs, ys, cs, ks, hq, cnt_p, sum_p


@_kernel
def _compute_tables(layer, hw, df, xs, ys, cs, ks, hq, cnt_p, sum_p):
    """Σ compute per (TX, TY, TC, TK) as tables on the dimensions it depends on, and what
    `_close_stalls` needs: WS, the weight loads of one full c-tile; OS, the compute parts."""
    nx_, ny_, nc_, nk_ = xs.shape[0], ys.shape[0], cs.shape[0], ks.shape[0]
    if df == DF_WS:
        wp = np.empty((nc_, nk_), dtype=np.int64)
        wp1 = np.empty((nc_, nk_), dtype=np.int64)
        for c in range(nc_):
            for d in range(nk_):
                wp[c, d] = _ws_weight_load_total(hw, cs[c], hq[d])
                wp1[c, d] = _ws_weight_load_one(hw, cs[c, CS_T0], hq[d])
        dummy = np.zeros((1, 1, 1), dtype=np.int64)
        return wp, wp1, dummy, dummy, dummy
    ost = np.empty((nx_, ny_, nk_), dtype=np.int64)
    osa = np.empty((nx_, ny_, nk_), dtype=np.int64)
    osb = np.empty((nx_, ny_, nk_), dtype=np.int64)
    for a in range(nx_):
        for b in range(ny_):
            for d in range(nk_):
                ost[a, b, d], osa[a, b, d], osb[a, b, d] = _os_compute_total(
                    layer, hw, ys[b], xs[a], cnt_p[d], sum_p[d])
    dummy = np.zeros((1, 1), dtype=np.int64)
    return dummy, dummy, ost, osa, osb


@_pure
def _threshold(obj, dram, energy, code, best, kb):
    """The most cycles with which a candidate still beats `best` (-1: none; _BIG: any). Its
    key only grows with the cycles."""
    _key(obj, np.int64(0), dram, energy, code, kb)
    if not _less(kb, best):
        return -1
    if obj != OBJ_EDP:  # the cycles are one component of the key: compare around it
        pos = 0 if obj == OBJ_CYCLES else 1
        for i in range(pos):
            if kb[i] != best[i]:  # decided before the cycles (kb[i] < best[i]: it beats)
                return _BIG
        if best[pos] >= 2.0**62:
            return _BIG
        edge = np.int64(best[pos])
        for i in range(pos + 1, 5):  # with equal cycles, the rest decides
            if kb[i] != best[i]:
                return edge if kb[i] < best[i] else edge - 1
        return edge - 1  # the same key: it does not beat
    lo = 0  # beats best
    hi = 2**53  # does not (cycles beyond this are not representable exactly anyway)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        _key(obj, mid, dram, energy, code, kb)
        if _less(kb, best):
            lo = mid
        else:
            hi = mid
    return lo


@_pure
def _combo_mask(xs, ys, cs, ks, a, b, c, d):
    return (xs[a, SP_N] > 1) * 1 + (ys[b, SP_N] > 1) * 2 + (cs[c, CS_N] > 1) * 4 + (ks[d, KS_N] > 1) * 8


@_pure
def _combo_compute(k, df, xs, ys, cs, ks, wp, ost, a, b, c, d):
    """Σ compute of a tile-size combo (from the tables of `_compute_tables`)."""
    if df == DF_WS:
        return k[K_K2] * (xs[a, SP_N] * ys[b, SP_N] * wp[c, d]
                          + k[K_PIX] * cs[c, CS_SNCB] * ks[d, KS_SWN])
    return ost[a, b, d]


@_pure
def _combo_bound(k, df, xs, ys, cs, ks, a, b, c, d, wp, ost, wp1, osa, osb, ops, scratch):
    """A cheap lower bound of every loop order's cycle bound for a tile-size combo: the least
    traffic with c inside the output loops (close stalls) or outside (partial-sum spills)."""
    scratch[C_COMPUTE] = _combo_compute(k, df, xs, ys, cs, ks, wp, ost, a, b, c, d)
    scratch[C_OPS] = ops
    _, chain, macs = _chain(k, xs, ys, cs, ks, a, b, c, d, scratch)
    stalls = _close_stalls(k, df, xs, ys, cs, ks, a, b, c, d, wp1, osa, osb)
    in_el, w_el, psum_el, res_el, final_el, n_load, n_store = _traffic(
        k, np.int64(0), xs, ys, cs, ks, a, b, c, d)
    busy = _busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store)
    bound = max(busy, chain + stalls, macs)
    if cs[c, CS_N] > 1:
        in_el, w_el, psum_el, res_el, final_el, n_load, n_store = _traffic(
            k, np.int64(F_COUT), xs, ys, cs, ks, a, b, c, d)
        busy = _busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store)
        bound = min(bound, max(busy, chain, macs))
    return bound


@njit(cache=True, error_model="numpy")
def search_grid(layer, hw, e, obj, df, cap, gx, gy, gc, gk, cls_n, cls_flags, cls_cnt, cls_ord):
    """The tiler's search of one dataflow over a grid of tile sizes (nnaccel.tiler).

    Returns (mapping, counts, found, smallest footprint of the grid, timelines walked).
    Only candidates whose key's first component (the objective: cycles, energy or EDP) is at
    most `cap` count (np.inf: all); found is False when none of them does and fits the buffer.
    Bounds are taken three times: per tile-size combo from its compute alone, where that is
    not already above a better combo's, with the least traffic any loop order could have
    (flags 0), then per class of loop orders with equal flags, which share every count but
    the cycles. Only orders whose bound key is below the best key are simulated, and
    their walk stops once they cannot beat it; the result is the exhaustive optimum.
    (On a cold cache `engines.warm` compiles its callees on two cores first.)
    """
    xs, ys, cs, ks, hq, cnt_p, sum_p = _grid_stats(layer, hw, gx, gy, gc, gk)
    wp, wp1, ost, osa, osb = _compute_tables(layer, hw, df, xs, ys, cs, ks, hq, cnt_p, sum_p)
    kon = _consts(layer, hw)
    no_flags = np.int64(0)  # the least traffic any loop order can have
    if df == DF_WS:  # ops: the same for every tile-size combo of the dataflow
        ops = kon[K_K2] * kon[K_PIX] * kon[K_CGI] * kon[K_KO]
    else:
        ops = kon[K_PIX] * kon[K_KO] * kon[K_NZ]
    nx_, ny_, nc_, nk_ = gx.size, gy.size, gc.size, gk.size
    buf = hw[H_BUF]
    g = 1 if layer[L_G] > 1 else 0  # the class tables are per (G > 1)
    n_cls = cls_n[g]
    flags_tab = cls_flags[g]
    cnt_tab = cls_cnt[g]
    ord_tab = cls_ord[g]
    ws = df == DF_WS

    # Bound keys per tile-size combo.
    n_combo = nx_ * ny_ * nc_ * nk_
    c_lb = np.empty(n_combo, dtype=np.int64)
    c_dram = np.empty(n_combo, dtype=np.int64)
    c_en = np.empty(n_combo, dtype=np.float64)
    c_id = np.empty(n_combo, dtype=np.int64)
    base = np.empty(C_LEN, dtype=np.int64)
    kb = np.empty(5, dtype=np.float64)
    least = np.empty(5, dtype=np.float64)  # the least full bound key so far (or the cap)
    _fill(least, np.inf)
    least[0] = cap
    macs = _cdiv(ops, kon[K_PRPC])
    min_fp = _BIG
    n = 0
    for a in range(nx_):
        for b in range(ny_):
            for c in range(nc_):
                for d in range(nk_):
                    fp = _footprint(layer, hw, gx[a], gy[b], gc[c], gk[d], ks[d, KS_NGMAX])
                    min_fp = min(min_fp, fp)
                    if fp > buf:
                        continue
                    comp = _combo_compute(kon, df, xs, ys, cs, ks, wp, ost, a, b, c, d)
                    if obj == OBJ_CYCLES:  # dram and energy only break ties: bound them by 0
                        c_dram[n] = 0
                        c_en[n] = 0.0
                    else:  # the least traffic any loop order can have (flags 0)
                        _static(kon, df, xs, ys, cs, ks, a, b, c, d, comp, base)
                        _dma_flags(kon, no_flags, xs, ys, cs, ks, a, b, c, d, base)
                        c_dram[n] = base[C_DRAM_RD] + base[C_DRAM_WR]
                        c_en[n] = _energy(base, e)
                    c_id[n] = ((a * ny_ + b) * nc_ + c) * nk_ + d
                    # A cheap cycle bound first (the array computes `comp`, at most Pr·Pc ops a
                    # cycle); the combo's full bound only where the cheap key is not above the
                    # least full key so far: a combo above it is neither the first to expand
                    # nor, most often, below the incumbent, and the queue refines it anyway.
                    c_lb[n] = max(comp, macs)
                    _key(obj, c_lb[n], c_dram[n], c_en[n], c_id[n] * N_ORDERS, kb)
                    if not _less(least, kb):
                        c_lb[n] = _combo_bound(kon, df, xs, ys, cs, ks, a, b, c, d, wp, ost,
                                               wp1, osa, osb, ops, base)
                        _key(obj, c_lb[n], c_dram[n], c_en[n], c_id[n] * N_ORDERS, kb)
                        if _less(kb, least):
                            _copy(least, kb)
                    n += 1
    mapping = np.zeros(M_LEN, dtype=np.int64)
    counts = np.zeros(C_LEN, dtype=np.int64)
    if n == 0:
        return mapping, counts, False, min_fp, 0

    # The queue of combos to expand: first the one with the least bound key (its best order
    # is the first incumbent), then, by increasing bound, every other one below the incumbent.
    kc = np.empty(5, dtype=np.float64)
    best = np.empty(5, dtype=np.float64)
    first = 0
    _key(obj, c_lb[0], c_dram[0], c_en[0], c_id[0] * N_ORDERS, best)
    for i in range(1, n):
        _key(obj, c_lb[i], c_dram[i], c_en[i], c_id[i] * N_ORDERS, kb)
        if _less(kb, best):
            _copy(best, kb)
            first = i
    _fill(best, np.inf)
    best[0] = cap  # a key beats this best iff its first component is at most cap
    found = False
    queue = np.empty(n, dtype=np.int64)
    queue[0] = first
    n_queue = 1
    prim = np.empty(n, dtype=np.float64)
    work = np.empty((N_ORDERS, C_LEN), dtype=np.int64)
    tmp = np.empty(C_LEN, dtype=np.int64)
    lbs = np.empty(N_ORDERS, dtype=np.int64)
    reqs = np.empty(N_ORDERS, dtype=np.int64)
    lasts = np.empty(N_ORDERS, dtype=np.int64)
    drams = np.empty(N_ORDERS, dtype=np.int64)
    ens = np.empty(N_ORDERS, dtype=np.float64)
    cprim = np.empty(N_ORDERS, dtype=np.float64)
    perm = np.empty(4, dtype=np.int64)
    sims = 0
    qi = 0
    while True:
        if qi == 1:  # after the first combo, the incumbent: queue the combos that may beat it
            alive = np.empty(n, dtype=np.int64)
            n_alive = np.int64(0)
            for i2 in range(n):
                _key(obj, c_lb[i2], c_dram[i2], c_en[i2], c_id[i2] * N_ORDERS, kb)
                if i2 != first and _less(kb, best):
                    alive[n_alive] = i2
                    prim[n_alive] = kb[0]
                    n_alive += 1
            order = _argsort(prim, n_alive)
            for r in range(n_alive):
                queue[1 + r] = alive[order[r]]
            n_queue = 1 + n_alive
        if qi == n_queue:
            break
        i = queue[qi]
        qi += 1
        _key(obj, c_lb[i], c_dram[i], c_en[i], c_id[i] * N_ORDERS, kb)
        if qi > 1 and kb[0] > best[0]:
            break  # by increasing bound: no later combo can be below the best key
        if not _less(kb, best):
            continue
        combo = c_id[i]
        d = combo % nk_
        c = combo // nk_ % nc_
        b = combo // (nk_ * nc_) % ny_
        a = combo // (nk_ * nc_ * ny_)
        comp = _combo_compute(kon, df, xs, ys, cs, ks, wp, ost, a, b, c, d)
        _static(kon, df, xs, ys, cs, ks, a, b, c, d, comp, base)
        mask = _combo_mask(xs, ys, cs, ks, a, b, c, d)
        ncls = n_cls[mask]
        stalls = _close_stalls(kon, df, xs, ys, cs, ks, a, b, c, d, wp1, osa, osb)
        _, chain, macs = _chain(kon, xs, ys, cs, ks, a, b, c, d, base)
        exact = _orders_bound(kon, flags_tab, mask, ncls, xs, ys, cs, ks, a, b, c, d, chain,
                              stalls, macs)  # the least bound over its classes of orders
        _key(obj, exact, c_dram[i], c_en[i], combo * N_ORDERS, kb)
        if not _less(kb, best):
            continue
        e_static = _energy_range(0.0, base, e, np.int64(0), np.int64(FIRST_DMA_SLOT))
        hopeful = False
        for j in range(ncls):  # the classes of loop orders: exact counts, cycle bounds
            for r in range(C_LEN):
                tmp[r] = base[r]
            lbs[j], reqs[j], lasts[j], chain = _dma_flags(kon, flags_tab[mask, j], xs, ys, cs,
                                                          ks, a, b, c, d, tmp)
            for r in range(C_LEN):
                work[j, r] = tmp[r]
            if (flags_tab[mask, j] & F_COUT) == 0:  # c inside the output loops: close stalls
                lbs[j] = max(lbs[j], chain + stalls)
            drams[j] = work[j, C_DRAM_RD] + work[j, C_DRAM_WR]
            ens[j] = e_static
            for r in range(FIRST_DMA_SLOT, C_LEN):  # as _energy sums, in slot order
                ens[j] += work[j, r] * e[r]
            _key(obj, lbs[j], drams[j], ens[j], combo * N_ORDERS + ord_tab[mask, j, 0], kb)
            cprim[j] = kb[0]
            hopeful = hopeful or _less(kb, best)
        if hopeful:
            ctx = _context(layer, hw, ws, gx[a], gy[b], gc[c], gk[d])
            for j in _argsort(cprim, ncls):
                for q in range(cnt_tab[mask, j]):
                    o = ord_tab[mask, j, q]
                    code = combo * N_ORDERS + o
                    thr = _threshold(obj, drams[j], ens[j], code, best, kb)
                    if thr < lbs[j]:
                        continue
                    sims += 1
                    for p in range(4):
                        perm[p] = ORDERS[o, p]
                    cycles = _walk(layer, hw, ws, perm, ctx, thr, base[C_COMPUTE], reqs[j],
                                   drams[j], lasts[j])
                    if cycles < 0:
                        continue
                    _key(obj, cycles, drams[j], ens[j], code, kc)
                    if _less(kc, best):
                        _copy(best, kc)
                        found = True
                        _decode(code, df, gx, gy, gc, gk, mapping)
                        for r in range(C_LEN):
                            counts[r] = work[j, r]
                        counts[C_CYCLES] = cycles
                        counts[C_STALL] = cycles - counts[C_COMPUTE]
    return mapping, counts, found, min_fp, sims


# --- public interface -----------------------------------------------------------------------


def check_vectors(layer: np.ndarray, hw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The layer and hardware vectors as contiguous int64, checked: the kernels trust them
    (no bounds checks, no division by zero)."""
    layer = np.ascontiguousarray(layer, dtype=np.int64).reshape(-1)
    hw = np.ascontiguousarray(hw, dtype=np.int64).reshape(-1)
    if layer.size != L_LEN:
        raise ValueError(f"a layer vector has {L_LEN} slots (layout.L_*), got {layer.size}")
    if hw.size != H_LEN:
        raise ValueError(f"a hardware vector has {H_LEN} slots (layout.H_*), got {hw.size}")
    positive = (L_G, L_CGI, L_CGO, L_H, L_W, L_KH, L_KW, L_SH, L_SW, L_HO, L_WO)
    if layer[L_KIND] not in (KIND_CONV, KIND_WINDOW) or (layer[list(positive)] < 1).any():
        raise ValueError(f"bad layer vector {layer.tolist()}")
    if (layer[[L_PH, L_PW, L_RES]] < 0).any():
        raise ValueError(f"bad layer vector {layer.tolist()}")
    if layer[L_PKH] > 0 and (layer[[L_PKW, L_PSH, L_PSW, L_PHO, L_PWO]] < 1).any():
        raise ValueError(f"bad fused pooling in layer vector {layer.tolist()}")
    positive = (H_PR, H_PC, H_PORT, H_RF_PSUMS, H_WORD, H_PSUM, H_BW, H_DDEN)
    if (hw[list(positive)] < 1).any() or hw[H_LAT] < 0 or not 0 <= hw[H_DNUM] <= hw[H_DDEN]:
        raise ValueError(f"bad hardware vector {hw.tolist()}")
    return layer, hw


def _as_arrays(layer, hw, mappings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    layer, hw = check_vectors(layer, hw)
    mappings = np.ascontiguousarray(np.atleast_2d(mappings), dtype=np.int64)
    if mappings.shape[1] != M_LEN:
        raise ValueError(f"mappings must have {M_LEN} columns, got {mappings.shape[1]}")
    if mappings.shape[0]:
        if (mappings[:, M_TX:M_TK + 1] < 1).any():
            raise ValueError("tile sizes must be at least 1")
        for row in mappings[:, M_ORDER:M_ORDER + 4]:
            if sorted(row.tolist()) != [0, 1, 2, 3]:
                raise ValueError(f"loop order must be a permutation of x, y, c, k: {row}")
        if layer[L_KIND] == KIND_WINDOW and (mappings[:, M_DATAFLOW] != DF_OS).any():
            raise ValueError("a window operation runs only in OS")
        if not np.isin(mappings[:, M_DATAFLOW], (DF_WS, DF_OS)).all():
            raise ValueError("unknown dataflow")
    return layer, hw, mappings


def evaluate(layer: np.ndarray, hw: np.ndarray, mappings: np.ndarray) -> np.ndarray:
    """Counts (layout.C_*) of each mapping (one row of layout.M_* each), int64 [n, C_LEN]."""
    layer, hw, mappings = _as_arrays(layer, hw, mappings)
    return _evaluate_many(layer, hw, mappings)


def lower_bound(layer: np.ndarray, hw: np.ndarray, mappings: np.ndarray) -> np.ndarray:
    """A lower bound on each mapping's cycles, from closed forms only (no walk over tiles).

    The max of: first load + Σ compute + last store (the array cannot start before the first
    tile is in, the last store cannot start before the array is done), plus, when c is inside
    the output loops, the stalls at the output closes (`_close_stalls`); the DMA channel's
    busy time (every request pays the latency, bytes at the bandwidth); ops over Pr·Pc. O(n) in
    the loop bounds, not in the tiles.
    """
    layer, hw, mappings = _as_arrays(layer, hw, mappings)
    return _bounds_many(layer, hw, mappings)


def footprint(layer: np.ndarray, hw: np.ndarray, mappings: np.ndarray) -> np.ndarray:
    """Buffer bytes each mapping needs, 2·(IN + WGT + OUT) (docs/model.md §7), int64 [n]."""
    layer, hw, mappings = _as_arrays(layer, hw, mappings)
    return _footprint_many(layer, hw, mappings)


__all__ = ["ORDERS", "check_vectors", "evaluate", "footprint", "lower_bound", "search_grid"]
