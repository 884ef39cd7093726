"""The DMA and double-buffer recurrence of docs/model.md §5, walked over the tiles.

`_walk` runs the recurrence for one loop order of a tile-size combo, each tile's compute an
O(1) lookup in the combo's context (`context._context`, shared by every order). The walk
skips repeated loop iterations exactly: an iteration's effect on the recurrence's state is a
composition of max and +constant, so once an iteration has shifted the whole state by one
delay, the following iterations with the same parameters shift it by that delay again.
"""

from __future__ import annotations

import numpy as np

from nnaccel.engines.layout import (
    H_ALU,
    H_BW,
    H_LAT,
    H_OUT,
    H_PSUM,
    H_WORD,
    KIND_CONV,
    L_G,
    L_KH,
    L_KIND,
    L_KW,
    L_PKH,
    L_PKW,
    L_RES,
    L_VE,
    L_VR,
    L_WRES,
    LOOP_C,
    LOOP_K,
    LOOP_X,
    LOOP_Y,
)

from .base import (
    _BIG,
    _cdiv,
    _fill,
    _pure,
    _separate,
)
from .context import _MAX_PERIOD
from .traffic import (
    _levels,
    _trip,
)


@_separate
def _walk(layer, hw, ws, perm, ctx, thr, comp_total, n_req, bytes_total, store_last):
    """The cycles of one loop order of a combo (`_context`): the recurrence of §5 over its
    tiles. Returns (cycles, Σ compute of the tiles): cycles -1 as soon as they are sure to
    exceed `thr`: the array still has the rest of `comp_total` (Σ compute, or a lower bound:
    the closed forms omit the OS drains' waits) to compute and then the last store
    (`store_last`) to wait for; the channel still has at least the requests of `n_req` not yet
    made and the bytes of `bytes_total` not yet moved.

    Skipping, exactly. A *macro-step* at level q is one iteration of that loop (all inner
    tiles) plus the load it issues for the next one. Its effect on the state (eL[t], ce[t-1],
    eS[t-1], eS[t-2], the completion times of the last OUT requests) is a composition of max
    and +constant, so it is the same map for two iterations whose indices have equal
    parameters (same run), and it commutes with adding one delay to every live time (a 0 -- a
    skipped request, or no request yet in the ring -- never decides a max: each max also takes
    a ready time or a later completion). So when an iteration moved the whole
    state by one delay and the next iterations are the same map, each of them moves it by that
    delay again: they are skipped in one step, with their compute, requests and bytes.
    """
    (tx_, cols, ex_, ty_, rows, ey_, tc_, nhi, nlo, tk_, ng_, wtab, otab, runs, periods,
     cls) = ctx
    res = layer[L_RES]
    ve = layer[L_VE]
    vr = layer[L_VR]
    word = hw[H_WORD]
    ps = hw[H_PSUM]
    lat = hw[H_LAT]
    bw = hw[H_BW]
    out = hw[H_OUT]
    alu_rate = hw[H_ALU]
    pool2 = layer[L_PKH] * layer[L_PKW] if layer[L_PKH] > 0 else 0
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
    ck = np.zeros((4, _MAX_PERIOD, 8 + out), dtype=np.int64)  # 8..: the DMA ring
    # Completion times of the last `out` requests, oldest first (0: none yet); ring[out-1]
    # is when the channel has moved every byte asked of it so far.
    ring = np.zeros(out, dtype=np.int64)

    load = ng_[0] * tc_[0] * rows[0] * cols[0] * word
    if conv and layer[L_WRES] == 0:  # else left in the buffer by the previous image
        load += tk_[0] * tc_[0] * k2 * word
    if res > 0 and nc == 1 and _next_level(idx, n_lvl) <= d_out:
        load += res * tk_[0] * ty_[0] * tx_[0] * word  # tile 0 closes final (§3a)
    e_load = _issue(ring, np.int64(0), _cdiv(load, bw), lat) if load > 0 else np.int64(0)
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
                    ok = _shifted(e_load, ck[q, s0, 0], delta)
                    for r in range(out):
                        ok = ok and _shifted(ring[r], ck[q, s0, 8 + r], delta)
                    ok = ok and _shifted(es_1, ck[q, s0, 2], delta)
                    ok = ok and _shifted(es_2, ck[q, s0, 3], delta)
                    if ok:
                        comp_done += reps * (comp_done - ck[q, s0, 5])
                        req_done += reps * (req_done - ck[q, s0, 6])
                        bytes_done += reps * (bytes_done - ck[q, s0, 7])
                        shift = reps * delta
                        ce_prev += shift
                        for r in range(out):
                            if ring[r] > 0:
                                ring[r] += shift
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
            for r in range(out):
                ck[q, slot, 8 + r] = ring[r]
            ck[q, slot, 5] = comp_done
            ck[q, slot, 6] = req_done
            ck[q, slot, 7] = bytes_done

        if ws:  # weight loads and streaming per kernel position (§4); the first c-tile's
            # first channel block reads no partial sums
            s = 0 if ic < nc - 1 else 1
            npix = tx_[ix] * ty_[iy]
            comp = k2 * (wtab[0, s, ik] + npix * wtab[1, s, ik])
            if ic == 0:
                comp -= npix * wtab[2, s, ik]
        else:
            sy = 0 if iy < ny - 1 else 1
            sx = 0 if ix < nx - 1 else 1
            comp = otab[cls[ic], sy, sx, ik]
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
                e_next = _issue(ring, ce_prev, _cdiv(load, bw), lat)
                req_done += 1
                bytes_done += load
        es = np.int64(0)
        if closed:
            alu = 0
            if ic == nc - 1:  # final: what the output path emits (§3a) and its ALU work
                store = tk_[ik] * ey_[iy] * ex_[ix] * word
                alu = tk_[ik] * (res * ty_[iy] * tx_[ix] + pool2 * ey_[iy] * ex_[ix])
                alu += (ve * tk_[ik] + vr) * ty_[iy] * tx_[ix]  # a vector kind's (§1b)
            else:  # a partial-sum spill
                store = tk_[ik] * ty_[iy] * tx_[ix] * ps
            if store > 0:
                es = _issue(ring, ce, max(_cdiv(store, bw), _cdiv(alu, alu_rate)), lat)
                req_done += 1
                bytes_done += store
        es_2 = es_1
        es_1 = es
        ce_prev = ce
        e_load = e_next
        if bounded:
            if ce + (comp_total - comp_done) + store_last > thr:
                return -1, comp_done
            # what the channel must still do: the bytes one after another, and with one
            # request at a time each request's latency as well
            rest = _cdiv(max(bytes_total - bytes_done, 0), bw)
            if out == 1:
                rest += lat * max(n_req - req_done, 0)
            if ring[out - 1] + rest > thr:
                return -1, comp_done
        if last:
            return max(ce_prev, ring[out - 1]), comp_done
        ix = jx
        iy = jy
        ic = jc
        ik = jk
        t += 1


@_pure
def _issue(ring, ready, cycles, lat):
    """Completion of a request that is ready at `ready` and moves its data for `cycles` (§5):
    it is issued once the request `out` before it has completed, its latency runs from
    there, and its data follow those of the request before it. Records it in `ring`."""
    n = ring.size
    start = max(ready, ring[0])
    end = max(start + lat, ring[n - 1]) + cycles
    for i in range(n - 1):
        ring[i] = ring[i + 1]
    ring[n - 1] = end
    return end


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
