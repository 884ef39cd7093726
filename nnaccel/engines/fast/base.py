"""Shared pieces of the `fast` engine: the kernel decorators and a few array helpers.

Every other module of the package imports its decorators from here, after
`nnaccel.engines.jitcache` has made numba's cache stamp each kernel with all the engines'
sources (a kernel here calls kernels of the other modules).
"""

from __future__ import annotations

import itertools

import numpy as np
from numba import njit

from nnaccel.engines import jitcache, jitlink
from nnaccel.engines.layout import (
    M_ORDER,
)

jitcache.install()  # before the first kernel is decorated
jitlink.install()  # before the first compile

# Loop orders, outermost first, in itertools order; the tiler's candidate index uses it.
ORDERS = np.array(list(itertools.permutations(range(4))), dtype=np.int64)
_BIG = np.int64(2**62)
# Internal kernels are only called from other kernels: no Python wrappers to compile. A
# constant that reaches a kernel call is written np.int64(0), not 0: numba types calls while
# it still infers, and a literal 0 costs a second compiled specialization of the callee.
_kernel = njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, error_model="numpy")
# Kernels that allocate nothing are compiled without the runtime's reference counting: numba
# otherwise counts references to every array argument, at every call, and in the search's
# per-combo loops those atomic counts cost more than the arithmetic.
_pure = njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, error_model="numpy",
             _nrt=False)


@_pure
def _fill(a, v):
    """a[:] = v, as a loop (numba compiles slice assignment slowly)."""
    for i in range(a.size):
        a[i] = v


@_pure
def _copy(dst, src):
    for i in range(src.size):
        dst[i] = src[i]


@_kernel
def _argsort(keys, n):
    """Indices that sort keys[:n] ascending (a shell sort: np.argsort takes seconds to compile)."""
    order = np.arange(n)
    gap = 1
    while gap < n // 3:
        gap = 3 * gap + 1
    while gap > 0:
        for i in range(gap, n):
            v = order[i]
            j = i
            while j >= gap and keys[order[j - gap]] > keys[v]:
                order[j] = order[j - gap]
                j -= gap
            order[j] = v
        gap //= 3
    return order


@_pure
def _heap_before(key, ids, x, y):
    """Heap entry x comes before y: the lesser key, on equal keys the lesser id (so that the
    order of the queue, and the timelines it walks, do not depend on how it was filled)."""
    return key[x] < key[y] or (key[x] == key[y] and ids[x] < ids[y])


@_pure
def _heap_swap(key, ids, x, y):
    key[x], key[y] = key[y], key[x]
    ids[x], ids[y] = ids[y], ids[x]


@_pure
def _sift_down(key, ids, pos, n):
    while True:
        child = 2 * pos + 1
        if child >= n:
            return
        if child + 1 < n and _heap_before(key, ids, child + 1, child):
            child += 1
        if not _heap_before(key, ids, child, pos):
            return
        _heap_swap(key, ids, pos, child)
        pos = child


@_pure
def _heapify(key, ids, n):
    """Make key[:n], ids[:n] a binary min-heap (in O(n): a sort of every entry costs more
    than the few entries the search takes from it)."""
    for pos in range(n // 2 - 1, -1, -1):
        _sift_down(key, ids, pos, n)


@_pure
def _heap_pop(key, ids, n):
    """Remove the heap's first entry (key[0], ids[0]); returns the new size."""
    n -= 1
    key[0] = key[n]
    ids[0] = ids[n]
    _sift_down(key, ids, np.int64(0), n)
    return n


@_pure
def _heap_push(key, ids, n, k, i):
    """Add entry (k, i) to a heap of n entries (the arrays have room); returns the new size."""
    key[n] = k
    ids[n] = i
    pos = n
    while pos > 0:
        parent = (pos - 1) // 2
        if not _heap_before(key, ids, pos, parent):
            break
        _heap_swap(key, ids, pos, parent)
        pos = parent
    return n + 1


@_kernel
def _perm(m):
    """The loop order of a mapping as its own array (one array type for every caller)."""
    perm = np.empty(4, dtype=np.int64)
    for p in range(4):
        perm[p] = m[M_ORDER + p]
    return perm


@_pure
def _cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b
