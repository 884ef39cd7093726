"""The `nnaccel` console script.

Two windows where Python itself would answer Ctrl-C are closed here, and an interrupt is never
lost: one that lands in a finalizer (where Python can only print and drop it) still ends the
command with `interrupted` and status 130. While the command line
is still importing (click, rich: a few tenths of a second), this says `interrupted` (status
130) as `nnaccel.cli` does later. And once the command has ended, the process exits at once
(`os._exit`, after flushing): the interpreter's teardown of a process that loaded numba takes
a moment, during which Python has already put back the default SIGINT action (die silently).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, NoReturn


def _early_interrupt(signum: int, frame: Any) -> NoReturn:
    os.write(2, b"interrupted\n")
    os._exit(130)


def _status(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main() -> NoReturn:
    signal.signal(signal.SIGINT, _early_interrupt)
    seen: list[int] = []

    def on_sigint(signum: int, frame: Any) -> NoReturn:
        seen.append(signum)
        raise KeyboardInterrupt

    default_hook = sys.unraisablehook

    def unraisable(u: Any) -> None:
        # A KeyboardInterrupt raised inside a finalizer (__del__) cannot propagate; `seen`
        # still has it, so it is not lost, and it is not printed as a traceback either.
        if not isinstance(u.exc_value, KeyboardInterrupt):
            default_hook(u)

    sys.unraisablehook = unraisable
    try:
        from nnaccel.cli import main as cli

        signal.signal(signal.SIGINT, on_sigint)
        try:
            cli()
            status = 0
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command is over: too late to stop
    except SystemExit as exc:
        status = _status(exc.code)
    except KeyboardInterrupt:  # only in the instant between the command's end and the line above
        status = 0
    if seen and status != 130:  # an interrupt that did not stop the command is never swallowed
        os.write(2, b"interrupted\n")
        status = 130
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
