"""`effprof check budgets.yaml`: model budgets as a CI gate (docs/ci.md).

Exit 0 when every budget holds, 1 when one is over (or grew past --tolerance since --baseline),
2 when the budget file, the baseline or a model cannot be read (an EffprofError, mapped in
cli/__init__.py). A check never passes because something failed to load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..budgets import CheckResult, ModelEntry, ModelNumbers, check, measure_entry, write_baseline
from ..errors import UsageError
from ..render import Format, choose_format, emit, formats_of
from .app import app, progress, stdout
from .options import parse_tolerance

CHECK_FORMATS = formats_of(CheckResult)


def _measure(entry: ModelEntry) -> ModelNumbers:
    with progress(f"Profiling {entry.name}…"):
        return measure_entry(entry)


@app.command("check")
def check_command(
    budget_file: Path = typer.Argument(..., metavar="BUDGETS.yaml", help="Budget file (docs/ci.md); model paths are relative to it."),
    fmt_text: Optional[str] = typer.Option(None, "--format", "-f", help=f"Output format: {'|'.join(CHECK_FORMATS)} (default: from --output's suffix, else table)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal (FILE.json or .md picks the format)."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Also fail when a budgeted metric grew since this baseline file."),
    tolerance: Optional[str] = typer.Option(None, "--tolerance", help="Growth allowed since --baseline in percent, e.g. 2 or 2% (default 0)."),
    baseline_out: Optional[Path] = typer.Option(None, "--write-baseline", help="Write every model's measured numbers to FILE."),
) -> None:
    """Check models against their budgets: exit 0 within, 1 over budget, 2 for a bad file or model."""
    fmt = choose_format(fmt_text, output, CHECK_FORMATS)
    if tolerance is not None and baseline is None:
        raise UsageError("--tolerance needs --baseline FILE: it is the growth allowed since that baseline")
    allowed = parse_tolerance(tolerance) if tolerance is not None else 0.0
    result = check(budget_file, baseline=baseline, tolerance=allowed, measure=_measure)
    if baseline_out is not None:
        try:
            write_baseline(result, baseline_out)
        except OSError as error:
            raise UsageError(f"cannot write --write-baseline '{baseline_out}': {error.strerror}") from error
    emit(result, fmt, output, stdout)
    if fmt is Format.TABLE and output is None and baseline_out is not None:
        stdout.print(f"baseline written to {baseline_out}")
    if not result.ok:
        raise typer.Exit(1)
