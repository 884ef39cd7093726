"""What a loop order moves through the DMA, and the cycle bounds that need no walk
(docs/model.md §3 "Reuse", §5).

The loop order only decides how often each operand is fetched: a product of trip counts,
summed up in four flags (`F_*`, `_order_flags`); orders with equal flags share every count but
the cycles. `lower_bound` and the search never walk the tiles to bound cycles: the most of
first load + compute + last store (`_chain`), the DMA channel's busy time (`_busy`),
ops / (Pr·Pc), and the stalls every order with c inside the output loops has at its output
closes (`_close_stalls`).
"""

from __future__ import annotations

from numba import njit

from nnaccel.engines.layout import (
    C_BUF_RD,
    C_BUF_WR,
    C_COMPUTE,
    C_DRAM_RD,
    C_DRAM_WR,
    C_OPS,
    DF_WS,
    LOOP_C,
    LOOP_K,
    LOOP_X,
    LOOP_Y,
)

from .base import (
    _BIG,
    _cdiv,
    _pure,
)
from .compute import (
    K_ALU,
    K_BW,
    K_CGI,
    K_CONV,
    K_DDEN,
    K_DNUM,
    K_GROUPED,
    K_K2,
    K_KO,
    K_LAT,
    K_LO,
    K_OUT,
    K_PIX,
    K_POOL2,
    K_PRPC,
    K_PS,
    K_RES,
    K_VE,
    K_VR,
    K_WORD,
    K_WRES,
)
from .tiles import (
    CS_N,
    CS_T0,
    CS_TL,
    KS_N,
    KS_NG0,
    KS_SNG,
    KS_T0,
    KS_TL,
    SP_EMITL,
    SP_IN0,
    SP_MININ,
    SP_N,
    SP_NEMIT,
    SP_SEMIT,
    SP_SIN,
    SP_T0,
    SP_TL,
    _nz_prefix,
)


@_pure
def _xfer(nbytes: int, lat: int, bw: int) -> int:
    """Channel time of one DMA request; an empty request is skipped (§5)."""
    if nbytes <= 0:
        return 0
    return lat + (nbytes + bw - 1) // bw


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
    if k[K_WRES]:  # the first tile's weights stayed in the buffer from the previous image
        w_el -= ks[d, KS_T0] * cs[c, CS_T0] * k[K_K2]
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
        n_load = nc * nk * mult_w - k[K_WRES]  # the weight fetches
    else:
        n_load = 0
    return in_el, w_el, psum_el, res_el, final_el, n_load, n_store


@_pure
def _busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store, row_alu):
    """The DMA channel's busy time, at least. One request at a time: every request's latency
    and the bytes at the bandwidth. With OUT in flight the transfers still follow one another
    after a first latency, and every OUT-th request waits for the one OUT before it to end.
    A store with fused post-operations moves no faster than its ALU work (§3a): the data of
    all requests take at least the bytes at the bandwidth and, apart, the ALU operations of
    the stores that emit (every pooling operation; every add and vector operation when there
    is no pooling: `row_alu` is a vector kind's per-pixel work, §1b)."""
    word = k[K_WORD]
    ps = k[K_PS]
    moved = word * (in_el + w_el + res_el + final_el) + 2 * ps * psum_el
    data = _cdiv(moved, k[K_BW])
    timed_alu = final_el * (k[K_POOL2] if k[K_POOL2] > 0 else k[K_RES] + k[K_VE])
    if k[K_POOL2] == 0:  # (with a pooling, a tile that emits nothing stores nothing: its
        timed_alu += row_alu  # row work is not on the channel)
    if timed_alu > 0:
        data = max(data, _cdiv(timed_alu, k[K_ALU]))
    n = n_load + n_store
    if k[K_OUT] == 1:
        return k[K_LAT] * n + data
    if n == 0:
        return 0
    return max(k[K_LAT] + data, (k[K_LAT] + 1) * _cdiv(n, k[K_OUT]))


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
    psw = _cdiv(ps, word)  # buffer words of a partial sum (the output tile is held at its width)
    out[C_BUF_WR] += in_el + w_el + psw * psum_el + res_el
    out[C_BUF_RD] += psw * (out_el + psum_el) + res_el  # each close reads its tile once (§3a)
    busy = _busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store,
                 k[K_VR] * ks[d, KS_N] * k[K_PIX])
    store_last, chain, macs = _chain(k, xs, ys, cs, ks, a, b, c, d, out)
    return max(busy, chain, macs), n_load + n_store, store_last, chain


