"""The hardware options, defined once for every command that simulates (run, compare, plot,
report, and any later one): which configurations to simulate on.

    --config SPEC   one configuration; repeatable. SPEC is a preset (paper-8x8, paper-16x16),
                    ROWSxCOLS:SIZE (16x16:256KB) or a hardware TOML file (my.toml).
    --preset NAME   the same as --config NAME (kept for `run`'s older spelling).
    --hw FILE       a hardware TOML file applied on top of each configuration.
    --array RxC, --buffer SIZE, --sparsity S
                    fields set on top of each configuration.
    --batch N, --dma-outstanding N, --word-bytes N, --psum-bytes N, --banks N,
    --bank-bits N, --read-port-words N, --write-port-words N
                    integer fields set on top of each configuration (FIELD_FLAGS); their
                    ranges are limits.py's, and a word size that psum_bytes is not a
                    multiple of is an error naming both flags, never a silent change.
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
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nnaccel.assumptions import FLAG_SOURCE
from nnaccel.errors import HardwareError, NnaccelError
from nnaccel.hardware import (
    PRESETS,
    Hardware,
    check_int_field,
    format_size,
    load_toml,
    parse_array,
    parse_size,
)
from nnaccel.limits import HW_INT_RANGES
from nnaccel.loader import AUTO
from nnaccel.simulate import DATAFLOWS, OBJECTIVES

if TYPE_CHECKING:
    from nnaccel.compare import Config

#: Integer fields of `Hardware` with a flag of their own: field -> (flag, help). The ones a
#: user commonly varies; any other field is set with --hw FILE.
FIELD_FLAGS: dict[str, tuple[str, str]] = {
    "batch": ("--batch", "Images run through each layer one after another; every figure is for"
                         " the whole batch (`run` adds per-image totals; default 1)."),
    "dma_outstanding": ("--dma-outstanding", "DMA requests in flight at once (default 1, the"
                                             " paper's one latency per request)."),
    "word_bytes": ("--word-bytes", "Bytes of an activation or weight (default 2: the paper's"
                                   " 16-bit MACs; 1 for 8-bit). psum_bytes must be a multiple."),
    "psum_bytes": ("--psum-bytes", "Bytes of a partial sum (default 4)."),
    "buffer_banks": ("--banks", "SRAM banks of the global buffer (default 0: one per PE"
                                " column); its ports are the banks' ports side by side."),
    "buffer_bank_bits": ("--bank-bits", "Width of each bank's ports in bits (default 64)."),
    "buffer_read_port_words": ("--read-port-words", "Words a cycle the buffer's array-side read"
                                                    " port moves (default 0: banks x bank bits"
                                                    " over the word size)."),
    "buffer_write_port_words": ("--write-port-words", "Words a cycle its write port moves"
                                                      " (default 0: as the read port)."),
}

_OPTION_NAMES = ("config_specs", "presets", "hw_file", "array", "buffer", "sparsity", "dataflow",
                 "objective", *FIELD_FLAGS)


class SparsityType(click.ParamType):
    """A fraction of zero weights, or 'measured' / 'measured=FILE.npz' (kept as the string)."""

    name = "sparsity"

    def convert(self, value: Any, param: Any, ctx: Any) -> float | str:
        if isinstance(value, float) or str(value).split("=")[0] == "measured":
            return value
        try:
            return float(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number nor 'measured'", param, ctx)


SPARSITY = SparsityType()


def measured_spec(sparsity: float | str | None) -> str | None:
    """What load_network's `sparsity` takes: the 'measured[=FILE]' given, else None."""
    return sparsity if isinstance(sparsity, str) else None


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
            measured = measured_spec(picked["sparsity"])
            if takes_measured:
                # no --sparsity: a network's real weights, where its file has them (loader.AUTO)
                kwargs["network_sparsity"] = AUTO if picked["sparsity"] is None else measured
            elif measured:
                raise NnaccelError(f"--sparsity {measured}: this command takes a number;"
                                   " measured sparsity is per network file")
            kwargs["configs"] = build_configs(defaults=defaults, **picked)
            return f(*args, **kwargs)

        # a command that loads its networks itself takes `network_sparsity`: 'measured[=FILE]'
        takes_measured = "network_sparsity" in inspect.signature(f).parameters

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
            click.option("--sparsity", type=SPARSITY, metavar="S|measured",
                         help="Fraction of zero weights, skipped in OS, for layers without"
                              " their own; 'measured': each conv/fc layer's zeros in its actual"
                              " weights (ONNX initializers, or NET's .npz; measured=FILE.npz)."
                              " Default: measured where NET carries its weights (an ONNX model,"
                              " an .npz beside a JSON file), else 0.4 (paper §3)."),
            *(click.option(flag, name, type=int, metavar="N",
                           help=f"{text} From {HW_INT_RANGES[name][0]:,} to"
                                f" {HW_INT_RANGES[name][1]:,}.")
              for name, (flag, text) in FIELD_FLAGS.items()),
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


