"""The budgets API under its first name: `profiler.budget` re-exports `profiler.budgets`
(docs/ci.md), where each concern now has its own module. New code imports `profiler.budgets`."""

from __future__ import annotations

from .budgets import *  # noqa: F403  (every public name, the same objects)
from .budgets import Metric
from .budgets import __all__ as _budgets_all

__all__ = [*_budgets_all, "format_value"]


def format_value(metric: Metric, value: float | None) -> str:
    """A value in the metric's own unit ('568.74 M', '40.00 MB', '1.500 ms', '60%'): the
    renderers' formatting (`render.budget.format_value`), kept here for callers of this module."""
    from .render.budget import format_value as render_value  # deferred: render is downstream

    return render_value(metric, value)
