"""Names of dtypes as users type them (`fp16`, `bf16`, `int64`) and as effprof prints them."""

from __future__ import annotations

import torch

from .errors import UsageError, did_you_mean

__all__ = ["parse_dtype", "dtype_name", "peak_key", "PROFILE_DTYPES"]

_NAMES: dict[str, torch.dtype] = {
    "fp32": torch.float32, "float32": torch.float32, "float": torch.float32,
    "fp16": torch.float16, "float16": torch.float16, "half": torch.float16,
    "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
    "fp64": torch.float64, "float64": torch.float64, "double": torch.float64,
    # fp8 without a suffix is e4m3, the format inference uses for weights and activations
    "fp8": torch.float8_e4m3fn, "fp8_e4m3": torch.float8_e4m3fn, "e4m3": torch.float8_e4m3fn,
    "float8_e4m3fn": torch.float8_e4m3fn,
    "fp8_e5m2": torch.float8_e5m2, "e5m2": torch.float8_e5m2, "float8_e5m2": torch.float8_e5m2,
    "int8": torch.int8, "uint8": torch.uint8, "int16": torch.int16,
    "int32": torch.int32, "int": torch.int32, "int64": torch.int64, "long": torch.int64,
    "bool": torch.bool,
}

_SHORT = {
    torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16", torch.float64: "fp64",
    torch.float8_e4m3fn: "fp8_e4m3", torch.float8_e5m2: "fp8_e5m2", torch.int8: "int8",
}

# dtypes the roofline has peaks for, and that --dtype accepts (a spec's `peak_tflop_per_s` keys);
# both fp8 formats (e4m3, e5m2) run at one `fp8` peak on every device that has fp8 tensor cores
PROFILE_DTYPES = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")


def peak_key(dtype: str) -> str:
    """The spec peak that prices `dtype` (a name dtype_name gives): 'fp8_e5m2' -> 'fp8'."""
    key = dtype.strip().lower()
    return "fp8" if key.startswith("fp8") else key


def parse_dtype(name: str, *, what: str = "dtype") -> torch.dtype:
    key = name.strip().lower()
    if key == "tf32":  # tf32 stores fp32: it only changes the matrix engine's peak
        return torch.float32
    if key not in _NAMES:
        raise UsageError(f"unknown {what} '{name}'{did_you_mean(key, _NAMES)}; use one of {', '.join(sorted(set(_SHORT.values()) | {'int64', 'int32', 'bool'}))}")
    return _NAMES[key]


def dtype_name(dtype: torch.dtype) -> str:
    return _SHORT.get(dtype, str(dtype).removeprefix("torch."))
