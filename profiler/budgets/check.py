"""Budgets against numbers: a pure function of the typed spec, the measured numbers and an optional
baseline, to typed results. No file, no model, no printing: `run.check` does the I/O around it.

A per-layer budget (`layers: {"features.*": {macs: 400M}}`) applies to *each* layer whose name
matches the glob, not to their sum: "no layer of the backbone above 400M MACs". Layers are the
report's layers (modules with ops of their own, self numbers), so a container such as `features.1`
is reached with `features.1.*`.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ..errors import SpecError, did_you_mean
from ..report import Report
from ..units import format_percent
from .metrics import Metric
from .numbers import Baseline, ModelNumbers, numbers_of
from .spec import Budget, ModelEntry

__all__ = [
    "Measured", "BudgetResult", "ModelResult", "CheckResult", "check_model", "check_against", "is_over", "is_regressed",
]


@dataclass(frozen=True)
class Measured:
    """One measured value of a budget: the model total (`layer` None) or one matching layer."""

    layer: str | None
    actual: float | None  # None: the report has no such number (say, intensity of a layer moving no bytes)
    over: bool
    baseline: float | None = None  # None: no baseline, or the baseline lacks this model or layer
    regressed: bool = False

    @property
    def change(self) -> float | None:
        """Relative change since the baseline (0.03 = grew 3 %); None without one, inf from zero."""
        if self.baseline is None or self.actual is None:
            return None
        if self.baseline == 0:
            return 0.0 if self.actual == 0 else math.copysign(math.inf, self.actual)
        return (self.actual - self.baseline) / abs(self.baseline)


@dataclass(frozen=True)
class BudgetResult:
    """A budget against its measurements: one for a model total, one per matching layer for a glob."""

    budget: Budget
    pattern: str | None
    values: tuple[Measured, ...]

    @property
    def metric(self) -> Metric:
        return self.budget.spec

    @property
    def over(self) -> bool:
        return any(v.over for v in self.values)

    @property
    def regressed(self) -> bool:
        return any(v.regressed for v in self.values)

    def headroom(self, value: Measured) -> float | None:
        """Room left before the limit, in the metric's unit; negative when over."""
        if value.actual is None:
            return None
        if self.metric.higher_is_better:
            return value.actual - self.budget.limit
        return self.budget.limit - value.actual

    @property
    def worst(self) -> Measured:
        """The value to show: unmeasured first, then the least headroom."""
        return min(self.values, key=lambda v: (v.actual is not None, self.headroom(v) or 0.0))

    @property
    def worst_change(self) -> Measured:
        """The value that worsened most since the baseline (the worst one when none has a baseline)."""
        sign = -1.0 if self.metric.higher_is_better else 1.0
        with_change = [v for v in self.values if v.change is not None]
        if not with_change:
            return self.worst
        return max(with_change, key=lambda v: (v.regressed, sign * (v.change or 0.0)))


@dataclass(frozen=True)
class ModelResult:
    name: str
    target: str
    hw: str | None
    dtype: str
    results: tuple[BudgetResult, ...]
    notes: tuple[str, ...] = ()
    inputs_guessed: bool = False
    # the numbers the budgets were checked against: what --write-baseline stores for this model
    numbers: ModelNumbers | None = field(default=None, repr=False, compare=False)

    @property
    def over(self) -> int:
        return sum(r.over for r in self.results)

    @property
    def regressed(self) -> int:
        return sum(r.regressed for r in self.results)

    @property
    def measured(self) -> dict[str, Any]:
        """The baseline file's record of this model: numeric totals and per-layer numbers."""
        return self.numbers.as_baseline() if self.numbers is not None else {"totals": {}, "layers": {}}


@dataclass(frozen=True)
class CheckResult:
    """Every model's budgets. `ok` is what CI gates on: nothing over, nothing regressed."""

    path: Path
    models: tuple[ModelResult, ...]
    baseline: str | None = None
    tolerance: float | None = None

    @property
    def budget_count(self) -> int:
        return sum(len(m.results) for m in self.models)

    @property
    def over(self) -> int:
        return sum(m.over for m in self.models)

    @property
    def regressed(self) -> int:
        return sum(m.regressed for m in self.models)

    @property
    def ok(self) -> bool:
        return self.over == 0 and self.regressed == 0

    def summary(self) -> str:
        """'2 models, 7 budgets: all within' or '... 1 over budget', plus regressions with a baseline."""
        models = f"{len(self.models)} model{'s' if len(self.models) != 1 else ''}"
        budgets = f"{self.budget_count} budget{'s' if self.budget_count != 1 else ''}"
        text = f"{models}, {budgets}: " + ("all within" if self.over == 0 else f"{self.over} over budget")
        if self.baseline is not None:
            tolerance = format_percent(self.tolerance or 0.0)
            if self.regressed:
                text += f"; {self.regressed} grew more than {tolerance} since {self.baseline}"
            else:
                text += f"; none grew more than {tolerance} since {self.baseline}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The JSON `effprof check --format json` prints (docs/ci.md); add, never rename."""
        from ..document import document  # the one JSON builder sits downstream of every result type

        data: dict[str, Any] = document(self)
        return data