def _field_values(values: Mapping[str, int | None]) -> dict[str, int]:
    """The field flags given, each checked against its range in limits.py."""
    unknown = sorted(set(values) - set(FIELD_FLAGS))
    if unknown:
        raise TypeError(f"build_configs() got unexpected keyword arguments {unknown}")
    given = {name: v for name, v in values.items() if v is not None}
    for name, v in given.items():
        try:
            check_int_field(name, v)
        except HardwareError as e:
            raise HardwareError(f"{FIELD_FLAGS[name][0]} {v}: {e}") from None
    return given


def _check_words(hw: Hardware, fields: Mapping[str, int]) -> None:
    """A word size and a partial sum set apart (by flags, --hw or a configuration) must still
    fit: name the flags involved and what would fit, rather than change psum_bytes silently."""
    word = fields.get("word_bytes", hw.word_bytes)
    psum = fields.get("psum_bytes", hw.psum_bytes)
    if psum % word == 0:
        return
    flags = " ".join(f"{FIELD_FLAGS[f][0]} {fields[f]}" for f in ("word_bytes", "psum_bytes")
                     if f in fields)
    fix = "e.g." if "psum_bytes" in fields else "give --psum-bytes too, e.g."
    raise HardwareError(f"{flags}: psum_bytes ({psum}) must be a multiple of word_bytes ({word});"
                        f" {fix} --psum-bytes {2 * word}")


def _override(hw: Hardware, hw_file: str | None, array: str | None, buffer: str | None,
              sparsity: float | str | None, fields: Mapping[str, int]) -> Hardware:
    if hw_file:
        hw = load_toml(hw_file, base=hw)
    if "word_bytes" in fields or "psum_bytes" in fields:
        _check_words(hw, fields)
    changes: dict[str, Any] = dict(fields)
    if array is not None:
        changes["Pr"], changes["Pc"] = parse_array(array)
    if buffer is not None:
        changes["buffer_bytes"] = parse_size(buffer)
    if sparsity is not None and not isinstance(sparsity, str):  # 'measured' is per layer
        changes["sparsity"] = sparsity
    return hw.with_(**changes) if changes else hw


def build_configs(config_specs: Sequence[str] = (), presets: Sequence[str] = (),
                  hw_file: str | None = None, array: str | None = None,
                  buffer: str | None = None, sparsity: float | str | None = None,
                  dataflow: str = "auto", objective: str = "cycles",
                  defaults: Sequence[str] = (), **field_flags: int | None) -> list[Config]:
    """The configurations the options describe, in the order given, duplicates dropped.

    `field_flags`: values of FIELD_FLAGS by field name (e.g. batch=2); None is not given.
    """
    from nnaccel.compare import Config, parse_config

    fields = _field_values(field_flags)

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
    changed = any(x is not None for x in (hw_file, array, buffer, sparsity)) or bool(fields)
    for base in bases:
        hw = _override(base.hardware, hw_file, array, buffer, sparsity, fields)
        # "default" only for the default untouched: `--array 8x8` is 8x8:32KB, not "default"
        label = (base.label if hw == base.hardware and not (changed and base.label == "default")
                 else _label(base, hw, hw_file, sparsity, fields))
        hw = hw.with_(name=label)
        out.setdefault(label, Config(label, hw, dataflow, objective,
                                     _sparsity_source(base, hw, hw_file, sparsity)))
    return list(out.values())


def _sparsity_source(base: Config, hw: Hardware, hw_file: str | None,
                     sparsity: float | str | None) -> str:
    """Where the configuration's sparsity comes from, in words (assumptions.py)."""
    if sparsity is not None and not isinstance(sparsity, str):
        return FLAG_SOURCE
    if hw_file and hw.sparsity != base.hardware.sparsity:
        return f"--hw {Path(hw_file).name}"
    return base.sparsity_source


def _label(base: Config, hw: Hardware, hw_file: str | None, sparsity: float | None,
           fields: Mapping[str, int]) -> str:
    """A name for a configuration changed by options: its array and buffer, and what else
    was set (e.g. `16x16:256KB`, `paper-8x8+sparsity=0`, `16x16:128KB+fast.toml+batch=4`)."""
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
    extras += [f"{FIELD_FLAGS[name][0][2:]}={v}" for name, v in fields.items()
               if v != getattr(b, name)]
    return "+".join([head, *extras])
