"""`effprof crosscheck`: effprof against fvcore and torch's FlopCounterMode, per module."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List, Optional

import typer

from ..crosscheck import Crosscheck, check_size, crosscheck
from ..errors import UsageError
from ..loading import load_model, parse_input_spec
from ..render import choose_format, emit, formats_of
from .app import app, progress, stdout

FORMATS = formats_of(Crosscheck)


@app.command("crosscheck")
def crosscheck_command(
    target: str = typer.Argument(..., metavar="MODEL.py[:NAME]", help="Model file; it is built with real weights on the CPU."),
    input_shape: Optional[List[str]] = typer.Option(None, "--input-shape", "-i", help="Input shape, e.g. 1,3,64,64; keep it small."),
    batch: Optional[int] = typer.Option(None, "--batch", "-b", help="Override the batch dimension of every input."),
    fmt_text: Optional[str] = typer.Option(None, "--format", "-f", help=f"Output format: {'|'.join(FORMATS)} (default: from --output's suffix, else table)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal (FILE.json or .md picks the format)."),
) -> None:
    """effprof vs fvcore vs torch's FlopCounterMode, per module, with the reason for each difference."""
    fmt = choose_format(fmt_text, output, FORMATS)
    specs = [parse_input_spec(text) for text in input_shape or []]
    with progress(f"Building {target} on the meta device…"):
        loaded = load_model(target, specs, batch)
    # refuse on the meta build, before allocating real weights
    params = sum(p.numel() for p in {id(p): p for p in loaded.model.parameters()}.values())
    check_size(params, loaded.inputs)
    if loaded.rebuild_real is None:
        raise UsageError(f"crosscheck cannot rebuild '{loaded.name}' with real weights")
    with progress(f"Building {loaded.name} on the CPU…"):
        model, inputs = loaded.rebuild_real()
    with progress("Counting with effprof, fvcore and FlopCounterMode…"):
        check = crosscheck(model, inputs, name=loaded.name)
    if loaded.notes:  # a guessed input shape is said, as by every command
        check = dataclasses.replace(check, notes=(*loaded.notes, *check.notes))
    emit(check, fmt, output, stdout)
