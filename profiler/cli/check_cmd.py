"""`effprof check budgets.yaml`: model budgets as a CI gate (docs/ci.md).

Exit 0 when every budget holds, 1 when one is over (or grew past --tolerance since --baseline),
2 when the budget file, the baseline or a model cannot be read (an EffprofError, mapped in
cli/__init__.py). A check never passes because something failed to load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..budget import ModelEntry, ModelNumbers, baseline_file_dict, check, measure_entry
from ..errors import UsageError, did_you_mean
from ..render_budget import budget_json, budget_markdown, budget_tables
from ..units import parse_percent
from .app import app, progress, stdout

CHECK_FORMATS = ("table", "json", "markdown")


def _measure(entry: ModelEntry) -> ModelNumbers:
    with progress(f"Profiling {entry.name}…"):
        return measure_entry(entry)


@app.command("check")
def check_command(
    budget_file: Path = typer.Argument(..., metavar="BUDGETS.yaml", help="Budget file (docs/ci.md); model paths are relative to it."),
    fmt: str = typer.Option("table", "--format", "-f", help=f"Output format: {'|'.join(CHECK_FORMATS)}."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Also fail when a budgeted metric grew since this baseline file."),
    tolerance: Optional[str] = typer.Option(None, "--tolerance", help="Growth allowed since --baseline, e.g. 2% (default 0%)."),
    write_baseline: Optional[Path] = typer.Option(None, "--write-baseline", help="Write every model's measured numbers to FILE."),
) -> None:
    """Check models against their budgets: exit 0 within, 1 over budget, 2 for a bad file or model."""
    if fmt not in CHECK_FORMATS:
        raise UsageError(f"unknown --format '{fmt}'{did_you_mean(fmt, CHECK_FORMATS)}; use one of {', '.join(CHECK_FORMATS)}")
    if tolerance is not None and baseline is None:
        raise UsageError("--tolerance needs --baseline FILE: it is the growth allowed since that baseline")
    try:
        allowed = parse_percent(tolerance) if tolerance is not None else 0.0
    except UsageError as error:
        raise UsageError(f"bad --tolerance: {error}") from None
    result = check(budget_file, baseline=baseline, tolerance=allowed, measure=_measure)
    if write_baseline is not None:
        try:
            write_baseline.write_text(json.dumps(baseline_file_dict(result), indent=2) + "\n")
        except OSError as error:
            raise UsageError(f"cannot write --write-baseline '{write_baseline}': {error.strerror}") from error
    if fmt == "json":
        typer.echo(budget_json(result))
    elif fmt == "markdown":
        typer.echo(budget_markdown(result), nl=False)
    else:
        stdout.print(budget_tables(result))
        if write_baseline is not None:
            stdout.print(f"baseline written to {write_baseline}")
    if not result.ok:
        raise typer.Exit(1)
