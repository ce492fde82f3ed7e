"""Every non-convolution formula on small hand-computed cases (CONVENTIONS.md, per-op table)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import Lambda
from profiler import profile


def totals(fn, *inputs, **kwargs):
    return profile(Lambda(fn), tuple(inputs), **kwargs).totals


def meta(*shape, dtype=torch.float32):
    return torch.empty(shape, dtype=dtype, device="meta")


# ---- matrix products -------------------------------------------------------------------
def test_linear_with_bias():
    # addmm: M*N*K = 8*16*32 = 4096 MACs; FLOPs 2*4096 + bias 8*16 = 8320
    # bytes read: x 8*32*4 + W 16*32*4 + b 16*4 = 1024 + 2048 + 64; written 8*16*4 = 512
    with torch.device("meta"):
        layer = nn.Linear(32, 16)
    t = profile(layer, meta(8, 32)).totals
    assert (t.macs, t.flops, t.bytes_read, t.bytes_written, t.params) == (4096, 8320, 3136, 512, 528)


def test_linear_on_3d_input_counts_batch_times_tokens():
    # (2, 10, 32) @ W^T(32, 16): 2*10*16*32 = 10240 MACs, bias 2*10*16 = 320
    with torch.device("meta"):
        layer = nn.Linear(32, 16)
    t = profile(layer, meta(2, 10, 32)).totals
    assert (t.macs, t.flops) == (10_240, 20_800)


@pytest.mark.parametrize(
    "fn, shapes, macs",
    [
        (torch.mm, [(4, 5), (5, 6)], 4 * 5 * 6),
        (torch.bmm, [(3, 4, 5), (3, 5, 6)], 3 * 4 * 5 * 6),
        (torch.matmul, [(2, 3, 4, 5), (2, 3, 5, 6)], 2 * 3 * 4 * 5 * 6),
        (lambda a, b: a @ b, [(7, 8), (8, 9)], 7 * 8 * 9),
        (lambda a, b: torch.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 5)], 2 * 3 * 4 * 5),
        (torch.mv, [(4, 5), (5,)], 20),
        (torch.dot, [(5,), (5,)], 5),
    ],
)
def test_matrix_products(fn, shapes, macs):
    t = totals(fn, *[meta(*s) for s in shapes])
    assert (t.macs, t.flops) == (macs, 2 * macs)


def test_baddbmm_adds_one_flop_per_output():
    # 2*3*4*5 = 120 MACs; bias add 2*3*5 = 30
    t = totals(torch.baddbmm, meta(2, 3, 5), meta(2, 3, 4), meta(2, 4, 5))
    assert (t.macs, t.flops) == (120, 270)


# ---- attention ---------------------------------------------------------------------------
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_counts_both_products_in_full(causal):
    # B=2, H=4, Lq=Lk=16, E=Ev=8: 2*4*16*16*(8+8) = 32768 MACs; softmax 5*2*4*16*16 = 10240
    q = meta(2, 4, 16, 8)
    t = totals(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal), q, q, q)
    assert (t.macs, t.flops) == (32_768, 75_776)
    # q, k, v read (3 * 2*4*16*8*4 B = 12288), output written once (4096)
    assert (t.bytes_read, t.bytes_written) == (12_288, 4_096)


def test_sdpa_cross_attention_with_mask_and_value_width():
    # Lq=5, Lk=7, E=8, Ev=6, B*H=3: 3*5*7*(8+6) = 1470 MACs; mask 3*5*7 floats read too
    q, k, v, mask = meta(3, 5, 8), meta(3, 7, 8), meta(3, 7, 6), meta(3, 5, 7)
    t = totals(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), q, k, v, mask)
    assert t.macs == 1470
    assert t.bytes_read == 4 * (3 * 5 * 8 + 3 * 7 * 8 + 3 * 7 * 6 + 3 * 5 * 7)


def test_sdpa_counts_the_same_on_real_tensors():
    # on CPU the fused flash kernel runs, on meta the math path: one count for both
    q = torch.randn(1, 2, 8, 4)
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
    assert totals(fn, q, q, q).macs == totals(fn, q.to("meta"), q.to("meta"), q.to("meta")).macs == 1 * 2 * 8 * 8 * 8


# ---- normalisation -----------------------------------------------------------------------
def test_batch_norm_inference_is_two_flops_per_element():
    # 2*8*4*4 = 256 elements -> 512 FLOPs; reads in (1024 B) + 4 vectors of 8 floats (128 B)
    with torch.device("meta"):
        bn = nn.BatchNorm2d(8)
    t = profile(bn, meta(2, 8, 4, 4)).totals
    assert (t.macs, t.flops, t.bytes_read, t.bytes_written) == (0, 512, 1152, 1024)
    assert (t.params, t.buffers) == (16, 17)  # weight+bias; mean+var+num_batches_tracked


@pytest.mark.parametrize("affine, flops", [(True, 7 * 60), (False, 5 * 60)])
def test_layer_norm(affine, flops):
    with torch.device("meta"):
        ln = nn.LayerNorm(10, elementwise_affine=affine)
    assert profile(ln, meta(2, 3, 10)).totals.flops == flops


def test_group_norm():
    # 1*8*5*5 = 200 elements, affine: 7 per element
    with torch.device("meta"):
        gn = nn.GroupNorm(2, 8)
    assert profile(gn, meta(1, 8, 5, 5)).totals.flops == 1400


# ---- elementwise, softmax, pooling, resampling -----------------------------------------------
@pytest.mark.parametrize(
    "fn",
    [F.relu, F.relu6, F.gelu, F.silu, torch.sigmoid, torch.tanh, F.hardswish, F.hardsigmoid,
     lambda x: x.clamp(0, 1), lambda x: x * 2, lambda x: x + x, lambda x: torch.exp(x)],
)
def test_elementwise_is_one_flop_per_output_element(fn):
    # 2*3*5 = 30 elements
    assert totals(fn, meta(2, 3, 5)).flops == 30


def test_inplace_relu_reads_and_writes_the_same_tensor():
    t = totals(lambda x: F.relu(x, inplace=True), meta(4, 25))
    assert (t.flops, t.bytes_read, t.bytes_written) == (100, 400, 400)


def test_broadcast_add_reads_each_operand_as_stored():
    # (4, 8) + (8,): reads 32 + 8 floats, writes 32
    t = totals(lambda a, b: a + b, meta(4, 8), meta(8))
    assert (t.flops, t.bytes_read, t.bytes_written) == (32, 160, 128)


def test_softmax_is_five_flops_per_element():
    assert totals(lambda x: x.softmax(-1), meta(3, 7)).flops == 105
    assert totals(lambda x: F.log_softmax(x, -1), meta(3, 7)).flops == 105


def test_max_and_avg_pool_cost_kernel_area_per_output():
    # 3x3 window, stride 2, out 1*4*3*3 = 36 -> 9*36 = 324
    assert totals(lambda x: F.max_pool2d(x, 3, 2), meta(1, 4, 7, 7)).flops == 324
    # 2x2 window, out 1*4*3*3 = 36 -> 4*36 = 144
    assert totals(lambda x: F.avg_pool2d(x, 2), meta(1, 4, 7, 7)).flops == 144


def test_global_pool_and_reductions_cost_one_per_input():
    assert totals(lambda x: F.adaptive_avg_pool2d(x, 1), meta(2, 4, 7, 7)).flops == 392
    assert totals(lambda x: x.mean(dim=-1), meta(3, 10)).flops == 30
    assert totals(lambda x: x.sum(), meta(3, 10)).flops == 30


@pytest.mark.parametrize("mode, per_output", [("nearest", 0), ("bilinear", 4), ("bicubic", 16)])
def test_upsample(mode, per_output):
    # out 1*2*8*8 = 128 elements
    t = totals(lambda x: F.interpolate(x, scale_factor=2, mode=mode), meta(1, 2, 4, 4))
    assert t.flops == per_output * 128
    assert (t.bytes_read, t.bytes_written) == (128, 512)


def test_trilinear_upsample():
    # out 1*1*4*4*4 = 64 elements, 8 FLOPs each
    assert totals(lambda x: F.interpolate(x, scale_factor=2, mode="trilinear"), meta(1, 1, 2, 2, 2)).flops == 512


# ---- data movement -------------------------------------------------------------------------
def test_embedding_reads_indices_and_gathered_rows_only():
    # 50000 x 16 table, 2x3 int64 indices: read 6*8 + 6*16*4 bytes, write 6*16*4
    with torch.device("meta"):
        emb = nn.Embedding(50_000, 16)
    t = profile(emb, meta(2, 3, dtype=torch.int64)).totals
    assert (t.flops, t.bytes_read, t.bytes_written, t.params) == (0, 48 + 384, 384, 800_000)


def test_views_are_free():
    fn = lambda x: x.view(6, 5).transpose(0, 1).permute(1, 0).reshape(30).unsqueeze(0).squeeze(0)[2:]  # noqa: E731
    t = totals(fn, meta(2, 3, 5))
    assert (t.flops, t.bytes_read, t.bytes_written) == (0, 0, 0)


def test_copies_read_and_write():
    # cat of two (2, 5): reads 2*40 B, writes 80 B; contiguous of a transpose copies 40 B
    assert totals(lambda a, b: torch.cat([a, b]), meta(2, 5), meta(2, 5)).bytes_total == 160
    assert totals(lambda a: a.t().contiguous(), meta(2, 5)).bytes_total == 80
    assert totals(lambda a: F.pad(a, (1, 1)), meta(2, 5)).bytes_total == 40 + 56


def test_dtype_changes_bytes_of_floats_only():
    # fp16: the table rows cost 2 bytes per element, int64 indices keep 8
    with torch.device("meta"):
        emb = nn.Embedding(100, 16)
    t = profile(emb, meta(2, 3, dtype=torch.int64), dtype="fp16").totals
    assert (t.bytes_read, t.bytes_written) == (48 + 192, 192)


def test_unknown_op_is_reported_not_counted():
    t = profile(Lambda(lambda x: torch.linalg.inv(x)), meta(3, 3))
    assert t.unsupported_ops == {"aten::linalg_inv_ex": 1}
    assert t.unsupported_by_module == {"": {"aten::linalg_inv_ex": 1}}


def test_grouped_mm_of_mixture_of_experts():
    # 16 tokens routed over 4 experts (offsets), K=64 -> N=32: 16*64*32 MACs whatever the split.
    # The meta kernel only takes bf16 (the CPU one takes fp32): effprof asks it for the shapes in
    # bf16 and keeps the fp32 the real kernel produces, so the trace stays on meta.
    a, b = torch.randn(16, 64), torch.randn(4, 64, 32)
    offs = torch.tensor([4, 8, 12, 16], dtype=torch.int32)
    report = profile(Lambda(lambda a, b, o: torch._grouped_mm(a, b, offs=o)), (a, b, offs))
    assert report.totals.macs == 16 * 64 * 32
    assert report.device == "meta" and not report.notes
    kernel = next(k for k in report.kernels if k.event.op == "aten::_grouped_mm")
    # fp32 throughout: a 16*64 + b 4*64*32 + offsets 4 int32 read, out 16*32 written
    assert (kernel.cost.bytes_read, kernel.cost.bytes_written) == ((1024 + 8192) * 4 + 16, 512 * 4)
