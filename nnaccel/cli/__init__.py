"""The ``nnaccel`` command line.

Every subcommand is registered in COMMANDS below, in one place. Any NnaccelError a command
raises (a bad file, flag or combination) becomes ``error: <message>`` on one line of stderr
and exit status 2, never a traceback; click's own usage errors also exit with 2.
"""

from __future__ import annotations

import importlib

import click

from nnaccel import __version__
from nnaccel.errors import NnaccelError

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
    ("nnaccel.cli.sweep_cmd", "sweep", False),  # issue 9
    ("nnaccel.cli.sweep_cmd", "pareto", False),  # issue 9
)
# ---------------------------------------------------------------------------------------


class _Group(click.Group):
    """A group that turns NnaccelError into one line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NnaccelError as exc:
            message = " ".join(str(exc).split())
            click.echo(f"error: {message}", err=True)
            ctx.exit(2)

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
