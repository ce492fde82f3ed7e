"""`effprof hw list` and `effprof hw show NAME|FILE.yaml`: the hardware specs the roofline uses."""

from __future__ import annotations

import json

import typer

from ..hardware import bundled_specs, load_spec
from ..render import hardware_detail, hardware_list_table
from ..document import document
from .app import app, stdout

__all__ = ["hw_app"]

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
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Every bundled spec: bandwidth, peak per dtype and ridge point."""
    specs = bundled_specs()
    if as_json:
        typer.echo(json.dumps(document(list(specs)), indent=2))
        return
    stdout.print(hardware_list_table(specs))


@hw_app.command("show")
def show_command(
    name: str = typer.Argument(..., metavar="NAME|FILE.yaml", help="A bundled spec name (see `effprof hw list`) or a path to a YAML spec."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """One spec in full, every number with its source (also validates a YAML file of your own)."""
    spec = load_spec(name)
    if as_json:
        typer.echo(json.dumps(document(spec), indent=2))
        return
    stdout.print(hardware_detail(spec))
