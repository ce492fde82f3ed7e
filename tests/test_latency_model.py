"""The kernel-aware latency model (profiler/latency_model.py), against hand computations.

Every expected value is worked out in the comments from the spec's numbers (configs/hardware/
cortex-a57.yaml, gtx1080ti.yaml) and the rules in docs/roofline.md, not by the module's algebra.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from profiler import profile
from profiler.fusion import eager_groups, fuse_kernels
from profiler.hardware import load_spec
from profiler.latency_model import (
    GemmShape, MergedGroup, epilogue_ops, exposed_memory_s, gemm_shape, regroup, tiled_gemm_s, winograd_shape,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "hardware"
A57 = load_spec(CONFIGS / "cortex-a57.yaml")
GTX = load_spec(CONFIGS / "gtx1080ti.yaml")


def _report(model: nn.Module, shape: tuple[int, ...], spec, fuse: bool = False):
    return profile(model.to("meta"), torch.empty(shape, device="meta"), hardware=spec, fuse=fuse)


# ------------------------------------------------------------------------------------ shapes


def test_gemm_shape_of_convolutions_and_linears():
    # a 1x1 group conv 128 -> 128, g = 4, on 56x56: 4 GEMMs of 3136 pixels x 32 channels, reduction 32
    report = _report(nn.Conv2d(128, 128, 1, groups=4, bias=False), (1, 128, 56, 56), A57)
    (kernel,) = [k for k in report.kernels if k.cost.family == "conv"]
    assert gemm_shape(kernel) == GemmShape(4, 3136, 32, 32)
    # a 3x3 conv 16 -> 32, stride 2, pad 1, on 2x16x20x20: output 2x32x10x10, reduction 16*9 = 144
    report = _report(nn.Conv2d(16, 32, 3, stride=2, padding=1), (2, 16, 20, 20), A57)
    (kernel,) = [k for k in report.kernels if k.cost.family == "conv"]
    assert gemm_shape(kernel) == GemmShape(1, 200, 32, 144)
    # linear 64 -> 10 on a batch of 4: one 4 x 10 GEMM, reduction 64
    report = _report(nn.Linear(64, 10, bias=False), (4, 64), A57)
    (kernel,) = [k for k in report.kernels if k.cost.family == "matmul"]
    assert gemm_shape(kernel) == GemmShape(1, 4, 10, 64)
    # depthwise convolutions are no GEMM
    report = _report(nn.Conv2d(8, 8, 3, padding=1, groups=8), (1, 8, 8, 8), A57)
    (kernel,) = [k for k in report.kernels if k.cost.family == "conv"]
    assert gemm_shape(kernel) is None


def test_winograd_applies_to_3x3_stride_1_ungrouped_convs_only():
    conv = _report(nn.Conv2d(16, 32, 3, padding=1, bias=False), (1, 16, 56, 56), A57).kernels[0]
    # F(4x4, 3x3): 56/4 = 14 tiles a side, 196 spatial tiles; 6*6 = 36 GEMMs of 196 x 32, reduction 16
    assert winograd_shape(conv, 4) == (GemmShape(36, 196, 32, 16), 196)
    # F(2x2, 3x3): 28*28 = 784 tiles, 16 GEMMs
    assert winograd_shape(conv, 2) == (GemmShape(16, 784, 32, 16), 784)
    for model in (nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.Conv2d(16, 32, 1), nn.Conv2d(16, 32, 3, padding=1, groups=2),
                  nn.Conv2d(16, 32, 3, padding=2, dilation=2), nn.Conv2d(16, 32, 5, padding=2)):
        kernel = _report(model, (1, 16, 28, 28), A57).kernels[0]
        assert winograd_shape(kernel, 4) is None, model


# ------------------------------------------------------------------------------------ tiles, overlap


def test_tiled_gemm_on_one_wave_of_gtx1080ti_sms():
    model = GTX.latency_model
    # 3136 x 128 x 128 on 128x128 tiles: ceil(3136/128) = 25 tiles, one wave on 28 SMs;
    # reduction 128 / 8 = 16 k-steps + 8 fixed = 24 k-steps = 192 elements;
    # one SM: 11.34e12 / 28 = 4.05e11 FLOP/s; a tile: 2*128*128*192 = 6,291,456 FLOP -> 15.534 us
    only_big = replace(model, gemm_tiles=((128, 128),))
    seconds, waves, tile = tiled_gemm_s(GemmShape(1, 3136, 128, 128), only_big, 11.34e12, 1e15, 4)
    assert (waves, tile) == (1, (128, 128))
    assert seconds == pytest.approx(6_291_456 / (11.34e12 / 28), rel=1e-12)


def test_thin_tiles_are_derated_by_their_operand_intensity():
    model = replace(GTX.latency_model, gemm_tiles=((128, 32),))
    # a 128x32 fp32 tile does 2*128*32 = 8192 FLOP per k-step on (128+32)*4 = 640 B: 12.8 FLOP/B;
    # fed at 484e9 / 28 = 17.286e9 B/s per SM that is 221.26e9 FLOP/s, 0.5463 of the SM's 4.05e11.
    # 3136 x 32 x 128: 25 tiles, one wave, 24 k-steps of 8 -> 2*128*32*192 = 1,572,864 FLOP
    seconds, waves, _ = tiled_gemm_s(GemmShape(1, 3136, 32, 128), model, 11.34e12, 484e9, 4)
    assert waves == 1
    assert seconds == pytest.approx(1_572_864 / (12.8 * 484e9 / 28), rel=1e-12)


def test_exposed_memory_shrinks_with_waves_and_overlap():
    # one wave: the shorter term (4 s) is fully exposed; 4 waves, full overlap: 1/4 of it
    assert exposed_memory_s(10.0, 4.0, 1, 1.0) == pytest.approx(4.0)
    assert exposed_memory_s(10.0, 4.0, 4, 1.0) == pytest.approx(1.0)
    assert exposed_memory_s(3.0, 4.0, 4, 1.0) == pytest.approx(0.75)  # compute shorter: it is what sticks out
    assert exposed_memory_s(10.0, 4.0, 100, 0.0) == pytest.approx(4.0)  # one CPU core: nothing overlaps


# ------------------------------------------------------------------------------------ whole kernels


def test_pointwise_conv_on_one_a57_core_by_hand():
    report = _report(nn.Conv2d(32, 32, 1, bias=False), (1, 32, 56, 56), A57)
    (estimate,) = report.estimate.kernels
    # GEMM 3136 pixels x 32 channels, reduction 32, on 12x8 register tiles (12 pixels x 8 channels):
    # ceil(3136/12) = 262 x 4 = 1048 tiles, each 2*12*8*(32 + 2) = 6528 FLOP -> 6,841,344 FLOP
    # at 15.66 GFLOP/s = 436.866 us (the 2.4 FLOP/B tile is fed from L2 at 31.3 GB/s: not derated)
    compute = 6_841_344 / 15.66e9
    # bytes: input 401,408 + output 401,408 + weights 4,096 = 806,912 B, inside the 2 MiB L2 tier
    memory = 806_912 / 31.3e9
    # one core: nothing overlaps (memory_overlap 0), plus 2 us per op
    assert estimate.algorithm == "implicit_gemm"
    assert estimate.compute_s == pytest.approx(compute, rel=1e-9)
    assert estimate.memory_s == pytest.approx(memory, rel=1e-9)
    assert estimate.latency_s == pytest.approx(compute + memory + 2e-6, rel=1e-9)


def test_3x3_conv_picks_winograd_f4_on_the_a57_by_hand():
    report = _report(nn.Conv2d(64, 64, 3, padding=1, bias=False), (1, 64, 56, 56), A57)
    (estimate,) = report.estimate.kernels
    assert estimate.algorithm == "winograd_f4"
    # implicit GEMM: 262 x 8 = 2096 tiles x 2*96*(576+2) = 232,605,696 FLOP -> 14.853 ms
    # F(2x2): 16 GEMMs of 784 x 64, reduction 64: 16 * 66 * 8 = 8448 tiles x 2*96*66 = 107,053,056 FLOP;
    #   transforms 784 * (64*4*4^3 + 64*2*(2*16 + 4*4)) = 17,661,952 FLOP; in all 8.022 ms
    # F(4x4): 36 GEMMs of 196 x 64: 36 * 17 * 8 = 4896 tiles x 12,672 = 62,042,112 FLOP
    gemm = 62_042_112 / 15.66e9
    #   transforms 196 * (64*4*6^3 + 64*2*(4*36 + 16*6)) = 196 * (55,296 + 30,720) = 16,859,136 FLOP
    transforms = 16_859_136 / 15.66e9
    #   staged transforms 2 * 36 * 196 * (64+64) * 4 B = 7,225,344 B on top of 1,753,088 B:
    #   8,978,432 B exceeds the 2 MiB L2: 6.4 GB/s
    memory = 8_978_432 / 6.4e9
    assert estimate.compute_s == pytest.approx(gemm + transforms, rel=1e-9)
    assert estimate.memory_s == pytest.approx(memory, rel=1e-9)
    assert estimate.latency_s == pytest.approx(gemm + transforms + memory + 2e-6, rel=1e-9)  # 6.444 ms < 8.022 ms
    assert estimate.latency_s < 8.0e-3


def test_fused_relu_costs_one_vector_instruction_per_element():
    model = nn.Sequential(nn.Conv2d(32, 32, 1, bias=False), nn.ReLU())
    eager = _report(model, (1, 32, 56, 56), A57).estimate
    fused = _report(model, (1, 32, 56, 56), A57, fuse=True).estimate
    (conv, relu), (chain,) = eager.kernels, fused.kernels
    # epilogue: 100,352 outputs x 1 instruction = 2 FLOP-slots each at 15.66 GFLOP/s = 12.816 us
    assert chain.compute_s - conv.compute_s == pytest.approx(2 * 100_352 / 15.66e9, rel=1e-9)
    # the eager ReLU reads and writes 401,408 B each (802,816 B in L2 at 31.3 GB/s) plus 100,352 FLOP
    assert relu.latency_s == pytest.approx(802_816 / 31.3e9 + 100_352 / 15.66e9 + 2e-6, rel=1e-9)
    assert chain.latency_s < conv.latency_s + relu.latency_s


def test_epilogue_ignores_folded_batch_norm():
    model = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU()).eval()
    report = _report(model, (1, 8, 4, 4), A57, fuse=True)
    (group,) = [g for g in fuse_kernels(list(report.kernels)) if g.head.cost.family == "conv"]
    assert [k.cost.family for k in group.kernels] == ["conv", "norm", "elementwise"]
    assert epilogue_ops(group) == 8 * 4 * 4  # the ReLU's 128 outputs; BN is folded into the weights


# ------------------------------------------------------------------------------------ graph rewrites


class _TwoBranches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(16, 8, 1, bias=False), nn.Conv2d(16, 8, 1, bias=False)

    def forward(self, x):
        return torch.cat((self.a(x), self.b(x)), 1)


def test_regroup_merges_parallel_pointwise_convs_and_drops_the_concat():
    report = _report(_TwoBranches(), (1, 16, 8, 8), A57)
    groups = eager_groups(list(report.kernels))
    assert [g.head.cost.family for g in groups] == ["conv", "conv", "copy"]
    both = replace(A57.latency_model, horizontal_fusion=True, concat_elimination=True)
    merged, eliminated, count = regroup(groups, both)
    assert (eliminated, count) == (1, 1)
    (group,) = merged
    assert isinstance(group, MergedGroup) and group.heads == 2
    # input 16*64*4 = 4096 B read once, two 8x16 weights of 512 B, two 2048-B outputs
    assert (group.bytes_read, group.bytes_written) == (4096 + 2 * 512, 2 * 2048)
    assert group.flops == 2 * 2 * 64 * 8 * 16
    # the runtime of the paper's specs does neither
    assert regroup(groups, A57.latency_model) == (groups, 0, 0)


def test_merged_convs_run_as_one_wider_gemm():
    both = replace(A57.latency_model, horizontal_fusion=True, concat_elimination=True)
    spec = replace(A57, latency_model=both)
    fused = _report(_TwoBranches(), (1, 16, 56, 56), spec, fuse=True).estimate
    (estimate,) = fused.kernels
    # one GEMM 3136 x 16, reduction 16: 262 x 2 = 524 tiles x 2*96*(16+2) = 1,811,088 FLOP
    assert estimate.compute_s == pytest.approx(524 * 2 * 96 * 18 / 15.66e9, rel=1e-9)
    assert any("1 concatenations written in place, 1 parallel" in note for note in fused.notes)


def test_plain_specs_keep_the_plain_roofline():
    # a bundled spec without latency_model: max(compute, memory) + launch, as before
    report = _report(nn.Conv2d(32, 32, 1, bias=False), (1, 32, 56, 56), load_spec("a4000"))
    (estimate,) = report.estimate.kernels
    assert estimate.exposed_s == 0.0 and estimate.algorithm == ""
    assert estimate.latency_s == pytest.approx(max(estimate.compute_s, estimate.memory_s) + 4e-6, rel=1e-12)


def test_unaligned_channels_leave_the_matrix_engine():
    # tensor-core MMA needs channels in multiples of 16 bytes, 8 fp16 values (the spec's default
    # alignment): 16 -> 16 runs on the tensor cores, 12 -> 12 falls back to the CUDA cores
    spec = replace(load_spec("a4000"), latency_model=GTX.latency_model)
    aligned = _report(nn.Conv2d(16, 16, 1, bias=False).half(), (1, 16, 8, 8), spec).estimate.kernels[0]
    unaligned = _report(nn.Conv2d(12, 12, 1, bias=False).half(), (1, 12, 8, 8), spec).estimate.kernels[0]
    assert (aligned.choice.unit, aligned.choice.peak_tflop_per_s) == ("matrix", 76.68)
    assert (unaligned.choice.unit, unaligned.choice.peak_tflop_per_s) == ("vector", 19.2)


def test_repvgg_3x3_density_beats_1x1_and_5x5_on_the_gtx1080ti():
    # RepVGG's claim (seed 002): on a 1080Ti a 3x3 conv reaches about 4x the FLOP/s of 1x1 and 5x5
    density = {}
    for k in (1, 3, 5):
        estimate = _report(nn.Conv2d(2048, 2048, k, padding=k // 2, bias=False), (32, 2048, 56, 56), GTX).estimate
        density[k] = sum(e.flops for e in estimate.kernels) / estimate.latency_s
        assert estimate.kernels[0].algorithm == ("winograd_f4" if k == 3 else "implicit_gemm")
    assert density[3] > 3 * density[1] and density[3] > 3 * density[5]
