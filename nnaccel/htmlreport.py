"""One self-contained HTML page of a simulation, to share: the configurations, the totals, a
sortable per-layer table of every network on every configuration, the figures (layers,
roofline; the accuracy trade-off when there are several networks) and the model's
assumptions in brief.

Everything is inline: the style, the few lines of script that sort the tables, and the
figures as PNG data URIs. The page loads nothing from anywhere, so it opens offline and can
be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from .hardware import format_size
from .report import fmt_int, layer_rows

if TYPE_CHECKING:
    from .compare import Config
    from .simulate import Result

Runs = Sequence[tuple["Config", Sequence["Result"]]]

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
th { background: #f2f2f2; text-align: left; position: sticky; top: 0; }
th.sortable { cursor: pointer; } th.sortable::after { content: " \\2195"; color: #999; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.wrap { overflow: auto; max-height: 36em; border: 1px solid #e4e4e4; }
.wrap table { margin: 0; }
.plain-wrap { overflow-x: auto; }
figure { margin: 1em 0; }
/* a figure never wider than the page: scaled down to its width, proportions kept */
figure img { border: 1px solid #eee; max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.9em; }
.note { color: #555; font-size: 0.9em; }
"""

# Sort a table by the column clicked: numbers by their value (data-v), text as text.
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.classList.add("sortable");
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var up = th.dataset.dir !== "up"; th.dataset.dir = up ? "up" : "down";
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        var vx = x.dataset.v, vy = y.dataset.v, r;
        if (vx !== undefined && vy !== undefined) { r = parseFloat(vx) - parseFloat(vy); }
        else { r = x.textContent.localeCompare(y.textContent); }
        return up ? r : -r;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""

