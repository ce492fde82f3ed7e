"""`effprof conv`, `effprof compare`, `effprof crosscheck`: side-by-side tables.

The logic modules (`convtable`, `compare`, `crosscheck`) return plain data; this file renders it
as rich tables, Markdown or JSON and maps nothing but options onto their arguments.
"""

from __future__ import annotations

import dataclasses

import json
from fractions import Fraction
from typing import Any, List, Optional

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..api import profile_loaded
from ..compare import Comparison, LayerCell, compare
from ..convtable import ConvSpec, ConvTable, conv_table
from ..crosscheck import Crosscheck, check_size, crosscheck
from ..document import document
from ..errors import UsageError, did_you_mean
from ..loading import load_model, parse_input_spec
from ..report import Report
from ..units import format_bytes, format_seconds, si
from .app import app, progress, stdout

__all__ = [
    "conv_command", "compare_command", "crosscheck_command",
    "conv_renderable", "conv_markdown", "compare_renderable", "compare_markdown",
    "crosscheck_renderable", "crosscheck_markdown",
]

FORMATS = ("table", "json", "markdown")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format '{fmt}'{did_you_mean(fmt, FORMATS)}; use one of {', '.join(FORMATS)}")


def _emit(fmt: str, renderable: Any, markdown: str, data: dict[str, Any]) -> None:
    if fmt == "table":
        stdout.print(renderable)
    elif fmt == "json":
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(markdown, nl=not markdown.endswith("\n"))


