"""Budgets: limits on a model's params, MACs, bytes or latency, checked as a CI gate.

`load_budgets(path)` validates a budgets.yaml into a `BudgetFile` (model paths are relative to the
YAML file); `profile_entry(entry)` profiles one model; `check_model(entry, report)` compares its
numbers (`numbers_of(report)`, the metrics a budget can name) with the entry's budgets (and an
optional baseline); `check(path)` does all of it. Everything here is typed data: tables are
render's, JSON is document's, exit codes the CLI's.
Reference: docs/ci.md.

A per-layer budget (`layers: {"features.*": {macs: 400M}}`) applies to *each* layer whose name
matches the glob, not to their sum: "no layer of the backbone above 400M MACs". Layers are the
report's layers (modules with ops of their own, self numbers), so a container such as `features.1`
is reached with `features.1.*`.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .advise import RULES as ADVICE_RULES
from .advise import advice_totals, advise_loaded
from .api import profile_loaded
from .dtypes import parse_dtype
from .errors import EffprofError, ModelLoadError, SpecError, UsageError, did_you_mean
from .hardware import load_spec
from .loading import InputSpec, InputsNotGiven, LoadedModel, load_model, parse_input_spec
from .report import Report
from .yamlfile import load_yaml
from .units import format_bytes, format_seconds, parse_bytes, parse_count, parse_seconds, si

__all__ = [
    "Metric",
    "METRICS",
    "NOT_METRICS",
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

BASELINE_VERSION = 1


@dataclass(frozen=True)
class Metric:
    """A budgetable quantity: how a limit is written and where the actual value comes from."""

    name: str
    kind: str  # 'count' | 'bytes' | 'seconds' | 'fraction' | 'intensity' | 'rate': parsing and printing
    sources: tuple[str, ...]  # keys of the report's totals (or layer dict) that add up to the value
    higher_is_better: bool = False  # a floor (throughput, intensity) rather than a ceiling
    needs_hw: bool = False  # only the roofline estimate (an entry with `hw:`) measures it
    per_layer: bool = True  # also a key of each layer dict, so usable under `layers:`
    unit: float = 1.0  # what a bare number means, in seconds for times: latency_ms: 1.5 is 1.5 ms


# Every key of the JSON report's totals (docs/json-schema.md), plus aliases that read better in a
# budget. tests/test_budget.py fails when the report grows a total this table does not know.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("params", "count", ("params",)),
        Metric("buffers", "count", ("buffers",), per_layer=False),
        Metric("macs", "count", ("macs",)),
        Metric("flops", "count", ("flops",)),
        Metric("bytes_read", "bytes", ("bytes_read",)),
        Metric("bytes_written", "bytes", ("bytes_written",)),
        Metric("bytes", "bytes", ("bytes_read", "bytes_written")),
        Metric("intensity", "intensity", ("intensity",), higher_is_better=True),
        Metric("latency_s", "seconds", ("latency_s",), needs_hw=True),
        Metric("latency_ms", "seconds", ("latency_s",), needs_hw=True, unit=1e-3),
        Metric("latency_us", "seconds", ("latency_s",), needs_hw=True, unit=1e-6),
        Metric("throughput_per_s", "rate", ("throughput_per_s",), higher_is_better=True, needs_hw=True, per_layer=False),
        Metric("memory_bound_fraction", "fraction", ("memory_bound_fraction",), needs_hw=True, per_layer=False),
        Metric("compute_bound_fraction", "fraction", ("compute_bound_fraction",), needs_hw=True, per_layer=False),
        Metric("overhead_fraction", "fraction", ("overhead_fraction",), needs_hw=True, per_layer=False),
        Metric("launches", "count", ("launches",), needs_hw=True),  # kernel launches, after fusion
    )
}
# Advice budgets (docs/advise.md): `advice.G4: 5%` fails when a G4 finding saves more than 5% of
# the latency on the entry's device; `advice.any` looks at every rule. Only these run `advise`.
ADVICE_ANY = "advice.any"
METRICS.update({
    name: Metric(name, "fraction", (name,), needs_hw=True, per_layer=False)
    for name in (*(f"advice.{rule}" for rule in ADVICE_RULES), ADVICE_ANY)
})

# Totals that are settings echoed back, not measurements: nothing to budget.
NOT_METRICS = frozenset({"batch", "fused"})

_EXAMPLES = {"count": "600M", "bytes": "40MB", "seconds": "1.5ms", "fraction": "0.6 or 60%",
             "intensity": "8", "rate": "1.2K"}

ENTRY_KEYS = ("name", "model", "inputs", "guess_inputs", "hw", "dtype", "batch", "fuse", "budgets", "layers")
TOP_KEYS = ("models",)
# layer-dict keys a baseline keeps: the numbers per-layer budgets can name
_LAYER_NUMBERS = ("params", "macs", "flops", "bytes_read", "bytes_written", "intensity", "latency_s", "launches")


@dataclass(frozen=True)
class Budget:
    """One limit: `metric` at most (or, for a floor, at least) `limit`, in the metric's base unit
    (a count, bytes, seconds, a fraction, FLOP/B or 1/s)."""

    metric: str
    limit: float

    @property
    def spec(self) -> Metric:
        return METRICS[self.metric]


@dataclass(frozen=True)
class LayerBudget:
    """Budgets that every layer whose name matches `pattern` (fnmatch) must keep, one by one."""

    pattern: str
    budgets: tuple[Budget, ...]


@dataclass(frozen=True)
class ModelEntry:
    """One `models:` entry, validated. `target` is FILE.py[:NAME] with FILE resolved against the
    budget file's folder; `where` names the entry in error messages."""

    name: str
    target: str
    where: str
    inputs: tuple[InputSpec, ...] = ()
    guess_inputs: bool = False  # without inputs or example_inputs(), accept a shape guessed from the first layer
    hw: str | None = None
    dtype: str | None = None
    batch: int | None = None
    fuse: bool | None = None
    budgets: tuple[Budget, ...] = ()
    layers: tuple[LayerBudget, ...] = ()

    @property
    def budget_count(self) -> int:
        return len(self.budgets) + sum(len(group.budgets) for group in self.layers)


