"""`effprof compare`: models (or one model on several devices) side by side."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..compare import Comparison, LayerCell
from ..units import format_bytes, format_seconds, si
from .cells import intensity_text, percent_text, times_text
from .formats import Format
from .markdown import markdown_table
from .registry import renders

__all__ = ["compare_renderable", "compare_markdown"]


@renders(Comparison, Format.TABLE)
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
                 intensity_text(row.intensity)]
        if latency:
            cells += [format_seconds(row.latency_s),
                      f"{row.throughput_per_s:,.1f}/s" if row.throughput_per_s is not None else "-",
                      percent_text(row.memory_bound_fraction)]
        cells += [times_text(row.ratios.params), times_text(row.ratios.macs), times_text(row.ratios.bytes_total)]
        if latency:
            cells.append(times_text(row.ratios.latency_s))
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
        for matched in comparison.matched:
            texts: list[str] = [matched.name or "(root)"]
            first = matched.cells[0]
            if one_count and first is not None:
                texts.append(si(first.macs))
            for index, cell in enumerate(matched.cells):
                if not one_count:
                    texts.append(si(cell.macs) if cell else "-")
                texts.append(format_bytes(cell.bytes_total) if cell else "-")
                if latency:
                    texts += [format_seconds(cell.latency_s) if cell else "-", (cell.bound or "") if cell else "-"]
                    if index:
                        texts.append(times_text(matched.ratio("latency_s", index)))
            layers.add_row(*texts)
        parts.append(layers)
        parts.append(Text("  ".join(f"[{i + 1}] {label}" for i, label in enumerate(comparison.labels)), style="dim"))
    else:
        by = "latency" if latency else "MACs"
        parts.append(Text(f"Structures differ ({comparison.shared_layers} layer names shared): "
                          f"the heaviest layers of each, by {by}.", style="dim"))
        for label, heaviest in zip(comparison.labels, comparison.top):
            parts.append(_top_table(label, heaviest, latency))
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
        texts = [cell.name or "(root)", cell.conv_kind or cell.type, si(cell.macs), format_bytes(cell.bytes_total)]
        if latency:
            texts += [format_seconds(cell.latency_s), cell.bound or ""]
        table.add_row(*texts)
    return table


@renders(Comparison, Format.MARKDOWN)
def compare_markdown(comparison: Comparison) -> str:
    latency = comparison.top_by == "latency_s"
    header = ["Model", "Params", "MACs", "Bytes R+W"] + (["Latency", "Mem-bound"] if latency else [])
    header += ["Params ×", "MACs ×", "Bytes ×"] + (["Latency ×"] if latency else [])
    totals = []
    for entry in comparison.totals:
        texts = [f"`{entry.label}`", f"{entry.params:,}", f"{entry.macs:,}", format_bytes(entry.bytes_total)]
        if latency:
            texts += [format_seconds(entry.latency_s), percent_text(entry.memory_bound_fraction)]
        texts += [times_text(entry.ratios.params), times_text(entry.ratios.macs), times_text(entry.ratios.bytes_total)]
        if latency:
            texts.append(times_text(entry.ratios.latency_s))
        totals.append(texts)
    lines = markdown_table(header, totals)
    lines.append("")
    if comparison.aligned:
        header = ["Layer"] + [f"MACs [{i + 1}]" for i in range(len(comparison.labels))]
        if latency:
            header += [f"Latency [{i + 1}]" for i in range(len(comparison.labels))]
        rows = []
        for matched in comparison.matched:
            texts = [f"`{matched.name or '(root)'}`"] + [si(c.macs) if c else "-" for c in matched.cells]
            if latency:
                texts += [f"{format_seconds(c.latency_s)} {c.bound or ''}".strip() if c else "-" for c in matched.cells]
            rows.append(texts)
        lines += markdown_table(header, rows)
        lines += [""] + [f"[{i + 1}] `{label}`  " for i, label in enumerate(comparison.labels)]
    else:
        for label, heaviest in zip(comparison.labels, comparison.top):
            top_rows = []
            for cell in heaviest:
                texts = [f"`{cell.name or '(root)'}`", cell.conv_kind or cell.type, si(cell.macs), format_bytes(cell.bytes_total)]
                if latency:
                    texts += [format_seconds(cell.latency_s), cell.bound or ""]
                top_rows.append(texts)
            lines += [f"Heaviest layers of `{label}`:", ""]
            lines += markdown_table(["Layer", "Kind", "MACs", "Bytes R+W", *(["Latency", "Bound"] if latency else [])], top_rows)
            lines.append("")
    if comparison.notes:
        lines += ([""] if lines[-1] else []) + [f"> note: {note}" for note in comparison.notes]
    return "\n".join(lines).rstrip("\n") + "\n"
