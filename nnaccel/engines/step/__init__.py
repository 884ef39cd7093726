"""The ``step`` engine: the machine of docs/model.md advanced one clock cycle at a time.

This is the ground truth the ``fast`` engine is checked against, so it *counts by doing*:
one loop iteration is one clock cycle, in which

* the array does one cycle of the current WS pass (weight words through the input bus and
  the read port, or the words of a streaming pixel through the read and write ports) or of
  the current OS phase (a chunk's fill through the read port, a step's window words and one
  weight broadcast, or a wait for a drain), and adds what that cycle moved and computed; the
  write port drains the other partial-sum register set alongside;
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

``simulate_timeline`` also hands the kernel an array to record the layer's timeline in
(``nnaccel trace``, docs/model.md §13): it is written at events and in stall cycles only, so a
run that records nothing (``simulate``) takes the same path through every computing cycle.

Where model.md leaves room, the most literal reading is taken:

* OS, "per (block, chunk) of a tile, once": the chunk's ``m*a*b`` partial-sum drain (and
  fill when ``ic > 0``) happens even when every channel of the chunk is skipped
  (``nnz = 0``). The fill takes the read port's cycles before the chunk's first step; the
  drain takes the write port's cycles in the background, and the chunk after the next (which
  needs the drained register set) waits for it; a tile ends when its last drain does
  (model.md §4, "Partial-sum drains").
* §3 "input depends on k when G > 1": with ``G > 1`` any change of the k index reloads the
  input, even if the new k-tile touches the same groups.
* §5 ``cs[t] = max(eL[t], ce[t-1], eS[t-2])``: a tile waits only for the store of tile
  ``t - 2``; if that store moved nothing (the output stayed open) there is no constraint.
* A skipped (0-byte) request leaves the FIFO without taking time, and nothing waits for it.
* Within a step the per-cycle split is a convention (only totals are observable): WS weight
  words go ``min(PORT, RD)`` a cycle, the last cycle partial; a streaming pixel's reads go
  ``RD`` a cycle and its writes ``WR`` a cycle, its MACs counted when both are done; in an OS
  step the broadcasts take the first ``m*nnz`` cycles, one read each, and window words take
  up to ``PORT`` a cycle of what the read port has left.
  The DMA spends the ``LAT`` cycles first, then moves ``BW`` bytes a cycle; the DMA-side
  buffer accesses (one per element) are counted when the request completes.
* A ``window`` operation in WS is rejected (§1: a window operation runs only in OS).
"""

from __future__ import annotations

import numpy as np

from nnaccel.engines import jitcache, jitlink

jitcache.install()  # before the first kernel is decorated
jitlink.install()  # before the first compile

from nnaccel.engines.layout import (  # noqa: E402
    C_LEN,
    DF_OS,
    DF_WS,
    H_ALU,
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
    L_PW,
    L_SH,
    L_SW,
    L_UH,
    L_UN,
    L_UW,
    L_VE,
    L_VR,
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

from .clock import TIMELINE_FIELDS, TRACE_FIELDS, run  # noqa: E402

__all__ = ["simulate", "simulate_trace", "simulate_timeline", "TRACE_FIELDS", "TIMELINE_FIELDS"]


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
    if layer[L_VE] < 0 or layer[L_VR] < 0:
        raise ValueError("step engine: negative output-path work")
    up = (layer[L_UH], layer[L_UW], layer[L_UN])
    if any(up) and (min(up[:2]) < 1 or up[2] not in (1, 2)):
        raise ValueError("step engine: bad upsample factors")
    for slot in (H_PR, H_PC, H_PORT, H_RF_PSUMS, H_WORD, H_PSUM, H_BW, H_DDEN, H_OUT, H_RD,
                 H_WR, H_ALU):
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
    run(lv, hv, mv, counts, _NO_TRACE)
    return counts


def simulate_trace(
    layer: np.ndarray, hw: np.ndarray, mapping: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`simulate`, and also the per-tile timeline.

    Returns ``(counts, trace)``; ``trace`` has one row per tile with the columns of
    ``TRACE_FIELDS``: cycle the tile's compute starts, cycle it ends, cycle its load
    arrived and cycle its store left (0 for a request that moves no bytes).
    """
    counts, tl = simulate_timeline(layer, hw, mapping)
    return counts, tl[:-1, : len(TRACE_FIELDS)]


def simulate_timeline(
    layer: np.ndarray, hw: np.ndarray, mapping: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`simulate`, and also what the kernel records for ``nnaccel trace``.

    Returns ``(counts, timeline)``; ``timeline`` has one row per tile and one more (the
    cycles after the last tile's compute), with the columns of ``TIMELINE_FIELDS``
    (clock.py says what each holds). Recording changes no count.
    """
    lv, hv, mv = _prepare(layer, hw, mapping)
    counts = np.zeros(C_LEN, np.int64)
    tl = np.zeros((_n_tiles(lv, mv) + 1, len(TIMELINE_FIELDS)), np.int64)
    run(lv, hv, mv, counts, tl)
    return counts, tl
