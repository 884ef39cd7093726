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
