"""numba's on-disk cache for the engines, invalidated by a change to any of their sources.

numba stamps a cached kernel with the content of its own source file only. A kernel that
calls a kernel of another file (the `fast` package is split into one module per section of
docs/model.md), or that folds in a slot number of `layout.py` as a constant, would otherwise
load a stale compiled copy after that other file changed. `install` registers cache locators
that stamp every kernel under ``nnaccel/engines`` with the content of all the engines' source
files together; kernels elsewhere keep numba's own locators. An installed package never
changes, so this costs nothing there; during development an edit recompiles the engines.

It must run before the first ``njit(cache=True)`` of an engine module (the locator is chosen
when a kernel is decorated), so those modules import it first. Where numba's internals differ
(another numba version), nothing is registered and numba's per-file stamps apply.

`install` also makes loading a cached kernel lighter (`_light_loads`): numba refreshes its
compiler's registries before every cache lookup, which the first time imports all of its
implementation modules (linear algebra, random, typed containers, cffi and its C parser) and
every time walks each registry for new entries. A kernel loaded from the cache is machine
code and needs only the runtime (NRT) it allocates with; a kernel that is compiled still
refreshes them first (numba's compiler does). Measured: loading the tiler's kernels
0.21 s -> 0.10 s, in every command that runs a search (a sweep's parent loads them before
its workers fork, on one core).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


def _source_stats() -> list[tuple[str, int, int]]:
    """(path, mtime, size) of every source file of the engines, by path. With os.scandir,
    not Path.rglob: every kernel's cache asks when it is decorated (77 times in an import of
    the engines), and rglob took 1 ms each time, scandir 0.05 ms."""
    out = []
    dirs = [str(ROOT)]
    while dirs:
        with os.scandir(dirs.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        dirs.append(entry.path)
                elif entry.name.endswith(".py"):
                    st = entry.stat()
                    out.append((entry.path, st.st_mtime_ns, st.st_size))
    return sorted(out)


@functools.lru_cache(maxsize=8)
def _digest(key: tuple[tuple[str, int, int], ...]) -> bytes:
    h = hashlib.sha256()
    for path, _, _ in key:
        h.update(path.encode())
        h.update(Path(path).read_bytes())
    return h.digest()


def engines_stamp() -> bytes:
    """A digest of every source file of the engines (re-read when a file's stat changes)."""
    return _digest(tuple(_source_stats()))


def _inside(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().is_relative_to(ROOT)
    except (OSError, ValueError):
        return False


class _EnginesStamp:
    """Mixed in before one of numba's file-backed locators."""

    _nnaccel_engines = True

    def get_source_stamp(self) -> Any:
        return engines_stamp()

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if not _inside(py_file):
            return None
        return super().from_function(py_func, py_file)  # type: ignore[misc]


def _light_loads(caching: Any) -> None:
    """Cache lookups initialise the runtime instead of refreshing the registries (module doc)."""
    cache = caching.Cache
    if getattr(cache.load_overload, "_nnaccel_light", False):
        return
    required = ("_guard_against_spurious_io_errors", "_load_overload")
    if not all(hasattr(cache, name) for name in required):
        return  # another numba: its own loads
    from numba.core.runtime import rtsys

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        rtsys.initialize(target_context)  # once per process; a loaded kernel may allocate
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)
        # (None when the guard swallows an I/O error: the kernel is then compiled)

    load_overload._nnaccel_light = True  # type: ignore[attr-defined]
    cache.load_overload = load_overload


def install() -> bool:
    """Register the locators (once); False when numba's caching internals are not as expected."""
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
        bases = [
            getattr(caching, name, None) or getattr(caching, "_" + name)
            for name in ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
        ]
        classes = impl._locator_classes
    except (ImportError, AttributeError):
        return False
    _light_loads(caching)
    if any(getattr(c, "_nnaccel_engines", False) for c in classes):
        return True
    for base in reversed(bases):  # numba's order: a user's cache dir, in-tree, user-wide
        classes.insert(0, type(f"Engines{base.__name__}", (_EnginesStamp, base), {}))
    return True

