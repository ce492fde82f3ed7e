"""A budget file (budgets.yaml) read into frozen, typed objects, or one SpecError naming the file,
the entry and the key (docs/ci.md, "budgets.yaml").

Everything is validated here, before any model is profiled: keys, metrics, limits, inputs, dtype,
and the hardware (a misspelt `hw:` fails now, not after the first model). Paths are relative to
the budget file's folder: models through `loading.split_target`, spec files through
`hardware.looks_like_path`, the same readings as on the command line.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..dtypes import parse_dtype
from ..errors import EffprofError, SpecError, Spelling, UsageError, did_you_mean
from ..hardware import load_spec, looks_like_path
from ..loading import InputSpec, parse_input_spec, split_target
from ..units import parse_bytes, parse_count, parse_seconds
from ..yamlfile import load_yaml
from .metrics import LIMIT_EXAMPLES, METRICS, Metric, MetricKind

__all__ = ["Budget", "LayerBudget", "ModelEntry", "BudgetFile", "ENTRY_KEYS", "TOP_KEYS", "load_budgets"]

ENTRY_KEYS = ("name", "model", "inputs", "guess_inputs", "hw", "dtype", "batch", "fuse", "budgets", "layers")
TOP_KEYS = ("models",)


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

    @property
    def all_budgets(self) -> tuple[Budget, ...]:
        """The model's budgets and every layer group's, in the file's order."""
        return (*self.budgets, *(budget for group in self.layers for budget in group.budgets))


@dataclass(frozen=True)
class BudgetFile:
    path: Path
    models: tuple[ModelEntry, ...]

    @property
    def budget_count(self) -> int:
        return sum(entry.budget_count for entry in self.models)


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
        for budget in entry.all_budgets:
            if budget.spec.needs_hw:
                raise SpecError(
                    f"{where}: budget '{budget.metric}' needs a roofline estimate: add 'hw:' with a hardware name such as t4"
                )
    return entry


def _resolve_target(text: str, base: Path, where: str) -> str:
    """FILE.py[:NAME] with FILE taken relative to the budget file's folder, NAME kept."""
    path, name = split_target(text, relative_to=base)
    if path.suffix != ".py":
        raise SpecError(f"{where}: model '{text}' must be a Python file, as in net.py or net.py:build_model")
    if not path.is_file():
        raise SpecError(f"{where}: model file '{path}' not found (model paths are relative to the budget file's folder)")
    return f"{path}:{name}" if name else str(path)


def _resolve_hw(hw: str, base: Path, where: str) -> str:
    """A bundled name stays as it is; a spec file's path is taken relative to the budget file.
    The spec is loaded here so that a misspelt name fails before any model is profiled."""
    if looks_like_path(hw):
        path = Path(hw).expanduser()
        hw = str(path if path.is_absolute() else base / path)
    try:
        load_spec(hw)
    except EffprofError as error:
        raise SpecError(f"{where}: hw: {error}") from None
    return hw


# An input-shape error read as a budget file says it: about one input of the entry's 'inputs:'.
_AN_INPUT = Spelling(lambda named: "input")


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
            raise SpecError(f"{where}: inputs: {error.spelled(_AN_INPUT)}") from None
    return tuple(specs)


def _parse_budgets(raw: Any, where: str, *, per_layer: bool) -> tuple[Budget, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping of metric to limit, as in {{macs: 600M, bytes: 40MB}}, got {raw!r}")
    allowed = [name for name, m in METRICS.items() if m.per_layer or not per_layer]
    budgets = []
    for key, value in raw.items():
        metric = str(key)
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
        raise SpecError(f"{where}: expected a quantity such as {LIMIT_EXAMPLES[metric.kind]}, got {'nothing' if value is None else repr(value)}")
    try:
        if metric.kind is MetricKind.BYTES:
            limit = parse_bytes(value)
        elif metric.kind is MetricKind.SECONDS:
            limit = parse_seconds(value, metric.unit)
        elif metric.kind is MetricKind.FRACTION:
            limit = _parse_fraction(value)
        else:
            limit = parse_count(value)
    except UsageError as error:
        raise SpecError(f"{where}: {error}") from None
    if not math.isfinite(limit) or limit < 0:
        raise SpecError(f"{where}: the limit must be a finite number, 0 or more, got {value!r}")
    if metric.kind is MetricKind.FRACTION and not 0 <= limit <= 1:
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
    for key, budgets in raw.items():
        pattern = str(key)
        if budgets is None:
            raise SpecError(f"{where}: layers.{pattern}: no budgets; give a mapping such as {{macs: 400M}}")
        groups.append(LayerBudget(pattern, _parse_budgets(budgets, f"{where}: layers.{pattern}", per_layer=True)))
    return tuple(groups)