@dataclass(frozen=True)
class BudgetFile:
    path: Path
    models: tuple[ModelEntry, ...]

    @property
    def budget_count(self) -> int:
        return sum(entry.budget_count for entry in self.models)


# --- loading and validating budgets.yaml --------------------------------------------------------


def load_budgets(path: str | os.PathLike[str]) -> BudgetFile:
    """Read and validate a budgets.yaml. Raises SpecError naming the file, the entry and the key."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(f"budget file '{path}' not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"cannot read budget file '{path}': {error}") from error
    try:
        data = load_yaml(text, str(path))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(f"{path}{where}: not valid YAML: {problem}") from error
    example = "models: [{model: net.py, budgets: {macs: 600M}}]"
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping with a 'models' list, as in {example}")
    _no_unknown_keys(data, TOP_KEYS, f"{path}")
    models = data.get("models")
    if not isinstance(models, list) or not models:
        raise SpecError(f"{path}: 'models' must be a non-empty list, as in {example}")
    entries = tuple(_parse_entry(raw, index, path) for index, raw in enumerate(models))
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.name in seen:
            raise SpecError(
                f"{entry.where}: the name '{entry.name}' is already used by models[{seen[entry.name]}]; "
                "give each entry a distinct 'name:' (baselines are keyed by it)"
            )
        seen[entry.name] = index
    return BudgetFile(path, entries)


def _no_unknown_keys(data: Mapping[Any, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise SpecError(f"{where}: unknown key '{key}'{did_you_mean(str(key), allowed)}; allowed: {', '.join(allowed)}")


def _parse_entry(raw: Any, index: int, path: Path) -> ModelEntry:
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: models[{index}] must be a mapping with 'model:' and 'budgets:', got {raw!r}")
    model = raw.get("model")
    where = f"{path}: models[{index}]" + (f" ({model})" if isinstance(model, str) else "")
    _no_unknown_keys(raw, ENTRY_KEYS, where)
    if not isinstance(model, str) or not model.strip():
        raise SpecError(f"{where}: 'model:' is required, a FILE.py[:NAME] path relative to the budget file")
    name = raw.get("name", model)
    if not isinstance(name, str) or not name.strip():
        raise SpecError(f"{where}: 'name:' must be a non-empty string, got {name!r}")
    hw = raw.get("hw")
    if hw is not None and (not isinstance(hw, str) or not hw.strip()):
        raise SpecError(f"{where}: 'hw:' must be a hardware name such as t4 (see effprof hw), got {hw!r}")
    dtype = raw.get("dtype")
    if dtype is not None:
        if not isinstance(dtype, str):
            raise SpecError(f"{where}: 'dtype:' must be a name such as fp16, got {dtype!r}")
        try:
            parse_dtype(dtype)
        except UsageError as error:
            raise SpecError(f"{where}: dtype: {error}") from None
    batch = raw.get("batch")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise SpecError(f"{where}: 'batch:' must be a positive integer, got {batch!r}")
    fuse = raw.get("fuse")
    if fuse is not None and not isinstance(fuse, bool):
        raise SpecError(f"{where}: 'fuse:' must be true or false, got {fuse!r}")
    guess_inputs = raw.get("guess_inputs", False)
    if not isinstance(guess_inputs, bool):
        raise SpecError(f"{where}: 'guess_inputs:' must be true or false, got {guess_inputs!r}")
    budgets = _parse_budgets(raw.get("budgets"), f"{where}: budgets", per_layer=False)
    layers = _parse_layers(raw.get("layers"), where)
    entry = ModelEntry(
        name=name.strip(),
        target=_resolve_target(model.strip(), path.parent, where),
        where=where,
        inputs=_parse_inputs(raw.get("inputs"), where),
        guess_inputs=guess_inputs,
        hw=_resolve_hw(hw.strip(), path.parent, where) if hw else None,
        dtype=dtype,
        batch=batch,
        fuse=fuse,
        budgets=budgets,
        layers=layers,
    )
    if entry.budget_count == 0:
        raise SpecError(f"{where}: no budgets: add 'budgets: {{macs: 600M}}' or 'layers: {{\"features.*\": {{macs: 400M}}}}'")
    if fuse is not None and hw is None:
        raise SpecError(f"{where}: 'fuse:' changes only the latency estimate: add 'hw:' with a hardware name such as t4")
    if hw is None:
        for budget in (*budgets, *(b for group in layers for b in group.budgets)):
            if budget.spec.needs_hw:
                raise SpecError(
                    f"{where}: budget '{budget.metric}' needs a roofline estimate: add 'hw:' with a hardware name such as t4"
                )
    return entry


def _resolve_target(text: str, base: Path, where: str) -> str:
    # the same FILE.py[:NAME] split as loading.parse_target, so that NAME survives the join
    path_text, sep, name = text.rpartition(":")
    if not sep or "/" in name or "\\" in name or name.endswith(".py"):
        path_text, name = text, ""
    path = Path(path_text).expanduser()
    if path.suffix != ".py":
        raise SpecError(f"{where}: model '{text}' must be a Python file, as in net.py or net.py:build_model")
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise SpecError(f"{where}: model file '{path}' not found (model paths are relative to the budget file's folder)")
    return f"{path}:{name}" if name else str(path)


def _resolve_hw(hw: str, base: Path, where: str) -> str:
    """A bundled name stays as it is; a spec file's path is taken relative to the budget file.
    The spec is loaded here so that a misspelt name fails before any model is profiled."""
    # hardware.load_spec's rule for "a path, not a bundled name"
    if (hw.endswith((".yaml", ".yml")) or "/" in hw or "\\" in hw) and not Path(hw).expanduser().is_absolute():
        hw = str(base / Path(hw).expanduser())
    try:
        load_spec(hw)
    except EffprofError as error:
        raise SpecError(f"{where}: hw: {error}") from None
    return hw


def _parse_inputs(raw: Any, where: str) -> tuple[InputSpec, ...]:
    if raw is None:
        return ()
    hint = "a list of shapes, as in [[1, 3, 224, 224]] or [\"1,128:int64\"]"
    if isinstance(raw, list) and raw and all(isinstance(d, int) and not isinstance(d, bool) for d in raw):
        raw = [raw]  # [1, 3, 224, 224] can only mean one input
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{where}: 'inputs:' must be {hint}, got {raw!r}")
    specs = []
    for item in raw:
        if isinstance(item, list) and item and all(isinstance(d, int) and not isinstance(d, bool) for d in item):
            text = ",".join(str(d) for d in item)
        elif isinstance(item, str):
            text = item
        else:
            raise SpecError(f"{where}: input {item!r} must be a list of integers or a string such as \"1,128:int64\"; 'inputs:' is {hint}")
        try:
            specs.append(parse_input_spec(text))
        except UsageError as error:
            raise SpecError(f"{where}: inputs: {str(error).replace('--input-shape ', 'input ')}") from None
    return tuple(specs)


def _parse_budgets(raw: Any, where: str, *, per_layer: bool) -> tuple[Budget, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping of metric to limit, as in {{macs: 600M, bytes: 40MB}}, got {raw!r}")
    allowed = [name for name, m in METRICS.items() if m.per_layer or not per_layer]
    budgets = []
    for metric, value in raw.items():
        metric = str(metric)
        if metric not in allowed:
            if metric in METRICS:
                raise SpecError(f"{where}: '{metric}' is a model total, not a per-layer number; per-layer budgets take {', '.join(allowed)}")
            if metric in ENTRY_KEYS:
                raise SpecError(f"{where}: '{metric}' is a setting of the entry, not a metric: move it out of '{where.rsplit(': ', 1)[-1]}', next to 'model:'")
            raise SpecError(f"{where}: unknown metric '{metric}'{did_you_mean(metric, METRICS)}; use one of {', '.join(allowed)}")
        budgets.append(Budget(metric, _parse_limit(METRICS[metric], value, f"{where}.{metric}")))
    return tuple(budgets)


def _parse_limit(metric: Metric, value: Any, where: str) -> float:
    if value is None or isinstance(value, bool):
        # YAML turns `macs:` into None and `macs: yes` into True; neither is a quantity
        raise SpecError(f"{where}: expected a quantity such as {_EXAMPLES[metric.kind]}, got {'nothing' if value is None else repr(value)}")
    try:
        if metric.kind == "bytes":
            limit = parse_bytes(value)
        elif metric.kind == "seconds":
            limit = parse_seconds(value, metric.unit)
        elif metric.kind == "fraction":
            limit = _parse_fraction(value)
        else:
            limit = parse_count(value)
    except UsageError as error:
        raise SpecError(f"{where}: {error}") from None
    if not math.isfinite(limit) or limit < 0:
        raise SpecError(f"{where}: the limit must be a finite number, 0 or more, got {value!r}")
    if metric.kind == "fraction" and not 0 <= limit <= 1:
        raise SpecError(f"{where}: a fraction must lie between 0 and 1 (or 0% and 100%), got {value!r}")
    return limit


def _parse_fraction(value: Any) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        return parse_count(value.strip()[:-1].strip()) / 100
    try:
        return parse_count(value)
    except UsageError:
        raise UsageError(f"malformed fraction '{value}': expected a number between 0 and 1, or a percentage such as 60%") from None


def _parse_layers(raw: Any, where: str) -> tuple[LayerBudget, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: 'layers:' must map a layer-name glob to budgets, as in {{\"features.*\": {{macs: 400M}}}}, got {raw!r}")
    groups = []
    for pattern, budgets in raw.items():
        pattern = str(pattern)
        if budgets is None:
            raise SpecError(f"{where}: layers.{pattern}: no budgets; give a mapping such as {{macs: 400M}}")
        groups.append(LayerBudget(pattern, _parse_budgets(budgets, f"{where}: layers.{pattern}", per_layer=True)))
    return tuple(groups)


# --- measuring --------------------------------------------------------------------------------


def profile_entry(entry: ModelEntry) -> Report:
    """Load and profile one entry. A model that cannot be imported, built or run on its inputs
    raises ModelLoadError naming the entry (loading and tracing already turn the model's own
    exceptions into EffprofErrors; anything else is an effprof bug and propagates): a budget never
    passes because its model did not load."""
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


@dataclass(frozen=True)
class ModelNumbers:
    """What a budget can name about one model: its totals and each layer's numbers, keyed by the
    metric names of the budget file (and of the baseline file, which stores exactly this)."""

    dtype: str
    totals: Mapping[str, float]
    layers: Mapping[str, Mapping[str, float]]  # layer name -> its numbers, in the report's order
    unsupported_ops: Mapping[str, int] = field(default_factory=dict)
    inputs_guessed: bool = False
    input_shapes: tuple[tuple[int, ...], ...] = ()

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> ModelNumbers:
        """From a report's JSON document (`effprof MODEL --format json`): its numeric fields."""
        totals = {k: v for k, v in data.get("totals", {}).items() if _is_number(v)}
        layers = {
            layer["name"]: {k: layer[k] for k in _LAYER_NUMBERS if _is_number(layer.get(k))}
            for layer in data.get("layers", [])
        }
        shapes = tuple(tuple(i["shape"]) for i in data.get("inputs", []))
        return cls(str(data.get("dtype", "")), totals, layers, dict(data.get("unsupported_ops") or {}),
                   bool(data.get("inputs_guessed")), shapes)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numbers_of(report: Report) -> ModelNumbers:
    """A report's budgetable numbers; the latency metrics only when it carries an estimate."""
    t = report.totals
    totals: dict[str, float | None] = {
        "params": t.params, "buffers": t.buffers, "macs": t.macs, "flops": t.flops,
        "bytes_read": t.bytes_read, "bytes_written": t.bytes_written, "intensity": t.intensity,
    }
    estimate = report.estimate
    if estimate is not None:
        e = estimate.total
        totals.update({
            "latency_s": e.latency_s, "throughput_per_s": e.throughput_per_s,
            "memory_bound_fraction": e.memory_bound_fraction, "compute_bound_fraction": e.compute_bound_fraction,
            "overhead_fraction": e.overhead_fraction, "batch": e.batch, "launches": e.launches,
        })
    layers: dict[str, dict[str, float]] = {}
    for layer in report.layers:
        numbers: dict[str, float | None] = {
            "params": layer.params, "macs": layer.macs, "flops": layer.flops, "bytes_read": layer.bytes_read,
            "bytes_written": layer.bytes_written, "intensity": layer.intensity,
        }
        if estimate is not None:
            row = estimate.layer(layer.name)
            numbers.update({"latency_s": row.latency_s, "launches": row.launches})
        layers[layer.name] = {k: v for k, v in numbers.items() if v is not None}
    return ModelNumbers(report.dtype, {k: v for k, v in totals.items() if v is not None}, layers,
                        dict(report.unsupported_ops), report.inputs_guessed, tuple(i.shape for i in report.inputs))


