"""Results made of several parts: what one command shows at once."""

from __future__ import annotations

from dataclasses import dataclass

from .aggregate import Layer
from .byop import ByOperator
from .hardware import HardwareSpec
from .measure import Measurement
from .report import Report

__all__ = ["ProfileResult", "ValidationRun", "Validation", "SpecList"]


@dataclass(frozen=True)
class ProfileResult:
    """What `effprof profile` shows: the report, and what `--measure` and `--by-op` add to it."""

    report: Report
    measurement: Measurement | None = None  # a real run against the estimate (--measure)
    by_op: ByOperator | None = None  # totals per operator and per (module, operator) (--by-op)
    rows: tuple[Layer, ...] | None = None  # the table's rows (--depth, --sort, --top); None: every layer
    top: int | None = None  # how many rows the --by-op tables keep

    @property
    def shown_rows(self) -> list[Layer]:
        return list(self.rows) if self.rows is not None else list(self.report.layers)


@dataclass(frozen=True)
class ValidationRun:
    """One model at one batch, run for real against its estimate."""

    target: str
    batch: int | None  # None: the model file's own inputs
    measurement: Measurement


@dataclass(frozen=True)
class Validation:
    """`effprof validate`: predicted against measured latency, one run per model and batch."""

    hardware: str
    tolerance_percent: float
    runs: tuple[ValidationRun, ...]

    @property
    def within(self) -> int:
        """Runs whose total latency was predicted within ±tolerance_percent."""
        return sum(1 for r in self.runs if r.measurement.error_percent is not None
                   and abs(r.measurement.error_percent) <= self.tolerance_percent)


@dataclass(frozen=True)
class SpecList:
    """`effprof hw list`: the bundled hardware specs."""

    specs: tuple[HardwareSpec, ...]
