"""The paper reproduced: Table 3 side by side with ours, and its claims checked one by one.

`reproduce()` simulates every network of Table 3 on both paper configurations once; the
table, the claims, the figures and docs/reproduction.md are all drawn from that one run.
Every threshold a claim is judged by is a named constant below, stated in the output.

    python -m nnaccel.paper --write docs/reproduction.md --figures docs/figures
is `nnaccel paper` with the same flags (what `make reproduce` runs).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .compare import Config, compare_rows, parse_config, run_configs
from .compare import Progress as ProgressFn
from .loader import load_network
from .network import Network
from .simulate import LayerResult, Result

#: Table 3's rows, in the paper's order (the figures themselves come from each network file).
TABLE3_MODELS = (
    "AlexNet", "SqueezeNet v1.0", "SqueezeNet v1.1", "Tiny Darknet", "1.0-SqNxt-23",
    "1.0-SqNxt-23v2", "1.0-SqNxt-23v3", "1.0-SqNxt-23v4", "1.0-SqNxt-23v5", "MobileNet",
    "2.0-SqNxt-23", "2.0-SqNxt-23v4", "2.0-SqNxt-23v5",
)
CONFIGS = ("paper-8x8", "paper-16x16")

# Targets (docs/design.md §9) and the tolerances the claims are judged by.
TIME_TOL_PCT = 15.0  # every normalized time within ±15% of Table 3's
ENERGY_TOL_PCT = 20.0  # every energy within ±20%
FIRST_CONV_SHARE = (0.20, 0.32)  # claim (a): "26% of the total inference time", ±6 points
FASTEST = {"paper-8x8": ("1.0-SqNxt-23v2", "1.0-SqNxt-23v3", "1.0-SqNxt-23v4", "1.0-SqNxt-23v5"),
           "paper-16x16": ("1.0-SqNxt-23v5",)}

OWNER_BEGIN = "<!-- BEGIN model-owner notes (kept when this file is regenerated) -->"
OWNER_END = "<!-- END model-owner notes -->"


def table3_networks() -> list[Network]:
    return [load_network(name) for name in TABLE3_MODELS]


@dataclass
class Claim:
    key: str
    text: str
    holds: bool
    evidence: str


@dataclass
class Reproduction:
    runs: list[tuple[Config, list[Result]]]
    rows: list[dict[str, Any]]
    claims: list[Claim] = field(default_factory=list)

    def result(self, config: str, model: str) -> Result:
        for c, results in self.runs:
            if c.label == config:
                for r in results:
                    if r.network.name == model:
                        return r
        raise KeyError((config, model))

    def row(self, config: str, model: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["config"] == config and r["model"] == model)

    def within_targets(self) -> dict[str, dict[str, int]]:
        """Per configuration: rows compared, and how many are within the time/energy target."""
        out: dict[str, dict[str, int]] = {}
        for cfg in (c.label for c, _ in self.runs):
            rows = [r for r in self.rows if r["config"] == cfg]
            t = [r for r in rows if r["time_error_pct"] is not None]
            e = [r for r in rows if r["energy_error_pct"] is not None]
            out[cfg] = {
                "time_rows": len(t),
                "time_within": sum(abs(r["time_error_pct"]) <= TIME_TOL_PCT for r in t),
                "energy_rows": len(e),
                "energy_within": sum(abs(r["energy_error_pct"]) <= ENERGY_TOL_PCT for r in e),
            }
        return out


def reproduce(jobs: int | None = None, progress: ProgressFn | None = None) -> Reproduction:
    """Table 3's networks on both paper configurations, and every claim checked."""
    configs = [parse_config(c) for c in CONFIGS]
    runs = run_configs(table3_networks(), configs, jobs=jobs, progress=progress)
    rep = Reproduction(runs, compare_rows(runs))
    rep.claims = check_claims(rep)
    return rep


# -- the claims ----------------------------------------------------------------------------

def _conv_layers(res: Result) -> list[LayerResult]:
    return [r for r in res.layers if r.layer.type in ("conv", "fc")]


def _stage(name: str) -> int | None:
    m = re.match(r"s(\d+)b\d+_", name)
    return int(m.group(1)) if m else None


