"""Budget results as rich tables (the terminal) and Markdown (a PR comment or $GITHUB_STEP_SUMMARY).

Builds renderables and strings from a `budgets.CheckResult`; printing is the CLI's business. Every
value is written in its metric's own unit (`format_value`), the same in both.
"""

from __future__ import annotations

import json

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..budgets import BudgetResult, CheckResult, Measured, Metric, MetricKind, ModelResult
from ..document import document
from ..units import format_bytes, format_percent, format_seconds, si
from .formats import Format
from .markdown import escape, markdown_table
from .registry import renders

__all__ = [
    "budget_tables", "budget_markdown", "budget_json", "format_value", "limit_text", "headroom_text", "change_text",
]


def format_value(metric: Metric, value: float | None) -> str:
    """A value in the metric's own unit: '568.74 M', '40.00 MB', '1.500 ms', '60.0%'."""
    if value is None:
        return "n/a"
    if metric.kind is MetricKind.BYTES:
        return format_bytes(value)
    if metric.kind is MetricKind.SECONDS:
        # in the unit the budget is written in: latency_ms: 0.75 reads back as '0.750 ms', not '750.00 µs'
        if metric.unit == 1e-3:
            return f"{value * 1e3:.3f} ms"
        if metric.unit == 1e-6:
            return f"{value * 1e6:.2f} µs"
        return format_seconds(value)
    if metric.kind is MetricKind.FRACTION:
        return format_percent(value)
    if metric.kind is MetricKind.INTENSITY:
        return f"{value:.2f} FLOP/B"
    if metric.kind is MetricKind.RATE:
        return f"{si(value)}/s"
    return si(value)


def limit_text(result: BudgetResult) -> str:
    """'≤ 600.00 M' for a ceiling, '≥ 1.00 K/s' for a floor."""
    sign = "≥" if result.metric.higher_is_better else "≤"
    return f"{sign} {format_value(result.metric, result.budget.limit)}"


def headroom_text(result: BudgetResult, value: Measured) -> str:
    """'31.26 M left (5.2%)' within budget; '12.00 M over (+2.1%)' past it (percent of the limit)."""
    room = result.headroom(value)
    if room is None:
        return "not measured"
    metric, limit = result.metric, result.budget.limit
    if metric.kind is MetricKind.FRACTION:
        # a fraction's headroom in points: '15.0 pts', not a percentage of a percentage
        amount = f"{abs(room) * 100:.1f} pts"
    else:
        amount = format_value(metric, abs(room))
    share = f"{abs(room) / limit * 100:.1f}%" if limit else ""
    if not value.over:
        return f"{amount} left" + (f" ({share})" if share else "")
    word = "under" if metric.higher_is_better else "over"
    sign = "-" if metric.higher_is_better else "+"
    return f"{amount} {word}" + (f" ({sign}{share})" if share else "")


def change_text(value: Measured) -> str:
    """'+3.00%' since the baseline; 'new' when the baseline lacks this value."""
    change = value.change
    if change is None:
        return "new"
    if change in (float("inf"), float("-inf")):
        return "+∞" if change > 0 else "-∞"
    return f"{change * 100:+.2f}%"


def _label(result: BudgetResult) -> tuple[str, str | None]:
    """The metric cell, and a second line naming the layer shown for a glob."""
    if result.pattern is None:
        return result.budget.metric, None
    shown = _shown(result)
    count = len(result.values)
    layers = f"{count} layer{'s' if count != 1 else ''}"
    if result.over:
        why = f"{sum(v.over for v in result.values)} of {layers} over"
    elif result.regressed:
        why = f"grew most of {layers}"
    else:
        why = f"closest of {layers}"
    return f"{result.budget.metric} @ {result.pattern}", f"{_layer_name(shown.layer)}: {why}"


def _layer_name(name: str | None) -> str:
    return "(root)" if name == "" else (name or "")


