"""The numbers a budget is checked against: one model's totals and per-layer numbers, keyed by the
metric sources of `metrics.METRICS`, measured now (`numbers_of(report)`) or recorded in a baseline.

`ModelNumbers` is what `check` reads; `Baseline` is a baseline file's content, typed. Their plain
forms (the baseline file's `{'totals': ..., 'layers': ...}`, a report's JSON document) are read and
written here, so that nothing else handles those dictionaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..report import Report

__all__ = ["ModelNumbers", "Baseline", "numbers_of", "LAYER_NUMBERS"]

# the per-layer numbers a baseline keeps: those per-layer budgets can name
LAYER_NUMBERS = ("params", "macs", "flops", "bytes_read", "bytes_written", "intensity", "latency_s", "launches")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelNumbers:
    """What a budget can name about one model: its totals and each layer's numbers, keyed by the
    metric names of the budget file (and of the baseline file, which stores exactly this)."""

    dtype: str
    totals: Mapping[str, float]
    layers: Mapping[str, Mapping[str, float]]  # layer name -> its numbers, in the report's order
    unsupported_ops: Mapping[str, int] = field(default_factory=dict)
    inputs_guessed: bool = False
    input_shapes: tuple[tuple[int, ...], ...] = ()

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> ModelNumbers:
        """From a report's JSON document (`effprof MODEL --format json`): its numeric fields."""
        totals = {k: v for k, v in data.get("totals", {}).items() if _is_number(v)}
        layers = {
            layer["name"]: {k: layer[k] for k in LAYER_NUMBERS if _is_number(layer.get(k))}
            for layer in data.get("layers", [])
        }
        shapes = tuple(tuple(i["shape"]) for i in data.get("inputs", []))
        return cls(str(data.get("dtype", "")), totals, layers, dict(data.get("unsupported_ops") or {}),
                   bool(data.get("inputs_guessed")), shapes)

    @classmethod
    def from_baseline(cls, data: Mapping[str, Any]) -> ModelNumbers:
        """From one model's part of a baseline file ({'totals': ..., 'layers': ...}): its numbers."""
        totals = {str(k): v for k, v in (data.get("totals") or {}).items() if _is_number(v)}
        layers = {
            str(name): {str(k): v for k, v in numbers.items() if _is_number(v)}
            for name, numbers in (data.get("layers") or {}).items()
            if isinstance(numbers, Mapping)
        }
        return cls("", totals, layers)

    def as_baseline(self) -> dict[str, Any]:
        """What a baseline keeps of one model: its numeric totals and each layer's numbers."""
        return {"totals": dict(self.totals), "layers": {name: dict(values) for name, values in self.layers.items()}}


@dataclass(frozen=True)
class Baseline:
    """A baseline file's content: each model's recorded numbers, by the budget entry's name."""

    source: str  # the file, as the user named it
    models: Mapping[str, ModelNumbers]


def numbers_of(report: Report) -> ModelNumbers:
    """A report's budgetable numbers; the latency metrics only when it carries an estimate."""
    t = report.totals
    totals: dict[str, float | None] = {
        "params": t.params, "buffers": t.buffers, "macs": t.macs, "flops": t.flops,
        "bytes_read": t.bytes_read, "bytes_written": t.bytes_written, "intensity": t.intensity,
    }
    estimate = report.estimate
    if estimate is not None:
        e = estimate.total
        totals.update({
            "latency_s": e.latency_s, "throughput_per_s": e.throughput_per_s,
            "memory_bound_fraction": e.memory_bound_fraction, "compute_bound_fraction": e.compute_bound_fraction,
            "overhead_fraction": e.overhead_fraction, "batch": e.batch, "launches": e.launches,
        })
    layers: dict[str, dict[str, float]] = {}
    for layer in report.layers:
        numbers: dict[str, float | None] = {
            "params": layer.params, "macs": layer.macs, "flops": layer.flops, "bytes_read": layer.bytes_read,
            "bytes_written": layer.bytes_written, "intensity": layer.intensity,
        }
        if estimate is not None:
            row = estimate.layer(layer.name)
            numbers.update({"latency_s": row.latency_s, "launches": row.launches})
        layers[layer.name] = {k: v for k, v in numbers.items() if v is not None}
    return ModelNumbers(report.dtype, {k: v for k, v in totals.items() if v is not None}, layers,
                        dict(report.unsupported_ops), report.inputs_guessed, tuple(i.shape for i in report.inputs))