def stage_efficiency(res: Result, stage: int) -> float:
    """MACs per cycle per PE of the conv layers of one stage's blocks (layer names s<stage>b*)."""
    layers = [r for r in _conv_layers(res) if _stage(r.layer.name) == stage]
    cycles = sum(r.cycles for r in layers)
    return sum(r.macs for r in layers) / (cycles * res.hardware.pes) if cycles else float("nan")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def check_claims(rep: Reproduction) -> list[Claim]:
    claims = []
    cfgs = [c.label for c, _ in rep.runs]

    # (a) the first 7x7 conv of 1.0-SqNxt-23 takes about 26% of the time.
    shares = {}
    for cfg in cfgs:
        res = rep.result(cfg, "1.0-SqNxt-23")
        first = _conv_layers(res)[0]
        shares[cfg] = first.cycles / res.cycles
    lo, hi = FIRST_CONV_SHARE
    claims.append(Claim(
        "a", f"1.0-SqNxt-23's first 7x7 conv takes about 26% of its inference time "
             f"(judged: {lo:.0%}-{hi:.0%} on every configuration, as the paper does not say which)",
        all(lo <= s <= hi for s in shares.values()),
        "; ".join(f"{cfg}: {_pct(s)} ({'within' if lo <= s <= hi else 'outside'})"
                  for cfg, s in shares.items()),
    ))

    # (b) early layers less efficient than late ones, and more so on 16x16.
    ratios, parts = {}, []
    for cfg in cfgs:
        res = rep.result(cfg, "1.0-SqNxt-23")
        last = max(s for r in res.layers if (s := _stage(r.layer.name)) is not None)
        early, late = stage_efficiency(res, 1), stage_efficiency(res, last)
        ratios[cfg] = early / late
        # every stage, so that the choice of the two compared is seen in context
        stages = ", ".join(f"{stage_efficiency(res, s):.3f}" for s in range(1, last + 1))
        parts.append(f"{cfg}: early/late {ratios[cfg]:.2f} (stages 1-{last}: {stages}"
                     f" MACs/cycle/PE)")
    small, big = "paper-8x8", "paper-16x16"
    holds = all(r < 1 for r in ratios.values()) and ratios[big] < ratios[small]
    claims.append(Claim(
        "b", "Early layers reach a lower efficiency (MACs per cycle per PE) than late ones, and the"
             " drop is larger on 16x16 than on 8x8 (early: conv layers of the first stage's blocks,"
             " s1b*; late: those of the last stage's, s4b*; holds when early/late < 1 on both and"
             " smaller on 16x16)",
        holds, "; ".join(parts),
    ))

    # (c) v5 faster and less energy than v1 on 16x16 (paper: 12% faster, 17% less energy).
    v1, v5 = rep.result(big, "1.0-SqNxt-23"), rep.result(big, "1.0-SqNxt-23v5")
    faster = 1 - v5.cycles / v1.cycles
    saving = 1 - v5.energy_total / v1.energy_total
    claims.append(Claim(
        "c", "1.0-SqNxt-23v5 is faster and uses less energy than 1.0-SqNxt-23 on 16x16"
             " (paper: 12% faster, 17% less energy)",
        faster > 0 and saving > 0,
        f"{_pct(faster)} fewer cycles, {_pct(saving)} less energy",
    ))

    # (d) MobileNet vs 2.0-SqNxt-23v5.
    parts, ok = [], []
    for cfg in cfgs:
        mob, sq = rep.result(cfg, "MobileNet"), rep.result(cfg, "2.0-SqNxt-23v5")
        t, e = mob.cycles / sq.cycles, mob.energy_total / sq.energy_total
        parts.append(f"{cfg}: MobileNet/2.0-SqNxt-23v5 time {t:.2f}, energy {e:.2f}")
        ok.append((t < 1 if cfg == small else t > 1) and e > 1)
    claims.append(Claim(
        "d", "MobileNet is faster than 2.0-SqNxt-23v5 on 8x8 but slower on 16x16, and uses more"
             " energy on both",
        all(ok), "; ".join(parts),
    ))

    # (e) AlexNet slowest and most energy-hungry on both.
    parts, ok = [], []
    for cfg, results in rep.runs:
        slow = max(results, key=lambda r: r.cycles).network.name
        hungry = max(results, key=lambda r: r.energy_total).network.name
        parts.append(f"{cfg.label}: slowest {slow}, most energy {hungry}")
        ok.append(slow == hungry == "AlexNet")
    claims.append(Claim("e", "AlexNet is the slowest and the most energy-hungry network on both"
                             " configurations", all(ok), "; ".join(parts)))

    # (f) the fastest network is the paper's.
    parts, ok = [], []
    for cfg, results in rep.runs:
        fastest = min(results, key=lambda r: r.cycles).network.name
        want = FASTEST.get(cfg.label, ())
        parts.append(f"{cfg.label}: {fastest} (paper: {' / '.join(want)})")
        ok.append(fastest in want)
    claims.append(Claim("f", "The fastest network of each configuration is the paper's (one of"
                             " v2-v5 on 8x8, v5 on 16x16)", all(ok), "; ".join(parts)))

    # (g) every figure of Table 3 within the targets.
    counts = rep.within_targets()
    parts = [f"{cfg}: time {c['time_within']}/{c['time_rows']}, energy {c['energy_within']}/"
             f"{c['energy_rows']}" for cfg, c in counts.items()]
    claims.append(Claim(
        "g", f"Every time ratio within ±{TIME_TOL_PCT:g}% and every energy within"
             f" ±{ENERGY_TOL_PCT:g}% of Table 3 (rows within target)",
        all(c["time_within"] == c["time_rows"] and c["energy_within"] == c["energy_rows"]
            for c in counts.values()),
        "; ".join(parts),
    ))
    return claims