#: The per-layer table: (header, key of `report.layer_rows`, how to show it).
_LAYER_COLUMNS = (
    ("#", "index", str), ("layer", "layer", str), ("type", "type", str),
    ("dataflow", "dataflow", str), ("loop order", "loop_order", str),
    ("MACs", "macs", fmt_int), ("cycles", "cycles", fmt_int),
    ("stall cycles", "stall_cycles", fmt_int), ("utilization", "utilization", "{:.3f}".format),
    ("DRAM read B", "dram_read_bytes", fmt_int), ("DRAM written B", "dram_write_bytes", fmt_int),
)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[tuple[str, float | None]]],
           numeric: Sequence[bool], css: str = "sortable") -> str:
    """An HTML table; each cell is (text, sort value or None)."""
    head = "".join(f'<th class="{"n" if n else ""}">{_e(h)}</th>' for h, n in
                   zip(header, numeric, strict=True))
    body = []
    for row in rows:
        cells = []
        for (text, value), n in zip(row, numeric, strict=True):
            v = "" if value is None or (isinstance(value, float) and not math.isfinite(value)) \
                else f' data-v="{value}"'
            cells.append(f'<td class="{"n" if n else ""}"{v}>{_e(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    wrap = "wrap" if css == "sortable" else "plain-wrap"
    return (f'<div class="{wrap}"><table class="{css}"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(body) + "</tbody></table></div>")


def _figure_png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _num(x: float) -> str:
    """A number with thousands separators: 16,000,000,000; 0.5; 3,671.5."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.6g}" if abs(x) < 1e6 else f"{x:,.0f}"


def _hz(x: float) -> str:
    for unit, scale in (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3)):
        if x >= scale:
            return f"{x / scale:g} {unit}"
    return f"{x:g} Hz"


#: The configuration table: (hardware field, name shown, how to show its value with units).
_CONFIG_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("array_label", "PE array (rows × columns)", str),
    ("buffer_bytes", "global buffer", lambda v: f"{format_size(v)} ({_num(v)} bytes)"),
    ("word_bytes", "word (activation, weight)", lambda v: f"{v} bytes ({8 * v}-bit)"),
    ("psum_bytes", "partial sum", lambda v: f"{v} bytes"),
    ("clock_hz", "clock", _hz),
    ("dram_latency_cycles", "DRAM latency", lambda v: f"{_num(v)} cycles"),
    ("dram_bandwidth_bytes_per_s", "DRAM bandwidth", lambda v: f"{v / 1e9:g} GB/s"),
    ("dram_bytes_per_cycle", "DRAM bytes per cycle", lambda v: f"{_num(v)} B/cycle"),
    ("dma_outstanding", "DMA requests in flight", _num),
    ("port_words", "array input bus", lambda v: f"{_num(v)} words/cycle"),
    ("banks", "buffer banks", _num),
    ("buffer_bank_bits", "width of a bank's ports", lambda v: f"{_num(v)} bits"),
    ("read_port_words", "buffer read port", lambda v: f"{_num(v)} words/cycle"),
    ("write_port_words", "buffer write port", lambda v: f"{_num(v)} words/cycle"),
    ("output_alu_ops", "output-path ALUs", lambda v: f"{_num(v)} ops/cycle"),
    ("rf_psums", "register file per PE", lambda v: f"{_num(v)} partial sums"),
    ("batch", "batch", lambda v: f"{_num(v)} image{'s' if v > 1 else ''}"),
    ("fuse_pool", "pooling fused into the conv before it", _num),
    ("fuse_add", "residual add fused into the conv before it", _num),
)
_AREA_FIELDS = (
    ("mac_um2", "area of a MAC", lambda v: f"{_num(v)} µm²"),
    ("mac_bits", "a MAC's width for that area", lambda v: f"{v} bits"),
    ("rf_um2_per_byte", "area of register file", lambda v: f"{_num(v)} µm² per byte"),
    ("sram_um2_per_kb", "area of SRAM", lambda v: f"{_num(v)} µm² per KB"),
    ("sram_port_factor", "SRAM cells per added port", lambda v: f"+{_num(v)} of the array"),
    ("sram_port_bit_cells", "SRAM periphery per port bit", lambda v: f"{_num(v)} bit cells"),
    ("leakage_per_mm2_cycle", "leakage", lambda v: f"{_num(v)} per mm² per cycle"),
)


def _config_section(runs: Runs) -> str:
    """The configurations as a table of named fields, each value with its unit."""
    configs = [c for c, _ in runs]
    hws = [c.hardware for c in configs]
    rows = [[(name, None)] + [(show(getattr(hw, f)), None) for hw in hws]
            for f, name, show in _CONFIG_FIELDS]
    rows.append([("weight sparsity", None)]
                + [(f"{_sparsity_text(c, results)}", None) for c, results in runs])
    for lvl in ("mac", "rf", "array", "buffer", "dram"):
        rows.append([(f"energy of one access: {lvl}", None)]
                    + [(f"{_num(getattr(hw.energy, lvl))} "
                        f"{'MAC units' if hw.energy.unit == 'mac' else 'pJ'}", None)
                       for hw in hws])
    rows += [[(name, None)] + [(show(getattr(hw.area, f)), None) for hw in hws]
             for f, name, show in _AREA_FIELDS]
    rows += [[("tiler: dataflow / objective", None)]
             + [(f"{c.dataflow} / {c.objective}", None) for c in configs]]
    return _table(["field", *(c.label for c in configs)], rows,
                  [False] * (len(configs) + 1), css="plain")


def _sparsity_text(config: Config, results: Sequence[Result]) -> str:
    texts = list(dict.fromkeys(config.sparsity(r.network).text for r in results))
    if len(texts) == 1:
        return texts[0]
    return "; ".join(f"{r.network.name}: {config.sparsity(r.network).text}" for r in results)


def _totals_section(runs: Runs) -> str:
    unit = "MAC units" if runs[0][0].hardware.energy.unit == "mac" else "pJ"
    header = ["network", "configuration", "weight sparsity", "cycles", "time (ms)",
              "stall cycles", "MACs", "utilization", "DRAM bytes", f"energy ({unit})"]
    rows = []
    for config, results in runs:
        for r in results:
            t = r.totals()
            dram = t["dram_read_bytes"] + t["dram_write_bytes"]
            use = config.sparsity(r.network)
            rows.append([(r.network.name, None), (config.label, None),
                         (use.short, use.overall),
                         (fmt_int(t["cycles"]), t["cycles"]),
                         (f"{t['time_s'] * 1e3:,.3f}", t["time_s"]),
                         (fmt_int(t["stall_cycles"]), t["stall_cycles"]),
                         (fmt_int(t["macs"]), t["macs"]),
                         (f"{t['utilization']:.3f}", t["utilization"]),
                         (fmt_int(dram), dram), (fmt_int(t["energy_total"]), t["energy_total"])])
    return _table(header, rows, [False, False, False] + [True] * 7)


def _layers_section(config: Config, result: Result) -> str:
    unit = "MAC units" if result.hardware.energy.unit == "mac" else "pJ"
    rows = []
    for i, row in enumerate(layer_rows(result, config.sparsity_from), 1):
        row = {**row, "index": i}
        energy = next(v for k, v in row.items() if k.startswith("energy_total_"))
        cells = [(fmt(row[key]) if row[key] != "" else "", row[key] if fmt is not str else None)
                 for _, key, fmt in _LAYER_COLUMNS]
        cells[0] = (str(i), i)
        cells.append((fmt_int(energy), energy))
        rows.append(cells)
    header = [h for h, _, _ in _LAYER_COLUMNS] + [f"energy ({unit})"]
    numeric = [f is not str for _, _, f in _LAYER_COLUMNS] + [True]
    numeric[0] = True
    return (f"<h3>{_e(result.network.name)} on {_e(config.label)}</h3>"
            + _table(header, rows, numeric))


def _assumptions(runs: Runs) -> str:
    hw = runs[0][0].hardware
    items = [
        "A layer runs on a grid of Pr × Pc processing elements, one 16-bit multiply-accumulate"
        " per PE per cycle, in one of the paper's two dataflows (Section 3): weight stationary"
        " (the array holds Pr input × Pc output channels of one kernel position) or output"
        " stationary (the array holds Pr × Pc output pixels; one weight is broadcast per cycle,"
        " and zero weights are skipped).",
        "The tiler tries every loop order and tile size that fits the double-buffered global"
        " buffer, and keeps the best by the objective (cycles, energy or their product).",
        f"DRAM transfers cost a latency ({hw.dram_latency_cycles} cycles here) plus bytes over"
        f" the bandwidth ({hw.dram_bytes_per_cycle} B/cycle); double buffering overlaps them with"
        " compute, and what does not overlap is reported as stall cycles.",
        "Energy counts accesses at each level (MAC, register file, array, buffer, DRAM) times a"
        " cost per 16-bit access; the default costs are Eyeriss' normalized ratios, in units of"
        " one MAC, the scale of the paper's Table 3.",
        "Zero weights are skipped only by the output stationary dataflow. The paper assumes"
        " 40% of them for every layer; here: "
        + "; ".join(f"{c.label}, {_sparsity_text(c, results)}" for c, results in runs)
        + ". Pooling and residual adds are fused into the producing convolution's output path"
        " where possible.",
        "The full definition, every constant with its source, and hand-worked layers are in the"
        " project's docs/model.md.",
    ]
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def render_report(runs: Runs, engine: str = "fast") -> str:
    """The report as one HTML document."""
    from . import plots

    networks = [r.network.name for r in runs[0][1]]
    figures = [("Per layer group: cycles, efficiency and energy (the paper's Figure 6)",
                plots.plot_layers(runs)),
               ("Roofline: every conv/fc layer", plots.plot_roofline(runs))]
    left_out = plots.tradeoff_left_out(runs)
    if len(networks) - len(left_out) > 1:
        note = f"; left out, no top-1 accuracy: {', '.join(left_out)}" if left_out else ""
        figures.append((f"Accuracy against energy and time (the paper's Figure 7){note}",
                        plots.plot_tradeoff(runs)))
    imgs = "".join(f'<figure><img alt="{_e(cap)}" src="{_figure_png(fig)}">'
                   f"<figcaption>{_e(cap)}</figcaption></figure>" for cap, fig in figures)
    layers = "".join(_layers_section(c, r) for c, results in runs for r in results)
    title = f"nnaccel report: {', '.join(networks)}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{_e(title)}</h1>
<p class="note">Simulated by nnaccel {_e(__version__)} ({_e(engine)} engine), a cycle-accurate
model of the accelerator of the SqueezeNext paper (Section 3). Click a column's header to sort.</p>
<h2 id="configuration">Configuration</h2>
{_config_section(runs)}
<h2 id="totals">Totals</h2>
{_totals_section(runs)}
<h2 id="figures">Figures</h2>
{imgs}
<h2 id="layers">Per layer</h2>
{layers}
<h2 id="assumptions">The model's assumptions, in brief</h2>
{_assumptions(runs)}
<script>{_SCRIPT}</script>
</body></html>
"""
