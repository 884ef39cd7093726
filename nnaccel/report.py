"""Reports: per-layer tables as rows (and pandas frames), CSV and JSON files, terminal tables.

Every column name carries its unit (docs/design.md §5). Files are written atomically
(`outputs.write_atomic`): to a temporary file beside the target, renamed into place only when
complete, so a failure never leaves a half-written output behind. The commands write rows
with the standard library's csv module: importing pandas alone costs a command about 0.4 s.
The frames are for library users.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .assumptions import hardware_source, layer_source, sparsity_use
from .energy import LEVELS
from .hardware import Hardware
from .outputs import write_atomic
from .shapes import WEIGHTED_TYPES
from .simulate import Result

if TYPE_CHECKING:
    import pandas as pd


def energy_unit_suffix(hw: Hardware) -> str:
    return "mac_units" if hw.energy.unit == "mac" else "pj"


def dram_time_cycles(r: Any, hw: Hardware) -> int:
    """Cycles the DRAM takes to move a layer's bytes at its bandwidth, latencies aside."""
    return -(-(r.count("dram_read_bytes") + r.count("dram_write_bytes"))
             // hw.dram_bytes_per_cycle)


def bound(r: Any, hw: Hardware) -> str:
    """What a layer waits on (docs/model.md §10): 'dram' when moving its bytes takes at least
    as long as its array computes (the double buffer then keeps the array waiting on, or just
    keeping pace with, the DRAM), 'array' otherwise, '' for a layer that moves nothing."""
    if r.cycles == 0:
        return ""
    return "dram" if dram_time_cycles(r, hw) >= r.count("compute_cycles") else "array"


def layer_rows(result: Result, sparsity_source: str = "") -> list[dict[str, Any]]:
    """One row per layer: shapes, mapping, cycles, counts and energy by level, and a conv/fc
    layer's weight sparsity with where it comes from (the hardware's figure, set by
    `sparsity_source`, or the layer's own: the file's, measured)."""
    suffix = energy_unit_suffix(result.hardware)
    hw_source = hardware_source(result.hardware.sparsity, sparsity_source)
    hw = result.hardware
    rows = []
    for r in result.layers:
        m = r.mapping
        weighted = r.layer.type in WEIGHTED_TYPES
        own = r.layer.sparsity is not None
        row: dict[str, Any] = {
            "layer": r.layer.name,
            "type": r.layer.type,
            "input_shape": "x".join(map(str, r.layer.input_shape)),
            "output_shape": "x".join(map(str, r.layer.output_shape)),
            "dataflow": m.dataflow if m else ("fused" if r.fused_into else ""),
            "fused_into": r.fused_into or "",
            "batch": r.batch_mode,  # how a batch ran (docs/model.md §5): "" for one image
            "loop_order": m.loop_order if m else "",
            "tile_x": m.tx if m else 0,
            "tile_y": m.ty if m else 0,
            "tile_c": m.tc if m else 0,
            "tile_k": m.tk if m else 0,
            "macs": r.macs,
            "pe_ops": r.count("pe_ops"),
            "cycles": r.cycles,
            "compute_cycles": r.count("compute_cycles"),
            "stall_cycles": r.count("stall_cycles"),
            "stall_latency_cycles": r.stall_latency_cycles,
            "stall_bandwidth_cycles": r.stall_bandwidth_cycles,
            "utilization": r.utilization,
            "efficiency_macs_per_cycle": r.efficiency,
            "dram_read_bytes": r.count("dram_read_bytes"),
            "dram_write_bytes": r.count("dram_write_bytes"),
            "buffer_reads": r.count("buffer_reads"),
            "buffer_writes": r.count("buffer_writes"),
            "rf_accesses": r.count("rf_accesses"),
            "array_transfers": r.count("array_transfers"),
            "tiles": r.count("tiles"),
            "alu_ops": r.count("alu_ops"),
            "dram_time_cycles": dram_time_cycles(r, hw),
            "bound": bound(r, hw),
        }
        for lvl in LEVELS:
            row[f"energy_{lvl}_{suffix}"] = r.energy[lvl]
        row[f"energy_total_{suffix}"] = r.energy_total
        row["sparsity"] = ((r.layer.sparsity if own else result.hardware.sparsity) if weighted
                           else "")  # as a text cell of a layer without weights
        row["sparsity_source"] = ((layer_source(r.layer.sparsity_source) if own else hw_source)
                                  if weighted else "")
        rows.append(row)
    return rows


def layer_frame(result: Result) -> pd.DataFrame:
    """`layer_rows` as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame(layer_rows(result))


def totals_dict(result: Result) -> dict[str, Any]:
    """The network's totals, with units in the keys."""
    suffix = energy_unit_suffix(result.hardware)
    t = result.totals()
    out = {
        "cycles": t["cycles"],
        "compute_cycles": t["compute_cycles"],
        "stall_cycles": t["stall_cycles"],
        "stall_latency_cycles": t["stall_latency_cycles"],
        "stall_bandwidth_cycles": t["stall_bandwidth_cycles"],
        "time_s": t["time_s"],
        "macs": t["macs"],
        "pe_ops": t["pe_ops"],
        "utilization": t["utilization"],
        "efficiency_macs_per_cycle": t["efficiency_macs_per_cycle"],
        "dram_read_bytes": t["dram_read_bytes"],
        "dram_write_bytes": t["dram_write_bytes"],
        "buffer_reads": t["buffer_reads"],
        "buffer_writes": t["buffer_writes"],
        "rf_accesses": t["rf_accesses"],
        "array_transfers": t["array_transfers"],
    }
    for lvl in LEVELS:
        out[f"energy_{lvl}_{suffix}"] = t[f"energy_{lvl}"]
    out[f"energy_total_{suffix}"] = t["energy_total"]
    # the figures above are for the whole batch (docs/model.md §5, "Batch")
    out["batch"] = t["batch"]
    out["cycles_per_image"] = t["cycles_per_image"]
    out[f"energy_total_per_image_{suffix}"] = t["energy_total_per_image"]
    out["dram_time_cycles"] = -(-(t["dram_read_bytes"] + t["dram_write_bytes"])
                                // result.hardware.dram_bytes_per_cycle)
    rate = tokens_per_second(result)
    if rate is not None:
        out["tokens_per_s"] = rate
    return out


def tokens_per_second(result: Result) -> float | None:
    """New tokens a second at the configured clock, for a network that reads token ids (its
    input `[T]`: T new tokens a pass, one for a decode step); None for an image network."""
    shape = result.network.input_shape
    t = result.totals()
    if len(shape) != 1 or not t["cycles"]:
        return None
    return shape[0] * t["batch"] * result.hardware.clock_hz / t["cycles"]


def result_json(result: Result, sparsity_source: str = "") -> dict[str, Any]:
    """Everything needed to replay a run: the network, the hardware, the records and totals,
    and the weight sparsity used with where it comes from (`layer_rows`' `sparsity_source`)."""
    hw_source = hardware_source(result.hardware.sparsity, sparsity_source)
    use = sparsity_use(result.network, result.hardware.sparsity, hw_source)
    return {
        "network": result.network.name,
        "file": result.network.path,
        "engine": result.engine,
        "dataflow": result.dataflow,
        "objective": result.objective,
        "sparsity": {"overall": use.overall, "source": use.source, "text": use.text},
        "hardware": {**result.hardware.to_dict(), "sparsity_source": hw_source},
        "layers": plain_rows(layer_rows(result, hw_source)),
        "totals": totals_dict(result),
    }


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_csv(path: str | Path, rows: Sequence[dict[str, Any]],
              columns: Sequence[str] | None = None) -> None:
    """`rows` as CSV with a header, columns in the order of `columns` (default: the first
    row's keys). None, NaN and infinities are empty cells, as pandas writes them."""
    cols = list(columns) if columns is not None else list(rows[0]) if rows else []

    def write(f: Any) -> None:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(cols)
        out.writerows([_cell(row.get(c)) for c in cols] for row in rows)

    write_atomic(path, write)


def _cell(v: Any) -> Any:
    v = _plain(v)
    return "" if v is None else v


def write_json(path: str | Path, data: Any) -> None:
    write_atomic(path, lambda f: (json.dump(data, f, indent=2), f.write("\n")))


def fmt_int(n: float) -> str:
    return f"{int(round(n)):,}"


def fmt_sci(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.2e}"


def _no_data(kind: str) -> str:
    """What the dataflow column says of a layer that moves no data (docs/model.md §1a, §1b):
    its consumer reads its values where they are."""
    return "in DRAM" if kind == "constant" else "addressing"


def _dataflow_cell(r: Any) -> str:
    """The dataflow, or how a layer without one is done: fused, addressing, a timed move."""
    m = r.mapping
    if m is None:
        return f"fused into {r.fused_into}" if r.fused_into else _no_data(r.layer.type)
    if r.layer.type == "transpose":  # one that moves the last axis (docs/model.md §1b)
        return f"move ({m.dataflow})"
    return m.dataflow


def rows_for_terminal(result: Result) -> Iterable[list[str]]:
    """The per-layer table's cells; with a batch, how each layer ran it after the dataflow."""
    batch = result.batch > 1
    for r in result.layers:
        m = r.mapping
        tiles = f"{m.tx}x{m.ty}x{m.tc}x{m.tk}" if m else "-"
        yield [
            r.layer.name,
            r.layer.type,
            _dataflow_cell(r),
            *([r.batch_mode or "-"] if batch else []),
            m.loop_order if m else "-",
            tiles,
            fmt_int(r.macs),
            fmt_int(r.cycles),
            fmt_int(r.count("stall_cycles")),
            f"{r.utilization:.2f}",
            fmt_int(r.count("dram_read_bytes") + r.count("dram_write_bytes")),
            bound(r, result.hardware) or "-",
            fmt_sci(r.energy_total),
        ]


def plain_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with numpy scalars made Python numbers and NaN/inf made None, ready for JSON."""
    return [{k: _plain(v) for k, v in row.items()} for row in rows]
