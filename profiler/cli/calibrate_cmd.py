"""`effprof calibrate` (measure this machine into a hardware spec) and `effprof validate` (predicted
against measured latency, one line per model). docs/accuracy.md shows both at work."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from ..calibrate import calibrate, write_spec
from ..errors import UsageError
from ..hardware import load_spec
from ..measure import validate_target
from ..realrun import DEFAULT_REPEATS, DEFAULT_WARMUP, pick_device
from ..render import choose_format, emit, formats_of
from ..results import Validation, ValidationRun
from ..units import format_kib
from .options import parse_tolerance
from .app import app, progress, stderr, stdout


@app.command("calibrate")
def calibrate_command(
    output: Path = typer.Option(..., "--output", "-o", help="Write the spec to FILE.yaml (use it with --hw FILE.yaml)."),
    quick: bool = typer.Option(False, "--quick", help="A few seconds instead of tens: smaller buffers, fewer repeats (for CI)."),
    name: Optional[str] = typer.Option(None, "--name", help="The spec's name (default: the file name without .yaml)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu or cuda (default: cuda when one is present)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch intra-op threads to measure with (default: torch's)."),
    no_families: bool = typer.Option(False, "--no-families", help="Skip the kernel-family probes: a plain roofline spec."),
    cache_tiers: bool = typer.Option(True, "--cache-tiers/--no-cache-tiers", help="Price kernels whose bytes fit in cache at the cache's copy bandwidth (docs/accuracy.md)."),
    keep_implausible: bool = typer.Option(False, "--keep-implausible", help="Write the spec even when a probe stays implausible after 3 tries (named in warnings); for busy CI machines."),
) -> None:
    """Measure this machine (bandwidth, GEMM peaks, launch overhead, kernel families) into a hardware spec."""
    if output.suffix not in (".yaml", ".yml"):
        raise UsageError(f"--output '{output}' must end in .yaml (or .yml): it is a hardware spec file")
    target = pick_device(device)
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task(f"Calibrating {target}", total=1)

        def report(step: str, done: int, total: int) -> None:
            bar.update(task, description=f"Calibrating {target}: {step}", completed=done, total=total)

        result = calibrate(device=target, quick=quick, families=not no_families, cache_tiers=cache_tiers,
                           threads=threads, progress=report, keep_implausible=keep_implausible)
    spec = write_spec(result, output, name)
    stdout.print(f"wrote {output} ({spec.name}: {result.device_name}, {result.threads} threads)")
    stdout.print(f"  memory bandwidth  {spec.memory_bandwidth_gb_per_s.value:g} GB/s")
    for tier in spec.cache_bandwidth:
        stdout.print(f"  working set ≤ {tier.working_set_kib / 1024:g} MiB  {tier.gb_per_s:g} GB/s")
    for unit_name, unit in spec.units().items():
        peaks = ", ".join(f"{dtype} {peak.value:g}" for dtype, peak in unit.peak_tflop_per_s.items())
        stdout.print(f"  {unit_name} peaks    {peaks} TFLOP/s")
    stdout.print(f"  launch overhead   {spec.launch_overhead_us.value:g} µs")
    if spec.cold_weights_gb_per_s is not None:
        stdout.print(f"  cold weights      {spec.cold_weights_gb_per_s.value:g} GB/s (weights from DRAM, not hidden by compute)")
    if spec.fresh_pages is not None:
        stdout.print(f"  fresh pages       {spec.fresh_pages.gb_per_s:g} GB/s of first touch, buffers of "
                     f"{format_kib(spec.fresh_pages.min_kib)} or more")
    if spec.kernel_families:
        stdout.print(f"  kernel families   {len(spec.kernel_families)} probed (efficiency, fixed cost): "
                     + ", ".join(f"{k} {f.efficiency:.2g}/{f.overhead_us:.3g}µs" for k, f in spec.kernel_families.items()))
    stdout.print(f"use it: effprof MODEL.py --hw {output} [--measure]")
    for warning in result.warnings:
        stderr.print(f"warning: {warning}")


@app.command("validate")
def validate_command(
    targets: List[str] = typer.Argument(..., metavar="MODEL.py[:NAME]...", help="Model files to run for real."),
    hw: str = typer.Option(..., "--hw", help="The spec to check: a calibrated YAML (effprof calibrate) or a bundled name."),
    batch: Optional[List[int]] = typer.Option(None, "--batch", "-b", help="Batch size; repeat for several (default: the file's)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Run and price in fp32|fp16|bf16 (default: the model's dtype)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu or cuda (default: cuda for a GPU spec when one is present, else cpu)."),
    repeats: int = typer.Option(DEFAULT_REPEATS, "--repeats", help="Timed forward calls per model (medians are reported)."),
    warmup: int = typer.Option(DEFAULT_WARMUP, "--warmup", help="Untimed forward calls first."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch intra-op threads (match the calibration's)."),
    layers: bool = typer.Option(True, "--layers/--no-layers", help="Also time every layer, for the per-layer Spearman."),
    tolerance: str = typer.Option("20", "--tolerance", help="Count models within ±PERCENT of their measured latency: 20 or 20%."),
    fmt_text: Optional[str] = typer.Option(None, "--format", "-f", help="Output format: table|json|markdown (default: from --output's suffix, else table)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal."),
) -> None:
    """Predicted against measured latency, one line per model and batch."""
    fmt = choose_format(fmt_text, output, formats_of(Validation))
    allowed_percent = parse_tolerance(tolerance) * 100
    spec = load_spec(hw)
    if device is not None:
        pick_device(device)  # a bad --device fails before the first model
    results: list[ValidationRun] = []
    for target in targets:
        sizes: list[int | None] = [*batch] if batch else [None]
        for size in sizes:
            label = target if size is None else f"{target} at batch {size}"
            with progress(f"Measuring {label}…"):
                measurement = validate_target(target, spec, batch=size, dtype=dtype, device=device,
                                              warmup=warmup, repeats=repeats, layers=layers, threads=threads)
            results.append(ValidationRun(target, size, measurement))
    emit(Validation(spec.name, allowed_percent, tuple(results)), fmt, output, stdout)
