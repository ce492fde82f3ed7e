"""Normalisation layers.

Inference batch norm folds into one scale and one shift per element: 2 FLOPs, reading the input
and the 4 per-channel vectors. Layer, group and instance norm compute statistics at run time:
mean, subtract, square, variance sum, normalise = 5 FLOPs per element, +2 with an affine scale
and shift. RMS norm (silent in CONVENTIONS.md, decided in docs/conventions.md): square, sum,
normalise = 3 per element, +1 with a weight. Only the normalised output counts as written; the
saved statistics (mean, rstd) are tiny per-row vectors an inference kernel does not keep.
Weight normalisation (`_weight_norm_interface`, w = v * g / ||v||) counts what its decomposition
counts, so that the fused CPU/CUDA kernel and the meta device agree: the norm 1 per element of v
(a reduction), g / norm 1 per element of g, the product 1 per element of v.
"""

from __future__ import annotations

from typing import Any

from ..events import OpEvent, TensorMeta
from .registry import OpCost, register
from ..vocabulary import KernelFamily

__all__ = ["BATCH_NORM_FLOPS", "NORM_FLOPS", "AFFINE_FLOPS", "RMS_NORM_FLOPS"]

BATCH_NORM_FLOPS = 2
NORM_FLOPS = 5
AFFINE_FLOPS = 2
RMS_NORM_FLOPS = 3


def _norm(event: OpEvent, tensors: list[Any], flops_per_element: int, training: bool = False) -> OpCost:
    read = sum(t.nbytes for t in tensors if isinstance(t, TensorMeta))
    out = event.outputs[0]
    return OpCost(
        flops=flops_per_element * out.numel,
        bytes_read=read,
        bytes_written=out.nbytes,
        family=KernelFamily.NORM,
        training=training,
    )


@register("native_batch_norm", "_native_batch_norm_legit", "cudnn_batch_norm", "miopen_batch_norm")
def batch_norm_cost(event: OpEvent) -> OpCost:
    # (input, weight, bias, running_mean, running_var, training, momentum, eps)
    training = bool(event.args[5]) if len(event.args) > 5 and isinstance(event.args[5], bool) else False
    per_element = NORM_FLOPS + AFFINE_FLOPS if training else BATCH_NORM_FLOPS
    return _norm(event, list(event.args[:5]), per_element, training=training)


@register("_native_batch_norm_legit_no_training")
def batch_norm_inference_cost(event: OpEvent) -> OpCost:
    return _norm(event, list(event.args[:5]), BATCH_NORM_FLOPS)


@register("native_layer_norm")
def layer_norm_cost(event: OpEvent) -> OpCost:
    # (input, normalized_shape, weight, bias, eps)
    x, weight, bias = event.args[0], event.args[2], event.args[3]
    affine = AFFINE_FLOPS if isinstance(weight, TensorMeta) else 0
    return _norm(event, [x, weight, bias], NORM_FLOPS + affine)


@register("native_group_norm")
def group_norm_cost(event: OpEvent) -> OpCost:
    # (input, weight, bias, N, C, HxW, group, eps)
    x, weight, bias = event.args[0], event.args[1], event.args[2]
    affine = AFFINE_FLOPS if isinstance(weight, TensorMeta) else 0
    return _norm(event, [x, weight, bias], NORM_FLOPS + affine)


@register("_weight_norm_interface")
def weight_norm_cost(event: OpEvent) -> OpCost:
    # (v, g, dim) -> (w, norms); the norms are a per-slice side output, like BN's saved statistics
    v, g = event.args[0], event.args[1]
    out = event.outputs[0]
    return OpCost(
        flops=2 * v.numel + g.numel,
        bytes_read=v.nbytes + g.nbytes,
        bytes_written=out.nbytes,
        family=KernelFamily.NORM,
    )


@register("_fused_rms_norm", "rms_norm")
def rms_norm_cost(event: OpEvent) -> OpCost:
    # (input, normalized_shape, weight, eps)
    x = event.args[0]
    weight = event.args[2] if len(event.args) > 2 else event.kwargs.get("weight")
    scale = 1 if isinstance(weight, TensorMeta) else 0
    return _norm(event, [x, weight], RMS_NORM_FLOPS + scale)
