"""Precision per role: the traced op costs re-priced with weights, activations and the KV cache
each stored in its own format, and each matrix op computing in the dtype its kernel runs in.

Roles come from the trace, not from names: a *weight* is a parameter read by a matrix op (a GEMM
or convolution operand of two or more dimensions, seen through views such as `t()`); the *KV
cache* is whatever the caller tagged so (the cache's buffers); every other floating tensor is an
*activation*. Other parameters (norm scales, biases, embedding tables gathered row by row) stay in
the float format, as weight-only quantizers (GPTQ, AWQ, TensorRT) leave them.

Quantized weights carry their scales: per group of `group_size` elements along the reduction
dimension, or per output channel (one scale per reduction row) when no group size is given, each
scale in fp16, plus an integer zero point of the weight's width per scale when `zero_points`
(asymmetric quantization; symmetric is the default for weights). fp8 weights carry one fp32 scale
per tensor.

The compute dtype follows the kernel that would run: int8 tensor-core GEMMs when weights are
int8/int4 and activations int8 (W8A8, SmoothQuant/TensorRT); fp8 GEMMs when both are fp8;
otherwise the float format, the weights dequantized in registers (W4A16 in AWQ/Marlin kernels),
which costs `DEQUANT_OPS_PER_ELEMENT` vector operations per weight element the kernel reads
(one more with zero points). Attention computes the same way against the KV cache.
docs/llm.md derives the numbers; this module only re-prices one kernel at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import torch

from .aggregate import Kernel, cost_of
from .costs import OpCost
from .errors import UsageError, did_you_mean, option
from .events import OpEvent, TensorMeta, tensor_args
from .tracing import Roles, Trace
from .vocabulary import KernelFamily

__all__ = [
    "ACTIVATION_FORMATS",
    "DEQUANT_OPS_PER_ELEMENT",
    "KV_FORMATS",
    "WEIGHT_FORMATS",
    "Precision",
    "PricedCost",
    "Roles",
    "parse_precision",
    "reprice",
]

WEIGHT_FORMATS = ("fp16", "bf16", "fp8", "int8", "int4")
ACTIVATION_FORMATS = ("fp16", "bf16", "fp8", "int8")
KV_FORMATS = ("fp16", "bf16", "fp8", "int8")
FLOAT_FORMATS = ("fp16", "bf16")
BITS = {"fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4}
SCALE_BYTES = 2  # fp16 scales per group or channel (GPTQ, AWQ, bitsandbytes int8 keep them so)
FP8_TENSOR_SCALE_BYTES = 4  # one fp32 scale per tensor (TensorRT-LLM / vLLM fp8 checkpoints)
# Dequantizing one element in registers: convert the integer to float, multiply by its scale.
# A zero point adds one subtraction.
DEQUANT_OPS_PER_ELEMENT = 2

# torch dtypes that stand in for each format's element size while a formula is re-run; int4 is
# priced as int8 and its bytes halved afterwards (torch has no 4-bit dtype the formulas can size)
_STAND_IN = {
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
    "fp8": torch.float8_e4m3fn,
    "int8": torch.int8,
    "int4": torch.int8,
}
_MATRIX_FAMILIES = (KernelFamily.MATMUL, KernelFamily.CONV)


def _check(value: str, allowed: tuple[str, ...], keyword: str) -> str:
    key = value.strip().lower()
    if key not in allowed:
        raise UsageError("unknown ", option(keyword), f" '{value}'{did_you_mean(key, allowed)}; use one of {', '.join(allowed)}")
    return key


@dataclass(frozen=True)
class Precision:
    """Storage formats per role and how quantized weights are scaled."""

    weights: str = "fp16"
    activations: str = "fp16"
    kv_cache: str = "fp16"
    group_size: int | None = None
    zero_points: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _check(self.weights, WEIGHT_FORMATS, "weights"))
        object.__setattr__(self, "activations", _check(self.activations, ACTIVATION_FORMATS, "activations"))
        object.__setattr__(self, "kv_cache", _check(self.kv_cache, KV_FORMATS, "kv_cache"))
        if self.group_size is not None and self.group_size < 1:
            raise UsageError(option("group_size"), f" must be 1 or more, got {self.group_size}")
        if self.group_size is not None and self.weights not in ("int8", "int4"):
            raise UsageError(option("group_size"), f" applies to int8 or int4 weights, not {self.weights}: drop it or pass ",
                             option("weights", "int4"))

    @property
    def float_format(self) -> str:
        """The format of everything not quantized, and of the arithmetic outside matrix engines."""
        if self.activations in FLOAT_FORMATS:
            return self.activations
        return self.weights if self.weights in FLOAT_FORMATS else "fp16"

    @property
    def gemm_dtype(self) -> str:
        """The dtype a GEMM against a weight computes in (the peak it runs at)."""
        if self.activations == "int8" and self.weights in ("int8", "int4"):
            return "int8"
        if self.activations == "fp8" and self.weights == "fp8":
            return "fp8"
        return self.float_format

    @property
    def attention_dtype(self) -> str:
        """The dtype attention computes in against the KV cache."""
        if self.activations == "int8" and self.kv_cache == "int8":
            return "int8"
        if self.activations == "fp8" and self.kv_cache == "fp8":
            return "fp8"
        return self.float_format

    @property
    def label(self) -> str:
        scaling = ""
        if self.weights in ("int8", "int4"):
            scaling = f" (group {self.group_size})" if self.group_size else " (per channel)"
        return f"weights {self.weights}{scaling}, activations {self.activations}, KV cache {self.kv_cache}"

    def weight_bytes(self, numel: int, reduction: int, tensors: int = 1) -> int:
        """Bytes of `numel` weight elements, scales and zero points included. `reduction` is the
        length of the dimension a GEMM sums over (what a per-channel scale covers)."""
        bits = BITS[self.weights]
        payload = math.ceil(numel * bits / 8)
        if self.weights == "fp8":
            return payload + FP8_TENSOR_SCALE_BYTES * tensors
        if self.weights not in ("int8", "int4"):
            return payload
        scales = math.ceil(numel / (self.group_size or max(reduction, 1)))
        zeros = math.ceil(scales * bits / 8) if self.zero_points else 0
        return payload + scales * SCALE_BYTES + zeros

    def dequant_ops(self, numel: int, stored: str, computed: str) -> int:
        if stored == computed or (stored in FLOAT_FORMATS and computed in FLOAT_FORMATS):
            return 0
        return numel * (DEQUANT_OPS_PER_ELEMENT + (1 if self.zero_points and stored in ("int8", "int4") else 0))


def parse_precision(
    weights: str | None = None,
    activations: str | None = None,
    kv_cache: str | None = None,
    group_size: int | None = None,
    zero_points: bool = False,
) -> Precision:
    """A Precision from CLI-style options; int4 weights default to groups of 128 (GPTQ/AWQ's)."""
    weights = weights or "fp16"
    if group_size is None and weights.strip().lower() == "int4":
        group_size = 128
    return Precision(
        weights=weights,
        activations=activations or "fp16",
        kv_cache=kv_cache or "fp16",
        group_size=group_size,
        zero_points=zero_points,
    )


@dataclass(frozen=True, slots=True)
class PricedCost:
    """One kernel's cost in the chosen formats. `dequant_ops` run on the vector units, in
    registers, on top of the `flops` the kernel's own unit computes in `compute_dtype`."""

    macs: int
    flops: int
    bytes_read: int
    bytes_written: int
    compute_dtype: str
    dequant_ops: int = 0
    parameter_bytes: int = 0  # of the bytes read, the parameters' (whatever the batch, read once)

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written


def is_matrix_weight(kernel: Kernel, tensor: TensorMeta, roles: Roles) -> bool:
    return kernel.cost.family in _MATRIX_FAMILIES and len(tensor.shape) >= 2 and roles.is_parameter(tensor)


def reduction_length(event: OpEvent, weight: TensorMeta) -> int:
    """The length a per-channel scale of `weight` covers: the GEMM's K, a convolution's Cin·kh·kw."""
    if event.name.startswith("conv"):
        return math.prod(weight.shape[1:])
    operands = [a for a in event.args if isinstance(a, TensorMeta)]
    # a weight on the right of x @ W is (K, N): K leads; on the left (W @ x) it is (M, K)
    if operands and operands[-1].token == weight.token:
        return weight.shape[-2]
    return weight.shape[-1]


def reprice(kernel: Kernel, roles: Roles, precision: Precision, *, eager_cache: bool = False) -> PricedCost:
    """`kernel`'s cost with every tensor in its role's format (`Precision`'s rules).

    `eager_cache`: price a KV cache write as Hugging Face's eager DynamicCache does it, a
    `torch.cat` of the whole past with the new token (the full cache read and written again)
    instead of writing the new rows in place."""
    event, cost = kernel.event, kernel.cost
    if cost.engine == "none":
        return PricedCost(0, 0, 0, 0, precision.float_format)
    def storage(tensor: TensorMeta) -> TensorMeta:
        if not tensor.is_floating:
            return tensor
        return tensor.with_dtype(_STAND_IN[_format_of(kernel, tensor, roles, precision)])

    operands = [t for t in tensor_args((event.args, event.kwargs)) if t.is_floating]
    weights = [t for t in operands if is_matrix_weight(kernel, t, roles)]
    kv = [t for t in operands if roles.is_kv(t)]
    remapped = event.map_tensors(storage)
    priced = cost_of(remapped) or cost
    read, written = priced.bytes_read, priced.bytes_written
    # formulas read a matrix operand whole: swap the stand-in's bytes for the real format's
    parameter_bytes = 0
    for weight in weights:
        stored = precision.weight_bytes(weight.numel, reduction_length(event, weight))
        read += stored - weight.numel * _STAND_IN[precision.weights].itemsize
        parameter_bytes += stored
    if cost.family is not KernelFamily.GATHER:  # a gather reads the rows it is asked for, not the whole table
        parameter_bytes += sum(
            t.numel * _STAND_IN[precision.float_format].itemsize for t in operands if roles.is_parameter(t) and t not in weights
        )
    if eager_cache and event.name in ("index_copy_", "index_put_") and kv and roles.is_kv(event.args[0]):
        whole = event.args[0].numel * _STAND_IN[precision.kv_cache].itemsize
        read, written = whole, whole  # cat(past, new): the past read, all of it written anew
    dequant = 0
    if cost.family in _MATRIX_FAMILIES:
        dtype = precision.gemm_dtype if weights else precision.float_format
        dequant = sum(precision.dequant_ops(w.numel, precision.weights, dtype) for w in weights)
    elif cost.family is KernelFamily.ATTENTION:
        dtype = precision.attention_dtype if kv else precision.float_format
        dequant = sum(precision.dequant_ops(t.numel, precision.kv_cache, dtype) for t in kv)
    else:
        dtype = precision.float_format
    return PricedCost(priced.macs, priced.flops, read, written, dtype, dequant, parameter_bytes)


def recoster(trace: Trace, precision: Precision) -> Callable[[Kernel], OpCost]:
    """For `aggregate(recost=...)`: each kernel's OpCost with its bytes in the formats of `precision`
    and the vector operations that dequantize its operands (FLOPs and MACs unchanged: dequantizing
    is not the model's arithmetic). Without a cache tagged by
    the caller, the KV cache is what the forward writes rows into in place (a static cache)."""
    roles = Roles.from_trace(trace)
    if not roles.kv_cache:
        written = {
            roles.base(event.args[0]) for event in trace.events
            if event.inplace and event.name in ("index_copy_", "index_put_") and isinstance(event.args[0], TensorMeta)
        }
        roles = replace(roles, kv_cache=frozenset(written - roles.parameters))

    def recost(kernel: Kernel) -> OpCost:
        priced = reprice(kernel, roles, precision)
        return replace(kernel.cost, bytes_read=priced.bytes_read, bytes_written=priced.bytes_written,
                       dequant_ops=priced.dequant_ops)

    return recost


def _format_of(kernel: Kernel, tensor: TensorMeta, roles: Roles, precision: Precision) -> str:
    if is_matrix_weight(kernel, tensor, roles):
        return precision.weights
    if roles.is_kv(tensor):
        return precision.kv_cache
    if roles.is_parameter(tensor):
        return precision.float_format
    return precision.activations


