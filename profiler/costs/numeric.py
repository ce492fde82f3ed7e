"""Numerical kernels outside the GEMM family: triangular solves, FFTs, searches in sorted tensors.

None of these is a MAC (the conventions reserve MACs for GEMMs, convolutions and attention); all
are FLOPs, by the textbook operation counts:
- triangular solve, A (n, n) X = B (n, k), per batch: n^2 k FLOPs (n(n-1)/2 multiply-adds and n
  divides per column of B);
- FFT of N complex points: 5 N log2 N FLOPs (the radix-2 count FFTW and the benchmarks literature
  quote), N the product of the transformed sizes, once per batch entry; a real-input or
  real-output transform does half of that, 2.5 N log2 N;
- `bucketize` / `searchsorted`: a binary search, ceil(log2(m + 1)) compares per searched value in
  m sorted boundaries.
Bytes follow the default: every tensor argument read once, every output written once.
"""

from __future__ import annotations

import math

from ..events import OpEvent, TensorMeta
from .registry import OpCost, io_bytes, register
from ..vocabulary import KernelFamily

__all__ = ["FFT_FLOPS_PER_POINT_LOG2"]

FFT_FLOPS_PER_POINT_LOG2 = 5


def _cost(event: OpEvent, flops: int) -> OpCost:
    read, written = io_bytes(event)
    return OpCost(flops=int(flops), bytes_read=read, bytes_written=written, family=KernelFamily.NUMERIC)


@register("linalg_solve_triangular")
def triangular_solve_cost(event: OpEvent) -> OpCost:
    # (A (..., n, n), B (..., n, k), *, upper, left=True): with left=False, X A = B and B is (..., k, n)
    a, b = event.args[0], event.args[1]
    n = a.shape[-1]
    left = event.kwargs.get("left", True)
    columns = b.shape[-1] if left else b.shape[-2]
    batch = b.numel // (b.shape[-1] * b.shape[-2]) if b.shape[-1] * b.shape[-2] else 0
    return _cost(event, batch * n * n * columns)


def _fft(event: OpEvent, points_shape: TensorMeta, per_point_log2: float) -> OpCost:
    dims = [d % len(points_shape.shape) for d in event.args[1]]
    points = math.prod(points_shape.shape[d] for d in dims)
    transforms = points_shape.numel // points if points else 0
    flops = per_point_log2 * points * math.log2(points) * transforms if points > 1 else 0
    return _cost(event, round(flops))


@register("_fft_c2c")
def fft_c2c_cost(event: OpEvent) -> OpCost:
    return _fft(event, event.args[0], FFT_FLOPS_PER_POINT_LOG2)


@register("_fft_r2c")
def fft_r2c_cost(event: OpEvent) -> OpCost:
    # the real input holds the N points of each transform
    return _fft(event, event.args[0], FFT_FLOPS_PER_POINT_LOG2 / 2)


@register("_fft_c2r")
def fft_c2r_cost(event: OpEvent) -> OpCost:
    # the real output holds the N points of each transform
    return _fft(event, event.outputs[0], FFT_FLOPS_PER_POINT_LOG2 / 2)


@register("bucketize", "searchsorted")
def search_cost(event: OpEvent) -> OpCost:
    # bucketize(values, boundaries); searchsorted(sorted_sequence, values): boundaries along the last dim
    sequence = event.args[1] if event.name == "bucketize" else event.args[0]
    compares = math.ceil(math.log2(sequence.shape[-1] + 1)) if sequence.shape else 1
    return _cost(event, event.outputs[0].numel * compares)
