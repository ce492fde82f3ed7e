"""Scaled-dot-product attention, one formula for every kernel variant and layout.

MACs = H * sum over the batch of Lq_b * Lk_b * (E + Ev): the QK^T product and the PV product,
counted in full even when the mask is causal or windowed (a causal kernel may skip about half of
them; the convention counts what the dense computation would perform, so the number does not
depend on which backend ran). For a dense batch every Lq_b = Lq and Lk_b = Lk, which gives
B * H * Lq * Lk * (E + Ev); for jagged nested tensors each sequence counts its own lengths, read
from the offsets. H is the query's heads (grouped-query attention shares K and V heads, not
products). FLOPs add the softmax's 5 per score element. Bytes: q, k, v and the mask or bias read
once, the attention output written once; auxiliary outputs (logsumexp, RNG state) are ignored so
that every variant, and the math fallback, reports the same bytes.

The tracer records `F.scaled_dot_product_attention` itself as `aten::scaled_dot_product_attention`
(the call is intercepted above the dispatcher, so the backend's decomposition is not counted
again); the aten kernels below are counted when called directly. The SDPA kernels take
(B, H, L, E); the lower-level `_flash_attention_forward` and `_efficient_attention_forward` take
(B, L, H, E). Their variable-length form (packed sequences with cumulative offsets `cum_seq_q`)
needs the offsets' values, which the trace does not have: it is reported as unsupported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..events import OpEvent, TensorMeta
from .registry import OpCost, register
from ..vocabulary import KernelFamily
from .softmax import SOFTMAX_FLOPS_PER_ELEMENT

__all__ = ["attention_cost"]


@dataclass(frozen=True)
class _Layout:
    heads_first: bool  # (B, H, L, E) when True, (B, L, H, E) when False
    mask: int | str | None = None  # position, or keyword, of the mask or bias argument
    offsets: int | None = None  # position of cum_seq_q (varlen packing) when the kernel takes it


_BHLE = _Layout(heads_first=True, mask=3)
_LAYOUTS = {
    "scaled_dot_product_attention": _BHLE,
    "_scaled_dot_product_attention_math": _BHLE,
    "_scaled_dot_product_attention_math_for_mps": _BHLE,
    "_scaled_dot_product_flash_attention_for_cpu": _Layout(heads_first=True, mask="attn_mask"),
    "_scaled_dot_product_flash_attention": _Layout(heads_first=True),
    "_scaled_dot_product_efficient_attention": _BHLE,
    "_scaled_dot_product_cudnn_attention": _BHLE,
    "_scaled_dot_product_fused_attention_overrideable": _BHLE,
    "_flash_attention_forward": _Layout(heads_first=False, offsets=3),
    "_efficient_attention_forward": _Layout(heads_first=False, mask=3, offsets=4),
}


def _argument(event: OpEvent, where: int | str | None) -> object:
    if isinstance(where, str):
        return event.kwargs.get(where)
    if where is not None and len(event.args) > where:
        return event.args[where]
    return None


def _mask(event: OpEvent, layout: _Layout) -> TensorMeta | None:
    candidate = event.kwargs.get("attn_mask")
    if candidate is None:
        candidate = _argument(event, layout.mask)
    return candidate if isinstance(candidate, TensorMeta) else None


def _heads_and_lengths(q: TensorMeta, k: TensorMeta, layout: _Layout) -> tuple[int, list[tuple[int, int]]]:
    """The query heads, and (Lq_b, Lk_b) for each batch entry b."""
    if layout.heads_first:
        if len(q.shape) == 2:  # (L, E): one sequence, one head
            return 1, [(q.shape[0], k.shape[0])]
        heads = math.prod(q.shape[1:-2])
        sequence_dim = -2
    else:
        heads = q.shape[2]
        sequence_dim = 1
    return heads, list(zip(q.sequence_lengths(sequence_dim), k.sequence_lengths(sequence_dim)))


@register(*_LAYOUTS)
def attention_cost(event: OpEvent) -> OpCost:
    layout = _LAYOUTS[event.name]
    if layout.offsets is not None and isinstance(_argument(event, layout.offsets), TensorMeta):
        raise ValueError(f"{event.op} on packed variable-length sequences: the offsets' values are not traced")
    q, k, v = event.args[0], event.args[1], event.args[2]
    heads, lengths = _heads_and_lengths(q, k, layout)
    scores = heads * sum(lq * lk for lq, lk in lengths)
    macs = scores * (q.shape[-1] + v.shape[-1])
    mask = _mask(event, layout)
    read = q.nbytes + k.nbytes + v.nbytes + (mask.nbytes if mask is not None else 0)
    return OpCost(
        macs=macs,
        flops=2 * macs + SOFTMAX_FLOPS_PER_ELEMENT * scores,
        bytes_read=read,
        bytes_written=event.outputs[0].nbytes,
        family=KernelFamily.ATTENTION,
        engine="matrix",
    )
