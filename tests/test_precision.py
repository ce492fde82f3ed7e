"""Precision per role: weight bytes with their scales, compute dtypes, dequantization, roles from the trace."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from profiler.cli.flags import COMMAND_LINE
from profiler.aggregate import aggregate
from profiler.errors import UsageError
from profiler.precision import Precision, Roles, parse_precision, reprice
from profiler.tracing import ModelInputs, trace_model

# one 4096 x 4096 weight: 16,777,216 elements; per-channel scales: one per output row = 4096
ELEMENTS = 4096 * 4096


@pytest.mark.parametrize("precision, expected", [
    # fp16: 2 bytes each
    (Precision(weights="fp16"), 33_554_432),
    # int8 per channel: 16,777,216 + 4096 fp16 scales x 2 = 16,785,408
    (Precision(weights="int8"), 16_785_408),
    # int8 in groups of 128: 16,777,216 + 131,072 scales x 2 = 17,039,360
    (Precision(weights="int8", group_size=128), 17_039_360),
    # int4 groups of 128: 8,388,608 + 131,072 x 2 = 8,650,752
    (Precision(weights="int4", group_size=128), 8_650_752),
    # ... with int4 zero points: + 131,072 / 2 = 65,536 -> 8,716,288
    (Precision(weights="int4", group_size=128, zero_points=True), 8_716_288),
    # fp8: 16,777,216 + one fp32 scale per tensor
    (Precision(weights="fp8"), 16_777_220),
])
def test_weight_bytes_include_scales_and_zero_points(precision, expected):
    assert precision.weight_bytes(ELEMENTS, reduction=4096) == expected


@pytest.mark.parametrize("weights, activations, gemm", [
    ("int4", "fp16", "fp16"),  # W4A16: dequantized to fp16 GEMMs (AWQ, Marlin)
    ("int8", "fp16", "fp16"),  # W8A16
    ("int8", "int8", "int8"),  # W8A8: int8 tensor cores (SmoothQuant, TensorRT)
    ("int4", "int8", "int8"),  # W4A8
    ("fp8", "fp8", "fp8"),
    ("fp8", "bf16", "bf16"),
    ("bf16", "bf16", "bf16"),
])
def test_gemm_compute_dtype_follows_the_kernel(weights, activations, gemm):
    assert Precision(weights=weights, activations=activations).gemm_dtype == gemm


def test_int4_defaults_to_groups_of_128_and_bad_options_are_one_line_errors():
    assert parse_precision("int4").group_size == 128
    assert parse_precision("int8").group_size is None
    with pytest.raises(UsageError, match="^unknown weights 'int5' .*use one of fp16, bf16, fp8, int8, int4"):
        Precision(weights="int5")
    with pytest.raises(UsageError) as caught:
        Precision(weights="fp16", group_size=64)
    assert str(caught.value) == "group_size applies to int8 or int4 weights, not fp16: drop it or pass weights='int4'"
    assert caught.value.spelled(COMMAND_LINE) == "--group-size applies to int8 or int4 weights, not fp16: drop it or pass --weights int4"
    with pytest.raises(UsageError, match="^unknown kv_cache 'int4'") as caught:
        Precision(kv_cache="int4")
    assert caught.value.spelled(COMMAND_LINE).startswith("unknown --kv-cache 'int4'")


def _linear_kernels():
    # one Linear(4096 -> 4096, bias) on one token: addmm(bias, x, W.t())
    model = nn.Linear(4096, 4096)
    trace = trace_model(model, ModelInputs((torch.empty(1, 4096, dtype=torch.float16),)))
    kernels = [k for k in aggregate(trace, model).kernels if k.event.name == "addmm"]
    return kernels, Roles.from_trace(trace)


def test_linear_weight_is_found_through_its_transposed_view_and_repriced():
    (kernel,), roles = _linear_kernels()
    fp16 = reprice(kernel, roles, Precision())
    # fp16: bias 8192 + x 8192 + W 33,554,432 read; out 8192 written
    assert (fp16.bytes_read, fp16.bytes_written) == (33_570_816, 8192)
    w4 = reprice(kernel, roles, Precision(weights="int4", group_size=128))
    # only W changes: 33,554,432 -> 8,650,752 (scales included); bias and x stay fp16
    assert w4.bytes_read == 8192 + 8192 + 8_650_752
    assert w4.compute_dtype == "fp16"
    assert w4.dequant_ops == ELEMENTS * 2  # convert + scale per weight element
    w8a8 = reprice(kernel, roles, Precision(weights="int8", activations="int8"))
    # W int8 per channel 16,785,408; x int8 4096; bias stays in the float format (fp16) 8192
    assert w8a8.bytes_read == 16_785_408 + 4096 + 8192
    assert w8a8.bytes_written == 4096
    assert (w8a8.compute_dtype, w8a8.dequant_ops) == ("int8", 0)
    assert w8a8.macs == fp16.macs == ELEMENTS


def test_profile_prices_a_cnn_in_int8_per_role(write_model):
    # TensorRT-style INT8 on the conftest net: conv 3->8 3x3 (no bias) on 8x8, then fc 512->10.
    from conftest import SMALL_NET

    from profiler.api import profile_loaded
    from profiler.loading import load_model, parse_input_spec

    loaded = load_model(str(write_model(SMALL_NET)), [parse_input_spec("1,3,8,8")])
    report = profile_loaded(loaded, hardware="t4", precision=parse_precision("int8", "int8"))
    conv, fc = report.layer("conv"), report.layer("fc")
    # conv reads x 192 B (int8) + W 216 B + 8 per-channel fp16 scales 16 B; writes 8*8*8 = 512 B
    assert (conv.bytes_read, conv.bytes_written) == (192 + 216 + 16, 512)
    # fc reads x 512 B + W 5120 B + 10 scales 20 B; writes 10 B
    assert (fc.bytes_read, fc.bytes_written) == (512 + 5120 + 20, 10)
    assert conv.macs == 13_824 and fc.macs == 5_120  # the arithmetic does not change
    assert report.estimate.dtype == "int8"  # the GEMMs run on int8 tensor cores
    assert any("precision per role" in note for note in report.notes)


def test_profile_refuses_dtype_with_a_precision(write_model, capsys):
    from conftest import SMALL_NET

    from profiler.cli import main

    code = main([str(write_model(SMALL_NET)), "-i", "1,3,8,8", "--dtype", "fp16", "--weights", "int8"])
    err = capsys.readouterr().err
    assert code == 2 and "give one or the other" in err and "Traceback" not in err


def test_profile_adds_the_dequantization_of_weight_only_formats_to_the_gemm():
    from profiler.api import profile
    from profiler.hardware import load_spec

    model, x = nn.Linear(4096, 4096, bias=False), torch.randn(1, 4096)
    t4 = load_spec("t4")

    def mm(precision):
        report = profile(model, x, hardware="t4", precision=precision)
        return next(k for k in report.estimate.kernels if k.ops == ("aten::mm",)), report.notes

    (int4, notes), (fp16, _) = mm(parse_precision("int4")), mm(parse_precision("fp16"))
    # int4 weights, fp16 GEMM: convert and scale each of the 16,777,216 weights on the vector units
    # at T4's fp16 vector peak, on top of the same GEMM
    dequant_s = 2 * 4096 * 4096 / (t4.vector_units.peak("fp16").value * 1e12 * t4.compute_efficiency.value)
    assert int4.compute_s - fp16.compute_s == pytest.approx(dequant_s, rel=1e-9)
    assert any("weights dequantized in registers on the vector units" in note for note in notes)
    # with zero points, 3 operations per weight
    zero, _ = mm(parse_precision("int4", zero_points=True))
    assert zero.compute_s - fp16.compute_s == pytest.approx(1.5 * dequant_s, rel=1e-9)
    # W8A8 runs on int8 tensor cores: nothing to dequantize
    w8a8, _ = mm(parse_precision("int8", "int8"))
    assert w8a8.flops == fp16.flops and not any(k.cost.dequant_ops for k in profile(
        model, x, hardware="t4", precision=parse_precision("int8", "int8")).kernels)