# --- checking ---------------------------------------------------------------------------------


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
    # what --write-baseline stores for this model: numeric totals and per-layer numbers
    measured: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def over(self) -> int:
        return sum(r.over for r in self.results)

    @property
    def regressed(self) -> int:
        return sum(r.regressed for r in self.results)


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
            tolerance = _percent(self.tolerance or 0.0)
            if self.regressed:
                text += f"; {self.regressed} grew more than {tolerance} since {self.baseline}"
            else:
                text += f"; none grew more than {tolerance} since {self.baseline}"
        return text



def _value(metric: Metric, numbers: Mapping[str, Any]) -> float | None:
    parts = [numbers.get(key) for key in metric.sources]
    if any(not isinstance(p, (int, float)) or isinstance(p, bool) for p in parts):
        return None
    return sum(parts)


def _is_over(metric: Metric, actual: float | None, limit: float) -> bool:
    if actual is None:
        return True  # an unmeasured value never passes
    return actual < limit if metric.higher_is_better else actual > limit


def _is_regressed(metric: Metric, actual: float | None, baseline: float | None, tolerance: float) -> bool:
    if actual is None or baseline is None:
        return False
    # 'grew more than tolerance' as a difference against tolerance * baseline: 102 vs 100 at 2 %
    # must pass, and 102 / 100 - 1 is 0.020000000000000018 in floats
    worse = baseline - actual if metric.higher_is_better else actual - baseline
    return worse > tolerance * abs(baseline)


