"""Hypothesis strategies for small array operations, hardware and mappings (docs/model.md)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from nnaccel.engines import layout as L


def _out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


@st.composite
def layers(draw, max_side: int = 9, max_ch: int = 6) -> np.ndarray:
    """A small conv (plain, grouped, depthwise, strided, padded), FC, pooling or add."""
    kind = draw(st.sampled_from(["conv", "grouped", "depthwise", "fc", "pool", "add", "tokens",
                                 "heads", "vector"]))
    v = np.zeros(L.L_LEN, dtype=np.int64)
    if kind == "fc":
        v[[L.L_KIND, L.L_G, L.L_CGI, L.L_CGO]] = (L.KIND_CONV, 1, draw(st.integers(1, 48)),
                                                  draw(st.integers(1, 24)))
        v[[L.L_H, L.L_W, L.L_KH, L.L_KW, L.L_SH, L.L_SW, L.L_HO, L.L_WO]] = 1
        _vector_work(draw, v)
        return v
    if kind in ("tokens", "heads", "vector"):
        # §1b: T tokens as a column of pixels; a weight product (1x1 conv), a product of two
        # activations (one group per head) or a vector kind's copy (one channel a group)
        t = draw(st.integers(1, 3 * max_side))
        if kind == "tokens":
            g, cgi, cgo, k = 1, draw(st.integers(1, 24)), draw(st.integers(1, 24)), L.KIND_CONV
        elif kind == "heads":
            g, cgi, cgo, k = (draw(st.integers(1, 4)), draw(st.integers(1, 8)),
                              draw(st.integers(1, 3 * max_side)), L.KIND_CONV)
        else:
            g, cgi, cgo, k = draw(st.integers(1, 24)), 1, 1, L.KIND_WINDOW
        v[[L.L_KIND, L.L_G, L.L_CGI, L.L_CGO]] = (k, g, cgi, cgo)
        v[[L.L_H, L.L_W, L.L_KH, L.L_KW, L.L_SH, L.L_SW, L.L_HO, L.L_WO]] = (t, 1, 1, 1, 1, 1,
                                                                              t, 1)
        if k == L.KIND_CONV:
            v[L.L_RES] = draw(st.sampled_from([0, 0, 1]))
        _vector_work(draw, v)
        return v
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    kh = draw(st.integers(1, min(3, h + 2)))
    kw = draw(st.integers(1, min(3, w + 2)))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph = draw(st.integers(0, kh - 1))
    pw = draw(st.integers(0, kw - 1))
    if kind == "add":
        kh = kw = sh = sw = 1
        ph = pw = 0
    ho, wo = _out(h, kh, sh, ph), _out(w, kw, sw, pw)
    if ho < 1 or wo < 1:
        kh, kw, ph, pw, ho, wo = 1, 1, 0, 0, _out(h, 1, sh, 0), _out(w, 1, sw, 0)
    if kind == "conv":
        g, cgi, cgo, k = 1, draw(st.integers(1, max_ch)), draw(st.integers(1, max_ch)), L.KIND_CONV
    elif kind == "grouped":
        g, cgi, cgo, k = (draw(st.integers(2, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
                          L.KIND_CONV)
    elif kind == "depthwise":
        g, cgi, cgo, k = draw(st.integers(1, 12)), 1, 1, L.KIND_CONV
    elif kind == "pool":
        g, cgi, cgo, k = draw(st.integers(1, 8)), 1, 1, L.KIND_WINDOW
    else:
        g, cgi, cgo, k = draw(st.integers(1, 8)), 2, 1, L.KIND_WINDOW
    v[[L.L_KIND, L.L_G, L.L_CGI, L.L_CGO]] = (k, g, cgi, cgo)
    v[[L.L_H, L.L_W, L.L_KH, L.L_KW, L.L_SH, L.L_SW, L.L_PH, L.L_PW, L.L_HO, L.L_WO]] = (
        h, w, kh, kw, sh, sw, ph, pw, ho, wo)
    if k == L.KIND_CONV:
        _post_ops(draw, v)
        v[L.L_WRES] = draw(st.sampled_from([0, 0, 1]))  # a later image of a batch
    _vector_work(draw, v)
    return v


def _vector_work(draw, v: np.ndarray) -> None:
    """The output path's work of a transformer kind (docs/model.md §1b): lane cycles per value
    (an activation fused into a product, a softmax or norm pass) and per pixel (a row's
    reciprocal or rsqrt), on any operation."""
    v[L.L_VE] = draw(st.sampled_from([0, 0, 1, 4, 13]))
    v[L.L_VR] = draw(st.sampled_from([0, 0, 5, 7]))


def _post_ops(draw, v: np.ndarray) -> None:
    """A fused residual add and/or pooling on the conv's output (docs/model.md §3a)."""
    v[L.L_RES] = draw(st.sampled_from([0, 0, 1, 2]))
    if not draw(st.booleans()):
        return
    ho, wo = int(v[L.L_HO]), int(v[L.L_WO])
    pkh, pkw = draw(st.integers(1, min(3, ho))), draw(st.integers(1, min(3, wo)))
    psh, psw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pph, ppw = draw(st.integers(0, pkh - 1)), draw(st.integers(0, pkw - 1))
    ceil = draw(st.booleans())  # Caffe rounds pooling up; a last window may hang over the edge
    pho = -(-(ho + 2 * pph - pkh) // psh) + 1 if ceil else (ho + 2 * pph - pkh) // psh + 1
    pwo = -(-(wo + 2 * ppw - pkw) // psw) + 1 if ceil else (wo + 2 * ppw - pkw) // psw + 1
    v[[L.L_PKH, L.L_PKW, L.L_PSH, L.L_PSW, L.L_PPH, L.L_PPW, L.L_PHO, L.L_PWO]] = (
        pkh, pkw, psh, psw, pph, ppw, pho, pwo)


def _drawn(values: range | tuple[int, ...]) -> st.SearchStrategy[int]:
    if isinstance(values, range):
        return st.integers(values.start, values.stop - 1)
    return st.sampled_from(values)


@st.composite
def hardware(draw, max_side: int = 16) -> np.ndarray:
    """A hardware vector: every slot that layout.py gives test values drawn from them (the
    array's sides capped at ``max_side``), the rest derived here."""
    v = np.zeros(L.H_LEN, dtype=np.int64)
    for slot in L.HARDWARE_SLOTS:
        if slot.test is not None:
            values = slot.test
            if slot.index in (L.H_PR, L.H_PC):
                values = range(values.start, min(values.stop, max_side + 1))
            v[slot.index] = draw(_drawn(values))
    num, den = draw(st.sampled_from([(1, 1), (3, 5), (1, 2), (7, 10), (1, 3)]))
    v[L.H_DNUM], v[L.H_DDEN] = num, den
    v[L.H_BUF] = 1 << 30
    # the buffer's ports: often the default (one pixel a cycle in WS), often narrower
    pw = -(-int(v[L.H_PSUM]) // int(v[L.H_WORD]))
    v[L.H_RD] = draw(st.one_of(st.just(int(v[L.H_PR] + pw * v[L.H_PC])), st.integers(1, 12)))
    v[L.H_WR] = draw(st.one_of(st.just(int(pw * v[L.H_PC])), st.integers(1, 12)))
    v[L.H_ALU] = draw(st.one_of(st.just(int(v[L.H_PC])), st.integers(1, 4)))
    return v


@st.composite
def mappings(draw, layer: np.ndarray) -> np.ndarray:
    m = np.zeros(L.M_LEN, dtype=np.int64)
    ws_ok = layer[L.L_KIND] == L.KIND_CONV
    m[L.M_DATAFLOW] = draw(st.sampled_from([L.DF_WS, L.DF_OS] if ws_ok else [L.DF_OS]))
    m[L.M_ORDER:L.M_ORDER + 4] = draw(st.permutations([0, 1, 2, 3]))
    m[L.M_TX] = draw(st.integers(1, int(layer[L.L_WO])))
    m[L.M_TY] = draw(st.integers(1, int(layer[L.L_HO])))
    m[L.M_TC] = draw(st.integers(1, int(layer[L.L_CGI])))
    m[L.M_TK] = draw(st.integers(1, int(layer[L.L_G] * layer[L.L_CGO])))
    return m
