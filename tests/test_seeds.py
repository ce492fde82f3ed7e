"""The worked examples of the seed notes (shared/seeds), as exact numbers."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
from torch import nn

from profiler import profile


def meta_profile(module_factory, shape):
    with torch.device("meta"):
        module = module_factory()
    return profile(module, torch.empty(shape, device="meta"))


def separable(in_channels, out_channels, kernel):
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, kernel, padding=kernel // 2, groups=in_channels, bias=False),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
    )


def test_seed000_parameter_counts():
    # 3 -> 4 channels, 3x3, 64x64 input: N_std = 4*3*3*3 = 108, N_dw = 3*3*3 = 27, N_pw = 1*1*3*4 = 12
    standard = meta_profile(lambda: nn.Conv2d(3, 4, 3, padding=1, bias=False), (1, 3, 64, 64))
    sep = meta_profile(lambda: separable(3, 4, 3), (1, 3, 64, 64))
    assert standard.totals.params == 108
    assert [layer.params for layer in sep.layers if layer.params] == [27, 12]
    assert sep.totals.params == 39
    assert [layer.conv_kind for layer in sep.layers if layer.params] == ["depthwise", "pointwise"]


def test_seed000_macs():
    # standard: 64*64*4*3*9 = 442368; depthwise 64*64*3*9 = 110592; pointwise 64*64*3*4 = 49152
    standard = meta_profile(lambda: nn.Conv2d(3, 4, 3, padding=1, bias=False), (1, 3, 64, 64))
    sep = meta_profile(lambda: separable(3, 4, 3), (1, 3, 64, 64))
    assert standard.totals.macs == 442_368
    assert [layer.macs for layer in sep.layers if layer.macs] == [110_592, 49_152]


@pytest.mark.parametrize("in_channels, out_channels, kernel", [(3, 4, 3), (32, 64, 3), (64, 128, 5), (16, 16, 7), (8, 256, 3)])
def test_seed001_separable_over_standard_macs_is_one_over_n_plus_one_over_k_squared(in_channels, out_channels, kernel):
    shape = (1, in_channels, 14, 14)
    standard = meta_profile(lambda: nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False), shape)
    sep = meta_profile(lambda: separable(in_channels, out_channels, kernel), shape)
    ratio = Fraction(sep.totals.macs, standard.totals.macs)
    assert ratio == Fraction(1, out_channels) + Fraction(1, kernel**2)


@pytest.mark.parametrize("c1, c2, hw, groups", [(64, 64, 28 * 28, 1), (32, 128, 56 * 56, 1), (128, 64, 14 * 14, 4)])
def test_seed001_shufflenet_v2_pointwise_memory_access(c1, c2, hw, groups):
    # ShuffleNetV2 (G1, G2): a 1x1 conv moves hw*(c1 + c2) + c1*c2/g elements
    side = int(hw**0.5)
    report = meta_profile(lambda: nn.Conv2d(c1, c2, 1, groups=groups, bias=False), (1, c1, side, side))
    elements = hw * (c1 + c2) + c1 * c2 // groups
    assert report.totals.bytes_total == 4 * elements


def test_seed001_mobilenet_v1_example(examples_dir):
    # MobileNetV1-224: 569M Mult-Adds (568.74M for conv + fc) and 4.2M params (paper, Table 1)
    import mobilenet_v1

    with torch.device("meta"):
        model = mobilenet_v1.build_model()
    report = profile(model, torch.empty(1, 3, 224, 224, device="meta"))
    conv_and_fc = sum(k.cost.macs for k in report.kernels if k.cost.family in ("conv", "matmul"))
    assert report.totals.macs == conv_and_fc == 568_740_352
    assert report.totals.params == 4_231_976
    kinds = [l.conv_kind for l in report.layers if l.conv_kind]
    assert kinds.count("depthwise") == 13 and kinds.count("pointwise") == 13 and kinds.count("standard") == 1


def test_seed001_standard_twin_matches_paper_conv_mobilenet(examples_dir):
    # Paper Table 4, "Conv MobileNet": 4866M Mult-Adds, 29.3M params
    import mobilenet_v1_standard

    with torch.device("meta"):
        model = mobilenet_v1_standard.build_model()
    report = profile(model, torch.empty(1, 3, 224, 224, device="meta"))
    assert report.totals.macs == 4_867_293_184
    assert report.totals.params == 29_294_088


def test_seed004_bn_folding_arithmetic_is_unchanged_by_folding():
    # conv + BN folded into one conv (seed 004) has the conv's MACs; BN's 2 FLOPs per element vanish
    conv_bn = meta_profile(lambda: nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8)), (1, 3, 10, 10))
    folded = meta_profile(lambda: nn.Conv2d(3, 8, 3, bias=True), (1, 3, 10, 10))
    assert conv_bn.totals.macs == folded.totals.macs == 8 * 8 * 8 * 27
    # BN: 2 per output element (8*8*8); the folded bias: 1 per output element
    assert conv_bn.totals.flops - folded.totals.flops == 512
