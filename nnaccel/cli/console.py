"""rich's Console, except that a closed pipe (`nnaccel ... | head`) is reported like any other
output failure (one line, status 1, `nnaccel.cli`) instead of rich's silent exit."""

from __future__ import annotations

import errno

from rich.console import Console as _RichConsole


class Console(_RichConsole):
    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "broken pipe")
