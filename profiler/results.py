"""Results made of several parts: what one command shows at once."""

from __future__ import annotations

from dataclasses import dataclass

from .byop import ByOperator
from .measure import Measurement
from .report import Report

__all__ = ["ProfileResult"]


@dataclass(frozen=True)
class ProfileResult:
    """What `effprof profile` shows: the report, and what `--measure` and `--by-op` add to it."""

    report: Report
    measurement: Measurement | None = None  # a real run against the estimate (--measure)
    by_op: ByOperator | None = None  # totals per operator and per (module, operator) (--by-op)