def _shown(result: BudgetResult) -> Measured:
    if result.over:
        return result.worst
    if result.regressed:
        return result.worst_change
    return result.worst


def _baseline_cells(result: BudgetResult, shown: Measured) -> tuple[str, str, bool]:
    """Baseline and change: of the shown value, or of the layer that regressed most when that is
    another layer (a glob over budget in one layer and grown in another shows both)."""
    value = result.worst_change if result.regressed else shown
    change = change_text(value)
    if value.layer != shown.layer:
        change += f" ({_layer_name(value.layer)})"
    before = format_value(result.metric, value.baseline) if value.baseline is not None else "-"
    return before, change, value.regressed


def _title(model: ModelResult) -> str:
    parts = [model.name]
    if model.hw:
        parts.append(model.hw)
    if model.dtype:
        parts.append(model.dtype)
    return "  ·  ".join(parts)


def model_table(model: ModelResult, with_baseline: bool) -> Table:
    table = Table(title=_title(model), title_justify="left", header_style="bold", pad_edge=False)
    table.add_column("Metric", no_wrap=True)
    table.add_column("Budget", justify="right", no_wrap=True)
    table.add_column("Actual", justify="right", no_wrap=True)
    table.add_column("Headroom", justify="right", no_wrap=True)
    if with_baseline:
        table.add_column("Baseline", justify="right", no_wrap=True)
        table.add_column("Change", justify="right", no_wrap=True)
    for result in model.results:
        value = _shown(result)
        label, detail = _label(result)
        metric_cell = Text(label)
        if detail:
            metric_cell.append("\n" + detail, style="dim")
        cells: list[RenderableType] = [
            metric_cell,
            limit_text(result),
            format_value(result.metric, value.actual),
            Text(headroom_text(result, value), style="bold red" if value.over else "green"),
        ]
        if with_baseline:
            before, change, regressed = _baseline_cells(result, value)
            cells += [before, Text(change, style="bold red" if regressed else "")]
        table.add_row(*cells)
    return table


@renders(CheckResult, Format.TABLE)
def budget_tables(check: CheckResult) -> Group:
    """One table per model, its notes, and the summary line."""
    parts: list[RenderableType] = []
    for model in check.models:
        parts.append(model_table(model, check.baseline is not None))
        for note in model.notes:
            parts.append(Text(f"note: {note}", style="yellow"))
        parts.append(Text(""))
    parts.append(Text(check.summary(), style="bold green" if check.ok else "bold red"))
    return Group(*parts)


@renders(CheckResult, Format.MARKDOWN)
def budget_markdown(check: CheckResult) -> str:
    """GitHub-flavoured Markdown: a heading with the verdict, a table per model, the summary."""
    mark = "✅" if check.ok else "❌"
    lines = [f"## {mark} effprof check: {check.summary()}", ""]
    header = ["Metric", "Budget", "Actual", "Headroom"]
    if check.baseline is not None:
        header += ["Baseline", "Change"]
    for model in check.models:
        rows = []
        for result in model.results:
            value = _shown(result)
            label, detail = _label(result)
            headroom = headroom_text(result, value)
            cells = [
                f"`{label}`" + (f" ({detail})" if detail else ""),
                limit_text(result),
                format_value(result.metric, value.actual),
                f"❌ **{headroom}**" if value.over else headroom,
            ]
            if check.baseline is not None:
                before, change, regressed = _baseline_cells(result, value)
                cells += [before, f"❌ **{change}**" if regressed else change]
            rows.append(cells)
        lines += [f"### {escape(_title(model))}", "", *markdown_table(header, rows), ""]
        lines += [f"> note: {note}" for note in model.notes]
        if model.notes:
            lines.append("")
    lines.append(f"**{check.summary()}**")
    return "\n".join(lines) + "\n"


def budget_json(check: CheckResult) -> str:
    return json.dumps(document(check), indent=2)