def baseline_dict(numbers: ModelNumbers) -> dict[str, Any]:
    """What a baseline keeps of one report: its numeric totals and each layer's numbers."""
    return {"totals": dict(numbers.totals), "layers": {name: dict(values) for name, values in numbers.layers.items()}}


def check_model(
    entry: ModelEntry,
    report: Report | ModelNumbers,
    baseline: Mapping[str, Any] | None = None,
    tolerance: float = 0.0,
) -> ModelResult:
    """Compare one report (or its numbers) with `entry`'s budgets.

    `baseline`: this model's part of a baseline file ({'totals': ..., 'layers': ...}), or None.
    A metric that grows more than `tolerance` (0.02 = 2 %) since the baseline is a regression,
    even under its limit; for floors (throughput, intensity), a drop is. A glob that matches no
    layer raises SpecError: a budget that checks nothing must not pass.
    """
    numbers = numbers_of(report) if isinstance(report, Report) else report
    totals = numbers.totals
    base_totals = (baseline or {}).get("totals", {})
    base_layers = (baseline or {}).get("layers", {})
    results: list[BudgetResult] = []
    for budget in entry.budgets:
        metric = budget.spec
        actual = _value(metric, totals)
        before = _value(metric, base_totals) if baseline is not None else None
        results.append(
            BudgetResult(
                budget,
                None,
                (Measured(None, actual, _is_over(metric, actual, budget.limit), before,
                          _is_regressed(metric, actual, before, tolerance)),),
            )
        )
    names = list(numbers.layers)
    for group in entry.layers:
        matching = [name for name in names if fnmatch.fnmatchcase(name, group.pattern)]
        if not matching:
            raise SpecError(f"{entry.where}: layers.{group.pattern}: matches no layer{_glob_hint(group.pattern, names)}")
        for budget in group.budgets:
            metric = budget.spec
            values = []
            for name in matching:
                actual = _value(metric, numbers.layers[name])
                previous = base_layers.get(name) if baseline is not None else None
                before = _value(metric, previous) if previous is not None else None
                values.append(
                    Measured(name, actual, _is_over(metric, actual, budget.limit), before,
                             _is_regressed(metric, actual, before, tolerance))
                )
            results.append(BudgetResult(budget, group.pattern, tuple(values)))
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
    return ModelResult(
        name=entry.name,
        target=entry.target,
        hw=entry.hw,
        dtype=numbers.dtype,
        results=tuple(results),
        notes=tuple(notes),
        inputs_guessed=numbers.inputs_guessed,
        measured=baseline_dict(numbers),
    )


