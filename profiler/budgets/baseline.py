"""Baseline files: every model's measured numbers, written by `effprof check --write-baseline FILE`
and read back by `--baseline FILE` (docs/ci.md, "Baselines"). A file format, versioned.

{"effprof_baseline": 1, "budget_file": ..., "models": {ENTRY NAME: {"model": ..., "totals": {...}, "layers": {...}}}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import SpecError
from .check import CheckResult
from .numbers import Baseline, ModelNumbers

__all__ = ["BASELINE_VERSION", "load_baseline", "read_baseline", "write_baseline", "baseline_dict", "baseline_file_dict"]

BASELINE_VERSION = 1


def load_baseline(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """A baseline file's models as written: {entry name: {'totals': ..., 'layers': ...}}, validated.
    `read_baseline` gives the same as typed numbers."""
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


def read_baseline(path: str | os.PathLike[str]) -> Baseline:
    """A baseline file as typed numbers per entry name; SpecError (with the fix) when it is not one."""
    models = load_baseline(path)
    return Baseline(str(path), {str(name): ModelNumbers.from_baseline(part) for name, part in models.items()})


def baseline_dict(numbers: ModelNumbers) -> dict[str, Any]:
    """What a baseline keeps of one report: its numeric totals and each layer's numbers."""
    return numbers.as_baseline()


def baseline_file_dict(result: CheckResult) -> dict[str, Any]:
    """The JSON that `--write-baseline` writes: every model's measured numbers, by entry name."""
    return {
        "effprof_baseline": BASELINE_VERSION,
        "budget_file": str(result.path),
        "models": {m.name: {"model": m.target, **m.measured} for m in result.models},
    }


def write_baseline(result: CheckResult, path: str | os.PathLike[str]) -> None:
    """Write `result`'s numbers as a baseline file (OSError when the file cannot be written)."""
    Path(path).write_text(json.dumps(baseline_file_dict(result), indent=2) + "\n")
