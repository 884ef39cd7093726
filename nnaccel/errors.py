"""The one error family the CLI turns into a one-line message and exit status 2."""

from __future__ import annotations

from collections.abc import Sequence


class NnaccelError(Exception):
    """Bad input from a user: a file, a flag or a combination that cannot be simulated.

    The message is complete on its own (it names the file, the layer and the field where
    there is one) so the CLI prints it as a single line without a traceback.
    """


class NetworkError(NnaccelError):
    """A network file that is malformed or inconsistent."""

    def __init__(self, path: str, message: str, layer: str | None = None, field: str | None = None):
        self.path = path
        self.layer = layer
        self.field = field
        where = str(path)
        if layer is not None:
            where += f": layer '{layer}'"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


class HardwareError(NnaccelError):
    """A hardware description, flag or TOML file that is invalid."""


class MappingError(NnaccelError):
    """A layer that cannot be mapped onto the hardware (e.g. the buffer is too small)."""


class OutputError(NnaccelError):
    """An output path the run cannot or must not write, found before any work is done."""


class RunFailure(Exception):
    """A run that could not finish for a reason outside its input (a full disk, a closed
    pipe, a killed process): the CLI says so on one line with exit status 1."""


class WriteError(RunFailure):
    """An output that failed while being written; no half-written file is left."""


def interrupted_by(exc: BaseException | None) -> bool:
    """Whether `exc` is, or was caused by, a KeyboardInterrupt (Ctrl-C).

    numba's dispatcher reports a Ctrl-C that arrives while a kernel returns as a SystemError
    caused by the KeyboardInterrupt; that is an interrupt too, not a failure.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def did_you_mean(text: str, known: Sequence[str]) -> str:
    """'; did you mean sqnxt23v5?' for the closest of `known` to `text` (ignoring case), or ''
    when none is close: the tail of an error about a misspelt name."""
    import difflib

    lowered: dict[str, str] = {}
    for k in known:  # the first spelling of a name wins (a file stem before its paper name)
        lowered.setdefault(k.lower(), k)
    close = difflib.get_close_matches(str(text).lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[close[0]]}?" if close else ""
