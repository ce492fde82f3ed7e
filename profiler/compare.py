"""`effprof compare`: several profiles side by side, each with its ratios to the first.

The entries are reports: two or more models, one model on several devices (one report per
hardware spec), or both. First the totals of each; then the layers, matched by name when the
structures align (one model on several devices, a model and its slightly edited variant), else
the top-K heaviest layers of each (MobileNet against its standard-conv twin share almost no layer
names, and pairing unrelated layers would mislead).

Latency and bound come from the report's roofline estimate, present when the report was profiled
with a hardware spec; without one those fields are None. Typed data only: rendering is render's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from .errors import UsageError, option
from .report import Report
from .vocabulary import Bound, ConvKind

__all__ = ["TotalsRow", "LayerCell", "LayerRow", "Comparison", "compare", "ALIGN_FRACTION", "ratio"]

# Heaviest layers shown per model when the structures differ and no --top is given.
DEFAULT_TOP = 10

# Structures align when at least this share of the larger model's layer names occur in every model.
ALIGN_FRACTION = 0.5

# the totals that get a ratio to the first entry
RATIO_KEYS = ("params", "macs", "flops", "bytes_total", "latency_s", "throughput_per_s")


def ratio(value: float | int | None, reference: float | int | None) -> float | None:
    """value / reference; None when either is missing or the reference is zero."""
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


@dataclass(frozen=True)
class Ratios:
    """One entry's totals over the first entry's (None where either is missing or the first is 0)."""

    params: float | None = None
    macs: float | None = None
    flops: float | None = None
    bytes_total: float | None = None
    latency_s: float | None = None
    throughput_per_s: float | None = None

    def __getitem__(self, key: str) -> float | None:
        """`ratios["macs"]`, as when ratios were a dict (kept for code written against that)."""
        if key not in RATIO_KEYS:
            raise KeyError(key)
        return getattr(self, key)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class TotalsRow:
    label: str
    model: str
    hardware: str | None
    dtype: str
    params: int
    macs: int
    flops: int
    bytes_read: int
    bytes_written: int
    intensity: float | None
    latency_s: float | None
    throughput_per_s: float | None
    memory_bound_fraction: float | None
    ratios: Ratios  # this row's totals over the first row's
    inputs_guessed: bool = False  # the input shape was guessed from the model's first layer
    compute_bound_fraction: float | None = None
    overhead_fraction: float | None = None

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written

    def value(self, key: str) -> float | int | None:
        """One of RATIO_KEYS."""
        found: float | int | None = getattr(self, key)  # RATIO_KEYS name numeric fields only
        return found


@dataclass(frozen=True)
class LayerCell:
    """One layer of one entry."""

    name: str
    type: str
    conv_kind: ConvKind | None
    params: int
    macs: int
    flops: int
    bytes_total: int
    latency_s: float | None
    bound: Bound | None


@dataclass(frozen=True)
class LayerRow:
    """A layer name and its cell in each entry (None where that entry has no such layer)."""

    name: str
    cells: tuple[LayerCell | None, ...]

    def ratio(self, key: str, index: int) -> float | None:
        cell, first = self.cells[index], self.cells[0]
        if cell is None or first is None:
            return None
        return ratio(getattr(cell, key), getattr(first, key))


@dataclass(frozen=True)
class Comparison:
    totals: tuple[TotalsRow, ...]
    aligned: bool
    shared_layers: int
    matched: tuple[LayerRow, ...]  # when aligned
    top: tuple[tuple[LayerCell, ...], ...]  # when not: each entry's heaviest layers
    top_by: str  # "latency_s" with hardware, else "macs"
    notes: tuple[str, ...] = ()  # guessed input shapes: the comparison may not be of the models' real shapes

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(row.label for row in self.totals)


def _hardware_name(report: Report) -> str | None:
    return report.estimate.spec.name if report.estimate is not None else None


def _cells(report: Report) -> list[LayerCell]:
    estimate = report.estimate
    cells = []
    for layer in report.layers:
        row = estimate.layer(layer.name) if estimate is not None else None
        cells.append(LayerCell(
            name=layer.name,
            type=layer.type,
            conv_kind=layer.conv_kind,
            params=layer.params,
            macs=layer.macs,
            flops=layer.flops,
            bytes_total=layer.bytes_total,
            latency_s=row.latency_s if row is not None else None,
            bound=row.bound if row is not None else None,
        ))
    return cells


def compare(reports: Sequence[Report], labels: Sequence[str] | None = None, *, top: int | None = None) -> Comparison:
    """Totals of each report with ratios to the first, and their layers side by side.

    `top` keeps the K heaviest layers (by latency with hardware, else MACs): of each model when the
    structures differ (10 when not given), of the matched rows when they align (all when not given)."""
    if len(reports) < 2:
        raise UsageError("compare needs two or more models, or one model with two or more ", option("hardware"))
    if top is not None and top < 1:
        raise UsageError(option("top"), f" must be 1 or more, got {top}")
    if labels is None:
        labels = [report.model + (f" @ {_hardware_name(report)}" if _hardware_name(report) else "") for report in reports]
    if len(labels) != len(reports):
        raise UsageError(f"compare got {len(labels)} labels for {len(reports)} reports")

    totals: list[TotalsRow] = []
    for label, report in zip(labels, reports):
        t = report.totals
        estimate = report.estimate.total if report.estimate is not None else None
        entry = TotalsRow(
            label=label,
            model=report.model,
            hardware=_hardware_name(report),
            dtype=report.dtype,
            params=t.params,
            macs=t.macs,
            flops=t.flops,
            bytes_read=t.bytes_read,
            bytes_written=t.bytes_written,
            intensity=t.intensity,
            latency_s=estimate.latency_s if estimate is not None else None,
            throughput_per_s=estimate.throughput_per_s if estimate is not None else None,
            memory_bound_fraction=estimate.memory_bound_fraction if estimate is not None else None,
            ratios=Ratios(),
            inputs_guessed=report.inputs_guessed,
            compute_bound_fraction=estimate.compute_bound_fraction if estimate is not None else None,
            overhead_fraction=estimate.overhead_fraction if estimate is not None else None,
        )
        first = totals[0] if totals else entry
        totals.append(replace(entry, ratios=Ratios(**{key: ratio(entry.value(key), first.value(key)) for key in RATIO_KEYS})))

    cells = [_cells(report) for report in reports]
    names = [[cell.name for cell in entry] for entry in cells]
    shared = set(names[0]).intersection(*map(set, names[1:]))
    aligned = len(shared) >= ALIGN_FRACTION * max(len(n) for n in names) and bool(shared)
    has_latency = all(t.latency_s is not None for t in totals)
    top_by = "latency_s" if has_latency else "macs"

    matched: list[LayerRow] = []
    heaviest: list[tuple[LayerCell, ...]] = []
    if aligned:
        order: list[str] = []
        for entry_names in names:
            order += [name for name in entry_names if name not in order]
        by_name = [{cell.name: cell for cell in entry_cells} for entry_cells in cells]
        for name in order:
            row = LayerRow(name, tuple(cells_by_name.get(name) for cells_by_name in by_name))
            # a row of views (flatten at the root) has nothing to compare
            if any(cell is not None and (cell.macs or cell.bytes_total) for cell in row.cells):
                matched.append(row)
        if top is not None:
            matched = sorted(matched, key=lambda row: max((getattr(c, top_by) or 0) for c in row.cells if c is not None),
                             reverse=True)[:top]
    else:
        for entry_cells in cells:
            ranked = sorted(entry_cells, key=lambda c: (getattr(c, top_by) or 0), reverse=True)
            heaviest.append(tuple(ranked[:top if top is not None else DEFAULT_TOP]))
    return Comparison(
        totals=tuple(totals),
        aligned=aligned,
        shared_layers=len(shared),
        matched=tuple(matched),
        top=tuple(heaviest),
        top_by=top_by,
        notes=tuple(
            f"{label}: input shape {', '.join('x'.join(map(str, i.shape)) for i in report.inputs)} guessed from the "
            "first layer; give the real one with --input-shape, or example_inputs() in the model file"
            for label, report in zip(labels, reports)
            if report.inputs_guessed
        ),
    )
