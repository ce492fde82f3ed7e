"""Kernels called directly and tensor layouts the SDPA front door does not show: the attention
kernels with their own layouts, SDPA on jagged nested tensors, fp8 `_scaled_mm`, weight norm.
Every expected number is computed by hand in the comment beside it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from profiler import profile
from profiler.errors import TorchLimitError
from test_costs_ops import Lambda, meta

aten = torch.ops.aten


def report(fn, *inputs):
    return profile(Lambda(fn), tuple(inputs))


# ---- attention kernels, (B, H, L, E) ------------------------------------------------------------

B, H, LQ, LK, E = 2, 4, 3, 5, 8
# B * H * Lq * Lk * (E + Ev) = 2 * 4 * 3 * 5 * (8 + 8) = 1920 MACs; softmax 5 * 2*4*3*5 = 600 FLOPs
SDPA_MACS, SDPA_FLOPS = 1920, 2 * 1920 + 600

BHLE_KERNELS = {
    "_scaled_dot_product_flash_attention": lambda q, k, v: aten._scaled_dot_product_flash_attention(q, k, v),
    "_scaled_dot_product_efficient_attention": lambda q, k, v: aten._scaled_dot_product_efficient_attention(q, k, v, None, False),
    "_scaled_dot_product_cudnn_attention": lambda q, k, v: aten._scaled_dot_product_cudnn_attention(q, k, v, None, False),
    "_scaled_dot_product_flash_attention_for_cpu": lambda q, k, v: aten._scaled_dot_product_flash_attention_for_cpu(q, k, v),
}
# (aten::_scaled_dot_product_attention_math is composite: it reaches the dispatcher as its bmm,
# softmax and scaling ops, counted one by one like attention written by hand)


@pytest.mark.parametrize("kernel", BHLE_KERNELS)
def test_sdpa_kernels_called_directly(kernel):
    q, k, v = meta(B, H, LQ, E), meta(B, H, LK, E), meta(B, H, LK, E)
    r = report(BHLE_KERNELS[kernel], q, k, v)
    assert r.unsupported_ops == {}
    assert (r.totals.macs, r.totals.flops) == (SDPA_MACS, SDPA_FLOPS)


@pytest.mark.parametrize("kernel", ["_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention"])
def test_sdpa_kernels_agree_with_flop_counter_where_the_layout_is_its_own(kernel):
    q, k, v = meta(B, H, LQ, E), meta(B, H, LK, E), meta(B, H, LK, E)
    with FlopCounterMode(display=False) as counter:
        BHLE_KERNELS[kernel](q, k, v)
    assert counter.get_total_flops() == 2 * SDPA_MACS


def test_efficient_attention_bias_is_read():
    q, k, v, bias = meta(B, H, LQ, E), meta(B, H, LK, E), meta(B, H, LK, E), meta(B, H, LQ, LK)
    r = report(lambda q, k, v, b: aten._scaled_dot_product_efficient_attention(q, k, v, b, False), q, k, v, bias)
    # q 2*4*3*8 + k 2*4*5*8 + v 2*4*5*8 + bias 2*4*3*5 = 192 + 320 + 320 + 120 = 952 floats
    assert r.totals.bytes_read == 952 * 4
    assert r.totals.bytes_written == 192 * 4  # the output, (B, H, Lq, Ev)


def test_grouped_query_attention_counts_the_query_heads():
    q, kv = meta(1, 8, 4, 16), meta(1, 2, 6, 16)
    r = report(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), q, kv, kv)
    assert r.totals.macs == 1 * 8 * 4 * 6 * (16 + 16)  # = 6144: 8 query heads share 2 K/V heads


# ---- the lower-level kernels, (B, L, H, E) -------------------------------------------------------


def test_flash_attention_forward_takes_batch_sequence_heads():
    # (B, L, H, E): B=2, Lq=3, Lk=5, H=4, E=8 -> 2 * 4 * 3 * 5 * (8 + 8) = 1920 MACs, as the SDPA
    # kernels above. (FlopCounterMode reads this layout as (B, H, L, E) and miscounts or fails.)
    q, k, v = meta(B, LQ, H, E), meta(B, LK, H, E), meta(B, LK, H, E)
    r = report(lambda q, k, v: aten._flash_attention_forward(q, k, v, None, None, LQ, LK, 0.0, False, False), q, k, v)
    assert r.unsupported_ops == {}
    assert (r.totals.macs, r.totals.flops) == (SDPA_MACS, SDPA_FLOPS)
    assert r.totals.bytes_written == B * LQ * H * E * 4  # the output only, not the logsumexp


def test_efficient_attention_forward_takes_batch_sequence_heads_and_a_value_width():
    # Ev = 16: 2 * 4 * 3 * 5 * (8 + 16) = 2880 MACs; softmax 5 * 120 = 600
    q, k, v = meta(B, LQ, H, E), meta(B, LK, H, E), meta(B, LK, H, 16)
    r = report(lambda q, k, v: aten._efficient_attention_forward(q, k, v, None, None, None, LQ, LK, 0.0, 0), q, k, v)
    assert (r.totals.macs, r.totals.flops) == (2880, 2 * 2880 + 600)


def test_packed_variable_length_flash_attention_is_unsupported_not_guessed():
    # 8 tokens of two sequences packed along dim 0, with cumulative offsets [0, 3, 8]: the split
    # is in the offsets' values, which a trace on meta does not have
    q = meta(8, H, E)
    offsets = torch.empty(3, dtype=torch.int32, device="meta")
    r = report(lambda q, o: aten._flash_attention_forward(q, q, q, o, o, 5, 5, 0.0, False, False), q, offsets)
    assert r.unsupported_ops == {"aten::_flash_attention_forward": 1}


# ---- SDPA on jagged nested tensors -------------------------------------------------------------


def jagged(lengths, heads=2, width=8):
    """(B, H, ragged L, E) from sequences of the given lengths."""
    torch.manual_seed(0)
    values = [torch.randn(n, heads, width) for n in lengths]
    return torch.nested.nested_tensor(values, layout=torch.jagged).transpose(1, 2)


def test_jagged_sdpa_counts_each_sequence_at_its_own_length():
    q = jagged([3, 5])
    r = report(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), q, q, q)
    # H=2, E=Ev=8: 2 * (3*3 + 5*5) * (8 + 8) = 2 * 34 * 16 = 1088 MACs (padded to 5 it would be 1600)
    # softmax 5 * 2 * 34 = 340 FLOPs
    assert r.unsupported_ops == {}
    assert (r.totals.macs, r.totals.flops) == (1088, 2 * 1088 + 340)


class JaggedBlock(nn.Module):
    """Layer norm, q/k/v projections, attention and an output projection on (B, ragged L, 16)."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(16)
        self.q, self.k, self.v, self.out = (nn.Linear(16, 16) for _ in range(4))

    def forward(self, x):
        x = self.norm(x)
        q, k, v = (p(x).unflatten(-1, (2, 8)).transpose(1, 2) for p in (self.q, self.k, self.v))
        return self.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(-2))


