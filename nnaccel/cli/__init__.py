"""The ``nnaccel`` command line.

Every subcommand is registered in COMMANDS below, in one place. Every way a command ends
other than success is one line on stderr, never a traceback (`_Group.main`):

| what | line | status |
|---|---|---|
| bad input: an NnaccelError (file, flag, combination), a click usage error | `error: ...` | 2 |
| an output that fails: a full disk, a closed pipe (`... | head`), a killed worker | `error: ...` | 1 |
| Ctrl-C (SIGINT) | `interrupted` | 130 |
| SIGTERM | `terminated` | 143 |
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import signal
import sys
from typing import Any, NoReturn

import click

from nnaccel import __version__
from nnaccel.errors import NnaccelError, RunFailure, interrupted_by

# ---------------------------------------------------------------------------------------
# COMMAND REGISTRY: (module, attribute, required). An optional entry is skipped while its
# module does not exist yet (a command still being written), so the rest of the CLI works;
# any other import error still surfaces. Add new commands here.
COMMANDS: tuple[tuple[str, str, bool], ...] = (
    ("nnaccel.cli.network_cmds", "list_networks", True),
    ("nnaccel.cli.network_cmds", "info", True),
    ("nnaccel.cli.network_cmds", "validate", True),
    ("nnaccel.cli.run_cmd", "run", False),  # `nnaccel run` (issue 3)
    ("nnaccel.cli.compare_cmd", "compare", False),  # issue 4
    ("nnaccel.cli.paper_cmd", "paper", False),  # issue 4
    ("nnaccel.cli.plot_cmd", "plot", False),  # issue 4
    ("nnaccel.cli.report_cmd", "report", False),  # issue 11
    ("nnaccel.cli.progress", "warm_up_cmd", True),
    ("nnaccel.cli.onnx_cmds", "import_cmd", True),  # issue 8
    ("nnaccel.cli.onnx_cmds", "export_cmd", True),
    ("nnaccel.cli.sweep_cmd", "sweep", False),  # issue 9
    ("nnaccel.cli.sweep_cmd", "pareto", False),  # issue 9
    ("nnaccel.cli.trace_cmd", "trace", True),  # issue 18
)
# ---------------------------------------------------------------------------------------


class _Interrupted(BaseException):
    """Ctrl-C, carried past click (which would print a blank line and 'Aborted!')."""


class _Terminated(BaseException):
    """SIGTERM."""


def _on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise _Terminated


_OUTPUT_ERRNOS = (errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG)


def _stdout_identity() -> tuple[int, int] | None:
    try:
        st = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (CliRunner, closed)
        return None
    return st.st_dev, st.st_ino


def _devnull() -> tuple[int, int] | None:
    try:
        st = os.stat(os.devnull)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _output_failure(exc: OSError) -> BaseException:
    """A failure to write stdout or stderr as a RunFailure; any other OSError unchanged."""
    if exc.errno not in _OUTPUT_ERRNOS:
        return exc
    return RunFailure("the output was closed early (broken pipe)" if exc.errno == errno.EPIPE
                      else f"cannot write the output: {exc.strerror}")


def _whole_writes() -> Any:
    """Make every write to stdout whole or an error; returns what to give `_restore`.

    With PYTHONUNBUFFERED (or `python -u`) stdout's text layer writes straight to the raw
    file, and a raw write to a pipe may take only part of the text: the rest was dropped
    silently (`nnaccel import big.onnx | head -c1` ended with status 0 after 64 KB). A
    buffered writer between them writes all of it or raises (a closed pipe: EPIPE)."""
    out = sys.stdout
    raw = getattr(out, "buffer", None)
    if not isinstance(raw, io.RawIOBase) or not isinstance(out, io.TextIOWrapper):
        return None  # already buffered, or not a real stream (CliRunner, a notebook)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding=out.encoding,
                                  errors=out.errors, line_buffering=out.line_buffering,
                                  write_through=True)
    return out


def _restore(previous: Any) -> None:
    """Put back the stdout `_whole_writes` replaced, keeping its raw file open."""
    if previous is None:
        return
    wrapper = sys.stdout
    sys.stdout = previous
    try:
        wrapper.flush()
    except (OSError, ValueError):
        pass
    try:
        wrapper.detach().detach()  # the text layer, then the buffer: the raw file stays open
    except (OSError, ValueError):
        pass


def _finish(line: str | None, status: int) -> NoReturn:
    """Print `line` on stderr and exit with `status`, whatever state stdout is in."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more to a closed pipe or a full disk
    except (OSError, ValueError, AttributeError):
        pass
    if line is not None:
        try:
            click.echo(" ".join(line.split()), err=True)
        except OSError:
            pass
    sys.exit(status)


