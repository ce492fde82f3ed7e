"""`effprof compare`: models (or one model on several devices) side by side, with ratios to the first."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..api import profile_loaded
from ..compare import Comparison, compare
from ..errors import UsageError
from ..loading import load_model, parse_input_spec
from ..render import choose_format, emit, formats_of
from ..report import Report
from .app import app, progress, stdout

FORMATS = formats_of(Comparison)


@app.command("compare")
def compare_command(
    targets: List[str] = typer.Argument(..., metavar="MODEL.py[:NAME]...", help="Two or more models, or one with several --hw."),
    hw: Optional[List[str]] = typer.Option(None, "--hw", help="Hardware spec; repeat to compare devices."),
    input_shape: Optional[List[str]] = typer.Option(None, "--input-shape", "-i", help="Input shape for every model, e.g. 1,3,224,224."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Price floating tensors as fp32|fp16|bf16|fp8|int8."),
    batch: Optional[int] = typer.Option(None, "--batch", "-b", help="Override the batch dimension of every input."),
    fuse: bool = typer.Option(False, "--fuse", help="With --hw: model conv/linear + BN + activation fused (TensorRT-style)."),
    top: Optional[int] = typer.Option(None, "--top", "-k", help="Show only the K heaviest layers (by latency with --hw, else MACs); default: every matched layer, or 10 per model when structures differ."),
    fmt_text: Optional[str] = typer.Option(None, "--format", "-f", help=f"Output format: {'|'.join(FORMATS)} (default: from --output's suffix, else table)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal (FILE.json or .md picks the format)."),
) -> None:
    """Models (or one model on several devices) side by side, with ratios to the first."""
    fmt = choose_format(fmt_text, output, FORMATS)
    devices: list[str | None] = list(hw) if hw else [None]
    if top is not None and top < 1:  # checked before minutes of profiling, not after
        raise UsageError(f"--top must be 1 or more, got {top}")
    if len(targets) * len(devices) < 2:
        raise UsageError("compare needs two or more models, or one model with two or more --hw (e.g. --hw a4000 --hw t4)")
    specs = [parse_input_spec(text) for text in input_shape or []]
    reports: list[Report] = []
    labels: list[str] = []
    for target in targets:
        with progress(f"Building {target} on the meta device…"):
            loaded = load_model(target, specs, batch)
        for device in devices:
            with progress(f"Profiling {loaded.name}{' on ' + device if device else ''}…"):
                report = profile_loaded(loaded, dtype=dtype, hardware=device, fuse=fuse)
            reports.append(report)
            labels.append(loaded.name + (f" @ {device}" if device else ""))
    comparison = compare(reports, labels, top=top)
    emit(comparison, fmt, output, stdout)
