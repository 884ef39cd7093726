"""Input paths: whether a file can be read, said in words, before anything opens it."""

from __future__ import annotations

import errno
import stat
from pathlib import Path


def file_problem(path: Path, max_bytes: int) -> str | None:
    """Why `path` cannot be read as an input file (None: a regular file of at most
    `max_bytes`). Never opens it, so a FIFO or a device cannot block or be consumed."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links"
        if exc.errno == errno.ENAMETOOLONG:
            return "the file name is too long for this system"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied (a directory on the way cannot be searched)"
        if exc.errno == errno.ENOTDIR:
            return "no such file (a part of the path is not a directory)"
        return f"cannot read the file: {exc.strerror or exc}"
    except ValueError:
        return "the file name contains a NUL character"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a file to read"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a FIFO, socket or device); give a regular file"
    if st.st_size > max_bytes:
        return (f"the file has {st.st_size:,} bytes, above the limit of {max_bytes:,}"
                " (docs/network-format.md, 'Limits')")
    return None
