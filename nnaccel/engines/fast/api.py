"""The `fast` engine's public functions: counts, cycle bounds and footprints of given mappings.

`evaluate` is the closed forms of `compute` and `traffic` on a grid of one candidate, then
the walk of `walk` for the cycles; `lower_bound` the closed-form bound alone.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nnaccel.engines.layout import (
    C_COMPUTE,
    C_CYCLES,
    C_DRAM_RD,
    C_DRAM_WR,
    C_LEN,
    C_STALL,
    DF_OS,
    DF_WS,
    H_ALU,
    H_BW,
    H_DDEN,
    H_DNUM,
    H_LAT,
    H_LEN,
    H_OUT,
    H_PC,
    H_PORT,
    H_PR,
    H_PSUM,
    H_RD,
    H_RF_PSUMS,
    H_WORD,
    H_WR,
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
    _cdiv,
    _kernel,
    _perm,
)
from .compute import (
    _combo_compute,
    _compute_tables,
    _consts,
    _static,
)
from .context import (
    _context,
)
from .tiles import (
    CS_N,
    KS_N,
    SP_N,
    _footprint,
    _grid_stats,
    _line_buffer_order,
    _ngmax,
)
from .traffic import (
    F_COUT,
    _close_stalls,
    _dma_flags,
    _order_flags,
)
from .walk import (
    _walk,
)


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
    wp, ost = _compute_tables(layer, hw, df, xs, ys, cs, ks, hq, cnt_p, sum_p)
    kon = _consts(layer, hw)
    z = np.int64(0)
    comp = _combo_compute(kon, df, xs, ys, cs, ks, wp, ost, z, z, z, z)
    _static(kon, df, xs, ys, cs, ks, z, z, z, z, comp, counts)
    flags = _order_flags(_perm(m), xs[0, SP_N], ys[0, SP_N], cs[0, CS_N], ks[0, KS_N],
                         layer[L_G] > 1)
    lb, n_req, store_last, chain = _dma_flags(kon, flags, xs, ys, cs, ks, z, z, z, z, counts)
    if (flags & F_COUT) == 0:  # c inside the output loops (or nc = 1)
        lb = max(lb, chain + _close_stalls(kon, df, xs, ys, cs, ks, z, z, z, z, wp, ost,
                                                 np.int64(-1)))
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
        cycles, comp = _walk(layer, hw, ws, _perm(m), ctx, _BIG, counts[C_COMPUTE], n_req,
                             counts[C_DRAM_RD] + counts[C_DRAM_WR], store_last)
        counts[C_COMPUTE] = comp  # with the OS drains' waits, which the closed forms omit
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


@njit(cache=True, error_model="numpy")
def _footprint_many(layer, hw, mappings):
    n = mappings.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        m = mappings[i]
        ngmax = _ngmax(layer[L_G], layer[L_CGO], m[M_TK])
        out[i] = _footprint(layer, hw, m[M_TX], m[M_TY], m[M_TC], m[M_TK], ngmax)
        nx = _cdiv(layer[L_WO], m[M_TX])
        ny = _cdiv(layer[L_HO], m[M_TY])
        nk = _cdiv(layer[L_G] * layer[L_CGO], m[M_TK])
        out[i] += _line_buffer_order(layer, hw, m[M_TX], m[M_TY], m[M_TK], _perm(m), nx, ny, nk)
    return out


def check_vectors(layer: np.ndarray, hw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The layer and hardware vectors as contiguous int64, checked: the kernels trust them
    (no bounds checks, no division by zero)."""
    layer = np.ascontiguousarray(layer, dtype=np.int64).reshape(-1)
    hw = np.ascontiguousarray(hw, dtype=np.int64).reshape(-1)
    if layer.size != L_LEN:
        raise ValueError(f"a layer vector has {L_LEN} slots (layout.L_*), got {layer.size}")
    if hw.size != H_LEN:
        raise ValueError(f"a hardware vector has {H_LEN} slots (layout.H_*), got {hw.size}")
    v = layer.tolist()  # plain ints: a search checks its vectors each time, numpy per slot is slow
    if (v[L_KIND] not in (KIND_CONV, KIND_WINDOW)
            or min(v[i] for i in (L_G, L_CGI, L_CGO, L_H, L_W, L_KH, L_KW, L_SH, L_SW, L_HO,
                                  L_WO)) < 1
            or min(v[i] for i in (L_PH, L_PW, L_RES, L_WRES, L_VE, L_VR)) < 0):
        raise ValueError(f"bad layer vector {v}")
    if v[L_PKH] > 0 and min(v[i] for i in (L_PKW, L_PSH, L_PSW, L_PHO, L_PWO)) < 1:
        raise ValueError(f"bad fused pooling in layer vector {v}")
    up = (v[L_UH], v[L_UW], v[L_UN])
    if any(up) and (min(up[:2]) < 1 or up[2] not in (1, 2)):
        raise ValueError(f"bad upsample in layer vector {v}")
    h = hw.tolist()
    if (min(h[i] for i in (H_PR, H_PC, H_PORT, H_RF_PSUMS, H_WORD, H_PSUM, H_BW, H_DDEN, H_OUT,
                           H_RD, H_WR, H_ALU)) < 1
            or h[H_LAT] < 0 or not 0 <= h[H_DNUM] <= h[H_DDEN]):
        raise ValueError(f"bad hardware vector {h}")
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


def evaluate_checked(layer: np.ndarray, hw: np.ndarray, mappings: np.ndarray) -> np.ndarray:
    """`evaluate` without the checks, for a caller that holds vectors `check_vectors` passed
    and mappings the tiler returned for them (the checks cost more than a small layer's walk)."""
    return _evaluate_many(layer, hw, mappings)


def footprint_checked(layer: np.ndarray, hw: np.ndarray, mappings: np.ndarray) -> np.ndarray:
    """`footprint` without the checks (as `evaluate_checked`)."""
    return _footprint_many(layer, hw, mappings)


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
    """Buffer bytes each mapping needs: the double-buffered tiles (with a fused add's operands)
    and, with a fused pooling, its line buffer for the mapping's loop order (docs/model.md §7,
    §3a), int64 [n]."""
    layer, hw, mappings = _as_arrays(layer, hw, mappings)
    return _footprint_many(layer, hw, mappings)
