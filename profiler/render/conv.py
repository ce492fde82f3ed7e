"""`effprof conv`: one convolution in five forms, as a table and as Markdown."""

from __future__ import annotations


from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..convtable import ConvTable
from ..units import format_bytes, format_seconds, si
from .cells import fraction_text, intensity_text
from .formats import Format
from .markdown import markdown_table
from .registry import renders

__all__ = ["conv_renderable", "conv_markdown"]


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


@renders(ConvTable, Format.TABLE)
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
        cells: list[str | Text] = [row.kind, f"{row.params:,}", si(row.macs), si(row.flops), format_bytes(row.bytes_total),
                 intensity_text(row.intensity)]
        if latency:
            colour = {"memory": "yellow", "compute": "cyan"}.get(row.bound or "", "")
            cells += [format_seconds(row.latency_s), Text(row.bound or "-", style=colour)]
        match = "" if row.ratio_macs == row.closed_form_value else " ≠"
        cells += [
            f"{float(row.ratio_macs):.4f} ({fraction_text(row.ratio_macs)})",
            f"{row.closed_form} = {fraction_text(row.closed_form_value)}{match}",
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


@renders(ConvTable, Format.MARKDOWN)
def conv_markdown(table: ConvTable) -> str:
    latency = _has_latency(table)
    header = ["Kind", "Params", "MACs", "FLOPs", "Bytes R+W", "FLOP/B"]
    if latency:
        header += ["Latency", "Bound"]
    header += ["MACs ratio", "Closed form", "Params ratio"]
    rows = []
    for row in table.rows:
        cells = [row.kind, f"{row.params:,}", f"{row.macs:,}", f"{row.flops:,}", format_bytes(row.bytes_total),
                 intensity_text(row.intensity)]
        if latency:
            cells += [format_seconds(row.latency_s), row.bound or "-"]
        cells += [f"{float(row.ratio_macs):.4f}", f"{row.closed_form} = {fraction_text(row.closed_form_value)}",
                  f"{float(row.ratio_params):.4f}"]
        rows.append(cells)
    return "\n".join([f"**{_conv_title(table)}**", "", *markdown_table(header, rows)]) + "\n"