# -- why a figure misses: what the numbers say -----------------------------------------------

def _type_shares(res: Result) -> str:
    """Where the network's cycles go, by kind of layer (the three largest)."""
    by: dict[str, int] = {}
    for r in res.layers:
        lay = r.layer
        if lay.type == "conv" and lay.groups > 1 and lay.groups == lay.in_channels:
            kind = "depthwise"
        elif lay.type == "conv":
            kind = f"{lay.kernel[0]}x{lay.kernel[1]} conv"
        else:
            kind = lay.type
        by[kind] = by.get(kind, 0) + r.cycles
    top = sorted(by.items(), key=lambda kv: -kv[1])[:3]
    return ", ".join(f"{k} {_pct(v / res.cycles)}" for k, v in top)


def _summary(rep: Reproduction) -> list[str]:
    """The pattern of the misses: direction, and the share of energy in DRAM."""
    out = []
    for what, key, tol in (("time", "time_error_pct", TIME_TOL_PCT),
                           ("energy", "energy_error_pct", ENERGY_TOL_PCT)):
        misses = [r for r in rep.rows if r[key] is not None and abs(r[key]) > tol]
        if not misses:
            continue
        over = sum(r[key] > 0 for r in misses)
        errs = sorted(r[key] for r in misses)
        line = (f"{what}: {len(misses)} of {sum(r[key] is not None for r in rep.rows)} figures outside"
                f" ±{tol:g}%, {over} above the paper and {len(misses) - over} below"
                f" ({_span(errs, '{:+.1f}%')})")
        if what == "energy":
            dram = [rep.result(r["config"], r["model"]) for r in misses]
            shares = sorted(100 * res.energy["dram"] / res.energy_total for res in dram)
            line += f"; DRAM is {_span(shares, '{:.1f}%')} of {'their' if len(misses) > 1 else 'its'} energy"
        out.append(line + ".")
    return out


def _span(values: Sequence[float], fmt: str) -> str:
    lo, hi = fmt.format(values[0]), fmt.format(values[-1])
    return lo if lo == hi else f"{lo} to {hi}"


