"""Rich renderables for reports. The only module that imports rich's table machinery.

Builds renderables from a Report; printing is the caller's (the CLI's) business.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .aggregate import Layer
from .report import Report
from .units import format_bytes, format_seconds, si

__all__ = ["report_table", "totals_table", "unsupported_text", "notes_text", "render_report"]


def _shape(shape: tuple[int, ...] | None) -> str:
    return "×".join(str(d) for d in shape) if shape else "-"


def _intensity(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _display_name(report: Report, layer: Layer) -> str:
    if not layer.name:
        return f"({layer.type})"
    return "  " * (layer.depth - 1) + layer.name


def report_table(report: Report, rows: list[Layer], *, indent: bool = True) -> Table:
    estimate = report.estimate
    table = Table(title=f"{report.model}  ·  inputs {', '.join(_shape(i.shape) for i in report.inputs)}  ·  {report.dtype}",
                  header_style="bold", expand=False, pad_edge=False)
    table.add_column("Layer", no_wrap=True, overflow="ellipsis", max_width=48)
    table.add_column("Type", no_wrap=True, overflow="ellipsis", max_width=22)
    table.add_column("Kind", no_wrap=True)
    table.add_column("Output", no_wrap=True)
    for title in ("Params", "MACs", "FLOPs", "Bytes R+W", "FLOP/B"):
        table.add_column(title, justify="right", no_wrap=True)
    if estimate is not None:
        for title in ("Latency", "Share", "Bound"):
            table.add_column(title, justify="right", no_wrap=True)
    for layer in rows:
        cells = [
            _display_name(report, layer) if indent else (layer.name or "(root)"),
            layer.type,
            layer.conv_kind or "",
            _shape(layer.output_shape),
            si(layer.params),
            si(layer.macs),
            si(layer.flops),
            format_bytes(layer.bytes_total),
            _intensity(layer.intensity),
        ]
        if estimate is not None:
            cells.extend(estimate.row_cells(layer.name, rows_are_folded=layer not in report.layers))
        table.add_row(*cells)
    return table


def totals_table(report: Report) -> Table:
    t = report.totals
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("Params", f"{si(t.params)}  ({t.params:,})")
    table.add_row("Buffers", f"{si(t.buffers)}  ({t.buffers:,})")
    table.add_row("MACs", f"{si(t.macs)}  ({t.macs:,})")
    table.add_row("FLOPs", f"{si(t.flops)}  ({t.flops:,})")
    table.add_row("Bytes read", format_bytes(t.bytes_read))
    table.add_row("Bytes written", format_bytes(t.bytes_written))
    table.add_row("Intensity", f"{_intensity(t.intensity)} FLOP/B")
    if report.estimate is not None:
        for label, value in report.estimate.summary_rows():
            table.add_row(label, value)
    return table


def unsupported_text(report: Report) -> Text | None:
    if not report.unsupported_ops:
        return None
    ops = ", ".join(f"{op} ×{count}" for op, count in report.unsupported_ops.items())
    return Text(f"Unsupported ops (not counted; totals are a lower bound): {ops}", style="yellow")


def notes_text(report: Report) -> Text | None:
    if not report.notes:
        return None
    return Text("\n".join(f"note: {n}" for n in report.notes), style="dim")


def render_report(report: Report, rows: list[Layer]) -> Group:
    parts = [report_table(report, rows), totals_table(report)]
    parts += [p for p in (unsupported_text(report), notes_text(report)) if p is not None]
    return Group(*parts)
