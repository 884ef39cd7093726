"""Per-tile compute tables the walk looks up (docs/model.md §4): a tile's cycles on the array
by its size class, its c-tile and its k-tile.

WS (`_ws_tables`): per kernel position, the weight-load cycles, the streaming cycles per pixel
and what a first contribution saves. OS (`_os_drain_tables`): a tile's chunks with the
partial-sum drains timed (two register sets per PE: one accumulates while the other drains
through the write port) and the fills of a resumed chunk through the read port. The totals
over a whole tile-size combo, which the search bounds with, are `compute`'s closed forms.
"""

from __future__ import annotations

import numpy as np

from nnaccel.engines.layout import (
    H_PC,
    H_PORT,
    H_PR,
    H_PSUM,
    H_RD,
    H_RF_PSUMS,
    H_WORD,
    H_WR,
    KIND_CONV,
    L_KH,
    L_KIND,
    L_KW,
    L_SH,
    L_SW,
)

from .base import (
    _cdiv,
    _fill,
    _kernel,
    _pure,
)
from .compute import (
    _os_step,
    _ws_pixel,
)
from .tiles import (
    _k_groups,
    _sparsity,
)


@_pure
def _ws_group(tc, kg, hw, res):
    """One group of a tile (§4): res[0] += Σ_cb Σ_kb weight-load cycles, res[1] += Σ_cb Σ_kb
    streaming cycles per pixel, res[2] += what the first contribution saves per pixel
    (cb = 0 of each kb): blocks of Pr input channels by Pc output channels."""
    pr = hw[H_PR]
    pc = hw[H_PC]
    port = min(hw[H_PORT], hw[H_RD])
    for i in range(2):
        r = pr if i == 0 else tc % pr
        nr = tc // pr if i == 0 else (1 if tc % pr > 0 else 0)
        if nr == 0:
            continue
        for j in range(2):
            q = pc if j == 0 else kg % pc
            nq = kg // pc if j == 0 else (1 if kg % pc > 0 else 0)
            if nq > 0:
                res[0] += nr * nq * _cdiv(r * q, port)
                res[1] += nr * nq * _ws_pixel(r, q, False, hw)
    r0 = min(pr, tc)
    for j in range(2):
        q = pc if j == 0 else kg % pc
        nq = kg // pc if j == 0 else (1 if kg % pc > 0 else 0)
        if nq > 0:
            res[2] += nq * (_ws_pixel(r0, q, False, hw) - _ws_pixel(r0, q, True, hw))


@_kernel
def _ws_tables(hw, tcs, nk, tk, ko, cgo):
    """tab[part, tc_sel, ik] of one kernel position: part 0 the weight-load cycles, 1 the
    streaming cycles per pixel, 2 what the first contribution saves per pixel."""
    tab = np.zeros((3, 2, nk), dtype=np.int64)
    res = np.zeros(3, dtype=np.int64)
    mid = np.zeros(3, dtype=np.int64)
    prev = (-1, -1, -1)
    for ik in range(nk):
        kg1, nmid, kg3 = _k_groups(ik, tk, ko, cgo)
        if (kg1, nmid, kg3) == prev:  # same groups as the k-tile before
            for e in range(3):
                tab[e, 0, ik] = tab[e, 0, ik - 1]
                tab[e, 1, ik] = tab[e, 1, ik - 1]
            continue
        prev = (kg1, nmid, kg3)
        for s in range(2):
            _fill(res, np.int64(0))
            _ws_group(tcs[s], kg1, hw, res)
            if kg3 > 0:
                _ws_group(tcs[s], kg3, hw, res)
            _fill(mid, np.int64(0))
            if nmid > 0:
                _ws_group(tcs[s], cgo, hw, mid)
            for e in range(3):
                tab[e, s, ik] = res[e] + nmid * mid[e]
    return tab


# --- OS with partial-sum drains (§4, "Partial-sum drains") -----------------------------------
# A chunk j of a block takes max(F_j + C_j, D_{j-1}): its fill F (read port, ic > 0) and its
# steps C, or the drain D of the chunk before it if that is longer (its register set drains
# while chunk j computes in the other; chunk j+1 needs the drained set). The first chunk of a
# block follows the last of the block before; the tile's last drain ends the tile.


@_pure
def _os_fc(m, a, b, nhi, nlo, hi, lo, first, layer, hw):
    """Fill and step cycles of a chunk of m channels on an a x b block, over a c-tile of
    nhi channels with hi nonzeros and nlo with lo (a window operation: nhi = tc, hi = KH·KW,
    m channels side by side)."""
    words = ((a - 1) * layer[L_SH] + layer[L_KH]) * ((b - 1) * layer[L_SW] + layer[L_KW])
    t = 0 if first else _cdiv(_cdiv(hw[H_PSUM], hw[H_WORD]) * m * a * b, hw[H_RD])
    conv = layer[L_KIND] == KIND_CONV
    if not conv:
        return t + nhi * _os_step(hi, m * words, conv, hw)
    t += nhi * _os_step(m * hi, words, conv, hw)
    if lo > 0:  # channels with no nonzero weight are skipped
        t += nlo * _os_step(m * lo, words, conv, hw)
    return t


@_pure
def _os_drain(m, a, b, hw):
    """Cycles the m·a·b partial sums of a chunk take through the write port."""
    return _cdiv(_cdiv(hw[H_PSUM], hw[H_WORD]) * m * a * b, hw[H_WR])


