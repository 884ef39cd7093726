"""The tiler's branch and bound over a grid of tile sizes (docs/model.md §8; `nnaccel.tiler`
defines the candidates and the keys).

Per tile-size combo a cheap bound (its compute), then, as a queue by increasing bound reaches
the combo, the full bound (`traffic`), then per class of loop orders with equal traffic flags
exact counts and a cycle bound (those bounds and the queue: `bounds`; the keys: `keys`); only
the orders whose bound key is below the best are walked (`walk._walk`), each only until it
cannot win.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nnaccel.engines.layout import (
    C_COMPUTE,
    C_CYCLES,
    C_LEN,
    C_STALL,
    DF_WS,
    L_G,
    L_PKH,
    M_LEN,
)

from .base import (
    _BIG,
    ORDERS,
    _cdiv,
    _fill,
    _heap_pop,
    _heap_push,
    _separate,
)
from .bounds import (
    _class_counts,
    _combo_bound,
    _combo_mask,
    _combos,
    _queue,
    _round_bound,
)
from .compute import (
    K_CGI,
    K_K2,
    K_KO,
    K_NZ,
    K_PIX,
    K_PRPC,
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
from .keys import (
    N_ORDERS,
    OBJ_CYCLES,
    OBJ_EDP,
    OBJ_ENERGY,
    _decode,
    _energy,
    _key,
    _less,
    _threshold,
)
from .tiles import (
    _grid_stats,
)
from .walk import (
    _walk,
)

__all__ = ["N_ORDERS", "OBJ_CYCLES", "OBJ_EDP", "OBJ_ENERGY", "_energy", "search_grid"]


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
