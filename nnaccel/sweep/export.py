"""Sweep rows to and from files: CSV (standard library), Parquet (pyarrow), the SQLite store.

Every file is written beside its target and renamed into place when complete
(`outputs.write_atomic`: a replaced file keeps its mode). Rows read back are checked
(`checked_rows`) before anything uses them: a file or store edited by hand is one line naming
the row and the column, never a traceback or a silently empty front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nnaccel.outputs import write_atomic
from nnaccel.paths import file_problem
from nnaccel.report import write_csv
from nnaccel.sweep.axes import SweepError
from nnaccel.sweep.point import model_version
from nnaccel.sweep.store import Store

STORE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
#: A CSV or Parquet file of rows that `pareto` reads: pandas holds all of it in memory.
MAX_ROWS_FILE_BYTES = 2**30


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

    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])
    write_atomic(path, lambda f: pq.write_table(table, f), binary=True)


def read_rows(path: str | Path, all_versions: bool = False) -> list[dict[str, Any]]:
    """Rows of a sweep from a CSV or Parquet file it wrote, or from a store (this model's
    rows only, unless `all_versions`). A store is opened read-only."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in STORE_SUFFIXES:
        with Store(path, readonly=True) as st:
            rows = st.all_rows()
        if not all_versions:
            version = model_version()
            rows = [r for r in rows if r["model_version"] == version]
        return rows
    problem = file_problem(path, MAX_ROWS_FILE_BYTES)
    if problem is not None:
        raise SweepError(f"{path}: {problem}")
    import pandas as pd

    try:
        df = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except Exception as e:  # pandas and pyarrow raise many kinds for a file that is not theirs
        raise SweepError(f"{path}: cannot read as {'Parquet' if suffix == '.parquet' else 'CSV'}:"
                         f" {' '.join(str(e).split())[:300]}") from None
    if "network" not in df.columns:
        raise SweepError(f"{path}: not a sweep's rows (no 'network' column)")
    df = df.astype(object).where(df.notna(), None)
    return df.to_dict("records")


#: The type every column of a row must have when read back: text, a whole number, a number.
_TEXT = ("network", "array", "dataflow", "objective")
_OPTIONAL_TEXT = ("network_hash", "energy_unit", "error")
_WHOLE = ("Pr", "Pc", "buffer_bytes", "dram_latency_cycles", "word_bits", "params", "macs",
          "cycles", "dram_bytes")
_NUMBERS = ("dram_bandwidth_bytes_per_s", "sparsity", "area_mm2", "pe_array_area_mm2",
            "buffer_area_mm2", "time_s", "energy_dynamic", "energy_static", "energy_total",
            "edp", "utilization")


def checked_rows(rows: Sequence[Mapping[str, Any]], source: str | Path,
                 needed: Sequence[str], filled: Sequence[str] = ()) -> list[dict[str, Any]]:
    """`rows` read back from `source` with every known column of its type (NaN read as
    empty), or SweepError naming the row and the column. `needed`: the columns the caller
    uses, each of which must be there; `filled`: those no row may leave empty."""
    present = set(rows[0]) if rows else set()
    missing = [c for c in needed if c not in present]
    if rows and missing:
        raise SweepError(f"{source}: not a sweep's rows: no column {', '.join(map(repr, missing))}"
                         " (nnaccel sweep --csv/--parquet and the store have them)")
    out = []
    for i, row in enumerate(rows, start=1):
        fixed = {col: _cell(source, i, row, col, value) for col, value in row.items()}
        if not fixed.get("network"):
            raise SweepError(f"{source}: row {i}: the network column is empty")
        empty = [c for c in filled if fixed.get(c) is None]
        if empty:
            raise SweepError(f"{source}: row {i} (network {fixed['network']!r}): column"
                             f" {empty[0]!r} is empty; was the file edited? Rerun the sweep"
                             " into a new file")
        out.append(fixed)
    return out


def _cell(source: str | Path, i: int, row: Mapping[str, Any], col: str, value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        value = None
    if col in _TEXT or col in _OPTIONAL_TEXT:
        if isinstance(value, str) or (value is None and col in _OPTIONAL_TEXT):
            return value
        if col in _TEXT and _is_number(value):
            return str(value)  # a CSV reader's guess: a network named 7 is the name '7'
        want = "text"
    elif col in _WHOLE or col in _NUMBERS:
        if value is None:
            return None
        whole = col in _WHOLE
        if _is_number(value) and math.isfinite(value) and value >= 0 and (
                not whole or value == int(value)):
            return int(value) if whole else float(value)
        want = "a whole number, at least 0" if whole else "a finite number, at least 0"
    else:
        return value
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    net = row.get("network")
    who = f" (network {net!r})" if isinstance(net, str) else ""
    raise SweepError(f"{source}: row {i}{who}: column {col!r} is {shown}, not {want}; was the"
                     " file edited? Rerun the sweep into a new file")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def unique_names(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows whose network names each stand for one network: where different networks
    (`network_hash`) share a name, each is shown with the start of its hash after the name.
    Also a note per such name, for the user."""
    hashes: dict[str, dict[Any, None]] = {}
    for r in rows:
        hashes.setdefault(r["network"], {})[r.get("network_hash")] = None
    shared = {n: list(h) for n, h in hashes.items() if len(h) > 1 and None not in h}
    if not shared:
        return list(rows), []
    out = [{**r, "network": shown_name(r["network"], r["network_hash"])}
           if r["network"] in shared else r for r in rows]
    return out, [name_note(n, h) for n, h in shared.items()]


def shown_name(name: str, network_hash: str) -> str:
    """A network's name made unique among networks that share it: the start of its hash."""
    return f"{name} [{str(network_hash)[:8]}]"


def name_note(name: str, hashes: Sequence[str]) -> str:
    """The note that says a name was made unique, and how."""
    return (f"note: {len(hashes)} different networks are named {name!r}; shown as "
            + ", ".join(repr(shown_name(name, h)) for h in hashes)
            + " (the start of each one's network_hash)")


def rows_for_fronts(source: str | Path, metrics: Sequence[str]
                    ) -> tuple[list[dict[str, Any]], list[str]]:
    """A sweep's rows from `source` (store, CSV or Parquet), checked for what a front uses
    (the network, the configuration's columns, `metrics`), names made unique; and notes."""
    from nnaccel.sweep.pareto import CONFIG_COLUMNS

    rows = checked_rows(read_rows(source), source, ["network", *CONFIG_COLUMNS, *metrics],
                        CONFIG_COLUMNS)
    if not rows:
        raise SweepError(f"{source}: no rows (of this model version)")
    if not any(not r.get("error") and all(r.get(m) is not None for m in metrics) for r in rows):
        raise SweepError(f"{source}: no row has figures for {', '.join(metrics)} (every point"
                         " failed: see the error column)")
    return unique_names(rows)
