"""The clock loop of the step engine: one iteration per cycle (see the package docstring)."""

from __future__ import annotations

import numpy as np
from numba import njit

from nnaccel.engines.layout import (
    C_ALU,
    C_ARRAY,
    C_BUF_RD,
    C_BUF_WR,
    C_COMPUTE,
    C_CYCLES,
    C_DRAM_RD,
    C_DRAM_WR,
    C_OPS,
    C_RF,
    C_STALL,
    C_TILES,
    DF_WS,
    H_ALU,
    H_BW,
    H_DDEN,
    H_DNUM,
    H_LAT,
    H_OUT,
    H_PC,
    H_PORT,
    H_PR,
    H_PSUM,
    H_RD,
    H_WORD,
    H_WR,
    KIND_CONV,
    L_CGI,
    L_CGO,
    L_G,
    L_HO,
    L_KH,
    L_KIND,
    L_KW,
    L_WO,
    LOOP_C,
    LOOP_K,
    LOOP_X,
    LOOP_Y,
    M_DATAFLOW,
    M_TC,
    M_TK,
    M_TX,
    M_TY,
)

from . import osw
from .data import _cdiv, _filter_nnz, line_buffer_words, tile_data

# Columns of the per-tile trace: compute start/end, end of the tile's load and of its store
# (0 when the request was skipped because it moves no bytes, as in model.md §5).
TRACE_FIELDS = ("compute_start", "compute_end", "load_end", "store_end")
_TR_CS = 0
_TR_CE = 1
_TR_EL = 2
_TR_ES = 3
# The timeline (`nnaccel trace`) records more per tile, in the same array (one row per tile
# and one more, row T, for what follows the last tile's compute): when each request was
# issued, when it became the oldest in flight (it moves bytes from then on, once its latency
# is over), which in-flight slot it held, its bytes and output-path work; the stall cycles
# before the tile starts, by what the DMA's oldest request does in them; the words the array
# moved through the buffer's read and write ports in the tile; a WS tile's passes and the
# cycles their weights took through the port; an OS tile's partial-sum drains (how many,
# their words, the write port's cycles for them, when the first began) and the cycles the
# array waited for one (model.md §4, "Partial-sum drains"). Recording happens at events (a
# tile, a pass, a request, a drain) and in cycles the array waits, never in a cycle it
# computes: the loop runs as fast.
TIMELINE_FIELDS = (*TRACE_FIELDS, "load_issue", "load_head", "load_slot", "store_issue",
                   "store_head", "store_slot", "stall_latency", "stall_transfer",
                   "stall_output_path", "port_read_words", "port_write_words",
                   "ws_weight_cycles", "ws_passes", "load_bytes", "store_bytes", "store_alu",
                   "drains", "drain_words", "drain_cycles", "drain_start", "drain_wait",
                   "drain_wait_from")
_TR_LI = 4
_TR_LH = 5
_TR_LS = 6
_TR_SI = 7
_TR_SH = 8
_TR_SS = 9
_TR_STL = 10
_TR_STB = 11
_TR_STA = 12
_TR_RD = 13
_TR_WR = 14
_TR_PH = 15
_TR_NP = 16
_TR_LB = 17
_TR_SB = 18
_TR_AL = 19
_TR_DN = 20
_TR_DW = 21
_TR_DC = 22
_TR_DS = 23
_TR_DWT = 24
_TR_DWF = 25

