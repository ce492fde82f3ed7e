"""Running a budget file: each entry profiled through the public pipeline (`api.profile_loaded`,
`advise_loaded` for advice budgets), then checked (`check.check_against`).

A model that cannot be imported, built or run on its inputs raises ModelLoadError naming the entry
(loading and tracing already turn the model's own exceptions into EffprofErrors; anything else is
an effprof bug and propagates): a budget never passes because its model did not load.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Callable

from ..advise import advice_totals, advise_loaded
from ..api import profile_loaded
from ..errors import EffprofError, ModelLoadError
from ..loading import InputsNotGiven, LoadedModel, load_model
from ..report import Report
from .baseline import read_baseline
from .check import CheckResult, check_against
from .metrics import ADVICE_ANY
from .numbers import ModelNumbers, numbers_of
from .spec import ModelEntry, load_budgets

__all__ = ["profile_entry", "measure_entry", "check"]


def profile_entry(entry: ModelEntry) -> Report:
    """Load and profile one entry (its inputs, batch, dtype, hw and fuse), or ModelLoadError."""
    return _profiled(entry)[1]


def measure_entry(entry: ModelEntry) -> ModelNumbers:
    """Profile one entry into the numbers its budgets name, advice savings included when a budget
    names one (`advice.G4`: the entry's model is then also reviewed by `advise` on its device)."""
    loaded, report = _profiled(entry)
    numbers = numbers_of(report)
    advice = [b.metric for b in entry.budgets if b.metric.startswith("advice.")]
    if not advice:
        return numbers
    rules = None if ADVICE_ANY in advice else [name.removeprefix("advice.") for name in advice]
    try:
        reviewed = advise_loaded(loaded, hardware=entry.hw, dtype=entry.dtype, rules=rules)
    except EffprofError as error:
        raise ModelLoadError(f"{entry.where}: {error}") from error
    return replace(numbers, totals={**numbers.totals, **advice_totals(reviewed)})


def _profiled(entry: ModelEntry) -> tuple[LoadedModel, Report]:
    try:
        loaded = load_model(entry.target, list(entry.inputs) or None, entry.batch, entry.guess_inputs)
        return loaded, profile_loaded(loaded, dtype=entry.dtype, hardware=entry.hw, fuse=bool(entry.fuse))
    except InputsNotGiven as error:
        # a budget judged at a shape nobody chose is a silent wrong verdict
        example = f"inputs: [[{', '.join(str(d) for d in error.guess.shape)}]]" if error.guess else "inputs: [[1, 3, 224, 224]]"
        raise ModelLoadError(
            f"{entry.where}: no inputs: add '{example}' (the model's real shape) to the entry, define example_inputs() "
            "in the model file, or add 'guess_inputs: true' to accept a shape guessed from the first layer"
            + (f" ({error.guess})" if error.guess else "")
        ) from None
    except EffprofError as error:
        raise ModelLoadError(f"{entry.where}: {error}") from error


def check(
    path: str | os.PathLike[str],
    *,
    baseline: str | os.PathLike[str] | None = None,
    tolerance: float = 0.0,
    measure: Callable[[ModelEntry], Report | ModelNumbers] = measure_entry,
) -> CheckResult:
    """Load `path` (every entry validated first), read the baseline, then profile every model with
    `measure`, one after another, and check its budgets; the first model that fails stops it."""
    budgets = load_budgets(path)
    before = read_baseline(baseline) if baseline is not None else None
    models = tuple(check_against(entry, measure(entry), before, tolerance) for entry in budgets.models)
    return CheckResult(budgets.path, models, str(baseline) if baseline is not None else None,
                       tolerance if baseline is not None else None)
