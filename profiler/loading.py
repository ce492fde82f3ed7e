"""From a target (`model.py[:NAME]`) and an input spec to a module and example inputs.

Models and inputs are built under `torch.device("meta")`: a 70B-parameter model costs no memory.
`LoadedModel.rebuild_real()` builds the same thing again on the CPU, for the few models that
cannot run on meta. No tracing happens here.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from .dtypes import dtype_name, parse_dtype
from .errors import ModelLoadError, UsageError, did_you_mean, option
from .tracing import ModelInputs

__all__ = [
    "InputSpec",
    "LoadedModel",
    "parse_input_spec",
    "parse_target",
    "split_target",
    "load_model",
    "with_batch",
    "make_inputs",
    "named_tensors",
    "InputsNotGiven",
    "input_names",
]

BUILDER_NAME = "build_model"
INPUTS_NAME = "example_inputs"


@dataclass(frozen=True)
class InputSpec:
    """One input tensor: positional when `name` is None, else the keyword argument `name`."""

    shape: tuple[int, ...]
    dtype: torch.dtype = torch.float32
    name: str | None = None

    def __str__(self) -> str:
        prefix = f"{self.name}=" if self.name else ""
        return prefix + ",".join(str(d) for d in self.shape) + f":{dtype_name(self.dtype)}"


_KEYWORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)", re.DOTALL)


def parse_input_spec(text: str) -> InputSpec:
    """'1,3,224,224', '1,128:int64' (also 1x3x224x224), or a keyword input 'input_ids=1,128:int64'."""
    name = None
    keyword = _KEYWORD.fullmatch(text.strip())
    if keyword is not None:
        name, text = keyword.group(1), keyword.group(2)
    shape_text, _, dtype_text = text.strip().partition(":")
    parts = re.split(r"[,x×]", shape_text.replace(" ", ""))
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(
            "bad ", option("input_shape"), f" '{text}': expected comma-separated integers such as 1,3,224,224 "
            "(optionally ':dtype', e.g. 1,128:int64, and 'NAME=' for a keyword input, e.g. input_ids=1,128:int64)"
        ) from None
    if not shape or any(d < 1 for d in shape):
        raise UsageError("bad ", option("input_shape"), f" '{text}': every dimension must be a positive integer")
    dtype = parse_dtype(dtype_text, what="input dtype") if dtype_text else torch.float32
    return InputSpec(shape, dtype, name)


def make_inputs(specs: list[InputSpec], device: str) -> ModelInputs:
    """Tensors for `specs`, positional ones in order, named ones as keyword arguments: empty on
    meta; random floats and ones (valid ids, full masks) on CPU."""
    args: list[torch.Tensor] = []
    kwargs: dict[str, torch.Tensor] = {}
    for spec in specs:
        if device == "meta":
            tensor = torch.empty(spec.shape, dtype=spec.dtype, device="meta")
        elif spec.dtype.is_floating_point:
            tensor = torch.randn(spec.shape, dtype=spec.dtype)
        else:
            tensor = torch.ones(spec.shape, dtype=spec.dtype)
        if spec.name is None:
            args.append(tensor)
        elif spec.name in kwargs:
            raise UsageError(option("input_shape"), f" names the keyword input '{spec.name}' twice: give each name once")
        else:
            kwargs[spec.name] = tensor
    return ModelInputs(tuple(args), kwargs)


def with_batch(inputs: ModelInputs, batch: int) -> ModelInputs:
    """The same inputs with the leading (batch) dimension of every tensor set to `batch`."""
    if batch < 1:
        raise UsageError(option("batch"), f" must be 1 or more, got {batch}")

    def resize(t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 0 or t.shape[0] == batch:
            return t
        shape = (batch, *t.shape[1:])
        if t.is_meta:
            return torch.empty(shape, dtype=t.dtype, device="meta")
        return t[:1].expand(shape).clone()

    return inputs.map_tensors(resize)


def split_target(target: str, relative_to: Path | None = None) -> tuple[Path, str | None]:
    """'path/model.py:NAME' -> (path, NAME); a bare path -> (path, None). No file is touched.

    The one reading of a model target, for the CLI and budget files alike (docs/cli.md): a leading
    `~` is the user's home, since a YAML file or a quoted argument reaches us unexpanded; a NAME
    never holds `/` or `\\`, so a colon followed by a path separator belongs to the path
    (`C:\\models\\net.py`). A relative path is taken relative to `relative_to` when given (a
    budget file's folder), else to the working directory.
    """
    path_text, sep, name = target.rpartition(":")
    if not sep or "/" in name or "\\" in name or name.endswith(".py"):
        path_text, name = target, ""
    path = Path(path_text).expanduser()
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    return path, (name or None)


def parse_target(target: str) -> tuple[Path, str | None]:
    """'path/model.py:NAME' -> (path, NAME) of an existing Python file (`split_target`'s reading)."""
    path, name = split_target(target)
    if path.suffix != ".py":
        raise UsageError(f"model target '{target}' must be a Python file, as in model.py or model.py:build_model")
    if not path.is_file():
        raise ModelLoadError(f"model file '{path}' not found")
    return path, name


@dataclass
class LoadedModel:
    model: nn.Module
    inputs: ModelInputs
    name: str
    input_names: list[str]
    notes: list[str] = field(default_factory=list)
    rebuild_real: Callable[[], tuple[nn.Module, ModelInputs]] | None = None
    # the input shape was guessed from the first layer (no --input-shape, no example_inputs())
    guessed_input: InputSpec | None = None

    @property
    def inputs_guessed(self) -> bool:
        return self.guessed_input is not None


class InputsNotGiven(UsageError):
    """No inputs were given, the file defines no example_inputs(), and guessing was not allowed.
    `guess` is what would have been guessed (None when nothing could be)."""

    def __init__(self, message: str, guess: InputSpec | None) -> None:
        super().__init__(message)
        self.guess = guess


@contextlib.contextmanager
def _on_device(device: str) -> Iterator[None]:
    if device == "meta":
        with torch.device("meta"):
            yield
    else:
        yield


def _import_file(path: Path, device: str) -> types.ModuleType:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    module_name = f"_effprof_model_{path.stem}_{digest}_{device}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import '{path}' as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # lets the model file import its neighbours
    sys.modules[module_name] = module
    try:
        with _on_device(device):
            spec.loader.exec_module(module)
    except SyntaxError as error:
        raise ModelLoadError(f"syntax error in '{path}' line {error.lineno}: {error.msg}") from error
    except Exception as error:
        raise ModelLoadError(f"importing '{path}' raised {type(error).__name__}: {_first_line(error)}") from error
    finally:
        sys.path.remove(folder)
        sys.modules.pop(module_name, None)
    return module


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _required_args(value: Callable[..., object]) -> list[str] | None:
    """The parameters a call of `value` (a class or function) cannot do without; None when its
    signature cannot be read."""
    try:
        signature = inspect.signature(getattr(value, "__init__") if isinstance(value, type) else value)
    except (TypeError, ValueError):
        return None
    return [
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _constructible_without_args(cls: type) -> bool:
    return _required_args(cls) == []


def _needs_args_message(path: Path, name: str, required: list[str]) -> str:
    shown = ", ".join(required)
    call = ", ".join(f"{arg}=..." for arg in required)
    if name == BUILDER_NAME:
        return f"'{path}:{name}' needs arguments ({shown}): effprof calls it with none; give them defaults ({call})"
    return (
        f"'{path}:{name}' needs arguments to be built ({shown}): add a builder function to the file, "
        f"e.g. `def build_model(): return {name}({call})`, and profile {path}:build_model "
        f"(a function named build_model is picked without naming it)"
    )


def _classes_needing_args(module: types.ModuleType) -> dict[str, list[str]]:
    found = {}
    for name, value in vars(module).items():
        if (
            not name.startswith("_")
            and isinstance(value, type)
            and issubclass(value, nn.Module)
            and value.__module__ == module.__name__
        ):
            required = _required_args(value)
            if required:
                found[name] = required
    return found


def _candidates(module: types.ModuleType) -> list[str]:
    """Names in the file that could be 'the model': instances, and classes defined there."""
    found = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(value, nn.Module):
            found.append(name)
        elif (
            isinstance(value, type)
            and issubclass(value, nn.Module)
            and value.__module__ == module.__name__
            and _constructible_without_args(value)
        ):
            found.append(name)
    return found


def _pick_name(module: types.ModuleType, path: Path, name: str | None) -> str:
    if name is not None:
        if not hasattr(module, name):
            options = _candidates(module) + ([BUILDER_NAME] if hasattr(module, BUILDER_NAME) else [])
            raise ModelLoadError(
                f"'{path}' has no '{name}'{did_you_mean(name, options)}"
                + (f"; it defines {', '.join(options)}" if options else "")
            )
        return name
    if callable(getattr(module, BUILDER_NAME, None)):
        return BUILDER_NAME
    candidates = _candidates(module)
    instances = [n for n in candidates if isinstance(getattr(module, n), nn.Module)]
    if len(instances) == 1:
        return instances[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        needing = _classes_needing_args(module)
        if len(needing) == 1:
            (only, required), = needing.items()
            raise ModelLoadError(_needs_args_message(path, only, required))
        if needing:
            raise ModelLoadError(
                f"'{path}' defines no model that can be built without arguments: its classes "
                f"{', '.join(needing)} all need some; add a function {BUILDER_NAME}() returning the model "
                f"built with its arguments, e.g. `def {BUILDER_NAME}(): return {next(iter(needing))}(...)`"
            )
        raise ModelLoadError(
            f"'{path}' defines no model: add a function {BUILDER_NAME}() returning an nn.Module, "
            "or an nn.Module class or instance"
        )
    raise ModelLoadError(
        f"'{path}' defines several models ({', '.join(candidates)}): pick one, as in {path}:{candidates[0]}"
    )


def _instantiate(module: types.ModuleType, path: Path, name: str, device: str) -> nn.Module:
    value = getattr(module, name)
    if isinstance(value, nn.Module):
        return value  # made at import time, on the device the file was imported under
    if not callable(value):
        raise ModelLoadError(f"'{path}:{name}' is a {type(value).__name__}, not a module, class or function")
    required = _required_args(value)
    if required:
        raise ModelLoadError(_needs_args_message(path, name, required))
    try:
        with _on_device(device):
            built = value()
    except Exception as error:
        raise ModelLoadError(f"building '{path}:{name}' raised {type(error).__name__}: {_first_line(error)}") from error
    if not isinstance(built, nn.Module):
        raise ModelLoadError(f"'{path}:{name}()' returned a {type(built).__name__}, not an nn.Module")
    return built


def _file_inputs(module: types.ModuleType, path: Path, device: str) -> ModelInputs | None:
    builder = getattr(module, INPUTS_NAME, None)
    if not callable(builder):
        return None
    try:
        with _on_device(device):
            example = builder()
    except Exception as error:
        raise ModelLoadError(f"'{path}:{INPUTS_NAME}()' raised {type(error).__name__}: {_first_line(error)}") from error
    inputs = ModelInputs.from_example(example)
    if not inputs.tensors():
        raise ModelLoadError(f"'{path}:{INPUTS_NAME}()' returned no tensors")
    return inputs


def guess_input(model: nn.Module) -> InputSpec | None:
    """A plausible input for a model whose first weighted layer is a conv, linear or embedding."""
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            return InputSpec((1, layer.in_channels, 224, 224))
        if isinstance(layer, nn.Conv1d):
            return InputSpec((1, layer.in_channels, 1024))
        if isinstance(layer, nn.Conv3d):
            return InputSpec((1, layer.in_channels, 16, 112, 112))
        if isinstance(layer, nn.Linear):
            return InputSpec((1, layer.in_features))
        if isinstance(layer, nn.Embedding):
            return InputSpec((1, 128), torch.int64)
    return None


def named_tensors(inputs: ModelInputs) -> list[tuple[str, torch.Tensor]]:
    """Every tensor of every input, named by where it sits: positional arguments are `input`
    (or `input0`, `input1`, ... when there are several), keyword arguments their keyword; inside
    them a dict key adds `.key` and a list or tuple position `[i]` (`input.image`, `input.tokens`)."""
    found: list[tuple[str, torch.Tensor]] = []

    def walk(value: object, path: str) -> None:
        if isinstance(value, torch.Tensor):
            found.append((path, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    for index, arg in enumerate(inputs.args):
        walk(arg, "input" if len(inputs.args) == 1 else f"input{index}")
    for key, value in inputs.kwargs.items():
        walk(value, key)
    return found


def input_names(inputs: ModelInputs) -> list[str]:
    return [name for name, _ in named_tensors(inputs)]


def load_model(
    target: str, input_specs: list[InputSpec] | None = None, batch: int | None = None, guess: bool = True
) -> LoadedModel:
    """Import `target`, build its model on meta and its inputs (first found wins: `input_specs`,
    the file's example_inputs(), a guess from the first layer). With `guess=False` a guess is
    refused (InputsNotGiven): a CI gate must not judge a shape nobody chose."""
    path, name = parse_target(target)
    module = _import_file(path, "meta")
    name = _pick_name(module, path, name)
    model = _instantiate(module, path, name, "meta")
    notes: list[str] = []
    guessed: list[InputSpec] = []

    def inputs_on(device: str, source_module: types.ModuleType, built: nn.Module) -> ModelInputs:
        inputs: ModelInputs | None
        if input_specs:
            inputs = make_inputs(input_specs, device)
        else:
            inputs = _file_inputs(source_module, path, device)
            if inputs is None:
                guessed_spec = guess_input(built)
                if not guess:
                    raise InputsNotGiven(
                        f"'{path}:{name}' was given no inputs and defines no {INPUTS_NAME}(); effprof would have to "
                        f"guess the input shape" + (f" ({guessed_spec})" if guessed_spec else ""),
                        guessed_spec,
                    )
                if guessed_spec is None:
                    raise UsageError(
                        f"cannot guess the input of '{path}:{name}': pass ", option("input_shape"), " (e.g. ",
                        option("input_shape", "1,3,224,224", short=True), f") or define {INPUTS_NAME}() in the file",
                    )
                if device == "meta":
                    notes.append(
                        f"input shape guessed from the first layer: {guessed_spec} (set it with --input-shape, "
                        f"or define {INPUTS_NAME}() in the file)"
                    )
                    guessed.append(guessed_spec)
                inputs = make_inputs([guessed_spec], device)
        return with_batch(inputs, batch) if batch is not None else inputs

    inputs = inputs_on("meta", module, model)

    def rebuild_real() -> tuple[nn.Module, ModelInputs]:
        real_module = _import_file(path, "cpu")
        real_model = _instantiate(real_module, path, name, "cpu")
        return real_model, inputs_on("cpu", real_module, real_model)

    return LoadedModel(
        model=model,
        inputs=inputs,
        name=f"{path.name}:{name}",
        input_names=input_names(inputs),
        notes=notes,
        rebuild_real=rebuild_real,
        guessed_input=guessed[0] if guessed else None,
    )
