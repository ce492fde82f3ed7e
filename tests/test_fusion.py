"""Vertical fusion (--fuse): which ops fuse, and exactly which bytes, FLOPs and launches vanish."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import profiler
from profiler.fusion import eager_groups, fuse_kernels

EXACT = dict(rel=1e-12)


def _groups(model, x, **options):
    report = profiler.profile(model, x, **options)
    return report, fuse_kernels(report.kernels)


def _launched(groups):
    return [g for g in groups if g.head.cost.engine != "none"]


def _ops(group):
    return [k.event.name for k in group.kernels]


def cbr():
    return nn.Sequential(nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True))


def test_conv_bn_relu_removes_exactly_the_intermediate_tensors():
    report, groups = _groups(cbr(), torch.randn(1, 16, 56, 56))
    (fused,) = _launched(groups)
    assert _ops(fused) == ["convolution", "native_batch_norm", "relu_"]
    assert fused.module == "0" and fused.members == ("0", "1", "2")
    # by hand, fp32, activation 32·56·56·4 = 401,408 B, input 16·56·56·4 = 200,704 B
    # eager:  conv  reads 200,704 + weight 32·16·9·4 = 18,432, writes 401,408
    #         BN    reads 401,408 + 4·32·4 = 512,          writes 401,408
    #         ReLU_ reads 401,408,                          writes 401,408 (in place)
    eager = 200_704 + 18_432 + 401_408 + 401_408 + 512 + 401_408 + 401_408 + 401_408
    assert eager == 2_226_688
    assert sum(k.cost.bytes_total for k in report.kernels) == eager
    # fused: reads input + weight + the folded bias 32·4 = 128, writes the final activation once
    assert fused.bytes_read == 200_704 + 18_432 + 128
    assert fused.bytes_written == 401_408
    # removed: the two intermediates (conv out, BN out), each written once and read once, and
    # BN's 4·C parameters, less the folded bias that replaces them
    intermediates = 4 * 401_408
    assert eager - fused.bytes_total == intermediates + 512 - 128
    # FLOPs: conv 2·32·56·56·16·9 = 28,901,376; BN's 2/element vanish, the folded bias adds 1/element
    # (100,352), ReLU 1/element (100,352)
    assert fused.flops == 28_901_376 + 100_352 + 100_352


def test_fused_chain_time_lands_on_the_head_layer():
    report = profiler.profile(cbr(), torch.randn(1, 16, 56, 56), hardware="a4000", fuse=True)
    fields = report.estimate.layer_sums()
    # one launch: FLOPs 29,102,080 on the CUDA cores (fp32 standard conv) at 19.2e12 x 0.7 = 13.44e12,
    # bytes 620,672 at 448e9 x 0.8 = 358.4e9
    compute = 29_102_080 / 13.44e12  # 2.1653e-6 s
    memory = 620_672 / 358.4e9  # 1.7318e-6 s
    assert fields["0"].latency_s == pytest.approx(max(compute, memory) + 4e-6, **EXACT)
    assert compute > memory  # fusion raised its intensity past the derated ridge
    assert fields["0"].bound == "overhead"  # yet the 4 µs launch outweighs both terms
    assert fields["1"].latency_s == fields["2"].latency_s == 0.0
    assert fields["1"].fused_into == fields["2"].fused_into == "0"
    assert report.estimate.launches == 1
    eager = profiler.profile(cbr(), torch.randn(1, 16, 56, 56), hardware="a4000").estimate
    assert eager.launches == 3
    assert eager.latency_s > report.estimate.latency_s


def test_without_fuse_every_op_is_its_own_kernel():
    report = profiler.profile(cbr(), torch.randn(1, 16, 56, 56))
    assert [len(g.kernels) for g in eager_groups(report.kernels)] == [1] * len(report.kernels)


class Basic(nn.Module):
    """ResNet's basic block: conv-BN-ReLU, conv-BN, += identity, ReLU."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu2(out)


