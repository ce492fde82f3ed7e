"""Scaled-dot-product attention, one formula for every kernel variant.

MACs = B * H * Lq * Lk * (E + Ev): the QK^T product and the PV product, counted in full even when
the mask is causal (a causal kernel may skip about half of them; the convention counts what the
dense computation would perform, so the number does not depend on which backend ran).
FLOPs add the softmax's 5 per score element. Bytes: q, k, v and the mask read once, the attention
output written once; auxiliary outputs (logsumexp, RNG state) are ignored so that every variant,
and the math fallback, reports the same bytes.

The tracer records `F.scaled_dot_product_attention` itself as the pseudo-op
`scaled_dot_product_attention` (the call is intercepted above the dispatcher, so the backend's
decomposition is not counted again); the aten kernels below are counted when called directly.
"""

from __future__ import annotations

import math

from ..events import OpEvent, TensorMeta
from .registry import OpCost, register
from .softmax import SOFTMAX_FLOPS_PER_ELEMENT

__all__ = ["attention_cost"]

# (position of q, k, v, and of the mask or bias argument, None when the variant takes none)
_LAYOUTS = {
    "scaled_dot_product_attention": 3,
    "_scaled_dot_product_attention_math": 3,
    "_scaled_dot_product_flash_attention_for_cpu": None,  # mask is the keyword attn_mask
    "_scaled_dot_product_flash_attention": None,
    "_scaled_dot_product_efficient_attention": 3,
    "_scaled_dot_product_cudnn_attention": 3,
    "_scaled_dot_product_fused_attention_overrideable": 3,
}


def _mask(event: OpEvent) -> TensorMeta | None:
    position = _LAYOUTS[event.name]
    candidate = event.kwargs.get("attn_mask")
    if candidate is None and position is not None and len(event.args) > position:
        candidate = event.args[position]
    return candidate if isinstance(candidate, TensorMeta) else None


@register(*_LAYOUTS)
def attention_cost(event: OpEvent) -> OpCost:
    q, k, v = event.args[0], event.args[1], event.args[2]
    batch_heads = math.prod(q.shape[:-2])
    lq, e = q.shape[-2], q.shape[-1]
    lk, ev = k.shape[-2], v.shape[-1]
    scores = batch_heads * lq * lk
    macs = scores * (e + ev)
    mask = _mask(event)
    read = q.nbytes + k.nbytes + v.nbytes + (mask.nbytes if mask is not None else 0)
    return OpCost(
        macs=macs,
        flops=2 * macs + SOFTMAX_FLOPS_PER_ELEMENT * scores,
        bytes_read=read,
        bytes_written=event.outputs[0].nbytes,
        family="attention",
        engine="matrix",
    )
