"""`effprof compare`: several profiles side by side, each with its ratios to the first.

The entries are reports: two or more models, one model on several devices (one report per
hardware spec), or both. First the totals of each; then the layers, matched by name when the
structures align (one model on several devices, a model and its slightly edited variant), else
the top-K heaviest layers of each (MobileNet against its standard-conv twin share almost no layer
names, and pairing unrelated layers would mislead).

Latency and bound come from the report's dictionary form (`latency_s`, `bound`, and the totals'
`latency_s`, `throughput_per_s`, `memory_bound_fraction`), present when the report was profiled
with a hardware spec; without one those fields are None. Plain data only: rendering is the CLI's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

from .errors import UsageError
from .report import Report

__all__ = ["TotalsRow", "LayerCell", "LayerRow", "Comparison", "compare", "ALIGN_FRACTION", "ratio"]

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
    ratios: dict[str, float | None]  # RATIO_KEYS -> this row's value / the first row's
    inputs_guessed: bool = False  # the input shape was guessed from the model's first layer

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "model": self.model, "hardware": self.hardware, "dtype": self.dtype,
            "params": self.params, "macs": self.macs, "flops": self.flops,
            "bytes_read": self.bytes_read, "bytes_written": self.bytes_written, "intensity": self.intensity,
            "latency_s": self.latency_s, "throughput_per_s": self.throughput_per_s,
            "memory_bound_fraction": self.memory_bound_fraction, "ratios": dict(self.ratios),
            "inputs_guessed": self.inputs_guessed,
        }


@dataclass(frozen=True)
class LayerCell:
    """One layer of one entry."""

    name: str
    type: str
    conv_kind: str | None
    params: int
    macs: int
    flops: int
    bytes_total: int
    latency_s: float | None
    bound: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cells": [cell.to_dict() if cell is not None else None for cell in self.cells],
            "ratio_macs": [self.ratio("macs", i) for i in range(len(self.cells))],
            "ratio_latency": [self.ratio("latency_s", i) for i in range(len(self.cells))],
        }


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries": [row.to_dict() for row in self.totals],
            "aligned": self.aligned,
            "shared_layers": self.shared_layers,
            "layers": [row.to_dict() for row in self.matched],
            "top": [[cell.to_dict() for cell in cells] for cells in self.top],
            "top_by": self.top_by,
            "notes": list(self.notes),
        }


def _hardware_name(data: dict[str, Any]) -> str | None:
    hardware = data.get("hardware")
    if isinstance(hardware, dict):
        return hardware.get("name")
    return None


def _cells(data: dict[str, Any]) -> list[LayerCell]:
    return [
        LayerCell(
            name=layer["name"],
            type=layer["type"],
            conv_kind=layer.get("conv_kind"),
            params=layer["params"],
            macs=layer["macs"],
            flops=layer["flops"],
            bytes_total=layer["bytes_read"] + layer["bytes_written"],
            latency_s=layer.get("latency_s"),
            bound=layer.get("bound"),
        )
        for layer in data["layers"]
    ]


def compare(reports: Sequence[Report], labels: Sequence[str] | None = None, *, top: int = 10) -> Comparison:
    """Totals of each report with ratios to the first, and their layers side by side."""
    if len(reports) < 2:
        raise UsageError("compare needs two or more models, or one model with two or more --hw")
    if top < 1:
        raise UsageError(f"--top must be 1 or more, got {top}")
    dicts = [report.to_dict() for report in reports]
    if labels is None:
        labels = [
            report.model + (f" @ {_hardware_name(d)}" if _hardware_name(d) else "")
            for report, d in zip(reports, dicts)
        ]
    if len(labels) != len(reports):
        raise UsageError(f"compare got {len(labels)} labels for {len(reports)} reports")

    values = []
    for report, data in zip(reports, dicts):
        t = data["totals"]
        values.append({
            "params": t["params"], "macs": t["macs"], "flops": t["flops"],
            "bytes_total": t["bytes_read"] + t["bytes_written"],
            "latency_s": t.get("latency_s"), "throughput_per_s": t.get("throughput_per_s"),
        })
    totals = tuple(
        TotalsRow(
            label=label,
            model=report.model,
            hardware=_hardware_name(data),
            dtype=report.dtype,
            params=data["totals"]["params"],
            macs=data["totals"]["macs"],
            flops=data["totals"]["flops"],
            bytes_read=data["totals"]["bytes_read"],
            bytes_written=data["totals"]["bytes_written"],
            intensity=data["totals"]["intensity"],
            latency_s=data["totals"].get("latency_s"),
            throughput_per_s=data["totals"].get("throughput_per_s"),
            memory_bound_fraction=data["totals"].get("memory_bound_fraction"),
            ratios={key: ratio(value[key], values[0][key]) for key in RATIO_KEYS},
            inputs_guessed=report.inputs_guessed,
        )
        for label, report, data, value in zip(labels, reports, dicts, values)
    )

    cells = [_cells(d) for d in dicts]
    names = [[cell.name for cell in entry] for entry in cells]
    shared = set(names[0]).intersection(*map(set, names[1:]))
    aligned = len(shared) >= ALIGN_FRACTION * max(len(n) for n in names) and bool(shared)
    has_latency = all(t.latency_s is not None for t in totals)
    top_by = "latency_s" if has_latency else "macs"

    matched: list[LayerRow] = []
    heaviest: list[tuple[LayerCell, ...]] = []
    if aligned:
        order: list[str] = []
        for entry in names:
            order += [name for name in entry if name not in order]
        by_name = [{cell.name: cell for cell in entry} for entry in cells]
        for name in order:
            row = LayerRow(name, tuple(entry.get(name) for entry in by_name))
            # a row of views (flatten at the root) has nothing to compare
            if any(cell is not None and (cell.macs or cell.bytes_total) for cell in row.cells):
                matched.append(row)
    else:
        for entry in cells:
            ranked = sorted(entry, key=lambda c: (getattr(c, top_by) or 0), reverse=True)
            heaviest.append(tuple(ranked[:top]))
    return Comparison(
        totals=totals,
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
