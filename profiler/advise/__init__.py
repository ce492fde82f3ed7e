"""`advise()`: design guidelines as findings on one model, each priced on one device.

The model is profiled once on meta; each rule (`RULES`) looks for a pattern in the profile and the
data flow between its kernels, applies the change to a meta copy of the model (or of the part it
concerns) and profiles that with the same engine, spec, dtype and batch. The user's model is never
changed. docs/advise.md lists the rules, their sources, how each saving is priced, and the limits.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from torch import nn

from ..api import profile
from ..errors import UsageError
from ..hardware import HardwareSpec, load_spec
from ..loading import LoadedModel, with_batch
from ..tracing import ModelInputs, is_meta_module
from ..transforms import meta_copy, replace_modules
from .context import AdviceContext, estimate_of, report_cost
from .findings import AdviceReport, Cost, Finding, ModelTotals
from .rules import RULES, Rule, deployed_blocks

__all__ = [
    "RULES",
    "AdviceReport",
    "Cost",
    "Finding",
    "ModelTotals",
    "Rule",
    "advice_totals",
    "advise",
    "advise_loaded",
    "reparameterize",
    "select_rules",
]


def select_rules(names: Iterable[str] | None) -> list[str]:
    """Rule names as registered, from names typed in any case; all rules when `names` is None."""
    if names is None:
        return list(RULES)
    by_lower = {name.lower(): name for name in RULES}
    chosen = []
    for name in names:
        key = name.strip().lower()
        if key not in by_lower:
            close = difflib.get_close_matches(key, list(by_lower), n=1, cutoff=0.5)
            hint = f" (did you mean '{by_lower[close[0]]}'?)" if close else ""
            raise UsageError(f"unknown advice rule '{name}'{hint}; rules: {', '.join(RULES)}")
        chosen.append(by_lower[key])
    return list(dict.fromkeys(chosen))


def advise(
    model: nn.Module,
    example_inputs: Any = None,
    *,
    hardware: str | Path | HardwareSpec,
    dtype: str | None = None,
    batch: int | None = None,
    name: str | None = None,
    rules: Iterable[str] | None = None,
    min_saving: float | None = None,
) -> AdviceReport:
    """Findings of the advice `rules` (default: all) on `model`, priced on `hardware` in `dtype`.

    Findings are sorted by the latency they save, largest first; with `min_saving` (a fraction of
    the model's latency, e.g. 0.01) only those saving at least that much are kept. The model is
    profiled and changed on a meta copy: it is left exactly as found.
    """
    spec = load_spec(hardware)
    chosen = select_rules(rules)
    inputs = ModelInputs.from_example(example_inputs)
    if batch is not None:
        inputs = with_batch(inputs, batch)
    copy = model if is_meta_module(model) else meta_copy(model)
    report = profile(copy, inputs, dtype=dtype, name=name or type(model).__name__, hardware=spec, allow_real=False)
    ctx = AdviceContext(model=copy, inputs=inputs, report=report, spec=spec)
    findings: list[Finding] = []
    for rule_name in chosen:
        findings.extend(RULES[rule_name].check(ctx))
    if min_saving is not None:
        findings = [f for f in findings if f.saving_fraction >= min_saving]
    findings.sort(key=lambda f: f.saving_s, reverse=True)
    estimate = estimate_of(report)
    totals = ModelTotals(
        cost=report_cost(report), params=report.totals.params, macs=report.totals.macs, flops=report.totals.flops,
        launches=estimate.launches, dtype=estimate.dtype, batch=estimate.batch,
    )
    return AdviceReport(model=report.model, hardware=spec.name, totals=totals, findings=tuple(findings),
                        rules=tuple(chosen), notes=(*report.notes, *ctx.notes))


def advise_loaded(loaded: LoadedModel, **options: Any) -> AdviceReport:
    """`advise` for a model from `loading.load_model` (already on meta, inputs and batch applied)."""
    return advise(loaded.model, loaded.inputs, name=loaded.name, **options)


def advice_totals(report: AdviceReport) -> dict[str, float]:
    """{'advice.RULE': the largest saving fraction among RULE's findings (0.0 with none)} for every
    rule that ran, and 'advice.any' over all of them: what advice budgets (docs/ci.md) check."""
    largest = {f"advice.{rule}": 0.0 for rule in report.rules}
    for finding in report.findings:
        key = f"advice.{finding.rule}"
        largest[key] = max(largest[key], finding.saving_fraction)
    largest["advice.any"] = max(largest.values(), default=0.0)
    return largest


def reparameterize(model: nn.Module, example_inputs: Any = None) -> nn.Module:
    """A copy of `model` with every RepVGG-style block (a KxK conv+BN, a 1x1 conv+BN and an identity
    BN on one input, summed, then an optional activation) merged into one KxK conv: what the
    `reparam` rule prices. Same outputs in eval mode; the blocks are found in a meta trace of one
    forward call, and `model` itself is left as it was."""
    inputs = ModelInputs.from_example(example_inputs)
    report = profile(model, inputs, allow_real=False)
    ctx = AdviceContext(model=model, inputs=inputs, report=report, spec=None)
    return replace_modules(model, deployed_blocks(ctx))
