"""Convolution in every form: 1d/2d/3d, strided, padded, dilated, grouped, transposed.

MACs count only the products a convolution performs (CONVENTIONS.md):
  direct:      N * C_out * prod(out_spatial) * (C_in / g) * prod(kernel)
  transposed:  N * C_in  * prod(in_spatial)  * (C_out / g) * prod(kernel)
Padding, stride and dilation enter only through the output shape, which the tracer records.
"""

from __future__ import annotations

import math

from ..events import OpEvent, TensorMeta
from .registry import OpCost, io_bytes, register
from ..vocabulary import ConvKind, KernelFamily

__all__ = ["conv_kind", "convolution_cost"]


def conv_kind(in_channels: int, out_channels: int, kernel: tuple[int, ...], groups: int) -> ConvKind:
    """standard | pointwise | depthwise | group, as CONVENTIONS.md defines them."""
    if groups == 1:
        return ConvKind.POINTWISE if all(k == 1 for k in kernel) else ConvKind.STANDARD
    if groups == in_channels and out_channels % in_channels == 0:
        return ConvKind.DEPTHWISE
    return ConvKind.GROUP


@register("convolution", "_convolution")
def convolution_cost(event: OpEvent) -> OpCost:
    x, weight, bias = event.args[0], event.args[1], event.args[2]
    transposed, groups = bool(event.args[6]), int(event.args[8])
    out: TensorMeta = event.outputs[0]
    kernel = weight.shape[2:]
    if transposed:
        # weight is (C_in, C_out / g, *kernel); every input element scatters into C_out/g * K outputs
        in_channels, out_channels = weight.shape[0], weight.shape[1] * groups
        macs = x.numel * weight.shape[1] * math.prod(kernel)
    else:
        # weight is (C_out, C_in / g, *kernel); every output element gathers C_in/g * K products
        in_channels, out_channels = weight.shape[1] * groups, weight.shape[0]
        macs = out.numel * weight.shape[1] * math.prod(kernel)
    bias_flops = out.numel if isinstance(bias, TensorMeta) else 0
    read, written = io_bytes(event)
    kind = conv_kind(in_channels, out_channels, kernel, groups)
    return OpCost(
        macs=macs,
        flops=2 * macs + bias_flops,
        bytes_read=read,
        bytes_written=written,
        family=KernelFamily.CONV,
        engine="matrix",
        conv_kind=kind,
        channels_per_group=in_channels // groups,
    )