def _intensity(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _times(value: float | None) -> str:
    return f"×{value:.3g}" if value is not None else "-"


def _fraction(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _percent(value: float | None) -> str:
    return f"{value * 100:.0f}%" if value is not None else "-"


# ---------------------------------------------------------------------------------------------
# effprof conv


def _conv_title(table: ConvTable) -> str:
    s = table.spec
    parts = [
        f"Conv {s.in_channels}→{s.out_channels}, {s.kernel}×{s.kernel}, input {s.size}×{s.size}",
        f"padding {s.pad}, stride {s.stride} → output {s.out_size}×{s.out_size}",
        f"batch {s.batch}", table.dtype, "bias" if s.bias else "no bias",
    ]
    if s.groups > 1:
        parts.insert(2, f"groups {s.groups}")
    if table.hardware:
        parts.append(table.hardware)
    return "  ·  ".join(parts)


def _has_latency(table: ConvTable) -> bool:
    return any(row.latency_s is not None for row in table.rows)


def conv_renderable(table: ConvTable) -> Group:
    out = Table(title=_conv_title(table), header_style="bold", pad_edge=False)
    out.add_column("Kind", no_wrap=True)
    for title in ("Params", "MACs", "FLOPs", "Bytes R+W", "FLOP/B"):
        out.add_column(title, justify="right", no_wrap=True)
    latency = _has_latency(table)
    if latency:
        out.add_column("Latency", justify="right", no_wrap=True)
        out.add_column("Bound", no_wrap=True)
    for title in ("MACs ratio", "Closed form", "Params ratio"):
        out.add_column(title, justify="right", no_wrap=True)
    for row in table.rows:
        cells = [row.kind, f"{row.params:,}", si(row.macs), si(row.flops), format_bytes(row.bytes_total),
                 _intensity(row.intensity)]
        if latency:
            colour = {"memory": "yellow", "compute": "cyan"}.get(row.bound or "", "")
            cells += [format_seconds(row.latency_s), Text(row.bound or "-", style=colour)]
        match = "" if row.ratio_macs == row.closed_form_value else " ≠"
        cells += [
            f"{float(row.ratio_macs):.4f} ({_fraction(row.ratio_macs)})",
            f"{row.closed_form} = {_fraction(row.closed_form_value)}{match}",
            f"{float(row.ratio_params):.4f}",
        ]
        out.add_row(*cells)
    s = table.spec
    legend = Text(
        f"N = C_out = {s.out_channels}, K = {s.kernel}, g = {s.groups}. Ratios are to standard, measured by "
        "the engine; the closed form is the paper's algebra (exact for MACs, and for params without --bias). "
        "pointwise = the 1×1 half of separable, at the depthwise output's resolution.",
        style="dim",
    )
    return Group(out, legend)


def conv_markdown(table: ConvTable) -> str:
    latency = _has_latency(table)
    header = ["Kind", "Params", "MACs", "FLOPs", "Bytes R+W", "FLOP/B"]
    if latency:
        header += ["Latency", "Bound"]
    header += ["MACs ratio", "Closed form", "Params ratio"]
    lines = [f"**{_conv_title(table)}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.rows:
        cells = [row.kind, f"{row.params:,}", f"{row.macs:,}", f"{row.flops:,}", format_bytes(row.bytes_total),
                 _intensity(row.intensity)]
        if latency:
            cells += [format_seconds(row.latency_s), row.bound or "-"]
        cells += [f"{float(row.ratio_macs):.4f}", f"{row.closed_form} = {_fraction(row.closed_form_value)}",
                  f"{float(row.ratio_params):.4f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@app.command("conv")
def conv_command(
    in_channels: int = typer.Option(..., "--in-channels", help="Input channels C_in."),
    out_channels: int = typer.Option(..., "--out-channels", help="Output channels C_out (N in 1/N + 1/K^2)."),
    kernel: int = typer.Option(3, "--kernel", "-k", help="Kernel side K (padding K // 2)."),
    size: int = typer.Option(..., "--size", help="Input height and width."),
    stride: int = typer.Option(1, "--stride", help="Stride of the K×K convs."),
    padding: Optional[int] = typer.Option(None, "--padding", help="Padding of the K×K convs (default K // 2)."),
    groups: int = typer.Option(1, "--groups", "-g", help="Adds a group-conv row with g groups."),
    bias: bool = typer.Option(False, "--bias", help="Give every conv a bias (default off: a BN follows)."),
    batch: int = typer.Option(1, "--batch", "-b", help="Batch size."),
    hw: Optional[str] = typer.Option(None, "--hw", help="Hardware spec (name or YAML path): adds latency and bound."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Price tensors as fp32|fp16|bf16|int8 (default fp32)."),
    fmt: str = typer.Option("table", "--format", "-f", help=f"Output format: {'|'.join(FORMATS)}."),
) -> None:
    """One convolution as standard, group, depthwise, pointwise and separable, side by side."""
    _check_format(fmt)
    spec = ConvSpec(in_channels, out_channels, kernel, size, stride=stride, groups=groups, bias=bias, batch=batch,
                    padding=padding)
    table = conv_table(spec, dtype=dtype, hardware=hw)
    _emit(fmt, conv_renderable(table), conv_markdown(table), document(table))


# ---------------------------------------------------------------------------------------------
# effprof compare


def compare_renderable(comparison: Comparison) -> Group:
    latency = comparison.top_by == "latency_s"
    totals = Table(title="Totals (ratios to the first)", header_style="bold", pad_edge=False)
    totals.add_column("Model", no_wrap=True, overflow="ellipsis", max_width=48)
    for title in ("Params", "MACs", "FLOPs", "Bytes R+W", "FLOP/B"):
        totals.add_column(title, justify="right", no_wrap=True)
    if latency:
        for title in ("Latency", "Throughput", "Mem-bound"):
            totals.add_column(title, justify="right", no_wrap=True)
    for title in ("Params ×", "MACs ×", "Bytes ×") + (("Latency ×",) if latency else ()):
        totals.add_column(title, justify="right", no_wrap=True)
    for row in comparison.totals:
        cells = [row.label, si(row.params), si(row.macs), si(row.flops), format_bytes(row.bytes_total),
                 _intensity(row.intensity)]
        if latency:
            cells += [format_seconds(row.latency_s),
                      f"{row.throughput_per_s:,.1f}/s" if row.throughput_per_s is not None else "-",
                      _percent(row.memory_bound_fraction)]
        cells += [_times(row.ratios["params"]), _times(row.ratios["macs"]), _times(row.ratios["bytes_total"])]
        if latency:
            cells.append(_times(row.ratios["latency_s"]))
        totals.add_row(*cells)
    parts: list[Any] = [totals]
    if comparison.aligned:
        layers = Table(title=f"Layers matched by name ({comparison.shared_layers} shared)", header_style="bold", pad_edge=False)
        layers.add_column("Layer", no_wrap=True, overflow="ellipsis", max_width=40)
        # one model on several devices: the counts are the same in every entry, show them once
        one_count = all(len({c.macs for c in row.cells if c is not None}) == 1 and None not in row.cells
                        for row in comparison.matched)
        if one_count:
            layers.add_column("MACs", justify="right", no_wrap=True)
        for index, label in enumerate(comparison.labels):
            short = f"[{index + 1}]"
            if not one_count:
                layers.add_column(f"{short} MACs", justify="right", no_wrap=True)
            layers.add_column(f"{short} Bytes", justify="right", no_wrap=True)
            if latency:
                layers.add_column(f"{short} Latency", justify="right", no_wrap=True)
                layers.add_column(f"{short} Bound", no_wrap=True)
                if index:
                    layers.add_column(f"{short} Lat. ×", justify="right", no_wrap=True)
        for row in comparison.matched:
            cells = [row.name or "(root)"]
            if one_count:
                cells.append(si(row.cells[0].macs))
            for index, cell in enumerate(row.cells):
                if not one_count:
                    cells.append(si(cell.macs) if cell else "-")
                cells.append(format_bytes(cell.bytes_total) if cell else "-")
                if latency:
                    cells += [format_seconds(cell.latency_s) if cell else "-", (cell.bound or "") if cell else "-"]
                    if index:
                        cells.append(_times(row.ratio("latency_s", index)))
            layers.add_row(*cells)
        parts.append(layers)
        parts.append(Text("  ".join(f"[{i + 1}] {label}" for i, label in enumerate(comparison.labels)), style="dim"))
    else:
        by = "latency" if latency else "MACs"
        parts.append(Text(f"Structures differ ({comparison.shared_layers} layer names shared): "
                          f"the heaviest layers of each, by {by}.", style="dim"))
        for label, cells in zip(comparison.labels, comparison.top):
            parts.append(_top_table(label, cells, latency))
    parts += [Text(f"note: {note}", style="yellow") for note in comparison.notes]
    return Group(*parts)


def _top_table(label: str, cells: tuple[LayerCell, ...], latency: bool) -> Table:
    table = Table(title=label, header_style="bold", pad_edge=False)
    table.add_column("Layer", no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column("Kind", no_wrap=True)
    for title in ("MACs", "Bytes R+W"):
        table.add_column(title, justify="right", no_wrap=True)
    if latency:
        table.add_column("Latency", justify="right", no_wrap=True)
        table.add_column("Bound", no_wrap=True)
    for cell in cells:
        row = [cell.name or "(root)", cell.conv_kind or cell.type, si(cell.macs), format_bytes(cell.bytes_total)]
        if latency:
            row += [format_seconds(cell.latency_s), cell.bound or ""]
        table.add_row(*row)
    return table


def compare_markdown(comparison: Comparison) -> str:
    latency = comparison.top_by == "latency_s"
    header = ["Model", "Params", "MACs", "Bytes R+W"] + (["Latency", "Mem-bound"] if latency else [])
    header += ["Params ×", "MACs ×", "Bytes ×"] + (["Latency ×"] if latency else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in comparison.totals:
        cells = [f"`{row.label}`", f"{row.params:,}", f"{row.macs:,}", format_bytes(row.bytes_total)]
        if latency:
            cells += [format_seconds(row.latency_s), _percent(row.memory_bound_fraction)]
        cells += [_times(row.ratios["params"]), _times(row.ratios["macs"]), _times(row.ratios["bytes_total"])]
        if latency:
            cells.append(_times(row.ratios["latency_s"]))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if comparison.aligned:
        header = ["Layer"] + [f"MACs [{i + 1}]" for i in range(len(comparison.labels))]
        if latency:
            header += [f"Latency [{i + 1}]" for i in range(len(comparison.labels))]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in comparison.matched:
            cells = [f"`{row.name or '(root)'}`"] + [si(c.macs) if c else "-" for c in row.cells]
            if latency:
                cells += [f"{format_seconds(c.latency_s)} {c.bound or ''}".strip() if c else "-" for c in row.cells]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [""] + [f"[{i + 1}] `{label}`  " for i, label in enumerate(comparison.labels)]
    else:
        for label, cells in zip(comparison.labels, comparison.top):
            lines += [f"Heaviest layers of `{label}`:", "", "| Layer | Kind | MACs | Bytes R+W |"
                      + (" Latency | Bound |" if latency else ""), "|---|---|---|---|" + ("---|---|" if latency else "")]
            for cell in cells:
                row = [f"`{cell.name or '(root)'}`", cell.conv_kind or cell.type, si(cell.macs), format_bytes(cell.bytes_total)]
                if latency:
                    row += [format_seconds(cell.latency_s), cell.bound or ""]
                lines.append("| " + " | ".join(row) + " |")
            lines.append("")
    if comparison.notes:
        lines += ([""] if lines[-1] else []) + [f"> note: {note}" for note in comparison.notes]
    return "\n".join(lines).rstrip("\n") + "\n"


@app.command("compare")
def compare_command(
    targets: List[str] = typer.Argument(..., metavar="MODEL.py[:NAME]...", help="Two or more models, or one with several --hw."),
    hw: Optional[List[str]] = typer.Option(None, "--hw", help="Hardware spec; repeat to compare devices."),
    input_shape: Optional[List[str]] = typer.Option(None, "--input-shape", "-i", help="Input shape for every model, e.g. 1,3,224,224."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Price floating tensors as fp32|fp16|bf16|fp8|int8."),
    batch: Optional[int] = typer.Option(None, "--batch", "-b", help="Override the batch dimension of every input."),
    fuse: bool = typer.Option(False, "--fuse", help="With --hw: model conv/linear + BN + activation fused (TensorRT-style)."),
    top: int = typer.Option(10, "--top", "-k", help="Heaviest layers shown per model when structures differ."),
    fmt: str = typer.Option("table", "--format", "-f", help=f"Output format: {'|'.join(FORMATS)}."),
) -> None:
    """Models (or one model on several devices) side by side, with ratios to the first."""
    _check_format(fmt)
    devices: list[str | None] = list(hw) if hw else [None]
    if top < 1:  # checked before minutes of profiling, not after
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
    _emit(fmt, compare_renderable(comparison), compare_markdown(comparison), document(comparison))


# ---------------------------------------------------------------------------------------------
# effprof crosscheck


def _count(value: int | None) -> str:
    return f"{value:,}" if value is not None else "n/a"


def crosscheck_renderable(check: Crosscheck) -> Group:
    inputs = ", ".join("×".join(str(d) for d in shape) for shape in check.inputs)
    table = Table(title=f"{check.model}  ·  inputs {inputs}  ·  MACs per module (self)", header_style="bold", pad_edge=False)
    table.add_column("Module", no_wrap=True, overflow="ellipsis", max_width=44)
    table.add_column("Type", no_wrap=True, overflow="ellipsis", max_width=20)
    table.add_column("effprof", justify="right", no_wrap=True)
    table.add_column("fvcore", justify="right", no_wrap=True)
    table.add_column("FlopCounterMode/2", justify="right", no_wrap=True)
    table.add_column("Why they differ", overflow="fold", min_width=30)
    for row in [*check.rows, check.total]:
        why = "\n".join(d.text for d in row.differences) if row is not check.total else ""
        style = "bold" if row is check.total else ""
        table.add_row(row.module or "(root)", row.type, _count(row.effprof_macs), _count(row.fvcore_macs),
                      _count(row.flop_counter_macs), why, style=style)
    parts: list[Any] = [table]
    if check.summary:
        parts.append(Text("Differences, summed over modules:", style="bold"))
        for diff in check.summary:
            parts.append(Text(f"  {diff.tool}: {diff.text}", style="red" if diff.category == "unexplained" else ""))
    else:
        parts.append(Text("All three tools agree on every module.", style="green"))
    if check.fvcore_unsupported:
        ops = ", ".join(f"{op} ×{n}" for op, n in check.fvcore_unsupported.items())
        parts.append(Text(f"fvcore's unsupported ops (it counts them as 0): {ops}", style="dim"))
    parts += [Text(f"note: {note}", style="dim") for note in check.notes]
    return Group(*parts)


def crosscheck_markdown(check: Crosscheck) -> str:
    lines = ["| Module | Type | effprof MACs | fvcore | FlopCounterMode/2 | Why they differ |", "|---|---|---|---|---|---|"]
    for row in check.rows:
        why = "<br>".join(d.text for d in row.differences)
        lines.append(f"| `{row.module or '(root)'}` | {row.type} | {_count(row.effprof_macs)} | {_count(row.fvcore_macs)} "
                     f"| {_count(row.flop_counter_macs)} | {why} |")
    t = check.total
    lines.append(f"| **total** | {t.type} | {_count(t.effprof_macs)} | {_count(t.fvcore_macs)} | "
                 f"{_count(t.flop_counter_macs)} | |")
    lines.append("")
    lines += [f"- {d.tool}: {d.text}" for d in check.summary] or ["All three tools agree on every module."]
    lines += [f"- note: {note}" for note in check.notes]
    return "\n".join(lines) + "\n"


@app.command("crosscheck")
def crosscheck_command(
    target: str = typer.Argument(..., metavar="MODEL.py[:NAME]", help="Model file; it is built with real weights on the CPU."),
    input_shape: Optional[List[str]] = typer.Option(None, "--input-shape", "-i", help="Input shape, e.g. 1,3,64,64; keep it small."),
    batch: Optional[int] = typer.Option(None, "--batch", "-b", help="Override the batch dimension of every input."),
    fmt: str = typer.Option("table", "--format", "-f", help=f"Output format: {'|'.join(FORMATS)}."),
) -> None:
    """effprof vs fvcore vs torch's FlopCounterMode, per module, with the reason for each difference."""
    _check_format(fmt)
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
    _emit(fmt, crosscheck_renderable(check), crosscheck_markdown(check), document(check))