def test_jagged_transformer_block_counts_real_tokens_only():
    torch.manual_seed(0)
    x = torch.nested.nested_tensor([torch.randn(3, 16), torch.randn(5, 16)], layout=torch.jagged)
    r = profile(JaggedBlock(), x)
    assert r.unsupported_ops == {}
    # 8 real tokens: 4 linears 8 * 16 * 16 = 4 * 2048 = 8192, attention 2 * (9 + 25) * 16 = 1088
    assert r.totals.macs == 8192 + 1088
    # layer norm (5 + 2) * 8 * 16 = 896; biases 4 * 128; softmax 5 * 68 = 340
    assert r.totals.flops == 2 * (8192 + 1088) + 896 + 4 * 128 + 340


def test_causal_attention_on_jagged_tensors_reports_what_torch_said():
    q = jagged([3, 5])
    with pytest.raises(TorchLimitError) as caught:
        report(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), q, q, q)
    message = str(caught.value)
    assert "No viable backend for scaled_dot_product_attention" in message
    assert "not supported when is_causal=True" in message  # why, as torch logged it
    assert "[2, 2, 3..5, 8]" in message
    assert "inputs do not fit" not in message and "--input-shape" not in message


# ---- fp8 GEMM --------------------------------------------------------------------------------------


def scaled_mm(a, b):
    one = torch.ones((), device=a.device)
    return torch._scaled_mm(a, b.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_scaled_mm_counts_the_fp8_gemm(device):
    # torch's own test_flop_counter.py: (48, 80) @ (80, 112) in float8_e4m3fn, 860160 FLOPs
    a = torch.randn(3 * 16, 5 * 16).to(torch.float8_e4m3fn).to(device)
    b = torch.randn(7 * 16, 5 * 16).to(torch.float8_e4m3fn).to(device)
    with FlopCounterMode(display=False) as counter:
        scaled_mm(a, b)
    r = report(scaled_mm, a, b)
    assert r.unsupported_ops == {}
    assert r.totals.macs == 48 * 112 * 80 == counter.get_total_flops() // 2  # 430080
    # fp8 operands 1 byte: 48*80 + 112*80 = 12800, two fp32 scales 8; output bf16 48*112*2 = 10752
    kernel = next(k for k in r.kernels if k.event.op == "aten::_scaled_mm")
    assert (kernel.cost.bytes_read, kernel.cost.bytes_written) == (12808, 10752)


def test_scaled_mm_bias_adds_one_flop_per_output():
    a, b = meta(16, 32, dtype=torch.float8_e4m3fn), meta(64, 32, dtype=torch.float8_e4m3fn)
    bias, one = meta(64, dtype=torch.bfloat16), meta()
    r = report(lambda a, b, s, c: torch._scaled_mm(a, b.t(), s, s, bias=c, out_dtype=torch.bfloat16), a, b, one, bias)
    assert (r.totals.macs, r.totals.flops) == (16 * 64 * 32, 2 * 16 * 64 * 32 + 16 * 64)


# ---- weight norm -----------------------------------------------------------------------------------


class NeedsValues(nn.Module):
    """Reads a value, so the trace runs on real CPU tensors (the fused kernel path)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return x if x.sum().item() == x.sum().item() + 1 else self.inner(x)


@pytest.mark.parametrize("dim, g_elements", [(0, 8), (1, 4)])
def test_weight_norm_interface(dim, g_elements):
    layer = nn.utils.parametrizations.weight_norm(nn.Linear(4, 8, bias=False), dim=dim)
    r = profile(layer, torch.randn(2, 4))
    assert r.unsupported_ops == {}
    wn = next(k for k in r.kernels if k.event.op == "aten::_weight_norm_interface")
    # v (8, 4) = 32 elements: norm 32, g / norm g_elements, v * scale 32
    assert wn.cost.flops == 2 * 32 + g_elements
    assert (wn.cost.bytes_read, wn.cost.bytes_written) == ((32 + g_elements) * 4, 32 * 4)
    # and the matmul: 2 * 4 * 8 = 64 MACs
    assert r.totals.flops == 2 * 64 + 2 * 32 + g_elements


def test_weight_norm_counts_the_same_as_its_decomposition():
    # w = v * (g / ||v||) written out by hand: the norm, the divide and the product
    torch.manual_seed(0)
    v, g = torch.randn(8, 4, 3), torch.randn(8, 1, 1)
    fused = report(lambda v, g: aten._weight_norm_interface(v, g, 0)[0], v, g)
    by_hand = report(lambda v, g: v * (g / v.flatten(1).norm(dim=1).view(8, 1, 1)), v, g)
    assert fused.totals.flops == by_hand.totals.flops == 2 * 96 + 8


def test_old_style_weight_norm_conv_as_in_wav2vec2():
    conv = nn.utils.weight_norm(nn.Conv1d(4, 8, 3, padding=1, groups=2), dim=2)
    x = torch.randn(1, 4, 10)
    meta_run, cpu_run = profile(conv, x), profile(NeedsValues(conv), x)
    assert meta_run.unsupported_ops == cpu_run.unsupported_ops == {}
    # v (8, 2, 3) = 48 elements, g (1, 1, 3) = 3: 2 * 48 + 3 = 99 FLOPs of weight norm
    # conv 8 * 10 * 2 * 3 = 480 MACs, bias 80 FLOPs
    assert meta_run.totals.flops == 99 + 2 * 480 + 80


# ---- numerical kernels, resampling, reductions met in transformers models -------------------------


@pytest.mark.parametrize("mode, per_output", [("bilinear", 4), ("nearest", 0), ("bicubic", 16)])
def test_grid_sample_costs_what_resizing_in_that_mode_costs(mode, per_output):
    x, grid = torch.randn(1, 3, 8, 8), torch.rand(1, 4, 5, 2) * 2 - 1
    r = report(lambda x, g: F.grid_sample(x, g, mode=mode, align_corners=False), x, grid)
    assert r.unsupported_ops == {}
    # output (1, 3, 4, 5) = 60 elements; reads the input 192 and the grid 40 floats
    assert r.totals.flops == per_output * 60
    assert (r.totals.bytes_read, r.totals.bytes_written) == ((192 + 40) * 4, 60 * 4)


def test_trilinear_grid_sample():
    x, grid = meta(1, 2, 4, 4, 4), meta(1, 3, 3, 3, 3)
    r = report(lambda x, g: F.grid_sample(x, g, mode="bilinear", align_corners=False), x, grid)
    assert r.totals.flops == 8 * 2 * 27  # 8 per output element of (1, 2, 3, 3, 3)


@pytest.mark.parametrize("left, b_shape", [(True, (2, 4, 3)), (False, (2, 3, 4))])
def test_triangular_solve_is_n_squared_per_column(left, b_shape):
    a, b = torch.randn(2, 4, 4).triu() + 4 * torch.eye(4), torch.randn(*b_shape)
    r = report(lambda a, b: torch.linalg.solve_triangular(a, b, upper=True, left=left), a, b)
    assert (r.totals.macs, r.totals.flops) == (0, 2 * 4 * 4 * 3)  # batch 2, n 4, 3 columns: 96


def test_fft_is_five_n_log2_n_per_transform():
    x = torch.randn(2, 4, 8, dtype=torch.complex64)
    # 8 transforms of 8 points: 5 * 8 * 3 * 8 = 960
    assert report(lambda x: torch.fft.fft(x), x).totals.flops == 960
    # 2 transforms of 4 * 8 = 32 points: 5 * 32 * 5 * 2 = 1600
    assert report(lambda x: torch.fft.fftn(x, dim=(-2, -1)), x).totals.flops == 1600


def test_real_ffts_are_half_a_complex_one():
    x = torch.randn(2, 8)
    # 2 transforms of 8 real points: 2.5 * 8 * 3 * 2 = 120, forward and back
    assert report(lambda x: torch.fft.rfft(x), x).totals.flops == 120
    assert report(lambda x: torch.fft.irfft(torch.fft.rfft(x), n=8), x).totals.flops == 240


def test_bucketize_is_a_binary_search_per_value():
    values, boundaries = torch.rand(10), torch.linspace(0, 1, 7)
    r = report(lambda v, b: torch.bucketize(v, b), values, boundaries)
    assert r.totals.flops == 10 * 3  # ceil(log2(7 + 1)) = 3 compares per value


def test_all_any_sampling_and_polar():
    flags = torch.ones(3, 4, dtype=torch.bool)
    assert report(lambda f: torch.ops.aten._is_all_true(f), flags).totals.flops == 12  # one per element
    probs = torch.rand(2, 5)
    assert report(lambda p: torch.multinomial(p, 3), probs).totals.flops == 10  # one per probability
    r = report(lambda a, b: torch.polar(a, b), torch.rand(4), torch.rand(4))
    assert (r.totals.flops, r.unsupported_ops) == (4, {})  # elementwise: one per output element
