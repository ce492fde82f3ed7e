"""Losses, as a model that is given labels computes them in its forward.

A fused loss kernel counts what its definition does element by element, one FLOP per step as
elementwise ops count (CONVENTIONS.md), plus one per element for the sum or mean when it reduces
(`reduction` not 'none'), as a reduction counts. Bytes: its inputs read once and its output written.
The negative log-likelihood reads one value per sample (the target class's), as a gather does.
"""

from __future__ import annotations

from ..events import OpEvent, TensorMeta, tensor_args
from .registry import OpCost, register
from ..vocabulary import KernelFamily

__all__ = ["LOSS_STEPS_PER_ELEMENT", "REDUCTION_NONE"]

REDUCTION_NONE = 0  # torch's Reduction enum: 0 none, 1 mean, 2 sum

# steps of each loss's definition per input element (x the input, t the target)
LOSS_STEPS_PER_ELEMENT = {
    "mse_loss": 2,  # (x - t)^2: subtract, square
    "l1_loss": 2,  # |x - t|
    "smooth_l1_loss": 4,  # d = |x - t|; d < beta ? 0.5 d^2 / beta : d - 0.5 beta: subtract, abs, compare, one branch
    "huber_loss": 4,  # the same with delta
    "soft_margin_loss": 4,  # log(1 + exp(-t x)): multiply, negate, exp, log1p
    "binary_cross_entropy": 7,  # -(t log x + (1 - t) log(1 - x)): 2 logs, 2 subtracts, 2 multiplies, add
    "binary_cross_entropy_with_logits": 7,  # (1 - t) x + log1p(exp(-|x|)) + max(-x, 0): stable form
}
# per element of `weight` and `pos_weight` when given: one multiply each (their argument positions)
_OPTIONAL_WEIGHTS = {"binary_cross_entropy": (("weight", 2),),
                     "binary_cross_entropy_with_logits": (("weight", 2), ("pos_weight", 3))}


def _argument(event: OpEvent, position: int, name: str) -> object:
    return event.args[position] if len(event.args) > position else event.kwargs.get(name)


def _reduction(event: OpEvent, position: int) -> int:
    value = _argument(event, position, "reduction")
    return value if isinstance(value, int) else 1  # torch's default: mean


def _tensor(event: OpEvent, position: int, name: str) -> TensorMeta | None:
    value = _argument(event, position, name)
    return value if isinstance(value, TensorMeta) else None


@register(*LOSS_STEPS_PER_ELEMENT)
def elementwise_loss_cost(event: OpEvent) -> OpCost:
    optional = _OPTIONAL_WEIGHTS.get(event.name, ())
    weights = [w for w in (_tensor(event, at, name) for name, at in optional) if w is not None]
    operands = [*tensor_args(event.args[:2]), *weights]
    elements = operands[0].numel
    reduction_at = 2 + len(optional)
    reduces = _reduction(event, reduction_at) != REDUCTION_NONE
    flops = (LOSS_STEPS_PER_ELEMENT[event.name] + len(weights) + (1 if reduces else 0)) * elements
    out = event.outputs[0]
    return OpCost(
        flops=flops,
        bytes_read=sum(t.nbytes for t in operands),
        bytes_written=out.nbytes,
        family=KernelFamily.REDUCTION if reduces else KernelFamily.ELEMENTWISE,
    )


@register("nll_loss_forward", "nll_loss2d_forward", "nll_loss", "nll_loss2d")
def nll_loss_cost(event: OpEvent) -> OpCost:
    """-x[n, t_n] (times the class weight, when given) per sample, then the sum or mean."""
    log_probs, target = tensor_args(event.args[:2])
    weight = _tensor(event, 2, "weight")
    samples = target.numel
    reduces = _reduction(event, 3) != REDUCTION_NONE
    flops = samples * (1 + (1 if weight is not None else 0) + (1 if reduces else 0))
    gathered = samples * log_probs.itemsize + (samples * weight.itemsize if weight is not None else 0)
    return OpCost(
        flops=flops,
        bytes_read=target.nbytes + gathered,
        bytes_written=event.outputs[0].nbytes,  # the loss; total_weight is bookkeeping
        family=KernelFamily.GATHER,
    )