def _glob_hint(pattern: str, names: list[str]) -> str:
    named = [n for n in names if n]
    if any(n.startswith(pattern + ".") for n in named):
        return f" (layers are modules with ops of their own; did you mean '{pattern}.*'?)"
    close = did_you_mean(pattern, named)
    if close:
        return close
    shown = ", ".join(named[:4]) + (", ..." if len(named) > 4 else "")
    return f"; the layers are named like {shown} (see `effprof MODEL --format json`)" if named else "; the model has no layers"


# --- baselines --------------------------------------------------------------------------------


def load_baseline(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """A baseline file written by `--write-baseline`: {entry name: {'totals': ..., 'layers': ...}}."""
    path = Path(path)
    fix = "write one with `effprof check BUDGETS.yaml --write-baseline FILE`"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"baseline '{path}' not found; {fix}") from None
    except json.JSONDecodeError as error:
        raise SpecError(f"baseline '{path}' is not valid JSON (line {error.lineno}: {error.msg}); {fix}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"cannot read baseline '{path}': {error}") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("effprof_baseline") != BASELINE_VERSION or not isinstance(models, dict):
        raise SpecError(f"'{path}' is not an effprof baseline (version {BASELINE_VERSION}); {fix}")
    for name, part in models.items():
        if not isinstance(part, dict) or not isinstance(part.get("totals"), dict) or not isinstance(part.get("layers", {}), dict):
            raise SpecError(f"baseline '{path}': model '{name}' lacks its 'totals' mapping; {fix}")
    return models


def baseline_file_dict(result: CheckResult) -> dict[str, Any]:
    """The JSON that `--write-baseline` writes: every model's measured numbers, by entry name."""
    return {
        "effprof_baseline": BASELINE_VERSION,
        "budget_file": str(result.path),
        "models": {m.name: {"model": m.target, **m.measured} for m in result.models},
    }


# --- all at once ------------------------------------------------------------------------------


def check(
    path: str | os.PathLike[str],
    *,
    baseline: str | os.PathLike[str] | None = None,
    tolerance: float = 0.0,
    measure: Callable[[ModelEntry], Report | ModelNumbers] = measure_entry,
) -> CheckResult:
    """Load `path`, profile every model (with `measure`) and check its budgets."""
    budgets = load_budgets(path)
    before = load_baseline(baseline) if baseline is not None else None
    models = []
    for entry in budgets.models:
        report = measure(entry)
        part = before.get(entry.name) if before is not None else None
        result = check_model(entry, report, part, tolerance)
        if before is not None and part is None:
            result = _with_note(result, f"not in the baseline {baseline}: no change to compare (rewrite it with --write-baseline)")
        models.append(result)
    return CheckResult(budgets.path, tuple(models), str(baseline) if baseline is not None else None,
                       tolerance if baseline is not None else None)


def _with_note(result: ModelResult, note: str) -> ModelResult:
    return replace(result, notes=(*result.notes, note))


# --- formatting (plain text; shared by the table and markdown renderers) ----------------------


def format_value(metric: Metric, value: float | None) -> str:
    """A value in the metric's own unit: '568.74 M', '40.00 MB', '1.500 ms', '60.0%'."""
    if value is None:
        return "n/a"
    if metric.kind == "bytes":
        return format_bytes(value)
    if metric.kind == "seconds":
        # in the unit the budget is written in: latency_ms: 0.75 reads back as '0.750 ms', not '750.00 µs'
        if metric.unit == 1e-3:
            return f"{value * 1e3:.3f} ms"
        if metric.unit == 1e-6:
            return f"{value * 1e6:.2f} µs"
        return format_seconds(value)
    if metric.kind == "fraction":
        return _percent(value)
    if metric.kind == "intensity":
        return f"{value:.2f} FLOP/B"
    if metric.kind == "rate":
        return f"{si(value)}/s"
    return si(value)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.{0 if float(fraction * 100).is_integer() else 1}f}%"
