"""The typer application and the consoles every command prints through."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.status import Status

__all__ = ["app", "command_words", "stdout", "stderr", "progress"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Params, MACs, FLOPs, bytes moved and roofline latency of PyTorch models, per layer.\n\n"
    "Run `effprof MODEL.py[:NAME] [options]` to profile a model (see `effprof profile --help`).",
)



def command_words() -> frozenset[str]:
    """First words that name a subcommand: every command and command group registered on `app`
    (each `cli/*_cmd.py` registers its own). Anything else is a model file for `profile`."""
    names = {command.name for command in app.registered_commands} | {group.name for group in app.registered_groups}
    return frozenset(name for name in names if name)

# piped output is not cut to 80 columns: wide tables stay readable in logs and files
stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 180)
stderr = Console(stderr=True, highlight=False)


def progress(message: str) -> Status:
    """A spinner on stderr for slow steps; silent when stderr is not a terminal."""
    return stderr.status(message, spinner="dots")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"effprof {version('effprof')}")
        raise typer.Exit()


@app.callback()
def _group(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Params, MACs, FLOPs, bytes moved and roofline latency of PyTorch models, per layer."""
