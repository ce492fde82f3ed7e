"""`effprof hw list` and `effprof hw show NAME|FILE.yaml`: the hardware specs the roofline uses."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..hardware import HardwareSpec, bundled_specs, load_spec
from ..render import Format, choose_format, emit, formats_of
from ..results import SpecList
from .app import app, stdout

__all__ = ["hw_app"]

LIST_FORMATS = formats_of(SpecList)
SHOW_FORMATS = formats_of(HardwareSpec)

hw_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Hardware specs for latency estimates (--hw): list the bundled ones, or show one in full.",
)
app.add_typer(hw_app, name="hw")


@hw_app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table (same as --format json)."),
    fmt_text: Optional[str] = typer.Option(None, "--format", "-f", help=f"Output format: {'|'.join(LIST_FORMATS)} (default: from --output's suffix, else table)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal."),
) -> None:
    """Every bundled spec: bandwidth, peak per dtype (fp8 where the spec has one) and ridge point."""
    fmt = Format.JSON if as_json else choose_format(fmt_text, output, LIST_FORMATS)
    emit(SpecList(tuple(bundled_specs())), fmt, output, stdout)


@hw_app.command("show")
def show_command(
    name: str = typer.Argument(..., metavar="NAME|FILE.yaml", help="A bundled spec name (see `effprof hw list`) or a path to a YAML spec."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables (same as --format json)."),
    fmt_text: Optional[str] = typer.Option(None, "--format", "-f", help=f"Output format: {'|'.join(SHOW_FORMATS)} (default: from --output's suffix, else table)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal."),
) -> None:
    """One spec in full, every number with its source, its latency model included (also validates a YAML file of your own)."""
    fmt = Format.JSON if as_json else choose_format(fmt_text, output, SHOW_FORMATS)
    emit(load_spec(name), fmt, output, stdout)
