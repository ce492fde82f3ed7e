"""Machine-readable forms of a report: JSON (the stable interface), CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..aggregate import Layer
from ..document import document, layer_document
from ..errors import UsageError, did_you_mean
from .markdown import markdown_table
from .report import summary_rows
from ..report import Report
from ..units import format_bytes, si

__all__ = ["FORMATS", "to_json", "to_csv", "to_markdown", "export"]

FORMATS = ("table", "json", "csv", "markdown")


def to_json(report: Report) -> str:
    return json.dumps(document(report), indent=2)


def _row_dicts(report: Report, rows: list[Layer]) -> list[dict[str, Any]]:
    estimate = report.estimate
    return [layer_document(layer, estimate.for_row(layer) if estimate is not None else None) for layer in rows]


def to_csv(report: Report, rows: list[Layer]) -> str:
    dicts = _row_dicts(report, rows)
    buffer = io.StringIO()
    if dicts:
        writer = csv.DictWriter(buffer, fieldnames=list(dicts[0]), lineterminator="\n")
        writer.writeheader()
        for row in dicts:
            row["output_shape"] = "x".join(str(d) for d in row["output_shape"]) if row["output_shape"] else ""
            writer.writerow(row)
    return buffer.getvalue()


def to_markdown(report: Report, rows: list[Layer]) -> str:
    header = ["Layer", "Type", "Kind", "Params", "MACs", "FLOPs", "Bytes R+W", "FLOP/B"]
    estimate = report.estimate
    if estimate is not None:
        header += ["Latency (µs)", "Bound"]
    table_rows = []
    for layer in rows:
        cells = [
            f"`{layer.name or '(root)'}`", layer.type, layer.conv_kind or "", si(layer.params), si(layer.macs),
            si(layer.flops), format_bytes(layer.bytes_total),
            f"{layer.intensity:.2f}" if layer.intensity is not None else "-",
        ]
        if estimate is not None:
            row = estimate.for_row(layer)
            cells += [f"{row.latency_s * 1e6:.2f}", row.bound.value if row.bound is not None else ""]
        table_rows.append(cells)
    lines = markdown_table(header, table_rows)
    t = report.totals
    lines += ["", f"**Total**: {si(t.params)} params, {si(t.macs)} MACs, {si(t.flops)} FLOPs, "
              f"{format_bytes(t.bytes_total)} moved"]
    if estimate is not None:
        lines += ["", "**Estimate**", ""]
        lines += [f"- {label}: {value}" for label, value in summary_rows(estimate)]
    if report.unsupported_ops:
        lines.append("")
        lines.append("Unsupported ops (not counted): " + ", ".join(f"`{op}` ×{n}" for op, n in report.unsupported_ops.items()))
    return "\n".join(lines) + "\n"


def export(report: Report, rows: list[Layer], fmt: str) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report, rows)
    if fmt == "markdown":
        return to_markdown(report, rows)
    raise UsageError(f"unknown format '{fmt}'{did_you_mean(fmt, FORMATS)}; use one of {', '.join(FORMATS)}")
