"""Rich renderables for reports. The only module that imports rich's table machinery.

Builds renderables from a Report; printing is the caller's (the CLI's) business.
"""

from __future__ import annotations

import io

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from ..aggregate import Layer
from ..byop import ByOperator
from ..report import Report
from ..roofline import LayerEstimate, RooflineEstimate
from ..units import format_bytes, format_seconds, si
from ..vocabulary import Bound

__all__ = [
    "ReportTable", "report_table", "by_op_tables", "totals_table", "unsupported_text", "notes_text", "render_report",
    "ROOT_NAME", "report_text", "ESTIMATE_COLUMNS", "estimate_cells", "summary_rows",
]


def _shape(shape: tuple[int, ...] | None) -> str:
    return "×".join(str(d) for d in shape) if shape else "-"


def _intensity(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _inputs_text(report: Report) -> str:
    """'1×3×224×224', or every tensor with its name when there are several (a dict, keywords)."""
    if len(report.inputs) == 1 and report.inputs[0].name == "input":
        return _shape(report.inputs[0].shape)
    return ", ".join(f"{i.name} {_shape(i.shape)}" for i in report.inputs)


def _display_name(report: Report, layer: Layer) -> str:
    if not layer.name:
        return ROOT_NAME
    return "  " * (layer.depth - 1) + layer.name


# the root module's row in every human-readable form (its JSON and CSV name is "")
ROOT_NAME = "(root)"


# --------------------------------------------------------------------------------- the estimate

ESTIMATE_COLUMNS = ("Latency", "Share", "Bound", "I/ridge")


def _bound_style(bound: Bound | None, share: float) -> str | None:
    if bound is Bound.MEMORY:
        return "red" if share >= 0.05 else "yellow"
    if bound is Bound.COMPUTE:
        return "green"
    if bound is Bound.OVERHEAD:
        return "magenta"
    return "dim"


def estimate_cells(estimate: RooflineEstimate, row: LayerEstimate, folded: bool) -> list[tuple[str, str | None]]:
    """(text, style) for the Latency, Share, Bound and I/ridge columns of one table row."""
    bound = row.bound
    if bound is None:
        text = "fused" if row.name in estimate.fused_into and not folded else "-"
        return [("-" if not row.latency_s else format_seconds(row.latency_s), None), ("", None), (text, "dim"), ("", None)]
    ratio = row.intensity_vs_ridge
    return [
        (format_seconds(row.latency_s), None),
        (f"{row.share * 100:.1f}%", None),
        (bound.value, _bound_style(bound, row.share)),
        (f"{ratio:.2f}×" if ratio is not None else "-", None),
    ]


def summary_rows(estimate: RooflineEstimate, top: int = 3) -> list[tuple[str, str]]:
    """(label, text) lines summing up the estimate, under the table and in markdown."""
    total = estimate.total
    unit = estimate.primary
    rows = [
        ("Hardware", f"{estimate.spec.name}: {estimate.spec.description}"),
        ("Run", f"{estimate.dtype}, batch {total.batch}, {'fused (--fuse)' if total.fused else 'eager, one kernel per op'}, "
                f"{total.launches} launches"),
        ("Est. latency", format_seconds(total.latency_s)),
        ("Throughput", f"{total.throughput_per_s:,.1f} inferences/s at batch {total.batch}" if total.throughput_per_s else "-"),
        ("Memory-bound", f"{total.memory_bound_fraction * 100:.1f}% of latency"),
        ("Compute-bound", f"{total.compute_bound_fraction * 100:.1f}% of latency"),
        ("Overhead-bound", f"{total.overhead_fraction * 100:.1f}% of latency (layers whose fixed per-kernel cost "
                           "outweighs their FLOPs and bytes)"),
    ]
    memory_layers = sorted((r for r in estimate.layers if r.bound is Bound.MEMORY), key=lambda r: r.latency_s, reverse=True)[:top]
    if memory_layers:
        rows.append(("Top memory-bound", ", ".join(f"{r.name or '(root)'} {format_seconds(r.latency_s)}" for r in memory_layers)))
    intensity = total.intensity
    if intensity is not None:
        side = "below" if intensity < estimate.ridge_point else "above"
        fused = " as fused" if total.fused else ""
        rows.append(("Intensity", f"{intensity:.2f} FLOP/B{fused}, {side} the ridge point "
                                  f"{estimate.ridge_point:.1f} FLOP/B ({unit.name}, {unit.dtype})"))
    return rows


# --------------------------------------------------------------------------------- the report table

# Columns given up, in this order, when the table is wider than the terminal: numbers are
# never cut to "12.3…", the least needed columns go instead.
_DROP_ORDER = ("Output", "Type", "I/ridge", "FLOP/B", "Share", "Kind")
_TEXT_COLUMNS = {"Layer": 48, "Type": 22, "Kind": None, "Output": None}


class ReportTable:
    """The per-layer table, sized at render time to the console it is printed on."""

    def __init__(self, report: Report, rows: list[Layer], *, indent: bool = True) -> None:
        self.report = report
        self.title = f"{report.model}  ·  inputs {_inputs_text(report)}  ·  {report.dtype}"
        self.columns: dict[str, list[str | Text]] = {title: [] for title in (
            "Layer", "Type", "Kind", "Output", "Params", "MACs", "FLOPs", "Bytes R+W", "FLOP/B",
            *(ESTIMATE_COLUMNS if report.estimate is not None else ()),
        )}
        for layer in rows:
            cells: list[str | Text] = [
                _display_name(report, layer) if indent else (layer.name or ROOT_NAME),
                layer.type, layer.conv_kind or "", _shape(layer.output_shape), si(layer.params),
                si(layer.macs), si(layer.flops), format_bytes(layer.bytes_total), _intensity(layer.intensity),
            ]
            estimate = report.estimate
            if estimate is not None:
                folded = layer not in report.layers
                cells += [Text(text, style=style or "") for text, style in estimate_cells(estimate, estimate.for_row(layer), folded)]
            for title, cell in zip(self.columns, cells):
                self.columns[title].append(cell)

    def table(self, dropped: frozenset[str] = frozenset()) -> Table:
        hidden = [title for title in self.columns if title in dropped]
        caption = f"columns {', '.join(hidden)} hidden to fit the terminal (see --format csv)" if hidden else None
        table = Table(title=self.title, caption=caption, header_style="bold", pad_edge=False)
        kept = [title for title in self.columns if title not in dropped]
        for title in kept:
            if title in _TEXT_COLUMNS:
                table.add_column(title, no_wrap=True, overflow="ellipsis", max_width=_TEXT_COLUMNS[title])
            else:
                widest = max([len(str(c)) for c in self.columns[title]] + [len(title)])
                table.add_column(title, justify="right", no_wrap=True, min_width=widest)
        for row in zip(*(self.columns[title] for title in kept)):
            table.add_row(*row)
        return table

    def _natural_width(self, dropped: frozenset[str]) -> int:
        """Width of the table with every cell in full: cells + 2 of padding + 1 rule each."""
        width = 1
        for title, cells in self.columns.items():
            if title not in dropped:
                widest = max([len(str(c)) for c in cells] + [len(title)])
                width += min(widest, _TEXT_COLUMNS.get(title) or widest) + 3
        return width - 2  # pad_edge=False drops the outer padding

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        dropped: frozenset[str] = frozenset()
        for title in _DROP_ORDER:
            if self._natural_width(dropped) <= options.max_width:
                break
            if title in self.columns:
                dropped |= {title}
        yield self.table(dropped)


def report_table(report: Report, rows: list[Layer], *, indent: bool = True) -> ReportTable:
    return ReportTable(report, rows, indent=indent)


def totals_table(report: Report) -> Table:
    t = report.totals
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row("Params", f"{si(t.params)}  ({t.params:,})")
    table.add_row("Buffers", f"{si(t.buffers)}  ({t.buffers:,})")
    table.add_row("MACs", f"{si(t.macs)}  ({t.macs:,})")
    table.add_row("FLOPs", f"{si(t.flops)}  ({t.flops:,})")
    table.add_row("Bytes read", format_bytes(t.bytes_read))
    table.add_row("Bytes written", format_bytes(t.bytes_written))
    table.add_row("Intensity", f"{_intensity(t.intensity)} FLOP/B")
    if report.estimate is not None:
        for label, value in summary_rows(report.estimate):
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


def by_op_tables(operators: ByOperator, *, top: int | None = None) -> Group:
    """`--by-op`: totals per op (heaviest first) and per (module, op) (execution order; with `top`,
    the heaviest `top` of each)."""
    ops = list(operators.ops)[:top] if top else list(operators.ops)
    module_ops = list(operators.module_ops)
    if top:
        module_ops = sorted(module_ops, key=lambda r: (r.flops, r.bytes_total), reverse=True)[:top]
    everything = sum(r.bytes_total for r in operators.ops) or 1
    by_op = Table(title="By operator", header_style="bold", pad_edge=False)
    for title in ("Op", "Calls", "MACs", "FLOPs", "Bytes R+W", "Bytes %"):
        by_op.add_column(title, justify="left" if title == "Op" else "right", no_wrap=True)
    for row in ops:
        by_op.add_row(row.op, str(row.calls), si(row.macs), si(row.flops), format_bytes(row.bytes_total),
                      f"{100 * row.bytes_total / everything:.1f}%")
    per_module = Table(title="By module and operator", header_style="bold", pad_edge=False)
    for title in ("Module", "Op", "Calls", "Module calls", "MACs", "FLOPs", "Bytes R+W"):
        per_module.add_column(title, justify="left" if title in ("Module", "Op") else "right", no_wrap=True,
                              overflow="ellipsis", max_width=48 if title == "Module" else None)
    for row in module_ops:
        per_module.add_row(row.module or "(root)", row.op, str(row.calls), str(operators.module_calls.get(row.module or "", 0)),
                           si(row.macs), si(row.flops), format_bytes(row.bytes_total))
    return Group(by_op, per_module)


def render_report(report: Report, rows: list[Layer]) -> Group:
    parts: list[RenderableType] = [report_table(report, rows), totals_table(report)]
    parts += [p for p in (unsupported_text(report), notes_text(report)) if p is not None]
    return Group(*parts)


def report_text(report: Report, width: int = 120) -> str:
    """The report's table and totals as plain text: what `print(report)` shows."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, highlight=False, color_system=None)
    console.print(render_report(report, list(report.layers)))
    return buffer.getvalue()
