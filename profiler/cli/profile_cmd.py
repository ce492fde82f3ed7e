"""`effprof profile` (also `effprof MODEL.py`): the per-layer table of one model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..api import profile_loaded
from ..byop import by_operator
from ..errors import UsageError
from ..hardware import load_spec
from ..loading import load_model, parse_input_spec
from ..measure import measure_loaded
from ..realrun import DEFAULT_REPEATS
from ..plot import check_plot_path, plot_roofline
from ..precision import parse_precision
from ..render import Format, choose_format, emit, formats_of
from ..report import LATENCY_SORT, SORT_KEYS
from ..results import ProfileResult
from .app import app, progress, stderr, stdout

FORMATS = formats_of(ProfileResult)


@app.command("profile")
def profile_command(
    target: str = typer.Argument(..., metavar="MODEL.py[:NAME]", help="Model file; NAME picks a module, class or builder function."),
    input_shape: Optional[List[str]] = typer.Option(None, "--input-shape", "-i", help="Input shape, e.g. 1,3,224,224 or 1,128:int64; repeat for several inputs."),
    depth: Optional[int] = typer.Option(None, "--depth", "-d", help="Fold modules deeper than N into their ancestor."),
    sort: Optional[str] = typer.Option(None, "--sort", "-s", help=f"Sort rows by {'|'.join([*SORT_KEYS, LATENCY_SORT])} (heaviest first; latency needs --hw)."),
    top: Optional[int] = typer.Option(None, "--top", "-k", help="Show only the K heaviest rows."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Price floating tensors as fp32|tf32|fp16|bf16|fp8|fp8_e5m2|int8 (default: the model's dtype); with --hw also picks the peak."),
    batch: Optional[int] = typer.Option(None, "--batch", "-b", help="Override the batch (first) dimension of every input."),
    fmt_text: Optional[str] = typer.Option(None, "--format", "-f", help=f"Output format: {'|'.join(FORMATS)} (default: from --output's suffix, else table)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal (FILE.json, .md, .csv pick the format)."),
    hw: Optional[str] = typer.Option(None, "--hw", help="Estimate latency on a device: a bundled spec (see `effprof hw list`) or a YAML path."),
    fuse: bool = typer.Option(False, "--fuse", help="With --hw: model TensorRT-style conv/linear+BN+activation fusion (default: eager, one kernel per op)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="With --hw: draw the roofline to FILE.png or FILE.svg (needs matplotlib)."),
    measure: bool = typer.Option(False, "--measure", help="With --hw: also run the model for real and show measured against predicted latency."),
    repeats: int = typer.Option(DEFAULT_REPEATS, "--repeats", help="With --measure: timed forward calls (medians are reported)."),
    by_op: bool = typer.Option(False, "--by-op", help="Also total every operator (aten::cat, aten::add...) over the model and per module, with call counts."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Weight format fp16|bf16|fp8|int8|int4 (with --activations, --kv-cache: a format per role, docs/llm.md)."),
    activations: Optional[str] = typer.Option(None, "--activations", help="Activation format fp16|bf16|fp8|int8 (int8 with int8 weights: int8 GEMMs)."),
    kv_cache: Optional[str] = typer.Option(None, "--kv-cache", help="Format of a static KV cache the forward writes into: fp16|bf16|fp8|int8."),
    group_size: Optional[int] = typer.Option(None, "--group-size", help="int8/int4 weights: one scale per this many weights (default: int4 128, int8 per channel)."),
    zero_points: bool = typer.Option(False, "--zero-points", help="int8/int4 weights: asymmetric, a zero point per scale."),
) -> None:
    """Profile one model: per-layer params, MACs, FLOPs, bytes moved and, with --hw, latency."""
    precision = None
    if weights or activations or kv_cache or group_size is not None or zero_points:
        if dtype is not None:
            raise UsageError("--dtype prices every tensor alike; --weights/--activations/--kv-cache price each role: give one or the other")
        precision = parse_precision(weights, activations, kv_cache, group_size, zero_points)
    fmt = choose_format(fmt_text, output, FORMATS)
    if (fuse or plot is not None) and hw is None:
        raise UsageError(f"{'--fuse' if fuse else '--plot'} needs a device to estimate on: add --hw, e.g. --hw a4000")
    if measure and hw is None:
        raise UsageError("--measure compares with a latency estimate: add --hw (a calibrated spec from `effprof calibrate`)")
    if measure and fmt not in (Format.TABLE, Format.JSON):
        raise UsageError(f"--measure shows its numbers as a table or JSON, not {fmt}: use --format table or --format json")
    if by_op and fmt not in (Format.TABLE, Format.JSON):
        raise UsageError(f"--by-op shows its numbers as a table or JSON, not {fmt}: use --format table or --format json")
    if plot is not None:
        check_plot_path(plot)
    spec = load_spec(hw) if hw is not None else None  # a bad --hw fails before the slow trace
    specs = [parse_input_spec(text) for text in input_shape or []]
    with progress(f"Building {target} on the meta device…"):
        loaded = load_model(target, specs, batch)
    with progress(f"Tracing {loaded.name}…"):
        report = profile_loaded(loaded, dtype=dtype, hardware=spec, fuse=fuse, precision=precision)
    if plot is not None:
        with progress(f"Drawing {plot}…"):
            plot_roofline(report, plot)
        stderr.print(f"wrote {plot}")
    measurement = None
    if measure:
        with progress(f"Running {loaded.name} for real…"):
            measurement = measure_loaded(loaded, report, repeats=repeats)
    rows = report.rows(depth=depth, sort=sort, top=top)
    operators = by_operator(report.kernels, {layer.name: layer.calls for layer in report.layers}) if by_op else None
    emit(ProfileResult(report, measurement, operators, rows=tuple(rows), top=top), fmt, output, stdout)
