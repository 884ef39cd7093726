"""The branch and bound's bounds and queue (docs/model.md §8): per tile-size combo a cheap
bound from its compute, the full bound from its least traffic, the queue of combos by bound,
and per class of loop orders with equal traffic flags exact counts and a cycle bound."""

from __future__ import annotations

import numpy as np

from nnaccel.engines.layout import (
    C_COMPUTE,
    C_DRAM_RD,
    C_DRAM_WR,
    C_LEN,
    C_OPS,
    L_PKH,
)

from .base import (
    _BIG,
    ORDERS,
    _argsort,
    _fill,
    _heapify,
    _pure,
    _separate,
)
from .compute import (
    K_PIX,
    K_VR,
    _combo_compute,
    _static,
)
from .keys import (
    FIRST_DMA_SLOT,
    N_ORDERS,
    OBJ_CYCLES,
    _energy,
    _energy_range,
    _key,
    _less,
)
from .tiles import (
    CS_N,
    KS_N,
    KS_NGMAX,
    SP_N,
    _footprint,
    _line_buffer_least,
    _line_buffer_order,
)
from .traffic import (
    F_COUT,
    _busy,
    _chain,
    _close_stalls,
    _dma_flags,
    _orders_bound,
    _traffic,
)


@_pure
def _combo_mask(xs, ys, cs, ks, a, b, c, d):
    return (xs[a, SP_N] > 1) * 1 + (ys[b, SP_N] > 1) * 2 + (cs[c, CS_N] > 1) * 4 + (ks[d, KS_N] > 1) * 8


@_pure
def _combo_bound(k, df, xs, ys, cs, ks, a, b, c, d, wp, ost, ops, scratch):
    """A cheap lower bound of every loop order's cycle bound for a tile-size combo: the least
    traffic with c inside the output loops (close stalls) or outside (partial-sum spills)."""
    scratch[C_COMPUTE] = _combo_compute(k, df, xs, ys, cs, ks, wp, ost, a, b, c, d)
    scratch[C_OPS] = ops
    _, chain, macs = _chain(k, xs, ys, cs, ks, a, b, c, d, scratch)
    stalls = _close_stalls(k, df, xs, ys, cs, ks, a, b, c, d, wp, ost, np.int64(-1))
    in_el, w_el, psum_el, res_el, final_el, n_load, n_store = _traffic(
        k, np.int64(0), xs, ys, cs, ks, a, b, c, d)
    row_alu = k[K_VR] * ks[d, KS_N] * k[K_PIX]  # §1b
    busy = _busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store, row_alu)
    bound = max(busy, chain + stalls, macs)
    if cs[c, CS_N] > 1:
        in_el, w_el, psum_el, res_el, final_el, n_load, n_store = _traffic(
            k, np.int64(F_COUT), xs, ys, cs, ks, a, b, c, d)
        busy = _busy(k, in_el, w_el, psum_el, res_el, final_el, n_load, n_store, row_alu)
        bound = min(bound, max(busy, chain, macs))
    return bound


@_pure
def _slot(bufs, fp):
    """The smallest of the ascending buffer sizes that holds `fp` bytes (bufs.size: none)."""
    k = 0
    while k < bufs.size and bufs[k] < fp:
        k += 1
    return k


@_separate
def _combos(layer, hw, e, obj, df, bufs, gx, gy, gc, gk, xs, ys, cs, ks, wp, ost, kon, macs):
    """The tile-size combos that fit the largest buffer, each with the first bound key of the
    queue: (cycle bound, DRAM bytes, energy, combo id, smallest buffer it may fit) as arrays of
    which the first n count, n, and the smallest footprint of the whole grid. None of it
    depends on the DRAM's bandwidth or latency (`search_grid`'s hardware variants share it).
    `macs`: the fewest cycles any candidate takes (its ops over Pr·Pc)."""
    nx_, ny_, nc_, nk_ = gx.size, gy.size, gc.size, gk.size
    buf = bufs[bufs.size - 1]
    pooled = layer[L_PKH] > 0
    no_flags = np.int64(0)  # the least traffic any loop order can have
    n_combo = nx_ * ny_ * nc_ * nk_
    c_lb = np.empty(n_combo, dtype=np.int64)
    c_dram = np.empty(n_combo, dtype=np.int64)
    c_en = np.empty(n_combo, dtype=np.float64)
    c_id = np.empty(n_combo, dtype=np.int64)
    c_slot = np.empty(n_combo, dtype=np.int64)  # the smallest buffer the combo may fit
    base = np.empty(C_LEN, dtype=np.int64)
    min_fp = _BIG
    n = 0
    for a in range(nx_):
        for b in range(ny_):
            for c in range(nc_):
                for d in range(nk_):
                    fp = _footprint(layer, hw, gx[a], gy[b], gc[c], gk[d], ks[d, KS_NGMAX])
                    # with a fused pooling, the least line buffer a loop order can need;
                    # each order's own is checked before it is walked (added whether the
                    # tiles fit or not: the smallest footprint is then one of the grid's,
                    # whichever buffers are searched)
                    if pooled:
                        fp += _line_buffer_least(layer, hw, gx[a], gy[b], gk[d], xs[a, SP_N],
                                                 ys[b, SP_N], ks[d, KS_N])
                    min_fp = min(min_fp, fp)
                    if fp > buf:
                        continue
                    c_slot[n] = _slot(bufs, fp)
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
                    # A cheap cycle bound (the array computes `comp`, at most Pr·Pc ops a
                    # cycle): the queue refines it when the combo comes up (most never do).
                    c_lb[n] = max(comp, macs)
                    n += 1
    return c_lb, c_dram, c_en, c_id, c_slot, n, min_fp


