"""Convolution formulas against hand computations (CONVENTIONS.md, convolution rows)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from profiler import profile


def conv_layer(module: nn.Module, shape: tuple[int, ...]):
    report = profile(module, torch.empty(shape, device="meta"))
    (layer,) = [l for l in report.layers if l.macs]
    return layer


# (module, input shape, MACs, FLOPs, conv kind) with the arithmetic spelled out
CASES = [
    # standard 3x3, pad 1: N*Cout*H*W*Cin*K*K = 1*4*64*64*3*9
    (lambda: nn.Conv2d(3, 4, 3, padding=1, bias=False), (1, 3, 64, 64), 442_368, 884_736, "standard"),
    # + bias: 2*MACs + N*Cout*H*W = 884736 + 16384
    (lambda: nn.Conv2d(3, 4, 3, padding=1, bias=True), (1, 3, 64, 64), 442_368, 901_120, "standard"),
    # stride 2, no padding: out 31x31 ((64-3)//2+1); 2*8*31*31*3*9
    (lambda: nn.Conv2d(3, 8, 3, stride=2, bias=False), (2, 3, 64, 64), 415_152, 830_304, "standard"),
    # dilation 2, pad 2: out stays 32x32; 1*16*32*32*8*9
    (lambda: nn.Conv2d(8, 16, 3, padding=2, dilation=2, bias=False), (1, 8, 32, 32), 1_179_648, 2_359_296, "standard"),
    # pointwise: 1*64*56*56*32*1
    (lambda: nn.Conv2d(32, 64, 1, bias=False), (1, 32, 56, 56), 6_422_528, 12_845_056, "pointwise"),
    # depthwise: groups=Cin, Cin/g = 1: 1*32*112*112*1*9
    (lambda: nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), (1, 32, 112, 112), 3_612_672, 7_225_344, "depthwise"),
    # depthwise multiplier 2 (Cout = 2*Cin): 1*64*28*28*1*9
    (lambda: nn.Conv2d(32, 64, 3, padding=1, groups=32, bias=False), (1, 32, 28, 28), 451_584, 903_168, "depthwise"),
    # group conv g=4: 1*64*14*14*(32/4)*9
    (lambda: nn.Conv2d(32, 64, 3, padding=1, groups=4, bias=False), (1, 32, 14, 14), 903_168, 1_806_336, "group"),
    # grouped 1x1 (ShuffleNet): g=2 -> group: 1*16*8*8*(8/2)*1
    (lambda: nn.Conv2d(8, 16, 1, groups=2, bias=False), (1, 8, 8, 8), 4_096, 8_192, "group"),
    # conv1d, k=5, pad 2: 2*16*100*8*5
    (lambda: nn.Conv1d(8, 16, 5, padding=2, bias=False), (2, 8, 100), 128_000, 256_000, "standard"),
    # conv3d, k=3, no pad: out 6x6x6; 1*4*216*2*27
    (lambda: nn.Conv3d(2, 4, 3, bias=False), (1, 2, 8, 8, 8), 46_656, 93_312, "standard"),
    # transposed 2d, k=4, s=2, pad 1: N*Cin*Hin*Win*(Cout/g)*K*K = 1*8*16*16*4*16
    (lambda: nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, bias=False), (1, 8, 16, 16), 131_072, 262_144, "standard"),
    # transposed + bias: out 32x32, bias adds 1*4*32*32 = 4096
    (lambda: nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, bias=True), (1, 8, 16, 16), 131_072, 266_240, "standard"),
    # transposed grouped g=2: 1*8*16*16*(4/2)*9, pad 1, k=3 stride 1
    (lambda: nn.ConvTranspose2d(8, 4, 3, padding=1, groups=2, bias=False), (1, 8, 16, 16), 36_864, 73_728, "group"),
]


@pytest.mark.parametrize("make, shape, macs, flops, kind", CASES)
def test_conv_counts(make, shape, macs, flops, kind):
    with torch.device("meta"):
        module = make()
    layer = conv_layer(module, shape)
    assert (layer.macs, layer.flops, layer.conv_kind) == (macs, flops, kind)


def test_conv_bytes_are_input_weight_output():
    # in 1*3*64*64*4 B = 49152, weight 4*3*3*3*4 = 432, bias 4*4 = 16, out 1*4*64*64*4 = 65536
    with torch.device("meta"):
        module = nn.Conv2d(3, 4, 3, padding=1, bias=True)
    layer = conv_layer(module, (1, 3, 64, 64))
    assert (layer.bytes_read, layer.bytes_written) == (49_152 + 432 + 16, 65_536)


def test_functional_conv_is_counted_like_the_module():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(4, 3, 3, 3))

        def forward(self, x):
            return torch.nn.functional.conv2d(x, self.weight, padding=1)

    report = profile(Functional(), torch.randn(1, 3, 64, 64))
    assert report.totals.macs == 442_368


def test_conv_kind_is_the_enum_member_and_a_users_plain_word_is_coerced():
    from profiler import OpCost
    from profiler.vocabulary import ConvKind, KernelFamily

    with torch.device("meta"):
        module = nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False)
    report = profile(module, torch.empty((1, 32, 8, 8), device="meta"))
    (kernel,) = [k for k in report.kernels if k.cost.macs]
    assert kernel.cost.conv_kind is ConvKind.DEPTHWISE and report.layer("").conv_kind is ConvKind.DEPTHWISE
    # a formula of the user's may spell the words as the JSON does: stored as members, compared by identity
    cost = OpCost(family="conv", conv_kind="pointwise")  # type: ignore[arg-type]
    assert cost.family is KernelFamily.CONV and cost.conv_kind is ConvKind.POINTWISE
    assert OpCost(family="conv").conv_kind is None
    with pytest.raises(ValueError):
        OpCost(family="conv", conv_kind="sideways")  # type: ignore[arg-type]


def test_a_users_plain_depthwise_word_still_runs_on_the_vector_units():
    from profiler import OpCost
    from profiler.aggregate import Kernel
    from profiler.roofline import runs_on_vector_units

    (kernel,) = [k for k in profile(nn.Conv2d(4, 4, 3, groups=4), torch.empty(1, 4, 8, 8, device="meta")).kernels
                 if k.cost.macs]
    plain = OpCost(macs=kernel.cost.macs, family="conv", engine="matrix", conv_kind="depthwise")  # type: ignore[arg-type]
    assert runs_on_vector_units(Kernel(kernel.event, plain))