def claim_notes(rep: Reproduction) -> list[str]:
    """For each claim that does not hold, the numbers that show where it breaks."""
    failing = {c.key for c in rep.claims if not c.holds}
    lines = []
    if "a" in failing:
        for cfg, _ in rep.runs:
            res = rep.result(cfg.label, "1.0-SqNxt-23")
            r = _conv_layers(res)[0]
            m = r.mapping
            lines.append(
                f"(a) {cfg.label}: {r.layer.name} takes {r.cycles:,} of {res.cycles:,} cycles"
                f" ({_pct(r.cycles / res.cycles)}); {m.dataflow.upper() if m else '-'},"
                f" utilization {r.utilization:.2f}, {_pct(r.count('stall_cycles') / r.cycles)} of it"
                f" stalled on DRAM; the rest of the network runs at utilization"
                f" {_rest_utilization(res, r):.2f}.")
    if "d" in failing:
        for cfg, _ in rep.runs:
            mob, sq = rep.result(cfg.label, "MobileNet"), rep.result(cfg.label, "2.0-SqNxt-23v5")
            levels = ", ".join(f"{lvl} {mob.energy[lvl] / sq.energy[lvl]:.2f}" for lvl in mob.energy)
            lines.append(
                f"(d) {cfg.label}: MobileNet/2.0-SqNxt-23v5 by energy level: {levels};"
                f" DRAM bytes {(_dram(mob) / _dram(sq)):.2f}; MACs {mob.macs / sq.macs:.2f}.")
    return lines


def _dram(res: Result) -> int:
    return res.total("dram_read_bytes") + res.total("dram_write_bytes")


def _rest_utilization(res: Result, skip: LayerResult) -> float:
    cycles = res.cycles - skip.cycles
    return (res.total("pe_ops") - skip.count("pe_ops")) / (cycles * res.hardware.pes) if cycles else 0.0


def diagnose(rep: Reproduction) -> list[str]:
    """One line per figure outside its target, with the numbers that locate the difference;
    for a time, also the fastest network's breakdown (the ratio's denominator)."""
    lines = []
    for config, results in rep.runs:
        misses = [r for r in rep.rows if r["config"] == config.label
                  and r["time_error_pct"] is not None and abs(r["time_error_pct"]) > TIME_TOL_PCT]
        if misses:
            ref = min(results, key=lambda r: r.cycles)
            lines.append(
                f"(denominator) {ref.network.name} on {config.label}, the fastest:"
                f" {ref.cycles:,} cycles: {_type_shares(ref)};"
                f" {_pct(ref.total('stall_cycles') / ref.cycles)} stalled on DRAM;"
                f" utilization {ref.utilization:.2f}.")
    for row in rep.rows:
        res = rep.result(row["config"], row["model"])
        stall = res.total("stall_cycles") / res.cycles
        e = res.energy
        levels = ", ".join(f"{k} {_pct(v / res.energy_total)}"
                           for k, v in sorted(e.items(), key=lambda kv: -kv[1])[:3])
        t_err, e_err = row["time_error_pct"], row["energy_error_pct"]
        if t_err is not None and abs(t_err) > TIME_TOL_PCT:
            lines.append(
                f"{row['model']} on {row['config']}: time ×{row['time_normalized']:.2f} vs the"
                f" paper's ×{row['paper_time']:.2f} ({t_err:+.1f}%). Its cycles: {_type_shares(res)};"
                f" {_pct(stall)} stalled on DRAM; utilization {row['utilization']:.2f}.")
        if e_err is not None and abs(e_err) > ENERGY_TOL_PCT:
            lines.append(
                f"{row['model']} on {row['config']}: energy {row['energy_mac_units']:.2e} vs the"
                f" paper's {row['paper_energy']:.1e} ({e_err:+.1f}%). By level: {levels};"
                f" {row['energy_per_mac']:.2f} MAC units per MAC;"
                f" DRAM {row['dram_bytes'] / 1e6:.1f} MB.")
    return lines


# -- text ----------------------------------------------------------------------------------

def _err(x: float | None) -> str:
    return "" if x is None else f"{x:+.1f}%"


def _mark(x: float | None, tol: float) -> str:
    return "" if x is None else (" ✓" if abs(x) <= tol else " ✗")