@njit(cache=True)
def _drain(tr, t, start, words, wr):
    """Tile t's drain of `words` through the write port from cycle `start`: `wr` words a
    cycle, the last cycle partial, uninterrupted (the clock loop's drain)."""
    if tr[t, _TR_DN] == 0:
        tr[t, _TR_DS] = start
    tr[t, _TR_DN] += 1
    tr[t, _TR_DW] += words
    tr[t, _TR_DC] += -(-words // wr)


@njit(cache=True)
def _chunk_done(tr, t, at, st, wr):
    """After the OS walk ended a chunk of tile t: the drain it began (from cycle `at`) and
    the wait for a drain it began (the array idles from `at` in PH_WAIT or PH_LAST)."""
    if st[osw.ADD_WR] > 0:
        _drain(tr, t, at, st[osw.DR], wr)
    if st[osw.PH] == osw.PH_WAIT or st[osw.PH] == osw.PH_LAST:
        tr[t, _TR_DWF] = at


# What the array is doing in the current cycle.
_WS_LOAD = 0  # WS: weights of a pass enter the PEs through the buffer port
_WS_STREAM = 1  # WS: output pixels stream through the array
_OS = 2  # OS: a fill, step or drain of the walk in `osw`


@njit(cache=True)
def run(layer, hw, mapping, counts, tr):
    G = layer[L_G]
    CGI = layer[L_CGI]
    CGO = layer[L_CGO]
    HO = layer[L_HO]
    WO = layer[L_WO]
    K2 = layer[L_KH] * layer[L_KW]
    conv = layer[L_KIND] == KIND_CONV

    PR = hw[H_PR]
    PC = hw[H_PC]
    PORT = hw[H_PORT]
    RD = hw[H_RD]
    WR = hw[H_WR]
    PSW = _cdiv(hw[H_PSUM], hw[H_WORD])  # words of a partial sum through a port
    WPORT = min(PORT, RD)  # WS weights pass the array's input bus and the read port
    LAT = hw[H_LAT]
    BW = hw[H_BW]
    OUT = hw[H_OUT]
    ALU = hw[H_ALU]

    ws = mapping[M_DATAFLOW] == DF_WS
    TX = mapping[M_TX]
    TY = mapping[M_TY]
    TC = mapping[M_TC]
    TK = mapping[M_TK]
    KT = G * CGO  # output channels over all groups
    nnz_c = _filter_nnz(CGI, K2, hw[H_DNUM], hw[H_DDEN])  # a window op skips nothing

    sizes, stride, lb, le, sb, se, alu = tile_data(layer, hw, mapping)
    T = lb.size
    nx, ny, nc, nk = sizes[LOOP_X], sizes[LOOP_Y], sizes[LOOP_C], sizes[LOOP_K]
    sx, sy, sc, sk = stride[LOOP_X], stride[LOOP_Y], stride[LOOP_C], stride[LOOP_K]
    trace = tr.shape[0] > 0
    dma_brd = 0  # buffer reads and writes on the DMA side (trace only: the ports' share)
    dma_bwr = 0
    w_since = 0  # trace: the cycle the current WS pass's weights began to move

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
    tp = np.zeros(osw.TP_LEN, np.int64)  # the current tile
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
    q_rd = 0  # partial sums a pixel reads: 0 on the first contribution
    wrem = 0  # weight words still to come through the port
    pix_left = 0  # pixels of the pass still to stream
    prd = 0  # words the current pixel still reads through the read port
    pwr = 0  # and writes through the write port
    os_st = np.zeros(osw.ST_LEN, np.int64)

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
    f_alu = np.zeros(OUT, np.int64)  # a store's output-path ALU operations still to do
    f_head = 0
    n_fl = 0
    d_load = True
    d_tile = 0
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
                            tr[t, _TR_RD] = c_brd - dma_brd  # the ports' words so far
                            tr[t, _TR_WR] = c_bwr - dma_bwr
                        ix = (t // sx) % nx
                        iy = (t // sy) % ny
                        ic = (t // sc) % nc
                        ik = (t // sk) % nk
                        tp[osw.T_IC] = ic
                        tp[osw.T_TX] = min(TX, WO - ix * TX)
                        tp[osw.T_TY] = min(TY, HO - iy * TY)
                        tp[osw.T_TC] = min(TC, CGI - ic * TC)
                        tp[osw.T_K0] = ik * TK
                        tp[osw.T_K1] = min(ik * TK + TK, KT)
                        if ws:
                            # first pass: group g0, cb = kb = p = 0
                            t_g1 = (tp[osw.T_K1] - 1) // CGO
                            g = tp[osw.T_K0] // CGO
                            kg = min(tp[osw.T_K1], (g + 1) * CGO) - max(tp[osw.T_K0], g * CGO)
                            npix = tp[osw.T_TX] * tp[osw.T_TY]
                            ncb = _cdiv(tp[osw.T_TC], PR)
                            nkb = _cdiv(kg, PC)
                            cb = 0
                            kb = 0
                            p = 0
                            r = min(PR, tp[osw.T_TC])
                            q = min(PC, kg)
                            rq = r * q
                            q_rd = 0 if ic == 0 else q
                            wrem = rq
                            mode = _WS_LOAD
                            w_since = now
                        else:
                            mode = _OS
                            osw.os_start(os_st, tp, layer, hw, mapping, nnz_c)
                            if trace:
                                _chunk_done(tr, t, now, os_st, WR)
                            c_brd += os_st[osw.ADD_RD]
                            c_bwr += os_st[osw.ADD_WR]
                            os_st[osw.ADD_RD] = 0
                            os_st[osw.ADD_WR] = 0
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
                            if trace:
                                dma_brd += se[d_tile]
                                tr[d_tile, _TR_AL] = alu[d_tile]
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
                        f_alu[slot] = 0 if d_load else alu[d_tile]
                        if trace:
                            if n_fl == 1:  # the only one in flight: the oldest
                                tr[d_tile, _TR_LH if d_load else _TR_SH] = now
                            tr[d_tile, _TR_LI if d_load else _TR_SI] = now
                            tr[d_tile, _TR_LS if d_load else _TR_SS] = slot
                            tr[d_tile, _TR_LB if d_load else _TR_SB] = nbytes
                            if not d_load:
                                tr[d_tile, _TR_AL] = alu[d_tile]
                if not moved:
                    break
            if tiles_done == T and dj == nreq and n_fl == 0:
                break
            if not a_busy and n_fl == 0:
                raise RuntimeError("step engine: deadlock in the double-buffer hand-over")

        # ---- one clock cycle ----------------------------------------------------------
        if a_busy:
            c_compute += 1
            done = False  # the tile's last pass / walk ended with this cycle
            if mode == _WS_STREAM:
                # The read port brings the pixel's r inputs and the partial sums it updates,
                # the write port takes the updated sums; the pixel's r*q MACs (weights from
                # the RFs, column sums hopping down) happen once its words have all moved.
                w = RD if prd > RD else prd
                prd -= w
                w = WR if pwr > WR else pwr
                pwr -= w
                if prd == 0 and pwr == 0:
                    # counts in words: a partial sum is PSW of them (energy by the bits moved)
                    c_ops += rq
                    c_rf += rq
                    c_arr += PSW * rq  # the column sums hop down at partial-sum width
                    c_brd += r + PSW * q_rd
                    c_bwr += PSW * q
                    pix_left -= 1
                    prd = r + PSW * q_rd
                    pwr = PSW * q
                    if pix_left == 0:
                        if trace:
                            tr[nt - 1, _TR_NP] += 1
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
                                        kg = (min(tp[osw.T_K1], (g + 1) * CGO)
                                              - max(tp[osw.T_K0], g * CGO))
                                        nkb = _cdiv(kg, PC)
                        if g <= t_g1:
                            r = min(PR, tp[osw.T_TC] - cb * PR)
                            q = min(PC, kg - kb * PC)
                            rq = r * q
                            # first contribution to these outputs: ic = 0, cb = 0, p = 0
                            q_rd = 0 if (tp[osw.T_IC] == 0 and cb == 0 and p == 0) else q
                            wrem = rq
                            mode = _WS_LOAD
                            w_since = now + 1
                        else:
                            done = True
            elif mode == _WS_LOAD:
                w = WPORT if wrem > WPORT else wrem
                wrem -= w
                c_brd += w
                c_rf += w
                if wrem == 0:
                    if trace:
                        tr[nt - 1, _TR_PH] += now + 1 - w_since
                    mode = _WS_STREAM
                    pix_left = npix
                    prd = r + PSW * q_rd
                    pwr = PSW * q
            else:
                # The write port drains the other register set in the background (§4,
                # "Partial-sum drains") whatever the array does this cycle.
                dr = os_st[osw.DR]
                os_st[osw.DR] -= WR if dr > WR else dr
                ph = os_st[osw.PH]
                if ph == osw.PH_FILL:
                    # the resumed partial sums come in through the read port, alone
                    fl = os_st[osw.FL]
                    os_st[osw.FL] -= RD if fl > RD else fl
                    if os_st[osw.FL] == 0:
                        if osw.os_find_step(os_st, 0, tp, layer, hw, mapping, nnz_c):
                            os_st[osw.PH] = osw.PH_STEP
                        else:
                            osw.os_chunk_done(os_st, tp, layer, hw, mapping, nnz_c)
                            if trace:
                                _chunk_done(tr, nt - 1, now + 1, os_st, WR)
                elif ph == osw.PH_STEP:
                    # One weight broadcast (one window element) a cycle, to every PE of the
                    # block; window words arrive over the input bus in what the read port
                    # has left after the broadcast weight.
                    free = RD
                    if os_st[osw.BLEFT] > 0:
                        os_st[osw.BLEFT] -= 1
                        c_ops += os_st[osw.OPC]
                        c_rf += PSW * os_st[osw.OPC]  # each op accumulates a partial sum
                        if conv:
                            c_brd += 1  # the broadcast weight
                            c_arr += 1
                            free -= 1
                    w = min(PORT, os_st[osw.REM], free)
                    os_st[osw.REM] -= w
                    c_brd += w
                    c_arr += w
                    if os_st[osw.REM] == 0 and os_st[osw.BLEFT] == 0:
                        if not osw.os_find_step(os_st, os_st[osw.CI] + 1, tp, layer, hw,
                                                mapping, nnz_c):
                            osw.os_chunk_done(os_st, tp, layer, hw, mapping, nnz_c)
                            if trace:
                                _chunk_done(tr, nt - 1, now + 1, os_st, WR)
                elif ph == osw.PH_WAIT:
                    # the array waits for the drain of the set the next chunk needs
                    if os_st[osw.DR] == 0:
                        if trace:  # the wait ends with this cycle
                            tr[nt - 1, _TR_DWT] += now + 1 - tr[nt - 1, _TR_DWF]
                        osw.os_chunk_done(os_st, tp, layer, hw, mapping, nnz_c)
                        if trace:
                            _chunk_done(tr, nt - 1, now + 1, os_st, WR)
                else:  # PH_LAST: the tile's outputs are in the buffer when its drain ends
                    done = os_st[osw.DR] == 0
                c_brd += os_st[osw.ADD_RD]
                c_bwr += os_st[osw.ADD_WR]
                os_st[osw.ADD_RD] = 0
                os_st[osw.ADD_WR] = 0
            if done:
                a_busy = False
                tiles_done += 1
                event = True
                if trace:
                    tr[nt - 1, _TR_CE] = now + 1
                    if not ws:  # an OS tile ends waiting for its last drain
                        tr[nt - 1, _TR_DWT] += now + 1 - tr[nt - 1, _TR_DWF]
                    tr[nt - 1, _TR_RD] = c_brd - dma_brd - tr[nt - 1, _TR_RD]
                    tr[nt - 1, _TR_WR] = c_bwr - dma_bwr - tr[nt - 1, _TR_WR]
        elif trace and n_fl > 0:
            # a stall cycle, by what the DMA's oldest request does in it
            if f_lat[f_head] > 0:
                tr[nt, _TR_STL] += 1
            elif f_rem[f_head] > 0:
                tr[nt, _TR_STB] += 1
            else:
                tr[nt, _TR_STA] += 1
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
                # a store leaves as fast as the output path adds and pools it
                f_alu[f_head] -= min(ALU, f_alu[f_head])
                if d_load:
                    c_drd += w
                else:
                    c_dwr += w
                if f_rem[f_head] == 0 and f_alu[f_head] == 0:
                    # the request's interval ends with this cycle
                    f_head = (f_head + 1) % OUT
                    n_fl -= 1
                    event = True
                    if trace and n_fl > 0:  # the next in flight is now the oldest
                        tr[f_tile[f_head], _TR_LH if f_load[f_head] else _TR_SH] = now + 1
                    if d_load:
                        load_done = d_tile
                        c_bwr += le[d_tile]  # each element loaded is one buffer write
                        if trace:
                            dma_bwr += le[d_tile]
                        if trace:
                            tr[d_tile, _TR_EL] = now + 1
                    else:
                        store_done = d_tile
                        c_brd += se[d_tile]  # the output path reads what it stores
                        c_alu += alu[d_tile]
                        if trace:
                            dma_brd += se[d_tile]
                        if trace:
                            tr[d_tile, _TR_ES] = now + 1
        now += 1

    lbw = line_buffer_words(layer, mapping)  # the fused pooling's carried values (§3a)
    c_brd += lbw
    c_bwr += lbw
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
