"""`profile()`: the pipeline wired end to end, for Python users and the CLI alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from .aggregate import aggregate
from .dtypes import dtype_name, parse_dtype
from .errors import EffprofError, MetaUnsupportedError, UsageError, option
from .hardware import HardwareSpec, load_spec
from .in_model import live_activation_bytes
from .loading import LoadedModel, named_tensors, with_batch
from .precision import Precision, recoster
from .report import InputInfo, Report
from .roofline import estimate
from .tracing import ModelInputs, trace_model

__all__ = ["profile", "profile_loaded"]

# Beyond this a real CPU run (fp32 weights, real arithmetic) is too slow and too big to be a fallback.
CPU_FALLBACK_MAX_PARAMS = 2_000_000_000


def _model_dtype(model: nn.Module) -> torch.dtype:
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def profile(
    model: nn.Module,
    example_inputs: Any = None,
    *,
    dtype: str | torch.dtype | None = None,
    batch: int | None = None,
    name: str | None = None,
    allow_real: bool = True,
    hardware: str | Path | HardwareSpec | None = None,
    fuse: bool = False,
    precision: Precision | None = None,
) -> Report:
    """Count params, MACs, FLOPs and bytes of one forward call of `model`, per layer.

    `example_inputs`: a tensor, a tuple of positional args, or a dict of keyword args (real or
    meta tensors; only their shapes and dtypes matter). `dtype` ('fp16', torch.bfloat16, ...)
    prices every floating tensor at that element size; the default is the model's own dtype
    ('tf32' stores fp32 and uses the matrix engine's tf32 peak). `batch` replaces the leading
    dimension of every input. `hardware` (a bundled name such as 'a4000', a path to a YAML spec,
    or a HardwareSpec) adds a roofline latency estimate in `report.estimate`; `fuse` models
    TensorRT-style conv/linear + BN + activation fusion in it. `precision` (a `Precision`: formats
    for weights, activations and KV cache, docs/llm.md) prices each tensor in its role's format and
    the estimate at the dtype GEMMs compute in; it replaces `dtype`. The model is left as it was found.

    Raises EffprofError (UsageError, SpecError, InputMismatchError, ...) with a one-line message that
    names arguments by these keywords (`fuse=True`, `hardware='a4000'`).
    """
    if precision is not None and dtype is not None:
        raise UsageError("give ", option("dtype"), " or ", option("precision"), " (a format per role), not both")
    spec = _spec(hardware, fuse)
    inputs = ModelInputs.from_example(example_inputs)
    if batch is not None:
        inputs = with_batch(inputs, batch)
    trace = trace_model(model, inputs, allow_real=allow_real)
    if precision is not None:
        dtype = precision.float_format
    profile_dtype = parse_dtype(dtype) if isinstance(dtype, str) else dtype
    result = aggregate(trace, model, profile_dtype, recoster(trace, precision) if precision is not None else None)
    report_dtype = dtype if isinstance(dtype, str) and dtype.lower() == "tf32" else dtype_name(profile_dtype or _model_dtype(model))
    inputs_info = tuple(InputInfo(n, tuple(t.shape), dtype_name(t.dtype)) for n, t in named_tensors(inputs))
    notes = [*_input_dtype_warnings(inputs_info, model, profile_dtype), *trace.notes]
    if precision is not None:
        report_dtype = precision.gemm_dtype
        notes.append(
            f"precision per role: {precision.label}; GEMMs priced at the {precision.gemm_dtype} peak"
            + ("; weights dequantized in registers on the vector units, added to each GEMM's compute time"
               if precision.weights in ("int8", "int4") and precision.gemm_dtype != "int8" else "")
        )
    roofline = None
    if spec is not None:
        live = live_activation_bytes(result.kernels, trace.view_of, trace.tags.get("parameters", frozenset()), spec)
        roofline = estimate(result.kernels, result.layers, spec, dtype=report_dtype, batch=_batch_of(inputs), fuse=fuse,
                            activation_bytes=live)
        notes.extend(roofline.notes)
    return Report(
        model=name or type(model).__name__,
        inputs=inputs_info,
        dtype=report_dtype,
        device=trace.device,
        layers=tuple(result.layers),
        totals=result.totals,
        unsupported_ops=result.unsupported_ops,
        unsupported_by_module=result.unsupported_by_module,
        notes=tuple(dict.fromkeys(notes)),
        kernels=tuple(result.kernels),
        module_types=trace.module_types,
        output_shapes=trace.output_shapes,
        estimate=roofline,
    )


def _input_dtype_warnings(inputs: Sequence[InputInfo], model: nn.Module, profile_dtype: torch.dtype | None) -> list[str]:
    """A floating input in another dtype than the weights: the counts would mix two element sizes
    under one dtype label, and a real run would fail on the mismatch. --dtype is the way to price
    a model in another dtype."""
    if profile_dtype is not None or not any(t.is_floating_point() for t in model.parameters()):
        return []
    weights = dtype_name(_model_dtype(model))
    odd = [i for i in inputs if i.dtype != weights and parse_dtype(i.dtype).is_floating_point]
    if not odd:
        return []
    shown = ", ".join(f"{i.name} is {i.dtype}" for i in odd)
    return [
        f"warning: {shown} but the model's weights are {weights}: the counts mix {odd[0].dtype} activations with "
        f"{weights} weights, and a real run would fail on the mismatch; to profile the model in {odd[0].dtype}, "
        f"give {weights} inputs and --dtype {odd[0].dtype} (dtype='{odd[0].dtype}' in Python)"
    ]


def _spec(hardware: str | Path | HardwareSpec | None, fuse: bool) -> HardwareSpec | None:
    if hardware is None:
        if fuse:
            raise UsageError(option("fuse", True), " changes only the latency estimate: give a device too, e.g. ", option("hardware", "a4000"))
        return None
    return load_spec(hardware)  # before tracing, so that a bad spec fails fast


def _batch_of(inputs: ModelInputs) -> int:
    """The leading dimension of the first input: what throughput (inferences/s) counts."""
    tensors = inputs.tensors()
    return int(tensors[0].shape[0]) if tensors and tensors[0].dim() > 0 else 1


def profile_loaded(
    loaded: LoadedModel,
    *,
    dtype: str | None = None,
    hardware: str | Path | HardwareSpec | None = None,
    fuse: bool = False,
    precision: Precision | None = None,
) -> Report:
    """Profile a model from `loading.load_model`, rebuilding it on the CPU if meta cannot run it."""
    spec = _spec(hardware, fuse)
    try:
        report = _profile_loaded(loaded, dtype, spec, fuse, precision)
    except EffprofError as error:
        if loaded.guessed_input is None:
            raise
        raise error.with_context(
            f"(the input shape {loaded.guessed_input} was guessed from the first layer: give the real one with ",
            option("input_shape"), ", or define example_inputs() in the model file)",
        ) from error
    return replace(report, inputs_guessed=loaded.inputs_guessed)


def _profile_loaded(
    loaded: LoadedModel, dtype: str | None, spec: HardwareSpec | None, fuse: bool, precision: Precision | None = None
) -> Report:
    try:
        report = profile(loaded.model, loaded.inputs, dtype=dtype, name=loaded.name, hardware=spec, fuse=fuse, precision=precision)
    except MetaUnsupportedError as error:
        params = sum(t.numel() for t in loaded.model.parameters())
        if loaded.rebuild_real is None or params > CPU_FALLBACK_MAX_PARAMS:
            raise error.without_fallback(
                f"a CPU run of {params / 1e9:.1f}B params is too large to fall back to" if loaded.rebuild_real else "no way to rebuild it on the CPU"
            ) from error
        model, inputs = loaded.rebuild_real()
        report = profile(model, inputs, dtype=dtype, name=loaded.name, allow_real=True, hardware=spec, fuse=fuse, precision=precision)
        report = report.with_notes(after=(f"ran on real CPU tensors: an op cannot run on the meta device ({error.reason})",))
    return report.with_notes(before=tuple(loaded.notes))
