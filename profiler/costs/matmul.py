"""Matrix products: mm, addmm, bmm, baddbmm, addbmm, mv, addmv, dot, _int_mm, _scaled_mm, linear.

`linear`, `matmul` and `einsum` are composite in PyTorch and reach the dispatcher as these ops
(`linear` itself only from tensor subclasses that implement it whole, such as nested tensors). MACs = prod(batch) * M * N * K; a bias add costs one FLOP
per output element (alpha/beta scaling is not counted: it is folded into the GEMM epilogue).
"""

from __future__ import annotations

from ..events import OpEvent
from .registry import OpCost, io_bytes, register
from ..vocabulary import KernelFamily

__all__: list[str] = []


def _gemm(event: OpEvent, macs: int, bias_elements: int = 0) -> OpCost:
    read, written = io_bytes(event)
    return OpCost(
        macs=macs,
        flops=2 * macs + bias_elements,
        bytes_read=read,
        bytes_written=written,
        family=KernelFamily.MATMUL,
        engine="matrix",
    )


@register("mm", "_int_mm")
def mm_cost(event: OpEvent) -> OpCost:
    a, b = event.args[0], event.args[1]
    m, k = a.shape
    n = b.shape[1]
    return _gemm(event, m * n * k)


@register("addmm")
def addmm_cost(event: OpEvent) -> OpCost:
    a, b = event.args[1], event.args[2]
    m, k = a.shape
    n = b.shape[1]
    return _gemm(event, m * n * k, bias_elements=m * n)


@register("bmm")
def bmm_cost(event: OpEvent) -> OpCost:
    a, b = event.args[0], event.args[1]
    batch, m, k = a.shape
    n = b.shape[2]
    return _gemm(event, batch * m * n * k)


@register("baddbmm")
def baddbmm_cost(event: OpEvent) -> OpCost:
    a, b = event.args[1], event.args[2]
    batch, m, k = a.shape
    n = b.shape[2]
    return _gemm(event, batch * m * n * k, bias_elements=batch * m * n)


@register("addbmm")
def addbmm_cost(event: OpEvent) -> OpCost:
    # sum over the batch of a[i] @ b[i], added to a single (M, N) matrix
    a, b = event.args[1], event.args[2]
    batch, m, k = a.shape
    n = b.shape[2]
    return _gemm(event, batch * m * n * k, bias_elements=m * n)


@register("mv")
def mv_cost(event: OpEvent) -> OpCost:
    m, k = event.args[0].shape
    return _gemm(event, m * k)


@register("addmv")
def addmv_cost(event: OpEvent) -> OpCost:
    m, k = event.args[1].shape
    return _gemm(event, m * k, bias_elements=m)


@register("dot", "vdot")
def dot_cost(event: OpEvent) -> OpCost:
    return _gemm(event, event.args[0].numel)




@register("_scaled_mm", "_scaled_mm_v2")
def scaled_mm_cost(event: OpEvent) -> OpCost:
    # fp8 GEMM: self (M, K) @ mat2 (K, N), dequantised by scale_a and scale_b in the epilogue (not
    # counted, like alpha and beta); an optional bias costs one FLOP per output element. The scales
    # are read like any operand. torch's FlopCounterMode counts the same products (2 * M * N * K).
    a, b = event.args[0], event.args[1]
    m, k = a.shape
    n = b.shape[1]
    bias = event.args[4] if event.name == "_scaled_mm" and len(event.args) > 4 else event.kwargs.get("bias")
    if event.name == "_scaled_mm_v2" and len(event.args) > 8:
        bias = event.args[8]
    return _gemm(event, m * n * k, bias_elements=m * n if bias is not None else 0)


@register("linear")
def linear_cost(event: OpEvent) -> OpCost:
    # linear(input (..., K), weight (N, K), bias (N)?): composite, so it reaches the dispatcher only
    # for tensor subclasses that implement it whole (jagged nested tensors); every input row of K
    # elements meets N weight rows. input.numel counts the real rows of a jagged tensor.
    x, weight = event.args[0], event.args[1]
    bias = event.args[2] if len(event.args) > 2 else event.kwargs.get("bias")
    out = event.outputs[0]
    return _gemm(event, x.numel * weight.shape[0], bias_elements=out.numel if bias is not None else 0)


@register("_grouped_mm")
def grouped_mm_cost(event: OpEvent) -> OpCost:
    # Mixture-of-experts GEMMs: whichever operand is split into groups (tokens per expert along
    # M, or K for weight gradients), every element of `a` meets one column block of width N.
    a, b = event.args[0], event.args[1]
    return _gemm(event, a.numel * b.shape[-1])