def test_residual_add_and_the_activation_after_it_fuse_into_the_second_conv():
    _, groups = _groups(Basic(), torch.randn(1, 8, 16, 16))
    first, second = _launched(groups)
    assert _ops(first) == ["convolution", "native_batch_norm", "relu_"]
    assert _ops(second) == ["convolution", "native_batch_norm", "add_", "relu_"]
    assert second.module == "conv2"
    # activation 8·16·16·4 = 8,192 B, weight 8·8·9·4 = 2,304 B, folded bias 8·4 = 32 B
    assert first.bytes_read == 8_192 + 2_304 + 32
    # the second chain reads its input, its weight, the folded bias and the identity (x)
    assert second.bytes_read == 8_192 + 2_304 + 32 + 8_192
    assert first.bytes_written == second.bytes_written == 8_192


def test_linear_bias_free_mm_and_gelu_fuse_through_views():
    model = nn.Sequential(nn.Linear(64, 64), nn.GELU())
    _, groups = _groups(model, torch.randn(2, 10, 64))
    (fused,) = _launched(groups)
    assert _ops(fused) == ["addmm", "gelu"]
    # addmm reads input 20·64·4 = 5,120, weight 16,384, bias 256; the (20, 64) result stays on chip;
    # the GELU output 5,120 is written. FLOPs: 2·20·64·64 + 20·64 (bias) + 20·64 (GELU)
    assert fused.bytes_read == 5_120 + 16_384 + 256
    assert fused.bytes_written == 5_120
    assert fused.flops == 2 * 20 * 64 * 64 + 20 * 64 + 20 * 64


def test_linear_bn1d_folds_into_the_gemm_bias():
    model = nn.Sequential(nn.Linear(32, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU())
    report, groups = _groups(model, torch.randn(4, 32))
    (fused,) = _launched(groups)
    assert _ops(fused) == ["mm", "native_batch_norm", "relu"]
    # mm had no bias: folding adds one (16·4 = 64 B read, 1 FLOP per output element, 64)
    assert fused.bytes_read == 4 * 32 * 4 + 32 * 16 * 4 + 64
    assert fused.flops == 2 * 4 * 32 * 16 + 64 + 64


def test_a_tensor_read_twice_ends_the_chain():
    class Branch(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            y = self.conv(x)
            return torch.relu(y) + torch.sigmoid(y)  # y must reach memory for both readers

    _, groups = _groups(Branch(), torch.randn(1, 4, 8, 8))
    launched = _launched(groups)
    assert _ops(launched[0]) == ["convolution"]
    assert all(len(g.kernels) == 1 for g in launched)


def test_batch_norm_after_an_activation_does_not_fold():
    model = nn.Sequential(nn.Conv2d(4, 4, 3), nn.ReLU(), nn.BatchNorm2d(4))
    _, groups = _groups(model, torch.randn(1, 4, 8, 8))
    first, second = _launched(groups)
    assert _ops(first) == ["convolution", "relu"]  # BN after ReLU cannot fold into the conv weights
    assert _ops(second) == ["native_batch_norm"]


def test_fuse_needs_a_device():
    with pytest.raises(profiler.EffprofError) as caught:
        profiler.profile(cbr(), torch.randn(1, 16, 8, 8), fuse=True)
    assert str(caught.value) == "fuse=True changes only the latency estimate: give a device too, e.g. hardware='a4000'"


def test_fusion_cuts_mobilenet_launches_and_latency():
    from profiler.api import profile_loaded
    from profiler.loading import load_model

    eager = profile_loaded(load_model("examples/mobilenet_v1.py", [], None), hardware="a4000").estimate
    fused = profile_loaded(load_model("examples/mobilenet_v1.py", [], None), hardware="a4000", fuse=True).estimate
    # 27 conv-BN-ReLU chains (81 ops -> 27 launches), the pool and the classifier stay as they are
    assert eager.launches == 83
    assert fused.launches == 29
    assert fused.latency_s < eager.latency_s
