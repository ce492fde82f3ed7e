"""The typed results of `effprof advise`: findings, each priced before and after its change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AdviceReport", "Cost", "Finding", "ModelTotals"]


@dataclass(frozen=True, slots=True)
class Cost:
    """What the engine predicts for one forward call: latency and bytes moved (read + written)."""

    latency_s: float
    bytes: int

    def minus(self, before: Cost, after: Cost) -> Cost:
        """This cost with the difference between `before` and `after` taken off: a change priced
        on a part (one layer, a fused engine) applied to the whole model."""
        return Cost(self.latency_s - (before.latency_s - after.latency_s), self.bytes - (before.bytes - after.bytes))



@dataclass(frozen=True)
class Finding:
    """One piece of advice: a rule, the layers it is about, what to change, the numbers behind it,
    and the model's predicted latency and bytes before and after the change."""

    rule: str
    layers: tuple[str, ...]
    message: str
    evidence: Mapping[str, Any]
    before: Cost
    after: Cost

    @property
    def saving_s(self) -> float:
        return self.before.latency_s - self.after.latency_s

    @property
    def saving_fraction(self) -> float:
        return self.saving_s / self.before.latency_s if self.before.latency_s else 0.0

    @property
    def saving_bytes(self) -> int:
        return self.before.bytes - self.after.bytes



@dataclass(frozen=True, slots=True)
class ModelTotals:
    """The model as it is, on the device: the 'before' of every finding."""

    cost: Cost
    params: int
    macs: int
    flops: int
    launches: int
    dtype: str
    batch: int


@dataclass(frozen=True)
class AdviceReport:
    """Every finding on one model and device, sorted by saving (largest first)."""

    model: str
    hardware: str
    totals: ModelTotals
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    rules: tuple[str, ...] = ()  # the rules that were run
    notes: tuple[str, ...] = ()