def _value(metric: Metric, numbers: Mapping[str, float]) -> float | None:
    parts: list[float] = []
    for key in metric.sources:
        part = numbers.get(key)
        if not isinstance(part, (int, float)) or isinstance(part, bool):
            return None
        parts.append(part)
    return sum(parts)  # ints stay ints: the JSON writes 568740352, not 568740352.0


def is_over(metric: Metric, actual: float | None, limit: float) -> bool:
    """Past the limit: above a ceiling, below a floor. An unmeasured value never passes."""
    if actual is None:
        return True
    return actual < limit if metric.higher_is_better else actual > limit


def is_regressed(metric: Metric, actual: float | None, baseline: float | None, tolerance: float) -> bool:
    """Worse than the baseline by more than `tolerance` (0.02 = 2 %) of it; growth for a ceiling,
    a drop for a floor. Nothing to compare (no actual or no baseline) is no regression."""
    if actual is None or baseline is None:
        return False
    # 'grew more than tolerance' as a difference against tolerance * baseline: 102 vs 100 at 2 %
    # must pass, and 102 / 100 - 1 is 0.020000000000000018 in floats
    worse = baseline - actual if metric.higher_is_better else actual - baseline
    return worse > tolerance * abs(baseline)


def _measured(budget: Budget, layer: str | None, numbers: Mapping[str, float],
              before: Mapping[str, float] | None, tolerance: float) -> Measured:
    metric = budget.spec
    actual = _value(metric, numbers)
    previous = _value(metric, before) if before is not None else None
    return Measured(layer, actual, is_over(metric, actual, budget.limit), previous,
                    is_regressed(metric, actual, previous, tolerance))


def check_model(
    entry: ModelEntry,
    report: Report | ModelNumbers,
    baseline: ModelNumbers | Mapping[str, Any] | None = None,
    tolerance: float = 0.0,
) -> ModelResult:
    """Compare one report (or its numbers) with `entry`'s budgets.

    `baseline`: this model's recorded numbers (or its part of a baseline file, {'totals': ...,
    'layers': ...}), or None. A metric that grows more than `tolerance` (0.02 = 2 %) since the
    baseline is a regression, even under its limit; for floors (throughput, intensity), a drop is.
    A glob that matches no layer raises SpecError: a budget that checks nothing must not pass.
    """
    numbers = numbers_of(report) if isinstance(report, Report) else report
    before = ModelNumbers.from_baseline(baseline) if isinstance(baseline, Mapping) else baseline
    results = [
        BudgetResult(budget, None, (_measured(budget, None, numbers.totals, before.totals if before else None, tolerance),))
        for budget in entry.budgets
    ]
    names = list(numbers.layers)
    for group in entry.layers:
        matching = [name for name in names if fnmatch.fnmatchcase(name, group.pattern)]
        if not matching:
            raise SpecError(f"{entry.where}: layers.{group.pattern}: matches no layer{_glob_hint(group.pattern, names)}")
        for budget in group.budgets:
            values = tuple(
                _measured(budget, name, numbers.layers[name], before.layers.get(name) if before else None, tolerance)
                for name in matching
            )
            results.append(BudgetResult(budget, group.pattern, values))
    return ModelResult(
        name=entry.name,
        target=entry.target,
        hw=entry.hw,
        dtype=numbers.dtype,
        results=tuple(results),
        notes=_notes(numbers),
        inputs_guessed=numbers.inputs_guessed,
        numbers=numbers,
    )


def check_against(entry: ModelEntry, report: Report | ModelNumbers, baseline: Baseline | None,
                  tolerance: float = 0.0) -> ModelResult:
    """`check_model` with this entry's part of a whole baseline file; an entry the baseline lacks
    is noted, not failed (it has nothing to compare)."""
    recorded = baseline.models.get(entry.name) if baseline is not None else None
    result = check_model(entry, report, recorded, tolerance)
    if baseline is not None and recorded is None:
        note = f"not in the baseline {baseline.source}: no change to compare (rewrite it with --write-baseline)"
        result = replace(result, notes=(*result.notes, note))
    return result


def _notes(numbers: ModelNumbers) -> tuple[str, ...]:
    notes = []
    if numbers.inputs_guessed:
        shapes = ", ".join("x".join(str(d) for d in shape) for shape in numbers.input_shapes)
        notes.append(f"input shape {shapes} guessed from the first layer (guess_inputs: true): the verdict holds for that shape only")
    unsupported = numbers.unsupported_ops
    if unsupported:
        calls = sum(unsupported.values())
        notes.append(
            f"{calls} call{'s' if calls != 1 else ''} of unsupported ops ({', '.join(unsupported)}) are not counted: "
            "MACs, FLOPs, bytes and latency are lower bounds"
        )
    return tuple(notes)


def _glob_hint(pattern: str, names: list[str]) -> str:
    named = [n for n in names if n]
    if any(n.startswith(pattern + ".") for n in named):
        return f" (layers are modules with ops of their own; did you mean '{pattern}.*'?)"
    close = did_you_mean(pattern, named)
    if close:
        return close
    shown = ", ".join(named[:4]) + (", ..." if len(named) > 4 else "")
    return f"; the layers are named like {shown} (see `effprof MODEL --format json`)" if named else "; the model has no layers"
