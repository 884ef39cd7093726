"""Hardware flags shared by the commands that simulate: --array, --buffer, --hw, --sparsity, ..."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from nnaccel.hardware import Hardware, load_toml, parse_array, parse_size, preset


def hardware_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command with the hardware flags; it receives them as keyword arguments."""
    opts = [
        click.option("--preset", "preset_name", metavar="NAME",
                     help="Start from a preset: paper-8x8 (8x8, 32KB) or paper-16x16 (16x16, 128KB)."),
        click.option("--hw", "hw_file", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Hardware description in TOML (keys as in docs/model.md); flags override it."),
        click.option("--array", metavar="RxC", help="PE array, rows x columns, e.g. 8x8 (default 8x8)."),
        click.option("--buffer", metavar="SIZE",
                     help="Global buffer, e.g. 32KB, 128KiB, 1MB (KB = 1024 bytes, as in the paper;"
                     " default 32KB)."),
        click.option("--sparsity", type=SPARSITY, metavar="S|measured",
                     help="Fraction of zero weights, skipped in OS (default 0.4, paper §3), for"
                     " layers without their own; 'measured': each conv/fc layer's zeros in its"
                     " actual weights (ONNX initializers, or NET's .npz; measured=FILE.npz)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


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


def build_hardware(preset_name: str | None, hw_file: str | None, array: str | None,
                   buffer: str | None, sparsity: float | str | None) -> Hardware:
    """Preset, then TOML file, then flags: later ones override earlier ones."""
    hw = preset(preset_name) if preset_name else Hardware(name="default")
    if hw_file:
        hw = load_toml(hw_file, base=hw)
    changes: dict[str, Any] = {}
    if array is not None:
        changes["Pr"], changes["Pc"] = parse_array(array)
    if buffer is not None:
        changes["buffer_bytes"] = parse_size(buffer)
    if sparsity is not None and not isinstance(sparsity, str):  # 'measured' is per layer
        changes["sparsity"] = sparsity
    if changes:
        hw = hw.with_(name="custom", **changes)
    return hw
