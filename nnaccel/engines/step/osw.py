"""The OS walk of one tile (docs/model.md §4, "OS"), one phase at a time.

Per pixel block (rows, then columns) and chunk of output channels (per group): the chunk's
partial sums come in from the buffer through the read port when it resumes them (`ic > 0`,
a *fill*), then a *step* per input channel with a nonzero weight (its window and its weight
broadcasts). Each PE holds two sets of partial-sum registers: when a chunk's steps are done
its set *drains* to the buffer through the write port while the next chunk fills and
computes in the other set; the chunk after that needs the first set again, so it waits for
that drain (model.md §4, "Partial-sum drains"). The last chunk's drain ends the tile. The
position lives in a small array so that the clock loop can advance it between cycles.
"""

from __future__ import annotations

from numba import njit

from nnaccel.engines.layout import (
    H_PC,
    H_PR,
    H_PSUM,
    H_RF_PSUMS,
    H_WORD,
    KIND_WINDOW,
    L_CGO,
    L_KH,
    L_KIND,
    L_KW,
    L_SH,
    L_SW,
    M_TC,
)

from .data import _cdiv

BY = 0  # pixel block: row index, column index, and how many of each
BX = 1
NBY = 2
NBX = 3
A = 4  # rows and columns of the current block
B = 5
G = 6  # current group, its channels in the tile, chunk within it, chunks of it
KG = 7
CIG = 8
NCH = 9
M = 10  # channels of the current chunk
CI = 11  # current input channel, offset within the tile
REM = 12  # window words of the step still to come
BLEFT = 13  # weight broadcasts (window elements) of the step still to come
ADD_RD = 14  # partial sums read back and written out since the clock loop last took them
ADD_WR = 15
OPC = 16  # operations the PEs do per broadcast cycle of the step
DR = 17  # words of the draining set still to go through the write port
FL = 18  # words of the current chunk's fill still to come through the read port
PH = 19  # what the array does: one of the PH_* phases
ST_LEN = 20

PH_FILL = 0  # the chunk's partial sums come in (read port)
PH_STEP = 1  # a step: window words and weight broadcasts
PH_WAIT = 2  # the chunk is done; its set waits for the other set's drain to end
PH_LAST = 3  # the tile's last drain: the tile ends when it does

# The tile being walked: input-channel tile index and size, output size, k range.
T_IC = 0
T_TC = 1
T_TX = 2
T_TY = 3
T_K0 = 4
T_K1 = 5
TP_LEN = 6


@njit(cache=True)
def _chunk_size(st, tp, layer, hw):
    g = st[G]
    cgo = layer[L_CGO]
    st[KG] = min(tp[T_K1], (g + 1) * cgo) - max(tp[T_K0], g * cgo)
    st[NCH] = _cdiv(st[KG], hw[H_RF_PSUMS])


