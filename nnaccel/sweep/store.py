"""The results store: one SQLite file (standard library) holding every finished point.

A point's row is written in a transaction together with the other points of its task, so a
Ctrl-C or a killed process loses at most the task in flight and never leaves half of one:
SQLite rolls an unfinished transaction back when the file is next opened. Write-ahead
logging lets readers (a notebook, `nnaccel pareto`) read while a sweep writes. Rows are keyed
by `point.point_key` (network content, hardware, model version), so a rerun computes only
the points the store lacks and a changed model never reuses old rows.

A store is nnaccel's or it is refused (`storefile`): nnaccel never writes into another
program's database or any other file, readers open it read-only, and a lock another process
holds for longer than `LOCK_TIMEOUT_S` is one line naming that process, not a long wait.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnaccel.sweep.axes import SweepError
from nnaccel.sweep.point import COLUMNS
from nnaccel.sweep.storefile import (
    APPLICATION_ID,
    LOCK_TIMEOUT_S,
    lock_holders,
    read_only_uri,
    store_problem,
)

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = "1"
_TYPES = {
    "network": "TEXT", "network_hash": "TEXT", "array": "TEXT", "dataflow": "TEXT",
    "objective": "TEXT", "energy_unit": "TEXT", "error": "TEXT",
    "Pr": "INTEGER", "Pc": "INTEGER", "buffer_bytes": "INTEGER", "dram_latency_cycles": "INTEGER",
    "word_bits": "INTEGER", "params": "INTEGER", "macs": "INTEGER", "cycles": "INTEGER",
    "dram_bytes": "INTEGER",
}
#: Stored columns: the key, the model version, the point's hardware as canonical JSON, the row.
STORED = ("key", "model_version", "hardware", *COLUMNS)
_SELECT = ", ".join(f'"{c}"' for c in STORED)
_CHUNK = 500  # keys per query (SQLite's limit on bound parameters is far above)


class Store:
    """A results store at `path`: created if missing, unless `readonly` (a reader, which
    never changes the file)."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        problem = store_problem(self.path, must_exist=readonly)
        if problem is not None:
            raise SweepError(f"{self.path}: {problem}")
        self.conn = None
        with self._guard():
            if readonly:
                self.conn = sqlite3.connect(read_only_uri(self.path), uri=True,
                                            timeout=LOCK_TIMEOUT_S, isolation_level=None)
            else:
                self.conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S,
                                            isolation_level=None)
                # the id first, while the file is still in rollback mode: it lands in the
                # file's header at once, where `store_problem` reads it
                if self.conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                    self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
            self._create()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """SQLite's errors as one-line SweepErrors: a lock says who holds it."""
        try:
            yield
        except sqlite3.OperationalError as e:
            text = str(e)
            if "locked" in text or "busy" in text:
                raise SweepError(
                    f"{self.path}: the store is locked by {lock_holders(self.path)} (waited"
                    f" {LOCK_TIMEOUT_S:g} s); let it finish, or give another --store") from None
            raise SweepError(f"{self.path}: cannot use as a results store ({text})") from None
        except sqlite3.DatabaseError as e:
            raise SweepError(f"{self.path}: not a readable results store ({e})") from None
        except OverflowError as e:
            raise SweepError(f"{self.path}: a value does not fit SQLite's 64-bit integers ({e})")\
                from None

    def _create(self) -> None:
        if self.readonly:
            tables = {n for (n,) in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "points"} <= tables:
                raise SweepError(f"{self.path}: a results store that holds no results yet")
        else:
            cols = ", ".join(f'"{c}" {_TYPES.get(c, "REAL")}' for c in COLUMNS)
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY,"
                                  " value TEXT)")
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS points (key TEXT PRIMARY KEY, model_version"
                    f" TEXT NOT NULL, hardware TEXT NOT NULL, {cols}) WITHOUT ROWID")
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                  (SCHEMA_VERSION,))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        row = self.conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        version = row[0] if row else None
        have = [r[1] for r in self.conn.execute("PRAGMA table_info(points)")]
        if version != SCHEMA_VERSION or tuple(have) != STORED:
            raise SweepError(f"{self.path}: a results store of another layout (schema {version});"
                             " use a new --store file")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def present(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` the store holds."""
        out: set[str] = set()
        with self._guard():
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i:i + _CHUNK]
                q = f"SELECT key FROM points WHERE key IN ({','.join('?' * len(chunk))})"
                out.update(k for (k,) in self.conn.execute(q, chunk))
        return out

    def put(self, version: str, identity: str, rows: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Store the (key, row) pairs of one task, all or none."""
        values = [(key, version, identity, *(row[c] for c in COLUMNS)) for key, row in rows]
        q = f"INSERT OR IGNORE INTO points VALUES ({','.join('?' * len(STORED))})"
        with self._guard():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany(q, values)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def rows(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored rows of `keys` (those present), by key."""
        out: dict[str, dict[str, Any]] = {}
        with self._guard():
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i:i + _CHUNK]
                q = f"SELECT {_SELECT} FROM points WHERE key IN ({','.join('?' * len(chunk))})"
                for values in self.conn.execute(q, chunk):
                    out[values[0]] = dict(zip(STORED, values, strict=True))
        return out

    def all_rows(self) -> list[dict[str, Any]]:
        q = f"SELECT {_SELECT} FROM points ORDER BY key"
        with self._guard():
            return [dict(zip(STORED, v, strict=True)) for v in self.conn.execute(q)]

    def count(self) -> int:
        with self._guard():
            return self.conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]


def frame(path: str | Path) -> pd.DataFrame:
    """Every row of the store at `path` as a pandas DataFrame: ``nnaccel.sweep.frame("sweep.db")``."""
    import pandas as pd

    with Store(path, readonly=True) as store:
        return pd.DataFrame(store.all_rows(), columns=list(STORED))
