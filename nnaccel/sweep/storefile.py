"""Whether a file is a results store of nnaccel, and who holds one locked; never writes.

A store is identified by its SQLite header: the application id `APPLICATION_ID` (bytes 68-71
of the file, written when nnaccel creates it, before anything else). A store made before the
id existed is recognised by its two tables (`meta` with a `schema` row, and `points`), read
through a read-only connection. Anything else — another program's database, a CSV, an empty
file, a link, a device — is refused before any write, so nnaccel never adds its tables to a
file it does not own.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

#: 'nnac' as a big-endian 32-bit integer: SQLite's application id of nnaccel's stores.
APPLICATION_ID = 0x6E6E6163
#: How long a store operation waits for another process's lock before saying who holds it.
#: Transactions of a sweep last milliseconds, so seconds of waiting mean a lock held on purpose.
LOCK_TIMEOUT_S = 5.0
_MAGIC = b"SQLite format 3\x00"


def read_only_uri(path: Path) -> str:
    """A URI that opens `path` read-only (a reader never changes a store)."""
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def store_problem(path: Path, must_exist: bool) -> str | None:
    """Why `path` cannot be used as a results store (None: it is one, or it does not exist
    yet and `must_exist` is False). Reads the header only; never opens it for writing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "no such results store" if must_exist else None
    except (OSError, ValueError) as exc:
        return f"cannot reach the file: {getattr(exc, 'strerror', None) or exc}"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link; give the store's own path (nnaccel does not follow links to stores)"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a results store"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a FIFO, socket or device), not a results store"
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    if not head:
        return "is an empty file, not a results store; remove it or give another --store"
    if len(head) < 100 or not head.startswith(_MAGIC):
        return ("is not a results store (not an SQLite database); nnaccel does not write into"
                " other files")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id == APPLICATION_ID:
        return None
    if app_id != 0:
        return (f"is an SQLite database of another program (application id {app_id:#x}), not"
                " a results store; nnaccel does not change it")
    return None if _old_store(path) else (
        "is an SQLite database of another program, not a results store (it lacks nnaccel's"
        " tables); nnaccel does not change it")


def _old_store(path: Path) -> bool:
    """Whether a database without an application id has exactly a store's tables."""
    try:  # immutable: no lock and no -shm file beside another program's database
        conn = sqlite3.connect(read_only_uri(path) + "&immutable=1", uri=True,
                               timeout=LOCK_TIMEOUT_S)
    except sqlite3.Error:
        return False
    try:
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables != {"meta", "points"}:
            return False
        return conn.execute("SELECT 1 FROM meta WHERE name = 'schema'").fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def lock_holders(path: Path) -> str:
    """Who holds locks on the store or its WAL files, in words ('process 123 (sqlite3 s.db)'),
    from /proc/locks (Linux); 'another process' where that cannot be known."""
    files = {}
    for name in (str(path), f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            st = os.stat(name)
        except OSError:
            continue
        files[(os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)] = name
    writers: dict[int, None] = {}
    readers: dict[int, None] = {}
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a process waiting for a lock, not holding one
            continue
        try:
            kind, pid = parts[3], int(parts[4])
            major, minor, inode = parts[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
        except (IndexError, ValueError):
            continue
        if key in files and pid > 0 and pid != os.getpid():
            (writers if kind == "WRITE" else readers)[pid] = None
    pids = list(writers or readers)
    if not pids:
        return "another process"
    return ", ".join(f"process {pid}{_command(pid)}" for pid in pids[:3])


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    text = " ".join(raw.decode("utf-8", "replace").split("\0")).strip()
    return f" ({text[:80]}{'...' if len(text) > 80 else ''})" if text else ""
