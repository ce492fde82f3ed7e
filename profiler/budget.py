"""The budgets API under its first name: `profiler.budget` re-exports `profiler.budgets`
(docs/ci.md), where each concern now has its own module. New code imports `profiler.budgets`."""

from __future__ import annotations

from .budgets import (
    ADVICE_ANY,
    BASELINE_VERSION,
    METRICS,
    NOT_METRICS,
    Budget,
    BudgetFile,
    BudgetResult,
    CheckResult,
    LayerBudget,
    Measured,
    Metric,
    ModelEntry,
    ModelNumbers,
    ModelResult,
    baseline_dict,
    baseline_file_dict,
    check,
    check_model,
    load_baseline,
    load_budgets,
    measure_entry,
    numbers_of,
    profile_entry,
)

__all__ = [
    "Metric",
    "METRICS",
    "NOT_METRICS",
    "ADVICE_ANY",
    "Budget",
    "LayerBudget",
    "ModelEntry",
    "BudgetFile",
    "Measured",
    "BudgetResult",
    "ModelResult",
    "CheckResult",
    "BASELINE_VERSION",
    "load_budgets",
    "load_baseline",
    "ModelNumbers",
    "numbers_of",
    "baseline_dict",
    "baseline_file_dict",
    "profile_entry",
    "measure_entry",
    "check_model",
    "check",
    "format_value",
]


def format_value(metric: Metric, value: float | None) -> str:
    """A value in the metric's own unit ('568.74 M', '40.00 MB', '1.500 ms', '60%'): the
    renderers' formatting (`render.budget.format_value`), kept here for callers of this module."""
    from .render.budget import format_value as render_value  # deferred: render is downstream

    return render_value(metric, value)
