"""What a budget can limit: every metric's name, how its limit is written, where its value comes from.

The table is the vocabulary shared by the budget file (`budgets: {macs: 600M}`), the numbers a
model is measured in (`numbers.ModelNumbers`, keyed by metric source), the check and the
renderers. tests/test_budget.py fails when the report grows a total this table does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..advise import RULES as ADVICE_RULES

__all__ = ["MetricKind", "Metric", "METRICS", "NOT_METRICS", "ADVICE_ANY", "LIMIT_EXAMPLES"]


class MetricKind(str, Enum):
    """How a metric's limit is parsed and its values printed (a `str` enum: `kind == "bytes"` holds)."""

    COUNT = "count"
    BYTES = "bytes"
    SECONDS = "seconds"
    FRACTION = "fraction"
    INTENSITY = "intensity"
    RATE = "rate"

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Metric:
    """A budgetable quantity: how a limit is written and where the actual value comes from."""

    name: str
    kind: MetricKind  # parsing and printing
    sources: tuple[str, ...]  # the measured numbers (totals, or a layer's) that add up to the value
    higher_is_better: bool = False  # a floor (throughput, intensity) rather than a ceiling
    needs_hw: bool = False  # only the roofline estimate (an entry with `hw:`) measures it
    per_layer: bool = True  # also a number of each layer, so usable under `layers:`
    unit: float = 1.0  # what a bare number means, in seconds for times: latency_ms: 1.5 is 1.5 ms


_COUNT, _BYTES, _SECONDS = MetricKind.COUNT, MetricKind.BYTES, MetricKind.SECONDS
_FRACTION, _INTENSITY, _RATE = MetricKind.FRACTION, MetricKind.INTENSITY, MetricKind.RATE

# Every key of the JSON report's totals (docs/json-schema.md), plus aliases that read better in a budget.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("params", _COUNT, ("params",)),
        Metric("buffers", _COUNT, ("buffers",), per_layer=False),
        Metric("macs", _COUNT, ("macs",)),
        Metric("flops", _COUNT, ("flops",)),
        Metric("bytes_read", _BYTES, ("bytes_read",)),
        Metric("bytes_written", _BYTES, ("bytes_written",)),
        Metric("bytes", _BYTES, ("bytes_read", "bytes_written")),
        Metric("intensity", _INTENSITY, ("intensity",), higher_is_better=True),
        Metric("latency_s", _SECONDS, ("latency_s",), needs_hw=True),
        Metric("latency_ms", _SECONDS, ("latency_s",), needs_hw=True, unit=1e-3),
        Metric("latency_us", _SECONDS, ("latency_s",), needs_hw=True, unit=1e-6),
        Metric("throughput_per_s", _RATE, ("throughput_per_s",), higher_is_better=True, needs_hw=True, per_layer=False),
        Metric("memory_bound_fraction", _FRACTION, ("memory_bound_fraction",), needs_hw=True, per_layer=False),
        Metric("compute_bound_fraction", _FRACTION, ("compute_bound_fraction",), needs_hw=True, per_layer=False),
        Metric("overhead_fraction", _FRACTION, ("overhead_fraction",), needs_hw=True, per_layer=False),
        Metric("launches", _COUNT, ("launches",), needs_hw=True),  # kernel launches, after fusion
    )
}
# Advice budgets (docs/advise.md): `advice.G4: 5%` fails when a G4 finding saves more than 5% of
# the latency on the entry's device; `advice.any` looks at every rule. Only these run `advise`.
ADVICE_ANY = "advice.any"
METRICS.update({
    name: Metric(name, _FRACTION, (name,), needs_hw=True, per_layer=False)
    for name in (*(f"advice.{rule}" for rule in ADVICE_RULES), ADVICE_ANY)
})

# Totals that are settings echoed back, not measurements: nothing to budget.
NOT_METRICS = frozenset({"batch", "fused"})

# a limit of each kind as a budget file writes it, for error messages
LIMIT_EXAMPLES: dict[MetricKind, str] = {
    _COUNT: "600M", _BYTES: "40MB", _SECONDS: "1.5ms", _FRACTION: "0.6 or 60%", _INTENSITY: "8", _RATE: "1.2K",
}