@njit(cache=True)
def _spread(st, tp, hw):
    # A window operation spreads its channels (groups of one) over the PEs a pixel block
    # leaves free: as many as fit, from group G on (model.md §4).
    st[M] = min(max(1, (hw[H_PR] * hw[H_PC]) // (st[A] * st[B])), tp[T_K1] - st[G])


@njit(cache=True)
def _next_block(st, tp, hw):
    """Move to the tile's next pixel block (x fastest) and size it; False past the last."""
    pr = hw[H_PR]
    pc = hw[H_PC]
    st[BX] += 1
    if st[BX] == st[NBX]:
        st[BX] = 0
        st[BY] += 1
        if st[BY] == st[NBY]:
            return False
    st[A] = min(pr, tp[T_TY] - st[BY] * pr)
    st[B] = min(pc, tp[T_TX] - st[BX] * pc)
    return True


@njit(cache=True)
def _next_chunk(st, tp, layer, hw):
    """The next chunk of the group, the next group, the next pixel block; False when the
    tile has none left."""
    if layer[L_KIND] == KIND_WINDOW:  # the next channels of the block, or the next block
        st[G] += st[M]
        if st[G] < tp[T_K1]:
            _spread(st, tp, hw)
            return True
        st[G] = tp[T_K0]
        if not _next_block(st, tp, hw):
            return False
        _spread(st, tp, hw)
        return True
    st[CIG] += 1
    if st[CIG] == st[NCH]:
        st[CIG] = 0
        st[G] += 1
        if st[G] > (tp[T_K1] - 1) // layer[L_CGO]:
            st[G] = tp[T_K0] // layer[L_CGO]
            if not _next_block(st, tp, hw):
                return False
        _chunk_size(st, tp, layer, hw)
    st[M] = min(hw[H_RF_PSUMS], st[KG] - st[CIG] * hw[H_RF_PSUMS])
    return True


@njit(cache=True)
def _psum_words(st, hw):
    """Words the chunk's m·a·b partial sums take through a port (PSUM/WORD words each)."""
    return _cdiv(hw[H_PSUM], hw[H_WORD]) * st[M] * st[A] * st[B]


@njit(cache=True)
def _enter_chunk(st, tp, layer, hw, mapping, nnz_c):
    """The phase a new chunk begins with: its fill when it resumes partial sums from the
    buffer (ic > 0), else its first step; PH_WAIT-like settling when it has neither."""
    if tp[T_IC] > 0:  # the chunk's partial sums resume from the buffer
        st[FL] = _psum_words(st, hw)
        st[ADD_RD] += st[FL]
        st[PH] = PH_FILL
        return True
    if os_find_step(st, 0, tp, layer, hw, mapping, nnz_c):
        st[PH] = PH_STEP
        return True
    return False


@njit(cache=True)
def os_find_step(st, c_from, tp, layer, hw, mapping, nnz_c):
    """From channel c_from of the current chunk on, the next step that takes time (False:
    the chunk's steps are done). A channel with no nonzero weight is skipped (0 cycles, no
    counts)."""
    for ci in range(c_from, tp[T_TC]):
        if layer[L_KIND] == KIND_WINDOW:
            nz = layer[L_KH] * layer[L_KW]  # nothing to skip
        else:
            nz = nnz_c[tp[T_IC] * mapping[M_TC] + ci]  # absolute channel within the group
        if nz > 0:
            st[CI] = ci
            # the window of the block, padding counted, not clipped
            words = (((st[A] - 1) * layer[L_SH] + layer[L_KH])
                     * ((st[B] - 1) * layer[L_SW] + layer[L_KW]))
            if layer[L_KIND] == KIND_WINDOW:  # M channels side by side, one window each
                st[REM] = st[M] * words
                st[BLEFT] = nz
                st[OPC] = st[M] * st[A] * st[B]
            else:  # the chunk's M channels' nonzero weights, one broadcast a cycle
                st[REM] = words
                st[BLEFT] = st[M] * nz
                st[OPC] = st[A] * st[B]
            return True
    return False


@njit(cache=True)
def os_chunk_done(st, tp, layer, hw, mapping, nnz_c):
    """The current chunk has computed: its set drains once the other set's drain is over
    (until then the array waits, PH_WAIT), and the next chunk begins in the other set; after
    the tile's last chunk the array waits for its drain (PH_LAST). Call again from PH_WAIT
    when the drain in progress ends (st[DR] = 0)."""
    while True:
        if st[DR] > 0:
            st[PH] = PH_WAIT
            return
        st[DR] = _psum_words(st, hw)
        st[ADD_WR] += st[DR]
        if not _next_chunk(st, tp, layer, hw):
            st[PH] = PH_LAST
            return
        if _enter_chunk(st, tp, layer, hw, mapping, nnz_c):
            return
        # a chunk whose every channel is skipped computes nothing: it is done at once


@njit(cache=True)
def os_start(st, tp, layer, hw, mapping, nnz_c):
    """The first block and chunk of a tile and its first phase; a tile always takes at
    least its last drain."""
    pr = hw[H_PR]
    pc = hw[H_PC]
    st[BY] = 0
    st[BX] = 0
    st[NBY] = _cdiv(tp[T_TY], pr)
    st[NBX] = _cdiv(tp[T_TX], pc)
    st[A] = min(pr, tp[T_TY])
    st[B] = min(pc, tp[T_TX])
    st[G] = tp[T_K0] // layer[L_CGO]
    _chunk_size(st, tp, layer, hw)
    st[CIG] = 0
    st[M] = min(hw[H_RF_PSUMS], st[KG])
    if layer[L_KIND] == KIND_WINDOW:
        _spread(st, tp, hw)
    st[DR] = 0
    st[FL] = 0
    if not _enter_chunk(st, tp, layer, hw, mapping, nnz_c):
        os_chunk_done(st, tp, layer, hw, mapping, nnz_c)
