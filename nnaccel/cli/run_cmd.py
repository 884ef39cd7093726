"""`nnaccel run NET`: simulate one network on one or more configurations, per-layer table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
from rich.console import Console

from nnaccel.cli.child import run_in_child
from nnaccel.cli.hwopts import hardware_options
from nnaccel.cli.progress import warm_up
from nnaccel.cli.tables import Column, TableData, emit, format_option, print_items, stdout_console
from nnaccel.loader import load_network
from nnaccel.outputs import check_outputs
from nnaccel.simulate import ENGINES

if TYPE_CHECKING:
    from nnaccel.compare import Config
    from nnaccel.simulate import Result

#: The per-layer table; priority decides what stays on the first table of a narrow terminal.
LAYER_COLUMNS = (
    Column("layer", "layer", numeric=False, priority=9),
    Column("type", "type", numeric=False, priority=3),
    Column("df", "dataflow", numeric=False, priority=4),
    Column("order", "loop_order", numeric=False, priority=1),
    Column("tile x·y·c·k", "tile_xyck", numeric=False, priority=1),
    Column("MACs", "macs", priority=5),
    Column("cycles", "cycles", priority=8),
    Column("stall cycles", "stall_cycles", priority=6),
    Column("util.", "utilization", priority=7),
    Column("DRAM B", "dram_bytes", priority=3),
    Column("bound", "bound", numeric=False, priority=2),
)
BATCH_COLUMN = Column("batch", "batch", numeric=False, priority=4)


def layer_table(result: Result, label: str, sparsity_source: str = "") -> TableData:
    """The per-layer table of one run; its title says the configuration and the weight
    sparsity used, with where it comes from."""
    from nnaccel.assumptions import hardware_source, sparsity_use
    from nnaccel.report import energy_unit_suffix, rows_for_terminal

    hw = result.hardware
    unit = "MAC units" if energy_unit_suffix(hw) == "mac_units" else "pJ"
    columns = (*LAYER_COLUMNS, Column(f"energy ({unit})", f"energy_{energy_unit_suffix(hw)}",
                                      priority=5))
    if hw.batch > 1:  # how each layer ran the batch (docs/model.md §5): after the dataflow
        columns = (*columns[:3], BATCH_COLUMN, *columns[3:])
    batch = f", batch of {hw.batch} (figures for the whole batch)" if hw.batch > 1 else ""
    use = sparsity_use(result.network, hw.sparsity, hardware_source(hw.sparsity, sparsity_source))
    return TableData(
        title=f"{result.network.name} on {label}: {hw.array_label} PEs, {hw.buffer_label} buffer"
              f"{batch}, {use.text} ({result.engine} engine)",
        columns=columns, rows=tuple(tuple(r) for r in rows_for_terminal(result)), name=label)


def print_totals(result: Result, console: Console, sparsity_source: str = "") -> None:
    """The totals in short items, wrapped between items only. With a batch, the figures are
    for the whole batch (as the table's), and the cycles, time and energy per image follow."""
    from nnaccel.report import energy_unit_suffix, fmt_int, fmt_sci, tokens_per_second

    hw = result.hardware
    t = result.totals()
    unit = "MAC units" if energy_unit_suffix(hw) == "mac_units" else "pJ"
    clock = f"{hw.clock_hz / 1e9:g} GHz"
    if t["batch"] > 1:
        head = [f"{result.network.name}, batch of {t['batch']}: {fmt_int(t['cycles'])} cycles"
                f" ({t['time_s'] * 1e3:.3f} ms at {clock})",
                f"per image {fmt_int(t['cycles_per_image'])} cycles"
                f" ({t['time_s'] * 1e3 / t['batch']:.3f} ms)"]
        per_image = f" ({fmt_sci(t['energy_total_per_image'])} per image)"
    else:
        head = [f"{result.network.name}: {fmt_int(t['cycles'])} cycles"
                f" ({t['time_s'] * 1e3:.3f} ms at {clock})"]
        per_image = ""
    from nnaccel.assumptions import hardware_source, sparsity_use

    use = sparsity_use(result.network, hw.sparsity, hardware_source(hw.sparsity, sparsity_source))
    print_items(console, [
        *head, f"{fmt_int(t['stall_cycles'])} stalled", f"{fmt_int(t['macs'])} MACs",
        f"utilization {t['utilization']:.3f}",
        f"DRAM {fmt_int(t['dram_read_bytes'])} B read, {fmt_int(t['dram_write_bytes'])} B written",
        f"weight sparsity {use.text}"])
    rate = tokens_per_second(result)
    if rate is not None:  # a network of token ids (docs/model.md §1b)
        moving = -(-(t["dram_read_bytes"] + t["dram_write_bytes"]) // hw.dram_bytes_per_cycle)
        print_items(console, [
            f"{rate:,.1f} tokens/s at {clock}",
            f"DRAM busy {moving / t['cycles']:.0%} of the time ({fmt_int(moving)} cycles of"
            f" bytes at {hw.dram_bytes_per_cycle} B/cycle)",
            f"{sum(1 for r in result.layers if r.cycles and _waits(r, hw))} of "
            f"{sum(1 for r in result.layers if r.cycles)} layers bound by DRAM"])
    levels = [f"{lvl} {fmt_sci(e)}" for lvl, e in result.energy.items()]
    print_items(console, [f"energy ({unit}): total {fmt_sci(t['energy_total'])}{per_image}"
                          f" = {levels[0]}",
                          *levels[1:]], sep=", ")


def _waits(r: object, hw: object) -> bool:
    from nnaccel.report import bound

    return bound(r, hw) == "dram"


@click.command("run")
@click.argument("net")
@hardware_options()
@click.option("--engine", type=click.Choice(ENGINES), default="fast", show_default=True,
              help="fast: closed forms per tile; step: one clock at a time (same answer, slower).")
@click.option("--csv", "csv_path", metavar="FILE",
              help="Write one row per layer, every field at full precision, to FILE.")
@click.option("--json", "json_path", metavar="FILE",
              help="Write the records, the hardware and the totals to FILE.")
@format_option
@click.option("--quiet", "-q", is_flag=True, help="Print only the totals.")
def run(net: str, configs: Sequence[Config], network_sparsity: str | None, engine: str,
        csv_path: str | None, json_path: str | None, fmt: str, quiet: bool) -> None:
    """Simulate NET (a network file, a bundled name or an .onnx model) layer by layer.

    With several --config, one table each, and the files get a `config` column (JSON: one
    run per configuration).

    Example: nnaccel run networks/sqnxt23v5.json --array 8x8 --buffer 32KB
    """
    # the engines load only when a command runs, so `nnaccel --help` stays quick
    from nnaccel.report import layer_rows, result_json, write_csv, write_json
    from nnaccel.simulate import simulate

    network = load_network(net, network_sparsity)
    check_outputs([("--csv", csv_path), ("--json", json_path)], [network.path])
    warm_up(Console(stderr=True))
    results = run_in_child(lambda: [simulate(network, c.hardware, engine=engine,
                                             dataflow=c.dataflow, objective=c.objective)
                                    for c in configs])
    several = len(configs) > 1
    if csv_path:
        write_csv(csv_path, [({"config": c.label} if several else {}) | row
                             for c, res in zip(configs, results, strict=True)
                             for row in layer_rows(res, c.sparsity_from)])
    if json_path:
        write_json(json_path, [{"config": c.label, **result_json(res, c.sparsity_from)}
                               for c, res in zip(configs, results, strict=True)] if several
                   else result_json(results[0], configs[0].sparsity_from))
    if fmt != "table":
        emit([layer_table(res, c.label, c.sparsity_from)
              for c, res in zip(configs, results, strict=True)], fmt,
             group="config" if several else None)
        return
    console = stdout_console()
    for c, res in zip(configs, results, strict=True):
        if not quiet:  # built only when printed: 330k layers' rows take seconds
            emit([layer_table(res, c.label, c.sparsity_from)], fmt, console)
        print_totals(res, console, c.sparsity_from)
