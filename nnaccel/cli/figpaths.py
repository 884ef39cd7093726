"""Figure outputs checked before any work, as every other output (`nnaccel.outputs`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nnaccel.errors import OutputError
from nnaccel.outputs import check_outputs


def check_figure_paths(paths: Sequence[Path], option: str, inputs: Sequence[str]) -> None:
    """Create the figures' directories (`--out` says it does), then check every path."""
    for p in paths:
        if str(p.parent) not in ("", "."):
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"{option} {str(p)!r}: cannot create {str(p.parent)!r}: "
                                  f"{exc.strerror}") from None
    check_outputs([(option, str(p)) for p in paths], inputs)
