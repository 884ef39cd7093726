"""Sweep rows to and from files: CSV (standard library), Parquet (pyarrow), the SQLite store.

Every file is written beside its target and renamed into place when complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nnaccel.report import write_csv
from nnaccel.sweep.axes import SweepError
from nnaccel.sweep.point import model_version
from nnaccel.sweep.store import Store

STORE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def write_rows(path: str | Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """`rows` as CSV or, for a .parquet path, Parquet."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        write_parquet(path, rows, columns)
    else:
        write_csv(path, rows, columns)


def write_parquet(path: str | Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output(path: str | Path | None) -> None:
    """Fail before any work when an output file cannot be written where asked."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise SweepError(f"{p}: is a directory; give a file name")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise SweepError(f"{p}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise SweepError(f"{p}: the folder {folder} is not writable")


def read_rows(path: str | Path, all_versions: bool = False) -> list[dict[str, Any]]:
    """Rows of a sweep from a CSV or Parquet file it wrote, or from a store (this model's
    rows only, unless `all_versions`)."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in STORE_SUFFIXES:
        with Store(path) as st:
            rows = st.all_rows()
        if not all_versions:
            version = model_version()
            rows = [r for r in rows if r["model_version"] == version]
        return rows
    import pandas as pd

    try:
        df = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except Exception as e:  # pandas and pyarrow raise many kinds for a file that is not theirs
        raise SweepError(f"{path}: cannot read as {'Parquet' if suffix == '.parquet' else 'CSV'}:"
                         f" {' '.join(str(e).split())}") from None
    if "network" not in df.columns:
        raise SweepError(f"{path}: not a sweep's rows (no 'network' column)")
    df = df.astype(object).where(df.notna(), None)
    return df.to_dict("records")
