"""Budgets: limits on a model's params, MACs, bytes or latency, checked as a CI gate (docs/ci.md).

One concern per module, data flowing one way:

- `metrics`: what a budget can limit (`METRICS`), how a limit is written;
- `spec`: a budgets.yaml validated into frozen objects (`load_budgets` -> `BudgetFile`);
- `numbers`: a model's budgetable numbers (`numbers_of(report)` -> `ModelNumbers`), and a
  baseline's (`Baseline`);
- `check`: budgets against numbers, a pure function (`check_model` -> `ModelResult`);
- `baseline`: baseline files read and written;
- `run`: each entry profiled through the public pipeline, then checked (`check(path)`).

Tables and Markdown are `render.budget`'s, JSON is `document`'s, exit codes the CLI's.
"""

from __future__ import annotations

from .baseline import BASELINE_VERSION, baseline_dict, baseline_file_dict, load_baseline, read_baseline, write_baseline
from .check import BudgetResult, CheckResult, Measured, ModelResult, check_against, check_model, is_over, is_regressed
from .metrics import ADVICE_ANY, METRICS, NOT_METRICS, Metric, MetricKind
from .numbers import Baseline, ModelNumbers, numbers_of
from .run import check, measure_entry, profile_entry
from .spec import Budget, BudgetFile, LayerBudget, ModelEntry, load_budgets

__all__ = [
    "Metric",
    "MetricKind",
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
    "Baseline",
    "load_budgets",
    "load_baseline",
    "read_baseline",
    "write_baseline",
    "ModelNumbers",
    "numbers_of",
    "baseline_dict",
    "baseline_file_dict",
    "profile_entry",
    "measure_entry",
    "check_model",
    "check_against",
    "is_over",
    "is_regressed",
    "check",
]