def side_by_side(rep: Reproduction, configs: Sequence[str] | None = None
                 ) -> tuple[list[str], list[list[str]]]:
    """Header and rows of Table 3 with ours beside the paper's: per configuration time
    (ours, paper, error) and energy (ours, paper, error)."""
    cfgs = list(configs) if configs else [c.label for c, _ in rep.runs]
    header = ["model"]
    for cfg in cfgs:
        prefix = f"{cfg} " if len(cfgs) > 1 else ""
        header += [f"{prefix}time", "paper", "Δ", f"{prefix}energy", "paper", "Δ"]
    rows = []
    for model in TABLE3_MODELS:
        line = [model]
        for cfg in cfgs:
            r = rep.row(cfg, model)
            line += [f"×{r['time_normalized']:.2f}",
                     "" if r["paper_time"] is None else f"×{r['paper_time']:.2f}",
                     _err(r["time_error_pct"]) + _mark(r["time_error_pct"], TIME_TOL_PCT),
                     f"{r['energy_mac_units']:.2e}",
                     "" if r["paper_energy"] is None else f"{r['paper_energy']:.1e}",
                     _err(r["energy_error_pct"]) + _mark(r["energy_error_pct"], ENERGY_TOL_PCT)]
        rows.append(line)
    return header, rows


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def owner_notes(existing: str | None) -> str:
    """The model owner's section of an existing docs/reproduction.md, or a placeholder."""
    if existing and OWNER_BEGIN in existing and OWNER_END in existing:
        return existing.split(OWNER_BEGIN, 1)[1].split(OWNER_END, 1)[0].strip("\n")
    return ("_To be written by the model owner: for each figure and each claim listed above,"
            " which assumption of the model (docs/model.md) or which point the paper leaves open"
            " explains the gap. Never a per-network correction._")


def _bands(rep: Reproduction) -> list[tuple[str, int, int, int]]:
    """(figure, band %, rows within it, rows) for time and energy at ±10% and ±15%."""
    out = []
    for what, key in (("time", "time_error_pct"), ("energy", "energy_error_pct")):
        errs = [abs(r[key]) for r in rep.rows if r[key] is not None]
        out += [(what, b, sum(e <= b for e in errs), len(errs)) for b in (10, 15)]
    return out


def render_markdown(rep: Reproduction, figures: dict[str, str] | None = None,
                    notes: str | None = None) -> str:
    """docs/reproduction.md: the table, the claims, the figures, and why figures miss."""
    header, rows = side_by_side(rep)
    counts = rep.within_targets()
    parts = [
        "# Reproducing the paper: Table 3, the claims, Figures 6 and 7",
        "",
        "_Generated by `make reproduce` (`python -m nnaccel.paper --write docs/reproduction.md"
        " --figures docs/figures`) from one simulation of Table 3's networks on both paper"
        " configurations. Do not edit by hand, except between the model-owner markers below._",
        "",
        "## Table 3, ours beside the paper's",
        "",
        "Time is cycles over the fastest network of the same configuration (as Table 3"
        " normalizes); energy is in units of one MAC ([design.md](design.md) §2). Δ is ours relative to the"
        f" paper's; ✓ marks a figure within the target (±{TIME_TOL_PCT:g}% time,"
        f" ±{ENERGY_TOL_PCT:g}% energy).",
        "",
        _md_table(header, rows),
        "",
        "Rows within target: " + "; ".join(
            f"{cfg}: time {c['time_within']}/{c['time_rows']}, energy {c['energy_within']}/"
            f"{c['energy_rows']}" for cfg, c in counts.items()) + ".",
        "",
        "Closer than the targets, over both configurations: " + ", ".join(
            f"{what} within ±{b}% {n}/{m}" for what, b, n, m in _bands(rep)) + ".",
        "",
        "Cycles of the fastest network of each configuration: " + "; ".join(
            f"{c.label}: {min(results, key=lambda r: r.cycles).network.name},"
            f" {min(r.cycles for r in results):,} cycles" for c, results in rep.runs) + ".",
        "",
        "## The paper's claims",
        "",
    ]
    for c in rep.claims:
        parts.append(f"- **({c.key}) {'holds' if c.holds else 'does not hold'}.** {c.text}."
                     f" Ours: {c.evidence}.")
    parts.append("")
    if figures:
        parts += ["## Figures", ""]
        captions = {
            "layers": "Figure 6 redrawn: per layer group, cycles (bars) with efficiency in MACs"
                      " per cycle (dotted, right axis), and energy (bars below), for 1.0-SqNxt-23"
                      " and v2-v5; 16x16 and 8x8.",
            "tradeoff": "Figure 7 redrawn: the paper's top-1 accuracy against our energy and time"
                        " (filled) and Table 3's (hollow); circle area ∝ sqrt(params).",
            "roofline": "Roofline: every conv/fc layer of 1.0-SqNxt-23, MobileNet and"
                        " 2.0-SqNxt-23v5 (MACs per DRAM byte against MACs per cycle).",
        }
        for key, rel in figures.items():
            parts += [f"![{captions.get(key, key)}]({rel})", "", captions.get(key, key), ""]
    misses = diagnose(rep)
    parts += ["## Where we miss the paper's targets", ""]
    if not misses:
        parts.append("Every figure of Table 3 is within its target.")
    else:
        parts += [f"In short: {' '.join(_summary(rep))}", "",
                  "What the simulation says about each figure outside its target (generated"
                  " from the numbers: where the cycles and the energy go). A time is a ratio, so"
                  " its error also carries the fastest network's, given first.", ""]
        parts += [f"- {m}" for m in misses]
    notes_c = claim_notes(rep)
    if notes_c:
        parts += ["", "Claims that do not hold, with the numbers that show where:", ""]
        parts += [f"- {m}" for m in notes_c]
    parts += ["", "### Why, in terms of the model", "", OWNER_BEGIN, owner_notes(None)
              if notes is None else notes, OWNER_END, ""]
    return "\n".join(parts)


