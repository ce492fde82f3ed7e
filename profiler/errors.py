"""Errors that reach the user as one line. Each names what was wrong and how to fix it.

`exit_code` is what the CLI exits with: 2 for bad input (usage, files, models), 1 only for a
budget that was exceeded.
"""

from __future__ import annotations

import difflib
import os
import re
import sysconfig
from pathlib import Path
from typing import Iterable, Sequence

__all__ = [
    "EffprofError",
    "UsageError",
    "ModelLoadError",
    "InputMismatchError",
    "MetaUnsupportedError",
    "TorchLimitError",
    "SpecError",
    "did_you_mean",
    "model_exit_message",
]


class EffprofError(Exception):
    """Base of every error effprof raises on purpose; its message is meant for the user."""

    exit_code = 2

    def with_context(self, context: str) -> "EffprofError":
        """The same error (type, attributes, exit code) with `context` added to its message."""
        copied = type(self).__new__(type(self))  # not copy.copy: subclasses' __init__ take other arguments
        copied.__dict__.update(self.__dict__)
        copied.args = (f"{self} {context}",)
        return copied


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

    def __init__(self, reason: str, mismatch: "EffprofError | None" = None, clearly_meta: bool = True) -> None:
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
        self, layer: str, layer_type: str, input_shapes: Sequence[tuple[int, ...]], detail: str, raised_by_model: bool = False,
        frame: str | None = None,
    ) -> None:
        given = _given_tensors(input_shapes)
        detail = detail.rstrip(".")
        if raised_by_model:
            where = f", raised at {frame}" if frame else ""
            message = (
                f"the model's forward raised at layer '{layer}' ({layer_type}){given}: {detail}{where}. "
                "Check the inputs it expects, or rerun with --debug for the traceback."
            )
        else:
            called = f" (called at {frame})" if frame else ""
            message = (
                f"inputs do not fit the model at layer '{layer}' ({layer_type}){given}: "
                f"{detail}{called}.{_dtype_hint(detail)} Check --input-shape (or example_inputs())."
            )
        super().__init__(message)
        self.layer = layer
        self.layer_type = layer_type
        self.input_shapes = list(input_shapes)
        self.detail = detail
        self.frame = frame


# torch's complaint when a float tensor reaches an op that wants indices (embedding, gather, one_hot)
_WANTS_INTEGERS = re.compile(r"(Long|Int)\b.{0,40}?but got \S*(?i:float|half|double)|expected scalar type (Long|Int)")


def _dtype_hint(detail: str) -> str:
    if _WANTS_INTEGERS.search(detail) is None:
        return ""
    return (
        " The layer takes integer inputs (token ids, indices) and was given floats: give the input an integer dtype, "
        "as in -i 1,512:int64 (torch.long in example_inputs())."
    )


_LIBRARY_DIRS = tuple(
    str(Path(p).resolve()) + os.sep
    for p in {sysconfig.get_paths()["stdlib"], os.path.dirname(os.path.dirname(__file__)) + "/profiler"}
)


def user_frame(error: BaseException) -> str | None:
    """'model.py:12, in Attention.forward': the innermost frame of `error`'s traceback outside torch,
    effprof and Python's standard library, i.e. the model's own line that raised or made the call."""
    import torch  # the errors module must import without torch; the tracer has it loaded already

    torch_dir = str(Path(torch.__file__).resolve().parent) + os.sep
    found = None
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        path = str(Path(code.co_filename).resolve()) if not code.co_filename.startswith("<") else code.co_filename
        if not path.startswith((torch_dir, *_LIBRARY_DIRS)) and not code.co_filename.startswith("<"):
            found = (code.co_filename, tb.tb_lineno, getattr(code, "co_qualname", code.co_name))
        tb = tb.tb_next
    if found is None:
        return None
    filename, line, function = found
    shown = os.path.relpath(filename) if not os.path.relpath(filename).startswith("..") else filename
    return f"{shown}:{line} in {function}"


class TorchLimitError(EffprofError):
    """PyTorch itself has no kernel for this combination of inputs (causal attention on jagged
    nested tensors, an op without a Half kernel on the CPU): torch's own words, and no claim that
    the inputs are wrong."""

    def __init__(self, layer: str, layer_type: str, input_shapes: Sequence[tuple[int, ...]], detail: str,
                 logged: Sequence[str] = ()) -> None:
        shapes = ", ".join(_shape_text(s) for s in input_shapes)
        on_tensors = f" on tensors {shapes}" if shapes else ""
        why = f" (torch logged: {'; '.join(logged)})" if logged else ""
        super().__init__(
            f"PyTorch cannot run layer '{layer}' ({layer_type}){on_tensors}: {detail}{why}. "
            "This is a limit of PyTorch's kernels for this combination of inputs, not a shape mismatch: "
            "profile the model the way PyTorch can run it."
        )
        self.layer = layer
        self.layer_type = layer_type
        self.input_shapes = list(input_shapes)
        self.detail = detail


def _given_tensors(input_shapes: Sequence[tuple[int, ...]]) -> str:
    """', given tensors [2, 4]', or nothing when the layer received no positional tensor (keyword-only
    inputs are not seen by module hooks, and 'given no tensors' would be false)."""
    shapes = ", ".join(_shape_text(s) for s in input_shapes)
    return f", given tensors {shapes}" if shapes else ""


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def model_exit_message(done: SystemExit) -> str:
    """What to say when the user's model code called sys.exit (or raised SystemExit)."""
    code = done.code
    said = f": {str(code).strip().splitlines()[0]}" if isinstance(code, str) and code.strip() else ""
    how = "sys.exit()" if code is None else f"sys.exit({code!r})" if isinstance(code, int) else "SystemExit"
    return (f"the model's code exited with {how}{said}. effprof needs the model file to build the model "
            "and its forward to return; rerun with --debug for the traceback.")


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""
