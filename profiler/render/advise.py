"""Advice as a rich table (the terminal), Markdown (a PR comment) or JSON (docs/advise.md).

Builds renderables and strings from an `advise.AdviceReport`; printing is the CLI's business.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..document import document
from ..advise import AdviceReport, Finding
from ..units import format_bytes, format_seconds
from .formats import Format
from .markdown import escape, markdown_table
from .registry import renders

__all__ = ["ADVICE_FORMATS", "advice_json", "advice_markdown", "advice_table", "evidence_text", "saving_text"]

ADVICE_FORMATS = ("table", "json", "markdown")
_LAYERS_SHOWN = 3


def saving_text(finding: Finding) -> str:
    """'220.89 µs (30.1%)' for a saving, '-8.49 µs (-1.6%)' for a change that costs."""
    sign = "-" if finding.saving_s < 0 else ""
    return f"{sign}{format_seconds(abs(finding.saving_s))} ({finding.saving_fraction * 100:+.1f}%)"


def _layers_text(finding: Finding) -> str:
    shown = ", ".join(name or "(root)" for name in finding.layers[:_LAYERS_SHOWN])
    more = len(finding.layers) - _LAYERS_SHOWN
    return shown + (f" +{more} more" if more > 0 else "")


def _value_text(key: str, value: Any) -> str:
    """An evidence value in the unit its key names: seconds, bytes, a share, or a count."""
    if isinstance(value, list):
        return "x".join(str(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if key.endswith("_s"):
        return format_seconds(value)
    if key.endswith("_bytes"):
        return format_bytes(value)
    if key.endswith("share"):
        return f"{value * 100:.1f}%"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def evidence_text(finding: Finding) -> str:
    """'in_channels=3, out_channels=32, ...': the numbers behind a finding, on one line."""
    return ", ".join(f"{key}={_value_text(key, value)}" for key, value in finding.evidence.items()
                     if key not in ("priced", "alignment_source"))


def _summary(report: AdviceReport) -> str:
    totals = report.totals
    return (f"{report.model} on {report.hardware}, {totals.dtype}, batch {totals.batch}: "
            f"{format_seconds(totals.cost.latency_s)} estimated, {format_bytes(totals.cost.bytes)} moved, "
            f"{totals.launches} launches; {len(report.findings)} finding{'s' if len(report.findings) != 1 else ''}")


@renders(AdviceReport, Format.TABLE)
def advice_table(report: AdviceReport) -> RenderableType:
    table = Table(title=_summary(report), title_justify="left", show_lines=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Layers")
    table.add_column("Change")
    table.add_column("Saving", justify="right", no_wrap=True)
    table.add_column("Latency before → after", justify="right")
    table.add_column("Bytes before → after", justify="right")
    for finding in report.findings:
        style = "green" if finding.saving_s > 0 else "dim"
        table.add_row(
            finding.rule, _layers_text(finding),
            Text.assemble(finding.message, "\n", (evidence_text(finding), "dim")),
            Text(saving_text(finding), style=style),
            f"{format_seconds(finding.before.latency_s)} → {format_seconds(finding.after.latency_s)}",
            f"{format_bytes(finding.before.bytes)} → {format_bytes(finding.after.bytes)}",
        )
    notes = [Text(f"note: {note}", style="dim") for note in report.notes]
    if not report.findings:
        return Group(Text(_summary(report)), Text(f"no findings for rules {', '.join(report.rules)}"), *notes)
    return Group(table, *notes)


def _markdown_layers(finding: Finding) -> str:
    """'`a`, `b`, `c` +2 more'."""
    more = len(finding.layers) - _LAYERS_SHOWN
    return ", ".join(f"`{name}`" for name in finding.layers[:_LAYERS_SHOWN]) + (f" +{more} more" if more > 0 else "")


@renders(AdviceReport, Format.MARKDOWN)
def advice_markdown(report: AdviceReport) -> str:
    lines = [f"**{escape(_summary(report))}**", ""]
    if report.findings:
        header = ["Rule", "Layers", "Change", "Saving", "Latency before → after", "Bytes before → after"]
        rows = [
            [f.rule, _markdown_layers(f), f"{f.message}<br>{evidence_text(f)}", saving_text(f),
             f"{format_seconds(f.before.latency_s)} → {format_seconds(f.after.latency_s)}",
             f"{format_bytes(f.before.bytes)} → {format_bytes(f.after.bytes)}"]
            for f in report.findings
        ]
        lines += markdown_table(header, rows, align=["---", "---", "---", "---:", "---:", "---:"])
    else:
        lines.append(f"No findings for rules {', '.join(report.rules)}.")
    if report.notes:
        lines += ["", *(f"- {escape(note)}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def advice_json(report: AdviceReport) -> str:
    return json.dumps(document(report), indent=2) + "\n"