def write_figures(rep: Reproduction, directory: Path) -> dict[str, Path]:
    """Figure 6, Figure 7 and the roofline from the reproduction's runs, as PNG files."""
    from . import plots

    def subset(models: Sequence[str]) -> list[tuple[Config, list[Result]]]:
        return [(c, [r for m in models for r in results if r.network.name == m])
                for c, results in rep.runs]

    variants = ("1.0-SqNxt-23", "1.0-SqNxt-23v2", "1.0-SqNxt-23v3", "1.0-SqNxt-23v4",
                "1.0-SqNxt-23v5")
    # The paper's Figure 6 puts 16x16 on top.
    fig6 = list(reversed(subset(variants)))
    made = {
        "layers": plots.plot_layers(fig6),
        "tradeoff": plots.plot_tradeoff(rep.runs),
        "roofline": plots.plot_roofline(subset(("1.0-SqNxt-23", "MobileNet", "2.0-SqNxt-23v5"))),
    }
    # PNG only: the document shows them, and SVGs of these figures are ~0.4 MB each in git
    # history at every regeneration (`nnaccel plot` writes both).
    return {key: plots.save_figure(fig, [directory / f"{key}.png"])[0] for key, fig in made.items()}


def write_document(rep: Reproduction, path: Path, figures_dir: Path | None) -> list[Path]:
    """Write docs/reproduction.md (and its figures), keeping the model owner's section."""
    import os

    from .outputs import write_atomic

    written: list[Path] = []
    rel: dict[str, str] = {}
    if figures_dir is not None:
        for key, p in write_figures(rep, figures_dir).items():
            written.append(p)
            rel[key] = os.path.relpath(p, path.parent)
    existing = path.read_text(encoding="utf-8") if path.is_file() else None
    text = render_markdown(rep, rel, owner_notes(existing))
    write_atomic(path, lambda f: f.write(text))
    written.append(path)
    return written


def report_json(rep: Reproduction) -> dict[str, Any]:
    from .report import plain_rows

    return {
        "rows": plain_rows(rep.rows),
        "claims": [{"key": c.key, "text": c.text, "holds": c.holds, "evidence": c.evidence}
                   for c in rep.claims],
        "within_targets": rep.within_targets(),
    }


if __name__ == "__main__":  # python -m nnaccel.paper ... is `nnaccel paper ...`
    from .cli import main

    main(["paper", *sys.argv[1:]], prog_name="nnaccel")
