"""Pooling, reductions and resampling.

Windowed pooling costs prod(kernel) FLOPs per output element (each window element is one add or
compare). Adaptive/global pooling and reductions cost 1 per input element. Nearest upsampling
moves data only; (bi/tri)linear and bicubic interpolation cost 2/4/8/16 per output element, and
so does `grid_sample` in the same mode. Sampling (`multinomial`) and `all`/`any` cost 1 per input
element, like every reduction.
Only the primary output counts as written (max pooling's indices are a training artefact).
"""

from __future__ import annotations

import math

from ..events import OpEvent, TensorMeta
from .registry import OpCost, register
from ..vocabulary import KernelFamily

__all__ = ["UPSAMPLE_FLOPS_PER_OUTPUT"]

_SPATIAL_DIMS = {
    "max_pool1d": 1, "max_pool2d": 2, "max_pool3d": 3,
    "max_pool1d_with_indices": 1, "max_pool2d_with_indices": 2, "max_pool3d_with_indices": 3,
    "avg_pool1d": 1, "avg_pool2d": 2, "avg_pool3d": 3,
    "mkldnn_max_pool2d": 2, "mkldnn_max_pool3d": 3,
}

UPSAMPLE_FLOPS_PER_OUTPUT = {
    "upsample_nearest1d": 0, "upsample_nearest2d": 0, "upsample_nearest3d": 0,
    "_upsample_nearest_exact1d": 0, "_upsample_nearest_exact2d": 0, "_upsample_nearest_exact3d": 0,
    "upsample_linear1d": 2,
    "upsample_bilinear2d": 4, "_upsample_bilinear2d_aa": 4,
    "upsample_trilinear3d": 8,
    "upsample_bicubic2d": 16, "_upsample_bicubic2d_aa": 16,
}

REDUCTION_OPS = (
    "sum", "mean", "nansum", "nanmean", "prod", "amax", "amin", "aminmax", "max", "min",
    "argmax", "argmin", "var", "std", "var_mean", "std_mean", "logsumexp", "norm",
    "_is_all_true", "_is_any_true", "multinomial",
    "linalg_vector_norm", "cumsum", "cumprod", "any", "all", "count_nonzero", "histc", "bincount",
    "_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
)


def _primary_io(event: OpEvent) -> tuple[int, int]:
    x = event.args[0]
    return x.nbytes, event.outputs[0].nbytes


def _as_tuple(value: int | list[int] | tuple[int, ...], dims: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * dims
    values = tuple(value)
    return values * dims if len(values) == 1 else values


# grid_sample: interpolation_mode 0 bilinear (trilinear in 3d), 1 nearest, 2 bicubic
_GRID_SAMPLE_FLOPS = {("grid_sampler_2d", 0): 4, ("grid_sampler_2d", 1): 0, ("grid_sampler_2d", 2): 16,
                      ("grid_sampler_3d", 0): 8, ("grid_sampler_3d", 1): 0}


@register("grid_sampler_2d", "grid_sampler_3d")
def grid_sample_cost(event: OpEvent) -> OpCost:
    # (input, grid, interpolation_mode, padding_mode, align_corners): interpolation costs what
    # resizing with the same mode costs per output element; the input and the grid are read
    flops = _GRID_SAMPLE_FLOPS[(event.name, int(event.args[2]))] * event.outputs[0].numel
    x, grid = event.args[0], event.args[1]
    return OpCost(flops=flops, bytes_read=x.nbytes + grid.nbytes, bytes_written=event.outputs[0].nbytes,
                  family=KernelFamily.UPSAMPLE)


@register(*_SPATIAL_DIMS)
def window_pool_cost(event: OpEvent) -> OpCost:
    kernel = _as_tuple(event.args[1], _SPATIAL_DIMS[event.name])
    read, written = _primary_io(event)
    return OpCost(
        flops=math.prod(kernel) * event.outputs[0].numel,
        bytes_read=read,
        bytes_written=written,
        family=KernelFamily.POOL,
    )


@register(*REDUCTION_OPS)
def reduction_cost(event: OpEvent) -> OpCost:
    operands = [a for a in event.args if isinstance(a, TensorMeta)]
    if len(operands) > 1:  # max.other / min.other are elementwise, not reductions
        out = event.outputs[0]
        return OpCost(
            flops=out.numel,
            bytes_read=sum(t.nbytes for t in operands),
            bytes_written=out.nbytes,
            family=KernelFamily.ELEMENTWISE,
        )
    read, written = _primary_io(event)
    return OpCost(
        flops=event.args[0].numel,
        bytes_read=read,
        bytes_written=written,
        family=KernelFamily.REDUCTION,
    )


@register(*UPSAMPLE_FLOPS_PER_OUTPUT)
def upsample_cost(event: OpEvent) -> OpCost:
    read, written = _primary_io(event)
    return OpCost(
        flops=UPSAMPLE_FLOPS_PER_OUTPUT[event.name] * event.outputs[0].numel,
        bytes_read=read,
        bytes_written=written,
        family=KernelFamily.UPSAMPLE,
    )