#: Options people reach for under another name: what they typed -> this CLI's option.
SYNONYMS = {"--db": "--store", "--database": "--store", "--sqlite": "--store",
            "--output": "-o", "--out-file": "-o", "--workers": "--jobs", "--threads": "--jobs",
            "--hardware": "--hw", "--cfg": "--config", "--net": "NET", "--network": "NET"}


def _with_synonym(exc: click.UsageError) -> str:
    """click's message, with this CLI's name for an option known by another (`--db`:
    `--store`) when the command has it."""
    message = exc.format_message()
    if not isinstance(exc, click.NoSuchOption) or exc.ctx is None:
        return message
    want = SYNONYMS.get(exc.option_name)
    names = {o for p in exc.ctx.command.params for o in getattr(p, "opts", ())}
    if want in names:
        return f"No such option '{exc.option_name}'; did you mean '{want}'?"
    if want == "NET" and any(p.name in ("net", "nets") for p in exc.ctx.command.params):
        return f"No such option '{exc.option_name}': give the network as an argument (NET)"
    return message


class _Group(click.Group):
    """A group whose every failure is one line on stderr (module doc)."""

    def invoke(self, ctx: click.Context):
        stdout_before = _stdout_identity()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted from None
        except SystemError as exc:
            # Ctrl-C while a numba kernel returns: the dispatcher reports the pending
            # KeyboardInterrupt as a SystemError caused by it
            if interrupted_by(exc):
                raise _Interrupted from None
            raise
        except OSError as exc:  # click would end a broken pipe silently with status 1
            raise _output_failure(exc) from None
        except SystemExit as exc:
            # rich meets a closed pipe by pointing stdout at /dev/null and exiting with 1,
            # silently: say what happened, as for any other output failure
            if exc.code == 1 and stdout_before != _devnull() and _stdout_identity() == _devnull():
                raise RunFailure("the output was closed early (broken pipe)") from None
            raise

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        previous_int = signal.getsignal(signal.SIGINT)  # _finish ignores it while it ends
        previous_out = _whole_writes()
        try:
            status = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        except NnaccelError as exc:
            _finish(f"error: {exc}", 2)
        except click.exceptions.NoArgsIsHelpError as exc:  # `nnaccel` alone: the help, as click
            click.echo(exc.ctx.get_help(), err=True)
            _finish(None, 2)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _finish(f"error: {_with_synonym(exc)}{hint}", 2)
        except click.ClickException as exc:
            _finish(f"error: {exc.format_message()}", exc.exit_code)
        except (KeyboardInterrupt, _Interrupted, click.Abort):
            _finish("interrupted", 130)
        except _Terminated:
            _finish("terminated", 143)
        except RunFailure as exc:
            _finish(f"error: {exc}", 1)
        except OSError as exc:
            _finish(f"error: {_output_failure(exc)}", 1)
        finally:  # as they were: a library caller (tests, CliRunner) keeps its handlers
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
            _restore(previous_out)
        if not standalone_mode:
            return status
        sys.exit(status if isinstance(status, int) else 0)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's whole first sentence, wrapped, never cut with an ellipsis."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="nnaccel")
def main() -> None:
    """nnaccel: a cycle-accurate simulator of the SqueezeNext paper's accelerator.

    NET arguments are a path to a network file or the name of a bundled network
    (a file stem such as sqnxt23v5, or a paper name such as 1.0-SqNxt-23v5);
    `nnaccel list` shows them all.
    """


def _register(group: click.Group) -> None:
    for module_name, attribute, required in COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if required or exc.name != module_name:
                raise
            continue
        group.add_command(getattr(module, attribute))


_register(main)
