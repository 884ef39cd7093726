"""The tiler's keys (docs/model.md §8): a candidate's key under each objective, how keys
compare, a candidate's index back to its mapping, and the most cycles with which a candidate
still beats a best key."""

from __future__ import annotations

import numpy as np
from numba import njit

from nnaccel.engines.layout import (
    C_ARRAY,
    C_BUF_RD,
    C_BUF_WR,
    C_COMPUTE,
    C_DRAM_RD,
    C_DRAM_WR,
    C_LEN,
    C_OPS,
    C_RF,
    M_DATAFLOW,
    M_ORDER,
    M_TC,
    M_TK,
    M_TX,
    M_TY,
)

from .base import (
    _BIG,
    ORDERS,
    _pure,
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
