"""Measured-against-predicted results as rich tables: `--measure` rows and `effprof validate` lines.

Builds renderables from `measure.Measurement`s; printing is the CLI's business.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..measure import Measurement
from ..realrun import median
from ..results import Validation
from .formats import Format
from .markdown import markdown_table
from .registry import renders
from ..units import format_seconds

__all__ = ["measurement_table", "measurement_summary", "render_measurement", "render_validation", "validation_table",
           "validation_markdown", "validation_summary", "ratio_text", "error_text"]


def ratio_text(ratio: float | None) -> str:
    return f"{ratio:.2f}" if ratio is not None else "-"


def error_text(error: float | None) -> str:
    return f"{error:+.1f}%" if error is not None else "-"


def _ratio_style(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return "green" if 0.8 <= ratio <= 1.25 else "yellow" if 0.5 <= ratio <= 2.0 else "red"


def _spearman_text(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def measurement_table(measurement: Measurement, *, top: int | None = None) -> Table:
    """One row per layer: predicted own latency, measured own latency, predicted/measured."""
    table = Table(title=f"{measurement.model}  ·  measured on {measurement.device_name} ({measurement.device})",
                  header_style="bold", expand=False, pad_edge=False)
    table.add_column("Layer", no_wrap=True, overflow="ellipsis", max_width=48)
    table.add_column("Type", no_wrap=True, overflow="ellipsis", max_width=22)
    for title in ("Predicted", "Measured", "Pred/Meas"):
        table.add_column(title, justify="right", no_wrap=True)
    rows = measurement.layers
    if top is not None:
        rows = sorted(rows, key=lambda r: r.measured_s or 0.0, reverse=True)[:top]
    for row in rows:
        ratio = row.ratio
        table.add_row(row.name or "(root)", row.type, format_seconds(row.predicted_s), format_seconds(row.measured_s),
                      Text(ratio_text(ratio), style=_ratio_style(ratio)))
    return table


def measurement_summary(measurement: Measurement) -> Table:
    m = measurement
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("Predicted latency", format_seconds(m.predicted_total_s))
    table.add_row("Measured latency", f"{format_seconds(m.measured_total_s)}  (median of {m.repeats}, whole forward, no hooks)")
    table.add_row("Error", Text(error_text(m.error_percent), style=_ratio_style(m.ratio)))
    table.add_row("Per-layer Spearman", _spearman_text(m.spearman))
    table.add_row("Hooked forward", f"{format_seconds(m.hooked_total_s)}  (per-layer timing run; includes the hooks' cost)")
    table.add_row("Device", f"{m.device_name} ({m.device}, {m.threads} threads)")
    return table


def render_measurement(measurement: Measurement, *, top: int | None = None) -> Group:
    parts: list[Table | Text] = [measurement_table(measurement, top=top), measurement_summary(measurement)]
    if measurement.notes:
        parts.append(Text("\n".join(f"note: {n}" for n in measurement.notes), style="dim"))
    return Group(*parts)


def validation_table(validation: Validation) -> Table:
    """One line per (model, batch): predicted, measured, error, per-layer Spearman."""
    table = Table(title=f"Predicted ({validation.hardware}) against measured", header_style="bold", expand=False, pad_edge=False)
    table.add_column("Model", overflow="fold")
    for title in ("Batch", "Predicted", "Measured", "Error", "Spearman"):
        table.add_column(title, justify="right", no_wrap=True)
    for target, batch, m in _runs(validation):
        model = target if m.guessed_input is None else f"{target} (input {m.guessed_input} guessed)"
        table.add_row(model, "-" if batch is None else str(batch), format_seconds(m.predicted_total_s),
                      format_seconds(m.measured_total_s), Text(error_text(m.error_percent), style=_ratio_style(m.ratio)),
                      _spearman_text(m.spearman))
    return table


def _runs(validation: Validation) -> list[tuple[str, int | None, Measurement]]:
    return [(run.target, run.batch, run.measurement) for run in validation.runs]


@renders(Validation, Format.MARKDOWN)
def validation_markdown(validation: Validation) -> str:
    rows = [
        [f"`{target}`" + ("" if m.guessed_input is None else f" (input {m.guessed_input} guessed)"),
         "-" if batch is None else str(batch), format_seconds(m.predicted_total_s), format_seconds(m.measured_total_s),
         error_text(m.error_percent), _spearman_text(m.spearman)]
        for target, batch, m in _runs(validation)
    ]
    lines = [f"**Predicted ({validation.hardware}) against measured**", ""]
    lines += markdown_table(["Model", "Batch", "Predicted", "Measured", "Error", "Spearman"], rows)
    return "\n".join([*lines, "", validation_summary(validation).plain]) + "\n"


@renders(Validation, Format.TABLE)
def render_validation(validation: Validation) -> Group:
    return Group(validation_table(validation), validation_summary(validation))


def validation_summary(validation: Validation) -> Text:
    results, tolerance_percent = _runs(validation), validation.tolerance_percent
    errors = [m.error_percent for _, _, m in results if m.error_percent is not None]
    inside = sum(1 for e in errors if abs(e) <= tolerance_percent)
    rhos = sorted(m.spearman for _, _, m in results if m.spearman is not None)
    line = f"{inside} of {len(results)} within ±{tolerance_percent:g}%"
    if errors:
        line += f"; median |error| {median([abs(e) for e in errors]):.1f}%"
    if rhos:
        line += f"; per-layer Spearman median {median(rhos):.3f} (from {rhos[0]:.3f} to {rhos[-1]:.3f})"
    return Text(line)
