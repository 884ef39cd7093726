"""The ``step`` engine: the machine of docs/model.md advanced one clock cycle at a time.

This is the ground truth the ``fast`` engine is checked against, so it *counts by doing*:
one loop iteration is one clock cycle, in which

* the array does one cycle of the current WS pass (a weight-load cycle through the buffer
  port, or one streaming pixel) or of the current OS step (window words arriving ``PORT`` a
  cycle, one weight broadcast a cycle), and adds what that cycle moved and computed;
* the DMA counts one latency cycle off every request in flight (up to ``OUT`` of them) and
  moves ``BW`` bytes of the oldest one whose latency is over (the last cycle partial);

and between cycles the double-buffer hand-over of model.md §5 is applied: a tile starts only
when its load has arrived, the array is free and its output slot's earlier store has left;
a request leaves the FIFO only when the slot it fills was released (loads) or the tile it
writes has finished (stores). No compute time or count is obtained by multiplying a closed
form: the only per-tile numbers computed up front are the tile's data (bytes and elements
loaded and stored, model.md §3), which are what the DMA is asked to move.

Nor does it restate the fast engine's formulas: the input rows a tile reads are found by
marking the rows its windows touch (not by the span formula), and the nonzero weights of a
channel by walking an explicit per-filter sparsity mask (not by the formula for N(x)), so a
mistake in the model's text cannot hide in both engines.

Only the slot names of ``layout.py`` are shared with the ``fast`` engine.

Where model.md leaves room, the most literal reading is taken:

* OS, "per (block, chunk) of a tile, once": the chunk's ``m*a*b`` partial-sum write (and
  read when ``ic > 0``) is counted even when every channel of the chunk is skipped
  (``nnz = 0``), and a tile whose steps are all skipped computes for 0 cycles: it starts and
  ends at the same instant, and its store may start then.
* §3 "input depends on k when G > 1": with ``G > 1`` any change of the k index reloads the
  input, even if the new k-tile touches the same groups.
* §5 ``cs[t] = max(eL[t], ce[t-1], eS[t-2])``: a tile waits only for the store of tile
  ``t - 2``; if that store moved nothing (the output stayed open) there is no constraint.
* A skipped (0-byte) request leaves the FIFO without taking time, and nothing waits for it.
* Within a step the per-cycle split is a convention (only totals are observable): WS weight
  words go ``PORT`` a cycle, the last cycle partial; OS window words arrive ``PORT`` a cycle
  over the first ``ceil(words/PORT)`` cycles and the broadcasts take the first ``m*nnz``.
  The DMA spends the ``LAT`` cycles first, then moves ``BW`` bytes a cycle; the DMA-side
  buffer accesses (one per element) are counted when the request completes.
* A ``window`` operation in WS is rejected (§1: a window operation runs only in OS).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nnaccel.engines import jitcache
from nnaccel.engines.layout import (
    C_ALU,
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
    C_TILES,
    DF_OS,
    DF_WS,
    H_BUF,
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
    H_RF_PSUMS,
    H_WORD,
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
    L_PPH,
    L_PPW,
    L_PSH,
    L_PSW,
    L_PW,
    L_PWO,
    L_RES,
    L_SH,
    L_SW,
    L_W,
    L_WO,
    LOOP_C,
    LOOP_K,
    LOOP_X,
    LOOP_Y,
    M_DATAFLOW,
    M_LEN,
    M_ORDER,
    M_TC,
    M_TK,
    M_TX,
    M_TY,
)

jitcache.install()  # before the first kernel is decorated

__all__ = ["simulate", "simulate_trace", "TRACE_FIELDS"]

# Columns of the per-tile trace: compute start/end, end of the tile's load and of its store
# (0 when the request was skipped because it moves no bytes, as in model.md §5).
TRACE_FIELDS = ("compute_start", "compute_end", "load_end", "store_end")
_TR_CS = 0
_TR_CE = 1
_TR_EL = 2
_TR_ES = 3

# What the array is doing in the current cycle.
_WS_LOAD = 0  # WS: weights of a pass enter the PEs through the buffer port
_WS_STREAM = 1  # WS: one output pixel streams through the array
_OS_STEP = 2  # OS: one (block, chunk, channel) step


@njit(cache=True)
def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@njit(cache=True)
def _rows_read(o0: int, n: int, s: int, p: int, k: int, size: int) -> int:
    # Input rows (or columns) the outputs [o0, o0+n) read, found by marking every row each
    # kernel tap of each output touches inside the real input: padding is not fetched, and
    # rows no window touches (stride above the kernel) are not either (model.md §3).
    seen = np.zeros(max(size, 1), np.bool_)
    count = 0
    for o in range(o0, o0 + n):
        for j in range(k):
            row = o * s - p + j
            if 0 <= row < size and not seen[row]:
                seen[row] = True
                count += 1
    return count


@njit(cache=True)
def _filter_nnz(cgi: int, k2: int, dnum: int, dden: int) -> np.ndarray:
    # nnz(c) of every input channel of a filter, from its explicit sparsity mask: the
    # filter's cgi*k2 weights, channel-major, are walked with an error accumulator that
    # makes a weight nonzero whenever the running density crosses the next half (the same
    # mask in every filter, model.md §4). Counting the mask's ones per channel is the
    # step engine's own derivation of nnz(c) = N(c+1) - N(c).
    nnz = np.zeros(cgi, np.int64)
    acc = dden  # in units of 1 / (2*dden): starts at one half
    for c in range(cgi):
        for _ in range(k2):
            acc += 2 * dnum
            if acc >= 2 * dden:
                acc -= 2 * dden
                nnz[c] += 1
    return nnz


# Position of the OS walk within a tile, kept in a small array so that one function advances
# it both when a tile starts and when a step ends.
_ST_BY = 0  # pixel block: row index, column index, and how many of each
_ST_BX = 1
_ST_NBY = 2
_ST_NBX = 3
_ST_A = 4  # rows and columns of the current block
_ST_B = 5
_ST_G = 6  # current group, its channels in the tile, chunk within it, chunks of it
_ST_KG = 7
_ST_CIG = 8
_ST_NCH = 9
_ST_M = 10  # channels of the current chunk
_ST_CI = 11  # current input channel, offset within the tile
_ST_LEN = 12


@njit(cache=True)
def _os_next(st, t_ic, t_tc, t_tx, t_ty, t_k0, t_k1, TC, CGO, PR, PC, RFP, SH, SW, KH, KW,
             PORT, window, nnz_c):
    """Move the OS walk to its next step that takes time (channel, then chunk of the group,
    then the next group's chunks, then the pixel block).

    Returns (cycles of the step, window words, broadcast cycles, a*b, buffer reads, buffer
    writes): the last two are the per-(block, chunk) partial-sum moves crossed on the way
    (model.md §4). 0 cycles means the tile has no step left.
    """
    add_rd = 0
    add_wr = 0
    k2 = KH * KW
    while True:
        st[_ST_CI] += 1
        if st[_ST_CI] == t_tc:
            # the chunk is done: its partial sums leave the PEs
            add_wr += st[_ST_M] * st[_ST_A] * st[_ST_B]
            st[_ST_CI] = 0
            st[_ST_CIG] += 1
            if st[_ST_CIG] == st[_ST_NCH]:
                st[_ST_CIG] = 0
                st[_ST_G] += 1
                if st[_ST_G] > (t_k1 - 1) // CGO:
                    st[_ST_G] = t_k0 // CGO
                    st[_ST_BX] += 1
                    if st[_ST_BX] == st[_ST_NBX]:
                        st[_ST_BX] = 0
                        st[_ST_BY] += 1
                        if st[_ST_BY] == st[_ST_NBY]:
                            return 0, 0, 0, 0, add_rd, add_wr
                    st[_ST_A] = min(PR, t_ty - st[_ST_BY] * PR)
                    st[_ST_B] = min(PC, t_tx - st[_ST_BX] * PC)
                g = st[_ST_G]
                st[_ST_KG] = min(t_k1, (g + 1) * CGO) - max(t_k0, g * CGO)
                st[_ST_NCH] = _cdiv(st[_ST_KG], RFP)
            st[_ST_M] = min(RFP, st[_ST_KG] - st[_ST_CIG] * RFP)
            if t_ic > 0:
                # the next chunk's partial sums resume from the buffer
                add_rd += st[_ST_M] * st[_ST_A] * st[_ST_B]
        if window:
            nz = k2  # nothing to skip
        else:
            nz = nnz_c[t_ic * TC + st[_ST_CI]]  # absolute channel within the group
        if nz == 0:
            continue  # no nonzero weight: the channel is skipped, 0 cycles, no counts
        a = st[_ST_A]
        b = st[_ST_B]
        words = ((a - 1) * SH + KH) * ((b - 1) * SW + KW)  # padding counted, not clipped
        bc = st[_ST_M] * nz
        return max(bc, _cdiv(words, PORT)), words, bc, a * b, add_rd, add_wr


@njit(cache=True)
def _kernel(layer, hw, mapping, counts, tr):
    kind = layer[L_KIND]
    G = layer[L_G]
    CGI = layer[L_CGI]
    CGO = layer[L_CGO]
    H = layer[L_H]
    W = layer[L_W]
    KH = layer[L_KH]
    KW = layer[L_KW]
    SH = layer[L_SH]
    SW = layer[L_SW]
    PH = layer[L_PH]
    PW = layer[L_PW]
    HO = layer[L_HO]
    WO = layer[L_WO]
    K2 = KH * KW
    RES = layer[L_RES]
    PKH = layer[L_PKH]
    PKW = layer[L_PKW]
    PSH = layer[L_PSH]
    PSW = layer[L_PSW]
    PPH = layer[L_PPH]
    PPW = layer[L_PPW]
    PHO = layer[L_PHO]
    PWO = layer[L_PWO]

    PR = hw[H_PR]
    PC = hw[H_PC]
    PORT = hw[H_PORT]
    RFP = hw[H_RF_PSUMS]
    WORD = hw[H_WORD]
    PSUM = hw[H_PSUM]
    LAT = hw[H_LAT]
    BW = hw[H_BW]
    DNUM = hw[H_DNUM]
    DDEN = hw[H_DDEN]
    OUT = hw[H_OUT]

    ws = mapping[M_DATAFLOW] == DF_WS
    TX = mapping[M_TX]
    TY = mapping[M_TY]
    TC = mapping[M_TC]
    TK = mapping[M_TK]
    KT = G * CGO  # output channels over all groups
    nnz_c = _filter_nnz(CGI, K2, DNUM, DDEN)  # only a conv skips zeros (window: nnz = K2)

    sizes = np.empty(4, np.int64)
    sizes[LOOP_X] = _cdiv(WO, TX)
    sizes[LOOP_Y] = _cdiv(HO, TY)
    sizes[LOOP_C] = _cdiv(CGI, TC)
    sizes[LOOP_K] = _cdiv(KT, TK)
    nc = sizes[LOOP_C]
    # Tile t's index in loop l is (t // stride[l]) % sizes[l]; the last loop of the order is
    # the innermost, so it has stride 1.
    stride = np.empty(4, np.int64)
    T = 1
    for pos in range(3, -1, -1):
        lp = mapping[M_ORDER + pos]
        stride[lp] = T
        T *= sizes[lp]
    sx = stride[LOOP_X]
    sy = stride[LOOP_Y]
    sc = stride[LOOP_C]
    sk = stride[LOOP_K]
    nx = sizes[LOOP_X]
    ny = sizes[LOOP_Y]
    nk = sizes[LOOP_K]

    # ---- first pass over the tiles: their data (model.md §3), what the DMA will move -----
    lb = np.zeros(T, np.int64)  # load(t), bytes
    le = np.zeros(T, np.int64)  # load(t), elements (buffer writes on the DMA side)
    sb = np.zeros(T, np.int64)  # store(t), bytes
    se = np.zeros(T, np.int64)  # store(t), buffer reads of the output path
    alu = np.zeros(T, np.int64)  # store(t), ALU operations of the output path (§3a)
    px = py = pc = pk = -1
    for t in range(T):
        ix = (t // sx) % nx
        iy = (t // sy) % ny
        ic = (t // sc) % nc
        ik = (t // sk) % nk
        tx = min(TX, WO - ix * TX)
        ty = min(TY, HO - iy * TY)
        tc = min(TC, CGI - ic * TC)
        k0 = ik * TK
        k1 = min(k0 + TK, KT)
        tk = k1 - k0
        ng = (k1 - 1) // CGO - k0 // CGO + 1
        first = t == 0
        elems = 0
        nbytes = 0
        if first or ix != px or iy != py or ic != pc or (G > 1 and ik != pk):
            n_in = ng * tc * _rows_read(iy * TY, ty, SH, PH, KH, H) * _rows_read(ix * TX, tx, SW, PW, KW, W)
            elems += n_in
            nbytes += n_in * WORD
        if kind == KIND_CONV and (first or ic != pc or ik != pk):
            n_w = tk * tc * K2
            elems += n_w
            nbytes += n_w * WORD
        opened = first or ix != px or iy != py or ik != pk
        if opened and ic > 0:
            n_p = tk * ty * tx
            elems += n_p
            nbytes += n_p * PSUM
        if t + 1 == T:
            closed = True
        else:
            closed = (
                ((t + 1) // sx) % nx != ix
                or ((t + 1) // sy) % ny != iy
                or ((t + 1) // sk) % nk != ik
            )
        final = closed and ic == nc - 1
        n_o = tk * ty * tx
        if final and RES > 0:
            # a fused residual add: the other operands of this output tile come in with the
            # tile that finishes it (model.md §3a)
            elems += RES * n_o
            nbytes += RES * n_o * WORD
        le[t] = elems
        lb[t] = nbytes
        if final:
            n_st = n_o
            if PKH > 0:
                # pooled values whose window ends in this tile, found by walking them
                rows = 0
                for j in range(PHO):
                    last = min(j * PSH - PPH + PKH - 1, HO - 1)
                    if iy * TY <= last < iy * TY + ty:
                        rows += 1
                cols = 0
                for j in range(PWO):
                    last = min(j * PSW - PPW + PKW - 1, WO - 1)
                    if ix * TX <= last < ix * TX + tx:
                        cols += 1
                n_st = tk * rows * cols
                alu[t] += n_st * PKH * PKW
            alu[t] += RES * n_o
            se[t] = n_o + RES * n_o  # the output path reads the tile and the operands
            sb[t] = n_st * WORD
        elif closed:
            se[t] = n_o
            sb[t] = n_o * PSUM
        px = ix
        py = iy
        pc = ic
        pk = ik

    trace = tr.shape[0] > 0

    # ---- counters ---------------------------------------------------------------------
    c_compute = 0
    c_ops = 0
    c_rf = 0
    c_arr = 0
    c_brd = 0
    c_bwr = 0
    c_drd = 0
    c_dwr = 0
    c_alu = 0

    # ---- array state --------------------------------------------------------------------
    a_busy = False
    nt = 0  # next tile to start
    tiles_done = 0  # tiles whose compute has ended
    mode = _WS_LOAD
    left = 0  # cycles left in the current WS phase / OS step
    # the current tile
    t_ic = 0
    t_tc = 0
    t_tx = 0
    t_ty = 0
    t_k0 = 0
    t_k1 = 0
    t_g1 = 0
    npix = 0
    # WS pass position and per-cycle amounts
    g = 0
    kg = 0
    cb = 0
    ncb = 0
    kb = 0
    nkb = 0
    p = 0
    r = 0
    q = 0
    rq = 0
    q_rd = 0  # partial sums read per streaming cycle: 0 on the first contribution
    wrem = 0  # WS: weight words still to come through the port; OS: window words
    # OS walk position (see _ST_*) and per-cycle amounts of the current step
    window = kind == KIND_WINDOW
    os_st = np.zeros(_ST_LEN, np.int64)
    ab = 0  # PEs of the current pixel block
    bleft = 0  # broadcast cycles (one weight or window element each) still to come

    # ---- DMA state ----------------------------------------------------------------------
    # FIFO of model.md §5: load(0), load(1), store(0), load(2), store(1), ...,
    # load(T-1), store(T-2), store(T-1). dj is the position of its head.
    # Up to OUT requests are in flight (issued, not complete), oldest at f_head of a ring:
    # each counts its own latency down, and only the oldest moves bytes (the data come back
    # in order over the one channel). OUT = 1 is one request at a time.
    dj = 0
    nreq = 2 * T
    f_load = np.zeros(OUT, np.bool_)
    f_tile = np.zeros(OUT, np.int64)
    f_lat = np.zeros(OUT, np.int64)
    f_rem = np.zeros(OUT, np.int64)
    f_head = 0
    n_fl = 0
    load_done = -1  # last tile whose (non-empty) load has arrived; requests end in order
    store_done = -1  # last tile whose (non-empty) store has left

    now = 0
    event = True  # something changed: the hand-over conditions must be looked at again
    while True:
        if event:
            event = False
            # Apply everything that can happen at time `now`; several things may (a tile
            # ends, its store and the next load start, the next tile starts), so repeat
            # until nothing moves.
            while True:
                moved = False
                if not a_busy and nt < T:
                    t = nt
                    if (lb[t] == 0 or load_done >= t) and (
                        t < 2 or sb[t - 2] == 0 or store_done >= t - 2
                    ):
                        moved = True
                        nt += 1
                        a_busy = True
                        if trace:
                            tr[t, _TR_CS] = now
                        ix = (t // sx) % nx
                        iy = (t // sy) % ny
                        t_ic = (t // sc) % nc
                        ik = (t // sk) % nk
                        t_tx = min(TX, WO - ix * TX)
                        t_ty = min(TY, HO - iy * TY)
                        t_tc = min(TC, CGI - t_ic * TC)
                        t_k0 = ik * TK
                        t_k1 = min(t_k0 + TK, KT)
                        t_g1 = (t_k1 - 1) // CGO
                        g = t_k0 // CGO
                        kg = min(t_k1, (g + 1) * CGO) - max(t_k0, g * CGO)
                        if ws:
                            # first pass: group g0, cb = kb = p = 0
                            npix = t_tx * t_ty
                            ncb = _cdiv(t_tc, PR)
                            nkb = _cdiv(kg, PC)
                            cb = 0
                            kb = 0
                            p = 0
                            r = min(PR, t_tc)
                            q = min(PC, kg)
                            rq = r * q
                            q_rd = 0 if t_ic == 0 else q
                            wrem = rq
                            left = _cdiv(rq, PORT)
                            mode = _WS_LOAD
                        else:
                            # first (block, chunk); the channel walk below finds its first
                            # step that takes time (channels with no nonzero weight are skipped)
                            os_st[_ST_BY] = 0
                            os_st[_ST_BX] = 0
                            os_st[_ST_NBY] = _cdiv(t_ty, PR)
                            os_st[_ST_NBX] = _cdiv(t_tx, PC)
                            os_st[_ST_A] = min(PR, t_ty)
                            os_st[_ST_B] = min(PC, t_tx)
                            os_st[_ST_G] = g
                            os_st[_ST_KG] = kg
                            os_st[_ST_CIG] = 0
                            os_st[_ST_NCH] = _cdiv(kg, RFP)
                            os_st[_ST_M] = min(RFP, kg)
                            os_st[_ST_CI] = -1
                            if t_ic > 0:
                                # the chunk's partial sums resume from the buffer
                                c_brd += os_st[_ST_M] * os_st[_ST_A] * os_st[_ST_B]
                            mode = _OS_STEP
                            left, wrem, bleft, ab, add_rd, add_wr = _os_next(
                                os_st, t_ic, t_tc, t_tx, t_ty, t_k0, t_k1, TC, CGO, PR, PC,
                                RFP, SH, SW, KH, KW, PORT, window, nnz_c,
                            )
                            c_brd += add_rd
                            c_bwr += add_wr
                            if left == 0:
                                # Every channel of the tile was skipped: it ends as it starts.
                                a_busy = False
                                tiles_done += 1
                                if trace:
                                    tr[t, _TR_CE] = now
                if n_fl < OUT and dj < nreq:
                    if dj == 0:
                        d_load = True
                        d_tile = 0
                    elif dj == nreq - 1:
                        d_load = False
                        d_tile = T - 1
                    elif dj % 2 == 1:
                        d_load = True
                        d_tile = (dj + 1) // 2
                    else:
                        d_load = False
                        d_tile = dj // 2 - 1
                    nbytes = lb[d_tile] if d_load else sb[d_tile]
                    if nbytes == 0:
                        # moves nothing: skipped, takes no time and constrains nothing; a
                        # fused pooling that emits nothing here still read its tile
                        if not d_load:
                            c_brd += se[d_tile]
                            c_alu += alu[d_tile]
                        dj += 1
                        moved = True
                    elif (d_load and tiles_done >= d_tile - 1) or (
                        not d_load and tiles_done >= d_tile + 1
                    ):
                        # A load refills the slot tile d_tile-2 used, so it waits for that
                        # tile's compute to end; a store waits for its own tile's.
                        dj += 1
                        moved = True
                        slot = (f_head + n_fl) % OUT
                        n_fl += 1
                        f_load[slot] = d_load
                        f_tile[slot] = d_tile
                        f_lat[slot] = LAT
                        f_rem[slot] = nbytes
                if not moved:
                    break
            if tiles_done == T and dj == nreq and n_fl == 0:
                break
            if not a_busy and n_fl == 0:
                raise RuntimeError("step engine: deadlock in the double-buffer hand-over")

        # ---- one clock cycle ----------------------------------------------------------
        if a_busy:
            c_compute += 1
            if mode == _WS_STREAM:
                # One pixel: r inputs enter the rows, r*q MACs with the stationary weights
                # (read from the RFs), each column's sum hops down and updates the pixel's
                # q partial sums in the buffer.
                c_ops += rq
                c_rf += rq
                c_arr += rq
                c_brd += r + q_rd
                c_bwr += q
            elif mode == _WS_LOAD:
                w = PORT if wrem > PORT else wrem
                wrem -= w
                c_brd += w
                c_rf += w
            else:
                if wrem > 0:
                    w = PORT if wrem > PORT else wrem
                    wrem -= w
                    c_brd += w
                    c_arr += w
                if bleft > 0:
                    bleft -= 1
                    c_ops += ab
                    c_rf += ab
                    if kind == KIND_CONV:
                        c_brd += 1  # the broadcast weight
                        c_arr += 1
            left -= 1
            if left == 0:
                if mode == _WS_LOAD:
                    mode = _WS_STREAM
                    left = npix
                elif mode == _WS_STREAM:
                    # next pass: kernel position, then output block, input block, group
                    p += 1
                    if p == K2:
                        p = 0
                        kb += 1
                        if kb == nkb:
                            kb = 0
                            cb += 1
                            if cb == ncb:
                                cb = 0
                                g += 1
                                if g <= t_g1:
                                    kg = min(t_k1, (g + 1) * CGO) - max(t_k0, g * CGO)
                                    nkb = _cdiv(kg, PC)
                    if g <= t_g1:
                        r = min(PR, t_tc - cb * PR)
                        q = min(PC, kg - kb * PC)
                        rq = r * q
                        # first contribution to these outputs: ic = 0, cb = 0, p = 0
                        q_rd = 0 if (t_ic == 0 and cb == 0 and p == 0) else q
                        wrem = rq
                        left = _cdiv(rq, PORT)
                        mode = _WS_LOAD
                else:
                    left, wrem, bleft, ab, add_rd, add_wr = _os_next(
                        os_st, t_ic, t_tc, t_tx, t_ty, t_k0, t_k1, TC, CGO, PR, PC,
                        RFP, SH, SW, KH, KW, PORT, window, nnz_c,
                    )
                    c_brd += add_rd
                    c_bwr += add_wr
                if left == 0:
                    # the tile's last pass / step ended with this cycle
                    a_busy = False
                    tiles_done += 1
                    event = True
                    if trace:
                        tr[nt - 1, _TR_CE] = now + 1
        if n_fl > 0:
            head_lat = f_lat[f_head]  # the oldest moves bytes only once its latency is over
            for i in range(n_fl):
                slot = (f_head + i) % OUT
                if f_lat[slot] > 0:
                    f_lat[slot] -= 1
            if head_lat == 0:
                d_load = f_load[f_head]
                d_tile = f_tile[f_head]
                w = BW if f_rem[f_head] > BW else f_rem[f_head]
                f_rem[f_head] -= w
                if d_load:
                    c_drd += w
                else:
                    c_dwr += w
                if f_rem[f_head] == 0:
                    # the request's interval ends with this cycle
                    f_head = (f_head + 1) % OUT
                    n_fl -= 1
                    event = True
                    if d_load:
                        load_done = d_tile
                        c_bwr += le[d_tile]  # each element loaded is one buffer write
                        if trace:
                            tr[d_tile, _TR_EL] = now + 1
                    else:
                        store_done = d_tile
                        c_brd += se[d_tile]  # the output path reads what it stores
                        c_alu += alu[d_tile]
                        if trace:
                            tr[d_tile, _TR_ES] = now + 1
        now += 1

    counts[C_CYCLES] = now
    counts[C_COMPUTE] = c_compute
    counts[C_STALL] = now - c_compute
    counts[C_OPS] = c_ops
    counts[C_RF] = c_rf
    counts[C_ARRAY] = c_arr
    counts[C_BUF_RD] = c_brd
    counts[C_BUF_WR] = c_bwr
    counts[C_DRAM_RD] = c_drd
    counts[C_DRAM_WR] = c_dwr
    counts[C_TILES] = T
    counts[C_ALU] = c_alu


def _vector(v: np.ndarray, n: int, name: str) -> np.ndarray:
    a = np.ascontiguousarray(v, dtype=np.int64)
    if a.shape != (n,):
        raise ValueError(f"step engine: {name} vector must have shape ({n},), got {a.shape}")
    return a


def _check(layer: np.ndarray, hw: np.ndarray, mapping: np.ndarray) -> None:
    # The kernel trusts its input (a bad value would loop forever or divide by zero), so
    # reject here what model.md does not define.
    if layer[L_KIND] not in (KIND_CONV, KIND_WINDOW):
        raise ValueError(f"step engine: unknown layer kind {layer[L_KIND]}")
    for slot in (L_G, L_CGI, L_CGO, L_H, L_W, L_KH, L_KW, L_SH, L_SW, L_HO, L_WO):
        if layer[slot] < 1:
            raise ValueError(f"step engine: layer slot {slot} must be >= 1, got {layer[slot]}")
    if layer[L_PH] < 0 or layer[L_PW] < 0:
        raise ValueError("step engine: negative padding")
    for slot in (H_PR, H_PC, H_PORT, H_RF_PSUMS, H_WORD, H_PSUM, H_BW, H_DDEN, H_OUT):
        if hw[slot] < 1:
            raise ValueError(f"step engine: hardware slot {slot} must be >= 1, got {hw[slot]}")
    if hw[H_LAT] < 0 or hw[H_BUF] < 0 or not 0 <= hw[H_DNUM] <= hw[H_DDEN]:
        raise ValueError("step engine: bad latency, buffer size or density")
    if mapping[M_DATAFLOW] not in (DF_WS, DF_OS):
        raise ValueError(f"step engine: unknown dataflow {mapping[M_DATAFLOW]}")
    if mapping[M_DATAFLOW] == DF_WS and layer[L_KIND] == KIND_WINDOW:
        raise ValueError("step engine: a window operation runs only in OS (model.md §1)")
    if sorted(int(x) for x in mapping[M_ORDER : M_ORDER + 4]) != [LOOP_X, LOOP_Y, LOOP_C, LOOP_K]:
        raise ValueError("step engine: the loop order must be a permutation of x, y, c, k")
    for slot in (M_TX, M_TY, M_TC, M_TK):
        if mapping[slot] < 1:
            raise ValueError(f"step engine: tile size slot {slot} must be >= 1")


def _prepare(
    layer: np.ndarray, hw: np.ndarray, mapping: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lv = _vector(layer, L_LEN, "layer")
    hv = _vector(hw, H_LEN, "hardware")
    mv = _vector(mapping, M_LEN, "mapping")
    _check(lv, hv, mv)
    return lv, hv, mv


def _n_tiles(lv: np.ndarray, mv: np.ndarray) -> int:
    def cdiv(x: int, y: int) -> int:
        return -(-int(x) // int(y))

    return (
        cdiv(lv[L_WO], mv[M_TX])
        * cdiv(lv[L_HO], mv[M_TY])
        * cdiv(lv[L_CGI], mv[M_TC])
        * cdiv(lv[L_G] * lv[L_CGO], mv[M_TK])
    )


_NO_TRACE = np.zeros((0, 4), np.int64)


def simulate(layer: np.ndarray, hw: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """Run one layer on one mapping, cycle by cycle; return the ``C_LEN`` counts (int64)."""
    lv, hv, mv = _prepare(layer, hw, mapping)
    counts = np.zeros(C_LEN, np.int64)
    _kernel(lv, hv, mv, counts, _NO_TRACE)
    return counts


def simulate_trace(
    layer: np.ndarray, hw: np.ndarray, mapping: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`simulate`, and also the per-tile timeline.

    Returns ``(counts, trace)``; ``trace`` has one row per tile with the columns of
    ``TRACE_FIELDS``: cycle the tile's compute starts, cycle it ends, cycle its load
    arrived and cycle its store left (0 for a request that moves no bytes).
    """
    lv, hv, mv = _prepare(layer, hw, mapping)
    counts = np.zeros(C_LEN, np.int64)
    tr = np.zeros((_n_tiles(lv, mv), 4), np.int64)
    _kernel(lv, hv, mv, counts, tr)
    return counts, tr
