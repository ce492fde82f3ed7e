"""Errors that reach the user as one line. Each names what was wrong and how to fix it.

`exit_code` is what the CLI exits with: 2 for bad input (usage, files, models), 1 only for a
budget that was exceeded.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Sequence

__all__ = [
    "EffprofError",
    "UsageError",
    "ModelLoadError",
    "InputMismatchError",
    "MetaUnsupportedError",
    "SpecError",
    "did_you_mean",
]


class EffprofError(Exception):
    """Base of every error effprof raises on purpose; its message is meant for the user."""

    exit_code = 2


class UsageError(EffprofError):
    """A bad option or argument value."""


class ModelLoadError(EffprofError):
    """The model file cannot be found, imported, or does not name one model."""


class SpecError(EffprofError):
    """A hardware spec or budget file is missing, unparsable or invalid."""


class MetaUnsupportedError(EffprofError):
    """The forward failed on the meta device: an op that needs data (`.item()`, data-dependent
    shapes, a stricter meta kernel), or inputs that do not fit. Only a run on real tensors tells
    which; `mismatch` is the error to report when that run is not possible."""

    def __init__(self, reason: str, mismatch: "InputMismatchError | None" = None, clearly_meta: bool = True) -> None:
        super().__init__(f"the model cannot run on the meta device: {reason}")
        self.reason = reason
        self.mismatch = mismatch
        self.clearly_meta = clearly_meta

    def without_fallback(self, why: str) -> EffprofError:
        """The error to raise when the real-tensor run is not possible."""
        if self.clearly_meta or self.mismatch is None:
            return EffprofError(f"{self} ({why})")
        return self.mismatch


class InputMismatchError(EffprofError):
    """The inputs do not fit the model: names the layer, its input shapes and torch's complaint.
    With `raised_by_model`, the model's own code raised (not torch): the wording says so."""

    def __init__(
        self, layer: str, layer_type: str, input_shapes: Sequence[tuple[int, ...]], detail: str, raised_by_model: bool = False
    ) -> None:
        shapes = ", ".join(_shape_text(s) for s in input_shapes) or "no tensors"
        if raised_by_model:
            message = (
                f"the model's forward raised at layer '{layer}' ({layer_type}), given tensors {shapes}: {detail}. "
                "Check the inputs it expects, or rerun with --debug for the traceback."
            )
        else:
            message = (
                f"inputs do not fit the model at layer '{layer}' ({layer_type}), given tensors {shapes}: "
                f"{detail}. Check --input-shape (or example_inputs())."
            )
        super().__init__(message)
        self.layer = layer
        self.layer_type = layer_type
        self.input_shapes = list(input_shapes)
        self.detail = detail


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""
