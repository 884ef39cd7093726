"""The DMA and double-buffer recurrence of docs/model.md §5, walked over the tiles.

`_context` builds the per-index tables of a tile-size combo (tile sizes, input spans, emitted
outputs, nonzero classes, per-tile compute), shared by every loop order; `_walk` runs the
recurrence for one order, each tile's compute an O(1) lookup. The walk skips repeated loop
iterations exactly: an iteration's effect on the recurrence's state is a composition of max
and +constant, so once an iteration has shifted the whole state by one delay, the following
iterations with the same parameters shift it by that delay again.
"""

from __future__ import annotations

import numpy as np

from nnaccel.engines.layout import (
    H_ALU,
    H_BW,
    H_DDEN,
    H_DNUM,
    H_LAT,
    H_OUT,
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
)

from .base import (
    _BIG,
    _cdiv,
    _fill,
    _kernel,
    _pure,
)
from .compute import (
    _os_drain_tables,
    _ws_tables,
)
from .tiles import (
    _k_groups,
    _nz_prefix,
    _sparsity,
    _spatial_arrays,
)
from .traffic import (
    _levels,
    _trip,
)


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
                                     layer[L_PPW], layer[L_PWO], layer[L_UW], layer[L_UN])
    ty_, rows, ey_ = _spatial_arrays(layer[L_HO], ty, layer[L_SH], layer[L_PH], layer[L_KH],
                                     layer[L_H], layer[L_PKH] if pooled else 0, layer[L_PSH],
                                     layer[L_PPH], layer[L_PHO], layer[L_UH], layer[L_UN])
    nx = tx_.size
    ny = ty_.size
    nc = _cdiv(cgi, tcv)
    tc_ = np.empty(nc, dtype=np.int64)
    nhi = np.empty(nc, dtype=np.int64)
    nlo = np.empty(nc, dtype=np.int64)
    hi, lo, _, _ = _sparsity(layer, hw)
    # OS: the c-tiles' classes (nonzero counts and whether it is the first, which resumes no
    # partial sums); a c-tile's nonzeros take two values (`_sparsity`), so there are few.
    cls = np.zeros(nc, dtype=np.int64)
    c_nhi = np.empty(nc, dtype=np.int64)
    c_nlo = np.empty(nc, dtype=np.int64)
    c_first = np.empty(nc, dtype=np.int64)
    ncls = 0
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
        if not ws:
            f = 1 if ic == 0 else 0
            q = 0
            while q < ncls and not (c_nhi[q] == nhi[ic] and c_nlo[q] == nlo[ic]
                                    and c_first[q] == f):
                q += 1
            if q == ncls:
                c_nhi[q] = nhi[ic]
                c_nlo[q] = nlo[ic]
                c_first[q] = f
                ncls += 1
            cls[ic] = q
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
        wtab = _ws_tables(hw, sizes, nk, tkv, ko, cgo)
        otab = np.zeros((1, 2, 2, 1), dtype=np.int64)
    else:
        txs = np.empty(2, dtype=np.int64)
        tys = np.empty(2, dtype=np.int64)
        txs[0] = tx
        txs[1] = tx_[nx - 1]
        tys[0] = ty
        tys[1] = ty_[ny - 1]
        otab = _os_drain_tables(layer, hw, txs, tys, nk, tkv, ko, cgo, c_nhi[:ncls],
                                c_nlo[:ncls], c_first[:ncls])
        wtab = np.zeros((3, 2, 1), dtype=np.int64)

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
    sig = np.empty((nc, 4), dtype=np.int64)
    for i in range(nc):
        sig[i, 0] = tc_[i]
        sig[i, 1] = nhi[i]
        sig[i, 2] = nlo[i]
        sig[i, 3] = cls[i]
    periods[LOOP_C] = _periodic_runs(sig, nc, runs[LOOP_C])
    sig = np.zeros((nk, 2 + max(6, 4 * otab.shape[0])), dtype=np.int64)
    for i in range(nk):
        sig[i, 0] = tk_[i]
        sig[i, 1] = ng_[i]
        if ws:
            for e in range(3):
                for s in range(2):
                    sig[i, 2 + 2 * e + s] = wtab[e, s, i]
        else:
            for e in range(otab.shape[0]):
                for sy in range(2):
                    for sx in range(2):
                        sig[i, 2 + 4 * e + 2 * sy + sx] = otab[e, sy, sx, i]
    periods[LOOP_K] = _periodic_runs(sig, nk, runs[LOOP_K])
    return (tx_, cols, ex_, ty_, rows, ey_, tc_, nhi, nlo, tk_, ng_, wtab, otab, runs, periods,
            cls)


@_kernel
def _empty_context():
    """A context of `_context`'s type holding nothing: a search's placeholder until it builds
    a combo's (one type for the variable, so `_walk` is compiled for that type alone)."""
    z = np.zeros(0, dtype=np.int64)
    return (z, z, z, z, z, z, z, z, z, z, z, np.zeros((0, 0, 0), dtype=np.int64),
            np.zeros((0, 0, 0, 0), dtype=np.int64), np.zeros((0, 0), dtype=np.int64), z, z)


@_kernel
def _os_totals(ctx):
    """OS: (Σ compute over every tile, Σ over the first c-tile's tiles) of a combo, with the
    drains' waits and the fills: what the walk sums, in any loop order (a tile's compute
    depends only on its c-tile class, its row and column size class and its k-tile)."""
    tx_, ty_, tc_, otab, cls = ctx[0], ctx[3], ctx[6], ctx[12], ctx[15]
    nx = tx_.size
    ny = ty_.size
    n_cls = np.zeros(otab.shape[0], dtype=np.int64)
    for ic in range(tc_.size):
        n_cls[cls[ic]] += 1
    total = 0
    first = 0
    for sy in range(2):
        wy = ny - 1 if sy == 0 else 1  # tiles of the size class: all but the last, the last
        for sx in range(2):
            w = wy * (nx - 1 if sx == 0 else 1)
            if w == 0:
                continue
            for q in range(otab.shape[0]):
                s = 0
                for ik in range(otab.shape[3]):
                    s += otab[q, sy, sx, ik]
                total += w * n_cls[q] * s
                if q == cls[0]:
                    first += w * s
    return total, first


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
