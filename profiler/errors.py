"""Errors that reach the user as one line. Each names what was wrong and how to fix it.

`exit_code` is what the CLI exits with: 2 for bad input (usage, files, models), 1 only for a
budget that was exceeded.

A message names the settings it is about through `option()` (`fuse=True`, `hardware='a4000'`),
never as a command-line flag: the error keeps its parts, reads in the Python API's words
(`str(error)`), and the CLI reads the same error with its own flag table (`--fuse`, `--hw a4000`)
by spelling it inside `spelled_as(...)`. `on_command_line(...)` holds words that differ beyond an
option's name (Python has `example_inputs`, the command line `--input-shape`).
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import os
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, Union

__all__ = [
    "EffprofError",
    "UsageError",
    "ModelLoadError",
    "InputMismatchError",
    "MetaUnsupportedError",
    "TorchLimitError",
    "SpecError",
    "Option",
    "option",
    "Alternative",
    "on_command_line",
    "Spelling",
    "PYTHON",
    "spelled_as",
    "did_you_mean",
    "model_exit_message",
]


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class Option:
    """A setting a message names, by its keyword in the Python API (`fuse`, `hardware`, `batches`)
    and, where the advice carries one, the value to give it. `short`: the command line shows its
    one-letter flag (`-i 1,3,224,224`)."""

    keyword: str
    value: object = NO_VALUE
    short: bool = False

    @property
    def has_value(self) -> bool:
        return self.value is not NO_VALUE


def option(keyword: str, value: object = NO_VALUE, *, short: bool = False) -> Option:
    """The setting `keyword` (the Python API's name for it), optionally with a value to give it."""
    return Option(keyword, value, short)


Part = Union[str, Option, "Alternative"]


@dataclass(frozen=True)
class Alternative:
    """Words that differ beyond an option's name: `python` for a Python caller, `command_line`
    (whose options the CLI spells as flags) for a command-line user."""

    python: tuple[Part, ...]
    command_line: tuple[Part, ...]


def _parts(words: "str | Option | Alternative | Sequence[Part]") -> tuple[Part, ...]:
    return (words,) if isinstance(words, (str, Option, Alternative)) else tuple(words)


def on_command_line(command_line: "str | Option | Alternative | Sequence[Part]",
                    python: "str | Option | Alternative | Sequence[Part]") -> Alternative:
    """`command_line` when the CLI reads the message, `python` otherwise."""
    return Alternative(_parts(python), _parts(command_line))


@dataclass(frozen=True)
class Spelling:
    """How a message names options. `flag` None: the Python API's words (`fuse=True`). Else a
    reader with names of its own, `flag(option)` being its text for the option (the command line's
    `--fuse`, `--hw a4000`; a budget file's `input`); `on_command_line` words are written for it."""

    flag: Callable[[Option], str] | None = None

    def option(self, named: Option) -> str:
        if self.flag is not None:
            return self.flag(named)
        return f"{named.keyword}={named.value!r}" if named.has_value else named.keyword

    def words(self, parts: Iterable[Part]) -> str:
        text = []
        for part in parts:
            if isinstance(part, Option):
                text.append(self.option(part))
            elif isinstance(part, Alternative):
                text.append(self.words(part.python if self.flag is None else part.command_line))
            else:
                text.append(part)
        return "".join(text)


PYTHON = Spelling()

_spelling: contextvars.ContextVar[Spelling] = contextvars.ContextVar("effprof_spelling", default=PYTHON)


@contextlib.contextmanager
def spelled_as(spelling: Spelling) -> Iterator[None]:
    """Within it, every error reads in `spelling`'s words, also where code puts one error's text
    into another's (`f"{where}: {error}"`). The CLI runs its commands inside it."""
    token = _spelling.set(spelling)
    try:
        yield
    finally:
        _spelling.reset(token)


class EffprofError(Exception):
    """Base of every error effprof raises on purpose; its message is meant for the user.

    The message is given in parts: text, `option(...)` and `on_command_line(...)`; `str(error)`
    joins them in the current spelling (the Python API's words unless inside `spelled_as`)."""

    exit_code = 2

    def __init__(self, *message: Part) -> None:
        super().__init__(PYTHON.words(message))
        self.message = message

    def __str__(self) -> str:
        return self.spelled(_spelling.get())

    def spelled(self, spelling: Spelling) -> str:
        """The message with its options named as `spelling` names them."""
        return spelling.words(getattr(self, "message", self.args))

    def with_context(self, *context: Part) -> "EffprofError":
        """The same error (type, attributes, exit code) with `context` added to its message."""
        copied = type(self).__new__(type(self))  # not copy.copy: subclasses' __init__ take other arguments
        copied.__dict__.update(self.__dict__)
        copied.message = (*self.message, " ", *context)
        copied.args = (PYTHON.words(copied.message),)
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
            return EffprofError(*self.message, f" ({why})")
        return self.mismatch


class InputMismatchError(EffprofError):
    """The inputs do not fit the model: names the layer, its input shapes and torch's complaint.
    With `raised_by_model`, the model's own code raised (not torch): the wording says so."""

    def __init__(
        self, layer: str, layer_type: str, input_shapes: Sequence[tuple[int | str, ...]], detail: str, raised_by_model: bool = False,
        frame: str | None = None,
    ) -> None:
        given = _given_tensors(input_shapes)
        detail = detail.rstrip(".")
        if raised_by_model:
            where = f", raised at {frame}" if frame else ""
            super().__init__(
                f"the model's forward raised at layer '{layer}' ({layer_type}){given}: {detail}{where}. ",
                "Check the inputs it expects, ", RERUN_FOR_TRACEBACK, ".",
            )
        else:
            called = f" (called at {frame})" if frame else ""
            super().__init__(
                f"inputs do not fit the model at layer '{layer}' ({layer_type}){given}: {detail}{called}.",
                *_dtype_hint(detail), " Check ",
                on_command_line((option("input_shape"), " (or example_inputs())"), python="example_inputs"), ".",
            )
        self.layer = layer
        self.layer_type = layer_type
        self.input_shapes = list(input_shapes)
        self.detail = detail
        self.frame = frame


# torch's complaint when a float tensor reaches an op that wants indices (embedding, gather, one_hot)
_WANTS_INTEGERS = re.compile(r"(Long|Int)\b.{0,40}?but got \S*(?i:float|half|double)|expected scalar type (Long|Int)")


def _dtype_hint(detail: str) -> tuple[Part, ...]:
    if _WANTS_INTEGERS.search(detail) is None:
        return ()
    return (
        " The layer takes integer inputs (token ids, indices) and was given floats: give the input an integer dtype, as in ",
        on_command_line((option("input_shape", "1,512:int64", short=True), " (torch.long in example_inputs())"),
                        python="torch.long in example_inputs"),
        ".",
    )


# How to see the model's own traceback: the CLI hides it unless asked; in Python it is chained.
RERUN_FOR_TRACEBACK = on_command_line(("or rerun with ", option("debug"), " for the traceback"),
                                      python="or read the model's traceback on this error's __cause__")


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

    def __init__(self, layer: str, layer_type: str, input_shapes: Sequence[tuple[int | str, ...]], detail: str,
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


def _given_tensors(input_shapes: Sequence[tuple[int | str, ...]]) -> str:
    """', given tensors [2, 4]', or nothing when the layer received no positional tensor (keyword-only
    inputs are not seen by module hooks, and 'given no tensors' would be false)."""
    shapes = ", ".join(_shape_text(s) for s in input_shapes)
    return f", given tensors {shapes}" if shapes else ""


def _shape_text(shape: tuple[int | str, ...]) -> str:
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
