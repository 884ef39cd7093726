"""The hardware options, defined once for every command that simulates (run, compare, plot,
report, and any later one): which configurations to simulate on.

    --config SPEC   one configuration; repeatable. SPEC is a preset (paper-8x8, paper-16x16),
                    ROWSxCOLS:SIZE (16x16:256KB) or a hardware TOML file (my.toml).
    --preset NAME   the same as --config NAME (kept for `run`'s older spelling).
    --hw FILE       a hardware TOML file applied on top of each configuration.
    --array RxC, --buffer SIZE, --sparsity S
                    fields set on top of each configuration.
    --dataflow, --objective
                    how the tiler maps layers, for every configuration.

Later options override earlier ones: configuration, then --hw, then the flags. Without any
--config, --array/--buffer/--hw describe one configuration (the default hardware changed by
them); with none of these, the command's default configurations apply (for `run` the default
hardware, for `compare` and `plot` the paper's two). A decorated command receives the parsed
list as its `configs` argument (`nnaccel.compare.Config`: label, hardware, dataflow, objective).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nnaccel.hardware import PRESETS, Hardware, format_size, load_toml, parse_array, parse_size
from nnaccel.simulate import DATAFLOWS, OBJECTIVES

if TYPE_CHECKING:
    from nnaccel.compare import Config

_OPTION_NAMES = ("config_specs", "presets", "hw_file", "array", "buffer", "sparsity", "dataflow",
                 "objective")


def hardware_options(defaults: Sequence[str] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command with the hardware options; it receives `configs: list[Config]`.

    `defaults`: the configurations (as --config specs) used when none is given; empty means
    the default hardware (8x8 PEs, 32KB).
    """
    default_text = ", ".join(defaults) if defaults else "the default hardware, 8x8 and 32KB"

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            picked = {name: kwargs.pop(name) for name in _OPTION_NAMES}
            kwargs["configs"] = build_configs(defaults=defaults, **picked)
            return f(*args, **kwargs)

        opts = [
            click.option("--config", "config_specs", multiple=True, metavar="SPEC",
                         help="A configuration: a preset (" + ", ".join(PRESETS) + "),"
                              " ROWSxCOLS:SIZE (e.g. 16x16:256KB) or a hardware TOML file;"
                              f" repeatable, one result each (default: {default_text})."),
            click.option("--preset", "presets", multiple=True, metavar="NAME",
                         help="The same as --config NAME: paper-8x8 (8x8, 32KB) or paper-16x16"
                              " (16x16, 128KB)."),
            click.option("--hw", "hw_file", type=click.Path(dir_okay=False), metavar="FILE",
                         help="Hardware description in TOML (keys as in docs/model.md), applied"
                              " on top of each configuration; the flags below override it."),
            click.option("--array", metavar="RxC",
                         help="PE array, rows x columns, e.g. 8x8 (default 8x8)."),
            click.option("--buffer", metavar="SIZE",
                         help="Global buffer, e.g. 32KB, 128KiB, 1MB (KB = 1024 bytes, as in the"
                              " paper; default 32KB)."),
            click.option("--sparsity", type=float, metavar="S",
                         help="Fraction of zero weights, skipped in OS (default 0.4, paper §3)."),
            click.option("--dataflow", type=click.Choice(DATAFLOWS), default="auto",
                         show_default=True,
                         help="auto: per layer the faster of WS and OS (paper §3)."),
            click.option("--objective", type=click.Choice(OBJECTIVES), default="cycles",
                         show_default=True,
                         help="What the tiler minimises per layer (docs/model.md, 'The tiler')."),
        ]
        for opt in reversed(opts):
            command = opt(command)
        return command

    return decorate


def _override(hw: Hardware, hw_file: str | None, array: str | None, buffer: str | None,
              sparsity: float | None) -> Hardware:
    if hw_file:
        hw = load_toml(hw_file, base=hw)
    changes: dict[str, Any] = {}
    if array is not None:
        changes["Pr"], changes["Pc"] = parse_array(array)
    if buffer is not None:
        changes["buffer_bytes"] = parse_size(buffer)
    if sparsity is not None:
        changes["sparsity"] = sparsity
    return hw.with_(**changes) if changes else hw


def build_configs(config_specs: Sequence[str] = (), presets: Sequence[str] = (),
                  hw_file: str | None = None, array: str | None = None,
                  buffer: str | None = None, sparsity: float | None = None,
                  dataflow: str = "auto", objective: str = "cycles",
                  defaults: Sequence[str] = ()) -> list[Config]:
    """The configurations the options describe, in the order given, duplicates dropped."""
    from nnaccel.compare import Config, parse_config

    for name in presets:
        if name not in PRESETS:
            from nnaccel.hardware import preset

            preset(name)  # raises, naming the presets
    specs = [*config_specs, *presets]
    if specs:
        bases = [parse_config(s) for s in specs]
    elif defaults and not (hw_file or array or buffer):
        bases = [parse_config(s) for s in defaults]
    else:
        bases = [Config("default", Hardware(name="default"))]
    out: dict[str, Config] = {}
    for base in bases:
        hw = _override(base.hardware, hw_file, array, buffer, sparsity)
        label = base.label if hw == base.hardware else _label(base, hw, hw_file, sparsity)
        hw = hw.with_(name=label)
        out.setdefault(label, Config(label, hw, dataflow, objective))
    return list(out.values())


def _label(base: Config, hw: Hardware, hw_file: str | None, sparsity: float | None) -> str:
    """A name for a configuration changed by options: its array and buffer, and what else
    was set (e.g. `16x16:256KB`, `paper-8x8+sparsity=0`, `16x16:128KB+fast.toml`)."""
    b = base.hardware
    if (hw.Pr, hw.Pc, hw.buffer_bytes) != (b.Pr, b.Pc, b.buffer_bytes) or base.label == "default":
        head = f"{hw.array_label}:{format_size(hw.buffer_bytes)}"
    else:
        head = base.label
    extras = []
    if hw_file:
        extras.append(Path(hw_file).name)
    if sparsity is not None and sparsity != b.sparsity:
        extras.append(f"sparsity={sparsity:g}")
    return "+".join([head, *extras])
