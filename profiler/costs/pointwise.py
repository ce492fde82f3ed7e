"""Elementwise ops: one FLOP per output element, whatever the function (CONVENTIONS.md).

An add, a compare and a `tanh` all count 1: the convention measures work items, not instruction
latency. In-place variants (`relu_`) use the same formula: they read and write the same tensor.
"""

from __future__ import annotations

from ..events import OpEvent
from .registry import OpCost, io_bytes, register
from ..vocabulary import KernelFamily

__all__ = ["ELEMENTWISE_OPS"]

ELEMENTWISE_OPS = (
    # arithmetic
    "add", "sub", "rsub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod",
    "neg", "abs", "reciprocal", "pow", "square", "sqrt", "rsqrt", "exp", "exp2", "expm1",
    "log", "log2", "log10", "log1p", "sign", "sgn", "floor", "ceil", "round", "trunc", "frac",
    "lerp", "addcmul", "addcdiv", "hypot", "atan2", "xlogy", "polar", "complex",
    # trigonometric and special functions
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "erf", "erfc", "erfinv",
    # activations
    "relu", "relu6", "leaky_relu", "prelu", "_prelu_kernel", "rrelu_with_noise", "elu", "selu",
    "celu", "gelu", "silu", "mish", "sigmoid", "log_sigmoid_forward", "tanh", "hardtanh",
    "hardswish", "hardsigmoid", "softplus", "softshrink", "hardshrink", "threshold", "glu",
    "logit", "nan_to_num",
    # clamps, selects and comparisons
    "clamp", "clamp_min", "clamp_max", "clip", "maximum", "minimum", "fmax", "fmin", "where",
    "masked_fill", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
    "logical_not", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "isnan", "isinf", "isfinite",
    # training-mode dropout (eval mode calls nothing)
    "native_dropout", "dropout", "bernoulli",
)


@register(*ELEMENTWISE_OPS)
def elementwise_cost(event: OpEvent) -> OpCost:
    read, written = io_bytes(event)
    return OpCost(
        flops=sum(t.numel for t in event.outputs[:1]),
        bytes_read=read,
        bytes_written=written,
        family=KernelFamily.ELEMENTWISE,
    )
