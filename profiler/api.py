"""`profile()`: the pipeline wired end to end, for Python users and the CLI alike."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .aggregate import aggregate
from .dtypes import dtype_name, parse_dtype
from .errors import MetaUnsupportedError
from .loading import LoadedModel, input_names, with_batch
from .report import InputInfo, Report
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
) -> Report:
    """Count params, MACs, FLOPs and bytes of one forward call of `model`, per layer.

    `example_inputs`: a tensor, a tuple of positional args, or a dict of keyword args (real or
    meta tensors; only their shapes and dtypes matter). `dtype` ('fp16', torch.bfloat16, ...)
    prices every floating tensor at that element size; the default is the model's own dtype.
    `batch` replaces the leading dimension of every input. The model is left as it was found.
    """
    inputs = ModelInputs.from_example(example_inputs)
    if batch is not None:
        inputs = with_batch(inputs, batch)
    trace = trace_model(model, inputs, allow_real=allow_real)
    profile_dtype = parse_dtype(dtype) if isinstance(dtype, str) else dtype
    result = aggregate(trace, model, profile_dtype)
    names = input_names(inputs)
    return Report(
        model=name or type(model).__name__,
        inputs=[InputInfo(n, tuple(t.shape), dtype_name(t.dtype)) for n, t in zip(names, inputs.tensors())],
        dtype=dtype if isinstance(dtype, str) and dtype.lower() == "tf32" else dtype_name(profile_dtype or _model_dtype(model)),
        device=trace.device,
        layers=result.layers,
        totals=result.totals,
        unsupported_ops=result.unsupported_ops,
        unsupported_by_module=result.unsupported_by_module,
        notes=list(trace.notes),
        kernels=result.kernels,
        module_types=trace.module_types,
        output_shapes=trace.output_shapes,
    )


def profile_loaded(loaded: LoadedModel, *, dtype: str | None = None) -> Report:
    """Profile a model from `loading.load_model`, rebuilding it on the CPU if meta cannot run it."""
    try:
        report = profile(loaded.model, loaded.inputs, dtype=dtype, name=loaded.name)
    except MetaUnsupportedError as error:
        params = sum(t.numel() for t in loaded.model.parameters())
        if loaded.rebuild_real is None or params > CPU_FALLBACK_MAX_PARAMS:
            raise error.without_fallback(
                f"a CPU run of {params / 1e9:.1f}B params is too large to fall back to" if loaded.rebuild_real else "no way to rebuild it on the CPU"
            ) from error
        model, inputs = loaded.rebuild_real()
        report = profile(model, inputs, dtype=dtype, name=loaded.name, allow_real=True)
        report.notes.append(f"ran on real CPU tensors: an op cannot run on the meta device ({error.reason})")
    report.notes[:0] = loaded.notes
    return report