@_pure
def _last_store(k, xs, ys, ks, a, b, d):
    """Channel time of the last tile's store: it is final, and moves as fast as its ALU
    work (§3a)."""
    lat = k[K_LAT]
    emitted = ks[d, KS_TL] * ys[b, SP_EMITL] * xs[a, SP_EMITL]
    t = _xfer(emitted * k[K_WORD], lat, k[K_BW])
    if t > 0 and (k[K_RES] > 0 or k[K_POOL2] > 0 or k[K_VE] > 0 or k[K_VR] > 0):
        pix = ys[b, SP_TL] * xs[a, SP_TL]
        alu = (ks[d, KS_TL] * (k[K_RES] + k[K_VE]) + k[K_VR]) * pix + k[K_POOL2] * emitted
        t = max(t, lat + _cdiv(alu, k[K_ALU]))
    return t


@_pure
def _chain(k, xs, ys, cs, ks, a, b, c, d, out):
    """(last store's channel time, first load + compute + last store, ops / (Pr·Pc)): the
    array cannot start before the first tile is in, the last store not before it is done."""
    word = k[K_WORD]
    lat = k[K_LAT]
    bw = k[K_BW]
    load0 = ks[d, KS_NG0] * cs[c, CS_T0] * ys[b, SP_IN0] * xs[a, SP_IN0]
    if k[K_CONV] and not k[K_WRES]:
        load0 += ks[d, KS_T0] * cs[c, CS_T0] * k[K_K2]
    store_last = _last_store(k, xs, ys, ks, a, b, d)
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
        bound = max(_busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store,
                          k[K_VR] * ks[d, KS_N] * k[K_PIX]), chain, macs)
        if (f & F_COUT) == 0:
            bound = max(bound, chain + stalls)
        least = min(least, bound)
    return least


@_pure
def _close_stalls(k, df, xs, ys, cs, ks, a, b, c, d, wp, ost, first_comp):
    """Stalls every order with c inside the output loops must have, beyond first load +
    compute + last store (0 when nc = 1).

    With c innermost among the loops that move, each output tile's visit is nc tiles and
    closes at its last one. For the first tile t of each later visit, load(t+1) is issued after
    ce[t-1] and behind store(t-1), and tile t+1 starts after it and after tile t: with
    D_t = ce[t] - ce[t-1], D_t + D_{t+1} >= max(c_t, S_{t-1} + L_{t+1}) + c_{t+1}. These pairs
    are disjoint, so the layer takes at least Σ max(0, S + L - c) more than its compute, and
    Σ max(0, .) >= max(0, Σ .). The sums over the visits are closed forms: a sum of channel
    times is at least its latencies plus its bytes at the bandwidth, and the first tiles'
    compute is at most that of every visit's first tile. `first_comp`: that compute where the
    caller knows it exactly (OS with its drains' waits, `walk._os_totals`), else -1 (from the
    tables; the OS ones omit the drains' waits and fills: the bound is then at least as low as
    the one with the exact compute, as max(0, x) - max(0, x - δ) <= δ).
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
    last = _last_store(k, xs, ys, ks, a, b, d)
    # every store's data take its bytes at the bandwidth, or its ALU work if longer: all of
    # them together at least the bytes, or apart the pooling (else the add) operations
    data = _cdiv(stored, bw)
    timed_alu = ko * ys[b, SP_SEMIT] * xs[a, SP_SEMIT] * (
        k[K_POOL2] if k[K_POOL2] > 0 else k[K_RES] + k[K_VE])
    if k[K_POOL2] == 0:  # as in `_busy`
        timed_alu += k[K_VR] * nk * k[K_PIX]
    if timed_alu > 0:
        data = max(data, _cdiv(timed_alu, k[K_ALU]))
    stores = lat * n_stored + data - last
    if k[K_OUT] > 1:  # the load then overlaps the store's latency: one latency per pair
        stores -= lat * (n_stored - (1 if last > 0 else 0))
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
    if first_comp >= 0:
        comp = first_comp
    elif df == DF_WS:  # the tables of `compute._compute_tables`
        comp = k2 * (nx * ny * wp[3, c, d] + k[K_PIX] * wp[4, c, d]) - k[K_PIX] * wp[2, c, d]
    else:
        lo = k[K_LO]
        nhi0 = tc0
        if k[K_CONV]:
            nhi0 = _nz_prefix(tc0, k2, k[K_DNUM], k[K_DDEN]) - lo * tc0
        comp = nhi0 * ost[1, a, b, d] + (tc0 - nhi0) * ost[2, a, b, d]
    return max(0, stores + loads - comp)
