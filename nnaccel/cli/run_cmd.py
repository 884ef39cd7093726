"""`nnaccel run NET`: simulate one network on one hardware and print the per-layer table."""

from __future__ import annotations

import click
from rich.table import Table

from nnaccel.cli.child import run_in_child
from nnaccel.cli.compare_cmd import announce_first_compile
from nnaccel.cli.console import Console, print_table
from nnaccel.cli.hwopts import build_hardware, hardware_options
from nnaccel.network import load_network
from nnaccel.outputs import check_outputs
from nnaccel.simulate import DATAFLOWS, ENGINES, OBJECTIVES, simulate


@click.command("run")
@click.argument("net")
@hardware_options
@click.option("--dataflow", type=click.Choice(DATAFLOWS), default="auto", show_default=True,
              help="auto: per layer the faster of WS and OS (paper §3).")
@click.option("--objective", type=click.Choice(OBJECTIVES), default="cycles", show_default=True,
              help="What the tiler minimises per layer (docs/model.md, 'The tiler').")
@click.option("--engine", type=click.Choice(ENGINES), default="fast", show_default=True,
              help="fast: closed forms per tile; step: one clock at a time (same answer, slower).")
@click.option("--csv", "csv_path", metavar="FILE",
              help="Write one row per layer to FILE.")
@click.option("--json", "json_path", metavar="FILE",
              help="Write the records, the hardware and the totals to FILE.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the totals.")
def run(net: str, preset_name, hw_file, array, buffer, sparsity, dataflow: str, objective: str,
        engine: str, csv_path: str | None, json_path: str | None, quiet: bool) -> None:
    """Simulate NET (a network file or a bundled name) layer by layer.

    Example: nnaccel run networks/sqnxt23v5.json --array 8x8 --buffer 32KB
    """
    # the engines load only when a command runs, so `nnaccel --help` stays quick
    from nnaccel.report import (
        energy_unit_suffix,
        fmt_int,
        fmt_sci,
        layer_rows,
        result_json,
        rows_for_terminal,
        write_csv,
        write_json,
    )

    hw = build_hardware(preset_name, hw_file, array, buffer, sparsity)
    network = load_network(net)
    check_outputs([("--csv", csv_path), ("--json", json_path)], [network.path, hw_file or ""])
    announce_first_compile(Console(stderr=True))
    result = run_in_child(simulate, network, hw, engine=engine, dataflow=dataflow,
                          objective=objective)
    if csv_path:
        write_csv(csv_path, layer_rows(result))
    if json_path:
        write_json(json_path, result_json(result))

    console = Console()
    unit = "MAC units" if energy_unit_suffix(hw) == "mac_units" else "pJ"
    if not quiet:
        table = Table(title=f"{network.name} on {hw.array_label} PEs, {hw.buffer_label} buffer"
                      f" ({engine} engine)")
        for col, justify in (("layer", "left"), ("type", "left"), ("df", "left"), ("order", "left"),
                             ("tile x·y·c·k", "left"), ("MACs", "right"), ("cycles", "right"),
                             ("stall", "right"), ("util", "right"), ("DRAM B", "right"),
                             (f"energy ({unit})", "right")):
            table.add_column(col, justify=justify, no_wrap=True)
        for row in rows_for_terminal(result):
            table.add_row(*row)
        print_table(console, table)
    t = result.totals()
    console.print(
        f"[bold]{network.name}[/bold]: {fmt_int(t['cycles'])} cycles"
        f" ({t['time_s'] * 1e3:.3f} ms at {hw.clock_hz / 1e9:g} GHz),"
        f" {fmt_int(t['stall_cycles'])} stalled; {fmt_int(t['macs'])} MACs;"
        f" utilization {t['utilization']:.3f};"
        f" DRAM {fmt_int(t['dram_read_bytes'])} B read, {fmt_int(t['dram_write_bytes'])} B written"
    )
    parts = ", ".join(f"{lvl} {fmt_sci(e)}" for lvl, e in result.energy.items())
    console.print(f"energy ({unit}): total {fmt_sci(t['energy_total'])} = {parts}")
