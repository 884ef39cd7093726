"""Output paths, checked before any work and written so that nothing is ever destroyed.

`check_outputs` runs before a command simulates anything: every output must be a file name
(not empty, not a directory, not ending in '/') in an existing, writable directory; it must
not be one of the run's inputs, nor another output of the same run; an existing target must
be a writable regular file (never a symbolic link, device, FIFO or directory). `write_atomic`
writes to a temporary file beside the target and renames it into place, so a failure leaves
the old file whole; a replaced file keeps its permission bits.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import OutputError, WriteError


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def check_output(option: str, path: str) -> Path:
    """`path` as a Path if the run may write it, else OutputError naming `option`."""
    where = f"{option} {path!r}"
    if not path:
        raise OutputError(f"{option}: the file name is empty")
    if "\0" in path:
        raise OutputError(f"{where}: the file name contains a NUL character")
    if path.endswith(("/", os.sep)) or os.path.basename(path) in ("", ".", ".."):
        raise OutputError(f"{where}: names a directory; give a file name")
    target = Path(path)
    parent = target.parent
    try:
        pst = os.stat(parent)
    except FileNotFoundError:
        raise OutputError(f"{where}: the directory {str(parent)!r} does not exist") from None
    except OSError as exc:
        raise OutputError(f"{where}: cannot reach the directory: {exc.strerror}") from None
    if not stat.S_ISDIR(pst.st_mode):
        raise OutputError(f"{where}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{where}: the directory {str(parent)!r} is not writable")
    try:
        name_max = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    # the temporary file beside it adds about 20 characters to the name
    if len(os.fsencode(target.name)) + 20 > name_max:
        raise OutputError(f"{option}: the file name is too long ({len(target.name)} characters;"
                          f" at most {name_max - 20} here)")
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(f"{where}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{where}: is a symbolic link; nnaccel does not replace links"
                          " (give the file it points to)")
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{where}: is a directory; give a file name")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{where}: is not a regular file (a device, FIFO or socket);"
                          " nnaccel replaces only regular files")
    if not os.access(target, os.W_OK):
        raise OutputError(f"{where}: the file is read-only; nnaccel does not replace it")
    return target


def check_outputs(outputs: Sequence[tuple[str, str | None]],
                  inputs: Sequence[str | os.PathLike] = ()) -> None:
    """Check every (option, path) given (None: not asked for) before the run starts: each
    one alone (`check_output`), none an input of the run, no two the same file."""
    inputs_seen = {i for i in (_identity(str(p)) for p in inputs) if i is not None}
    seen: dict[Any, str] = {}
    for option, path in outputs:
        if path is None:
            continue
        target = check_output(option, path)
        ident = _identity(path)
        if ident is not None and ident in inputs_seen:
            raise OutputError(f"{option} {path!r}: is an input of this run; nnaccel does not"
                              " overwrite its own input")
        key = ident if ident is not None else os.path.realpath(target)
        if key in seen:
            raise OutputError(f"{option} {path!r}: is the same file as {seen[key]}; give each"
                              " output its own file")
        seen[key] = f"{option} {path!r}"
        seen[os.path.realpath(target)] = seen[key]


def write_atomic(path: str | Path, write: Callable[[Any], None], binary: bool = False) -> None:
    """Call write(file) on a temporary file beside `path`, then rename it into place.

    Refuses (OutputError) to replace anything but a regular file; a replaced file keeps its
    permission bits. A failure while writing (OSError: a full disk, a quota) removes the
    temporary file and raises WriteError; the old file, if any, is untouched.
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{str(path)!r} is not a regular file (a link, device, FIFO or"
                          " directory); nnaccel does not replace it")
    if st is not None:
        mode = stat.S_IMODE(st.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask  # mkstemp makes it owner-only; the result is an ordinary file
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                   dir=path.parent or ".")
    except OSError as exc:
        raise WriteError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    try:
        os.chmod(tmp, mode)
        with (os.fdopen(fd, "wb") if binary
              else os.fdopen(fd, "w", newline="", encoding="utf-8")) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            what = "the disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (
                exc.strerror or str(exc))
            raise WriteError(f"cannot write {str(path)!r}: {what}; nothing was written")\
                from None
        raise
