"""Softmax and log-softmax: 5 FLOPs per element (max, subtract, exp, sum, divide)."""

from __future__ import annotations

from ..events import OpEvent
from .registry import OpCost, io_bytes, register
from ..vocabulary import KernelFamily

__all__ = ["SOFTMAX_FLOPS_PER_ELEMENT"]

SOFTMAX_FLOPS_PER_ELEMENT = 5


@register("_softmax", "_log_softmax", "_safe_softmax", "softmax", "log_softmax")
def softmax_cost(event: OpEvent) -> OpCost:
    read, written = io_bytes(event)
    return OpCost(
        flops=SOFTMAX_FLOPS_PER_ELEMENT * event.outputs[0].numel,
        bytes_read=read,
        bytes_written=written,
        family=KernelFamily.SOFTMAX,
    )