@_pure
def _queue(obj, caps, c_lb, c_dram, c_en, c_id, c_slot, n, best_all, heap_key, heap_id, kb):
    """Each buffer's best key before any walk (its cap, as the first component: `best_all`)
    and the queue: a binary heap of the combos whose cheap bound key beats the best of the
    smallest buffer they may fit, by the first component of that key. Returns its size."""
    cap = np.inf
    for k in range(best_all.shape[0]):
        # A larger buffer's winner is at least as good: its cap need not be looser.
        cap = caps[k] if k == 0 else min(caps[k], cap)
        _fill(best_all[k], np.inf)
        best_all[k, 0] = cap  # a key beats this best iff its first component is at most cap
    n_heap = 0
    for i in range(n):
        _key(obj, c_lb[i], c_dram[i], c_en[i], c_id[i] * N_ORDERS, kb)
        if _less(kb, best_all[c_slot[i]]):
            heap_key[n_heap] = kb[0]
            heap_id[n_heap] = i
            n_heap += 1
    _heapify(heap_key, heap_id, n_heap)
    return n_heap


@_pure
def _round_bound(obj, kon, df, flags_tab, mask, ncls, xs, ys, cs, ks, wp, ost, a, b, c, d,
                 comp_first, base, dram, energy, code, kb):
    """The least cycle bound over a combo's classes of loop orders, as a key into kb (with
    `base`'s compute; OS: comp_first -1 for the closed forms' lower bound, else the exact
    compute of the first c-tile's tiles). Returns the close stalls it took."""
    stalls = _close_stalls(kon, df, xs, ys, cs, ks, a, b, c, d, wp, ost, comp_first)
    _, chain, macs = _chain(kon, xs, ys, cs, ks, a, b, c, d, base)
    exact = _orders_bound(kon, flags_tab, mask, ncls, xs, ys, cs, ks, a, b, c, d, chain, stalls,
                          macs)
    _key(obj, exact, dram, energy, code, kb)
    return stalls


@_pure
def _class_counts(obj, kon, flags_tab, ord_tab, mask, ncls, layer, hw, bufs, gx, gy, gc, gk, xs,
                  ys, cs, ks, a, b, c, d, stalls, combo, e, base, best, tmp, work, lbs, reqs,
                  lasts, drams, ens, cprim, kb, order, oslot, perm):
    """Per class of loop orders of a combo: exact counts (`work`), a cycle bound (`lbs`), the
    DMA figures the walk needs, DRAM bytes and energy, and the first component of its bound
    key (`cprim`). Whether any class's key beats `best`; if one does, the classes by
    increasing key (`order`) and, with a fused pooling, the smallest buffer each loop order
    fits with its own line buffer (`oslot`, bufs.size: none)."""
    e_static = _energy_range(0.0, base, e, np.int64(0), np.int64(FIRST_DMA_SLOT))
    hopeful = False
    for j in range(ncls):
        for r in range(C_LEN):
            tmp[r] = base[r]
        lbs[j], reqs[j], lasts[j], chain = _dma_flags(kon, flags_tab[mask, j], xs, ys, cs, ks,
                                                      a, b, c, d, tmp)
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
        _argsort(cprim, ncls, order)
        if layer[L_PKH] > 0:
            fp = _footprint(layer, hw, gx[a], gy[b], gc[c], gk[d], ks[d, KS_NGMAX])
            for o in range(N_ORDERS):
                for p in range(4):
                    perm[p] = ORDERS[o, p]
                oslot[o] = _slot(bufs, fp + _line_buffer_order(layer, hw, gx[a], gy[b], gk[d],
                                                               perm, xs[a, SP_N], ys[b, SP_N],
                                                               ks[d, KS_N]))
    return hopeful
