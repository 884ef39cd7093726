"""Reading the arrays of an ``.npz`` file safely: only the members asked for, each checked
before its data is read, in bounded memory.

`numpy.load` trusts the file: it opens whatever the path is (a FIFO blocks forever), reads a
member whole (a 2 GB array compressed to 2 MB takes 2 GB), and answers a truncated, corrupt or
forged file with whatever exception the layer below raises. Here a path must be a regular
file of at most `MAX_NPZ_BYTES`; a member's header (dtype, shape) is read first and must be a
plain numeric array of exactly the size the caller expects; its data is then streamed in
chunks of `CHUNK_BYTES`; and every failure is an `NpzError` of one line.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy

from nnaccel import limits
from nnaccel.paths import file_problem

#: Size of an .npz file of weights: a network's weights at 16 bytes each are far below
#: (2**40 elements of work bound one layer), and a larger file is a mistake, not weights.
MAX_NPZ_BYTES = 2**40
#: Members of an .npz: one per layer at most (2**20 layers), and room for others. Python's
#: zipfile holds the whole directory in memory (about 500 bytes a member).
MAX_NPZ_MEMBERS = 2 * limits.MAX_LAYERS
#: A member's .npy header, in bytes: numpy writes fewer than 200 for any plain array.
MAX_HEADER_BYTES = 10_000
#: Bytes of one member decompressed and counted at a time.
CHUNK_BYTES = 2**24
#: The kinds of arrays weights may be: bool, signed and unsigned integers, floats, complex.
NUMERIC_KINDS = "biufc"


class NpzError(Exception):
    """An .npz that cannot be read: the message says why, in words (no path: the caller adds
    it with the layer)."""


def open_npz(path: Path) -> zipfile.ZipFile:
    """The zip archive at `path`, after checking it is a regular file of sensible size with a
    directory of sensible length."""
    problem = file_problem(path, MAX_NPZ_BYTES)
    if problem is not None:
        raise NpzError(problem)
    if path.stat().st_size == 0:
        raise NpzError("is an empty file, not an .npz of arrays")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
            if magic == b"\x93NUMPY":
                raise NpzError("is a single .npy array, not an .npz of arrays keyed by layer name"
                               " (np.savez(FILE, **{layer_name: weights}))")
            end = zipfile._EndRecData(f)  # the directory's size, before zipfile reads it
        if end is None:
            raise NpzError("is not an .npz (not a zip archive)")
        if end[zipfile._ECD_ENTRIES_TOTAL] > MAX_NPZ_MEMBERS:
            raise NpzError(f"has {end[zipfile._ECD_ENTRIES_TOTAL]:,} members, more than"
                           f" {MAX_NPZ_MEMBERS:,} (docs/network-format.md, 'Limits')")
        return zipfile.ZipFile(path)
    except NpzError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise NpzError(f"is not a readable .npz: {_said(exc)}") from None


def member_info(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo | None:
    """The member that holds the array `name` (np.savez stores it as `name`.npy)."""
    try:
        return archive.getinfo(f"{name}.npy")
    except KeyError:
        return None


def scan_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, elements: int,
                visit: Callable[[np.ndarray], None]) -> None:
    """Check the member's header (a plain numeric array of exactly `elements` elements, its
    declared size agreeing with the archive's), then call `visit` on its data in chunks.
    Raises NpzError for anything else."""
    try:
        with archive.open(info) as f:
            dtype, shape = _header(f)
            count = math.prod(shape)
            if count != elements:
                raise NpzError(f"has {count:,} weights (shape {list(shape)}), the layer"
                               f" {elements:,}")
            data_bytes = count * dtype.itemsize
            if info.file_size - f.tell() != data_bytes:
                raise NpzError(f"its header declares {data_bytes:,} bytes of data, the archive"
                               f" {max(0, info.file_size - f.tell()):,}: a damaged or forged file")
            for chunk in _chunks(f, data_bytes, dtype.itemsize):
                visit(np.frombuffer(chunk, dtype=dtype))
    except NpzError:
        raise
    except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error,
            zipfile.BadZipFile, MemoryError) as exc:
        raise NpzError(f"cannot read the array: {_said(exc)}") from None


def _header(f: IO[bytes]) -> tuple[np.dtype, tuple[int, ...]]:
    version = npy.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = npy.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
    elif version in ((2, 0), (3, 0)):
        shape, _, dtype = npy.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
    else:
        raise NpzError(f"an .npy format version {version} numpy does not write")
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind not in NUMERIC_KINDS:
        raise NpzError(f"holds {dtype} values; weights are plain numbers (bool, int, float)")
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise NpzError(f"a malformed shape {shape!r}")
    return dtype, tuple(shape)


def _chunks(f: IO[bytes], total: int, itemsize: int) -> Iterator[bytes]:
    step = max(itemsize, CHUNK_BYTES // itemsize * itemsize)
    left = total
    while left:
        chunk = f.read(min(step, left))
        if not chunk or len(chunk) % itemsize:
            raise NpzError("the array's data ends early: a truncated file")
        left -= len(chunk)
        yield chunk
    if f.read(1):
        raise NpzError("more data than the header declares: a damaged or forged file")


def _said(exc: Any) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