@_pure
def _os_group(kg, rr, a, b, nhi, nlo, hi, lo, first, layer, hw):
    """A group's chunks (kg channels, rr at a time): its first chunk's size, its last's, and
    Σ over its chunks but the first of max(F + C, drain of the one before)."""
    nf = kg // rr
    r = kg % rr
    w = 0
    if nf > 1:
        w += (nf - 1) * max(_os_fc(rr, a, b, nhi, nlo, hi, lo, first, layer, hw),
                            _os_drain(rr, a, b, hw))
    if nf > 0 and r > 0:
        w += max(_os_fc(r, a, b, nhi, nlo, hi, lo, first, layer, hw), _os_drain(rr, a, b, hw))
    return (rr if nf > 0 else r), (r if r > 0 else rr), w


@_pure
def _os_block(a, b, tk, kg1, nmid, kg3, cgo, nhi, nlo, hi, lo, first, layer, hw, out):
    """The chunks of one a x b block of a tile: out[0] F + C of its first chunk, out[1] Σ
    over the others of max(F + C, drain before), out[2] its last chunk's drain."""
    if layer[L_KIND] != KIND_CONV:  # tk channels spread over the PEs the block leaves free
        f0, last, w = _os_group(tk, max(1, (hw[H_PR] * hw[H_PC]) // (a * b)), a, b, nhi, nlo,
                                hi, lo, first, layer, hw)
        out[0] = _os_fc(f0, a, b, nhi, nlo, hi, lo, first, layer, hw)
        out[1] = w
        out[2] = _os_drain(last, a, b, hw)
        return
    rr = hw[H_RF_PSUMS]
    f0, last, w = _os_group(kg1, rr, a, b, nhi, nlo, hi, lo, first, layer, hw)
    out[0] = _os_fc(f0, a, b, nhi, nlo, hi, lo, first, layer, hw)
    if nmid > 0:
        fm, lm, wm = _os_group(cgo, rr, a, b, nhi, nlo, hi, lo, first, layer, hw)
        fc = _os_fc(fm, a, b, nhi, nlo, hi, lo, first, layer, hw)
        w += max(fc, _os_drain(last, a, b, hw)) + nmid * wm
        w += (nmid - 1) * max(fc, _os_drain(lm, a, b, hw))
        last = lm
    if kg3 > 0:
        f3, l3, w3 = _os_group(kg3, rr, a, b, nhi, nlo, hi, lo, first, layer, hw)
        w += max(_os_fc(f3, a, b, nhi, nlo, hi, lo, first, layer, hw),
                 _os_drain(last, a, b, hw)) + w3
        last = l3
    out[1] = w
    out[2] = _os_drain(last, a, b, hw)


@_pure
def _os_tile(tx, ty, tk, kg1, nmid, kg3, cgo, nhi, nlo, hi, lo, first, layer, hw, blk):
    """OS cycles of a tile (§4): its blocks row by row, x fastest, each block's first chunk
    after the drain of the block before, and the last drain. blk: scratch (4, 3)."""
    pr = hw[H_PR]
    pc = hw[H_PC]
    nby = _cdiv(ty, pr)
    nbx = _cdiv(tx, pc)
    # block types: [row type][column type], 0 a full one (if any), 1 the last
    for ya in range(2):
        a = pr if ya == 0 else ty - (nby - 1) * pr
        for xb in range(2):
            b = pc if xb == 0 else tx - (nbx - 1) * pc
            _os_block(a, b, tk, kg1, nmid, kg3, cgo, nhi, nlo, hi, lo, first, layer, hw,
                      blk[2 * ya + xb])
    x0 = 0 if nbx > 1 else 1  # the type of a row's first block
    total = 0
    for ya in range(2):
        rows = nby - 1 if ya == 0 else 1
        if rows == 0:
            continue
        row = (nbx - 1) * blk[2 * ya, 1] + blk[2 * ya + 1, 1]  # the blocks' own chunks
        if nbx > 2:
            row += (nbx - 2) * max(blk[2 * ya, 0], blk[2 * ya, 2])
        if nbx > 1:
            row += max(blk[2 * ya + 1, 0], blk[2 * ya, 2])
        total += rows * row
    # each row's first block: after the last block of the row before (a full row's)
    y0 = 0 if nby > 1 else 1
    total += blk[2 * y0 + x0, 0]
    if nby > 2:
        total += (nby - 2) * max(blk[x0, 0], blk[1, 2])
    if nby > 1:
        total += max(blk[2 + x0, 0], blk[1, 2])
    return total + blk[3, 2]


@_kernel
def _os_drain_tables(layer, hw, txs, tys, nk, tk, ko, cgo, cls_nhi, cls_nlo, cls_first):
    """tab[class, sy, sx, ik]: OS cycles of a tile of c-tile class `class` (its channels'
    nonzero counts and whether it is the first, which fills nothing), rows sy and columns sx
    (0 a full tile, 1 the last) and k-tile ik."""
    hi, lo, _, _ = _sparsity(layer, hw)
    ncls = cls_nhi.size
    tab = np.zeros((ncls, 2, 2, nk), dtype=np.int64)
    blk = np.empty((4, 3), dtype=np.int64)
    prev = (-1, -1, -1, -1)
    for ik in range(nk):
        kg1, nmid, kg3 = _k_groups(ik, tk, ko, cgo)
        tk_i = min(tk, ko - ik * tk)
        if (kg1, nmid, kg3, tk_i) == prev:  # same groups as the k-tile before
            for q in range(ncls):
                for sy in range(2):
                    for sx in range(2):
                        tab[q, sy, sx, ik] = tab[q, sy, sx, ik - 1]
            continue
        prev = (kg1, nmid, kg3, tk_i)
        for q in range(ncls):
            for sy in range(2):
                for sx in range(2):
                    tab[q, sy, sx, ik] = _os_tile(txs[sx], tys[sy], tk_i, kg1, nmid, kg3, cgo,
                                                  cls_nhi[q], cls_nlo[q], hi, lo,
                                                  cls_first[q] == 1, layer, hw, blk)
    return tab
