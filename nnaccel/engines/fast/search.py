"""The tiler's branch and bound over a grid of tile sizes (docs/model.md §8; `nnaccel.tiler`
defines the candidates and the keys).

Per tile-size combo a cheap bound (its compute), then, as a queue by increasing bound reaches
the combo, the full bound (`traffic`), then per class of loop orders with equal traffic flags
exact counts and a cycle bound; only the orders whose bound key is below the best are walked
(`walk._walk`), each only until it cannot win.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nnaccel.engines.layout import (
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
    DF_WS,
    L_G,
    L_PKH,
    M_DATAFLOW,
    M_LEN,
    M_ORDER,
    M_TC,
    M_TK,
    M_TX,
    M_TY,
)

from .base import (
    _BIG,
    ORDERS,
    _argsort,
    _cdiv,
    _fill,
    _heap_pop,
    _heap_push,
    _heapify,
    _pure,
    _separate,
)
from .compute import (
    K_CGI,
    K_K2,
    K_KO,
    K_NZ,
    K_PIX,
    K_PRPC,
    K_VR,
    _combo_compute,
    _compute_tables,
    _consts,
    _static,
)
from .context import (
    _context,
    _empty_context,
    _os_totals,
)
from .tiles import (
    CS_N,
    KS_N,
    KS_NGMAX,
    SP_N,
    _footprint,
    _grid_stats,
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
from .walk import (
    _walk,
)

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


@_separate
def _walk_classes(layer, hw, ws, obj, df, nb, gx, gy, gc, gk, combo, slot0, ncls, cnt_tab,
                  ord_tab, mask, ctx, comp_total, lbs, reqs, lasts, drams, ens, order, oslot,
                  work, best, best_all, mapping, counts, found, kb, kc, perm):
    """Walk a combo's loop orders, classes by increasing bound key (`_class_counts`), each
    order only while it can beat the best of the smallest buffer it fits; every buffer whose
    best it beats takes it (kb, kc, perm: scratch). Returns the timelines walked."""
    pooled = layer[L_PKH] > 0
    sims = 0
    for jj in range(ncls):
        j = order[jj]
        for q in range(cnt_tab[mask, j]):
            o = ord_tab[mask, j, q]
            code = combo * N_ORDERS + o
            thr = _threshold(obj, drams[j], ens[j], code, best, kb)
            if thr < lbs[j]:
                continue
            slot = slot0
            if pooled:  # the order's own line buffer
                slot = oslot[o]
                if slot == nb:
                    continue
                if slot != slot0:
                    thr = _threshold(obj, drams[j], ens[j], code, best_all[slot], kb)
                    if thr < lbs[j]:
                        continue
            for p in range(4):
                perm[p] = ORDERS[o, p]
            sims += 1
            cycles, comp_all = _walk(layer, hw, ws, perm, ctx, thr, comp_total, reqs[j],
                                     drams[j], lasts[j])
            if cycles < 0:
                continue
            _key(obj, cycles, drams[j], ens[j], code, kc)
            for k in range(slot, nb):  # every buffer it fits whose best it beats
                if not _less(kc, best_all[k]):
                    continue
                for r in range(5):
                    best_all[k, r] = kc[r]
                found[k] = True
                _decode(code, df, gx, gy, gc, gk, mapping[k])
                for r in range(C_LEN):
                    counts[k, r] = work[j, r]
                counts[k, C_COMPUTE] = comp_all  # with the OS drains' waits
                counts[k, C_CYCLES] = cycles
                counts[k, C_STALL] = cycles - comp_all
    return sims


@njit(cache=True, error_model="numpy")
def search_grid(layer, hws, e, obj, df, caps, bufs, gx, gy, gc, gk, cls_n, cls_flags, cls_cnt,
                cls_ord):
    """The tiler's search of one dataflow over a grid of tile sizes (nnaccel.tiler), for each
    of several hardware variants (`hws`, one row each, equal but for the DRAM's bandwidth and
    latency) and each of several buffer sizes at once (`bufs`, ascending; the hardware's own is
    not read).

    Returns (mapping, counts, found: one row per variant and buffer, smallest footprint of the
    grid (2**62 when the caps rule out the whole grid at once for every variant, unenumerated),
    timelines walked). For variant v and buffer k only candidates that fit the buffer and whose
    key's first component (the objective: cycles, energy or EDP) is at most `caps[v, k]` count
    (np.inf: all); found[v, k] is False when none does. The grid's tables and its combos'
    first bounds depend on neither the bandwidth nor the latency: they are made once, and
    each variant has a queue and walks of its own.
    A candidate that fits a buffer fits every larger one, so a larger buffer's best key is
    never above a smaller one's: a candidate is worth simulating when it beats the best of the
    smallest buffer it fits, and updates every buffer from there on that it beats. The buffers
    share the bounds, the queue and the walks; each result is that buffer's exhaustive
    optimum, as if searched alone.
    Bounds are taken three times, each only for a combo the one before has not ruled out:
    per tile-size combo from its compute alone (every combo), with the least traffic any
    loop order could have (flags 0; when the combo comes up in the queue, which takes combos
    by increasing bound), then per class of loop orders with equal traffic flags, which share
    every count but the cycles (OS: once more with the combo's exact compute,
    `walk._os_totals`). Only orders whose bound key is below the best key are simulated, and
    their walk stops once they cannot beat it.
    (Its body is split into kernels that a cold compile does on two cores: `engines.warm`.)
    """
    hw = hws[0]
    kon = _consts(layer, hw)
    if df == DF_WS:  # ops: the same for every tile-size combo of the dataflow
        ops = kon[K_K2] * kon[K_PIX] * kon[K_CGI] * kon[K_KO]
    else:
        ops = kon[K_PIX] * kon[K_KO] * kon[K_NZ]
    nv = hws.shape[0]
    nb = bufs.size
    mapping = np.zeros((nv, nb, M_LEN), dtype=np.int64)
    counts = np.zeros((nv, nb, C_LEN), dtype=np.int64)
    found = np.zeros((nv, nb), dtype=np.bool_)
    macs = _cdiv(ops, kon[K_PRPC])  # no candidate does its ops in fewer cycles
    # No candidate computes its ops faster than Pr·Pc a cycle: with the cycles objective, a
    # variant whose loosest cap is below that has nothing to search (WS, most often, capped
    # by the OS winner: dense WS steps against OS's nonzeros alone); its buffers all have a
    # winner within their caps, so the smallest footprint is not needed either.
    reach = np.ones(nv, dtype=np.bool_)
    n_reach = nv
    if obj == OBJ_CYCLES:
        for v in range(nv):
            reach[v] = macs <= caps[v, 0]
            n_reach -= 0 if reach[v] else 1
    if n_reach == 0:
        return mapping, counts, found, _BIG, 0
    xs, ys, cs, ks, hq, cnt_p, sum_p = _grid_stats(layer, hw, gx, gy, gc, gk)
    wp, ost = _compute_tables(layer, hw, df, xs, ys, cs, ks, hq, cnt_p, sum_p)
    ny_, nc_, nk_ = gy.size, gc.size, gk.size
    g = 1 if layer[L_G] > 1 else 0  # the class tables are per (G > 1)
    n_cls = cls_n[g]
    flags_tab = cls_flags[g]
    cnt_tab = cls_cnt[g]
    ord_tab = cls_ord[g]
    ws = df == DF_WS
    c_first, c_dram, c_en, c_id, c_slot, n, min_fp = _combos(
        layer, hw, e, obj, df, bufs, gx, gy, gc, gk, xs, ys, cs, ks, wp, ost, kon, macs)
    if n == 0:
        return mapping, counts, found, min_fp, 0
    kb = np.empty(5, dtype=np.float64)
    kc = np.empty(5, dtype=np.float64)
    perm = np.empty(4, dtype=np.int64)
    base = np.empty(C_LEN, dtype=np.int64)
    c_lb = np.empty(n, dtype=np.int64)
    refined = np.empty(n, dtype=np.bool_)
    heap_key = np.empty(n, dtype=np.float64)
    heap_id = np.empty(n, dtype=np.int64)
    best_all = np.empty((nb, 5), dtype=np.float64)  # per buffer: never above a smaller one's
    work = np.empty((N_ORDERS, C_LEN), dtype=np.int64)
    tmp = np.empty(C_LEN, dtype=np.int64)
    lbs = np.empty(N_ORDERS, dtype=np.int64)
    reqs = np.empty(N_ORDERS, dtype=np.int64)
    lasts = np.empty(N_ORDERS, dtype=np.int64)
    drams = np.empty(N_ORDERS, dtype=np.int64)
    ens = np.empty(N_ORDERS, dtype=np.float64)
    cprim = np.empty(N_ORDERS, dtype=np.float64)
    order = np.empty(N_ORDERS, dtype=np.int64)
    oslot = np.empty(N_ORDERS, dtype=np.int64)
    no_ctx = _empty_context()
    # OS: a combo's exact compute (`_os_totals`), once for all variants; -1 until taken
    os_comp = np.empty(0 if ws else n, dtype=np.int64)
    os_first = np.empty(0 if ws else n, dtype=np.int64)
    _fill(os_comp, np.int64(-1))
    sims = 0
    for v in range(nv):
        if not reach[v]:
            continue
        hw = hws[v]
        kon = _consts(layer, hw)
        mapping_v = mapping[v]
        counts_v = counts[v]
        found_v = found[v]
        for i in range(n):  # the first bounds, which the queue refines (per variant)
            c_lb[i] = c_first[i]
            refined[i] = False
        # The queue: a binary heap of the combos that may beat their buffer's best, by the
        # first component of their bound key. A combo comes up with its cheap bound and goes
        # back with its full bound (`_combo_bound`); one that comes up refined is expanded. So
        # combos are expanded by increasing bound, and a combo whose full bound is above the
        # incumbent is never expanded (most are not; a sort of all of them cost more than the
        # expansions).
        n_heap = _queue(obj, caps[v], c_lb, c_dram, c_en, c_id, c_slot, n, best_all, heap_key,
                        heap_id, kb)
        while n_heap > 0:
            i = heap_id[0]
            n_heap = _heap_pop(heap_key, heap_id, n_heap)
            _key(obj, c_lb[i], c_dram[i], c_en[i], c_id[i] * N_ORDERS, kb)
            if kb[0] > best_all[0, 0]:
                break  # by increasing bound: no later combo can be below any buffer's best key
            best = best_all[c_slot[i]]  # the loosest best the combo can improve
            if not _less(kb, best):
                continue
            combo = c_id[i]
            d = combo % nk_
            c = combo // nk_ % nc_
            b = combo // (nk_ * nc_) % ny_
            a = combo // (nk_ * nc_ * ny_)
            if not refined[i]:
                refined[i] = True
                c_lb[i] = _combo_bound(kon, df, xs, ys, cs, ks, a, b, c, d, wp, ost, ops, base)
                _key(obj, c_lb[i], c_dram[i], c_en[i], combo * N_ORDERS, kb)
                if not _less(kb, best):
                    continue
                if n_heap > 0 and kb[0] > heap_key[0]:  # another combo comes first now
                    n_heap = _heap_push(heap_key, heap_id, n_heap, kb[0], i)
                    continue
            comp = _combo_compute(kon, df, xs, ys, cs, ks, wp, ost, a, b, c, d)
            _static(kon, df, xs, ys, cs, ks, a, b, c, d, comp, base)
            mask = _combo_mask(xs, ys, cs, ks, a, b, c, d)
            ncls = n_cls[mask]
            # The least bound over the combo's classes of orders, twice for OS: first with the
            # closed forms' compute (a lower bound), then, for a combo that passes, with the
            # exact compute of its tiles (`_os_totals`: the drains' waits and the fills),
            # which needs the walk's context.
            stalls = _round_bound(obj, kon, df, flags_tab, mask, ncls, xs, ys, cs, ks, wp, ost,
                                  a, b, c, d, np.int64(-1), base, c_dram[i], c_en[i],
                                  combo * N_ORDERS, kb)
            ctx = no_ctx
            have_ctx = False
            if not ws and _less(kb, best):
                if os_comp[i] < 0:  # (another variant may have taken it: it is the DRAM's)
                    ctx = _context(layer, hw, ws, gx[a], gy[b], gc[c], gk[d])
                    have_ctx = True
                    os_comp[i], os_first[i] = _os_totals(ctx)
                comp = os_comp[i]
                comp_first = os_first[i]
                base[C_COMPUTE] = comp
                stalls = _round_bound(obj, kon, df, flags_tab, mask, ncls, xs, ys, cs, ks, wp,
                                      ost, a, b, c, d, comp_first, base, c_dram[i], c_en[i],
                                      combo * N_ORDERS, kb)
            if not _less(kb, best):
                continue
            if _class_counts(obj, kon, flags_tab, ord_tab, mask, ncls, layer, hw, bufs, gx, gy,
                             gc, gk, xs, ys, cs, ks, a, b, c, d, stalls, combo, e, base, best,
                             tmp, work, lbs, reqs, lasts, drams, ens, cprim, kb, order, oslot,
                             perm):
                if not have_ctx:
                    ctx = _context(layer, hw, ws, gx[a], gy[b], gc[c], gk[d])
                sims += _walk_classes(layer, hw, ws, obj, df, nb, gx, gy, gc, gk, combo,
                                      c_slot[i], ncls, cnt_tab, ord_tab, mask, ctx,
                                      base[C_COMPUTE], lbs, reqs, lasts, drams, ens, order,
                                      oslot, work, best, best_all, mapping_v, counts_v,
                                      found_v, kb, kc, perm)
    return mapping, counts, found, min_fp, sims
