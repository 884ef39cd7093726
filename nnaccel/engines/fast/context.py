"""A tile-size combo's context: the per-index tables every loop order's walk shares.

`_context` builds them (tile sizes, input spans, emitted outputs, nonzero-weight classes of the
c-tiles, the per-tile compute tables of `tilecompute`, and for each loop the period of its
indices' parameters and how far it holds, which lets the walk skip repeated iterations);
`_os_totals` sums an OS combo's compute over its tiles from them, the search's exact bound.
"""

from __future__ import annotations

import numpy as np

from nnaccel.engines.layout import (
    H_DDEN,
    H_DNUM,
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
    L_SH,
    L_SW,
    L_UH,
    L_UN,
    L_UW,
    L_W,
    L_WO,
    LOOP_C,
    LOOP_K,
    LOOP_X,
    LOOP_Y,
)

from .base import (
    _cdiv,
    _kernel,
    _pure,
    _separate,
)
from .tilecompute import (
    _os_drain_tables,
    _ws_tables,
)
from .tiles import (
    _k_groups,
    _nz_prefix,
    _sparsity,
    _spatial_arrays,
)


@_separate
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
    periods[LOOP_X] = _periodic_runs(_spatial_sig(tx_, cols, ex_), nx, runs[LOOP_X])
    periods[LOOP_Y] = _periodic_runs(_spatial_sig(ty_, rows, ey_), ny, runs[LOOP_Y])
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
def _spatial_sig(t, span, emitted):
    """A spatial loop's parameters per index (tile size, input span, outputs emitted), one row
    each: what `_periodic_runs` compares."""
    sig = np.empty((t.size, 3), dtype=np.int64)
    for i in range(t.size):
        sig[i, 0] = t[i]
        sig[i, 1] = span[i]
        sig[i, 2] = emitted[i]
    return sig


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
