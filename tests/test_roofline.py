"""Roofline arithmetic against hand-computed layers, unit choice, and the estimate's report fields.

Spec numbers used below (configs/hardware):
  a4000: 448 GB/s, memory efficiency 0.8 -> 358.4e9 B/s; compute efficiency 0.7; launch 4 µs;
         CUDA cores fp32 19.2 TFLOP/s (x 0.7 = 13.44e12); tensor cores fp16 76.68 (x 0.7 = 53.676e12).
  t4:    320 GB/s x 0.8 = 256e9 B/s; tensor cores fp16 65 TFLOP/s x 0.6 = 39e12; launch 4 µs.
"""

from __future__ import annotations

import io
import json
import re

import pytest
import torch
from rich.console import Console
from torch import nn

import profiler
from profiler.errors import UsageError
from profiler.render.export import to_csv, to_json, to_markdown
from profiler.hardware import load_spec
from profiler.render import render_report, summary_rows
from profiler.roofline import (
    choose_unit,
    compute_time_s,
    kernel_time_s,
    memory_time_s,
    ridge_point,
)

EXACT = dict(rel=1e-12)
A4000_MEMORY = 448e9 * 0.8  # 358.4e9 B/s
A4000_FP32 = 19.2e12 * 0.7  # 13.44e12 FLOP/s on the CUDA cores
A4000_FP16_TC = 76.68e12 * 0.7  # 53.676e12 FLOP/s on the tensor cores
LAUNCH = 4e-6


def _profile(model, x, **options):
    return profiler.profile(model, x, **options)


# --------------------------------------------------------------------------------- pure functions


def test_the_roofline_functions():
    assert compute_time_s(2e12, 1.0, 0.5) == pytest.approx(4.0, **EXACT)  # 2e12 / (1e12 x 0.5)
    assert memory_time_s(1e9, 100, 0.5) == pytest.approx(0.02, **EXACT)  # 1e9 / (100e9 x 0.5)
    assert kernel_time_s(3.0, 5.0, 1.0) == 6.0  # compute and memory overlap; the launch does not
    assert ridge_point(19.2, 448) == pytest.approx(19.2e12 / 448e9, **EXACT)  # 42.857 FLOP/B


@pytest.mark.parametrize("nbytes", [0, 10, 10_000, 10_000_000, 10_000_000_000])
def test_latency_never_decreases_as_bytes_grow(nbytes):
    bandwidth, flops = 448, 1e9
    compute = compute_time_s(flops, 19.2, 0.7)
    before = kernel_time_s(compute, memory_time_s(nbytes, bandwidth, 0.8), LAUNCH)
    after = kernel_time_s(compute, memory_time_s(nbytes * 2 + 1, bandwidth, 0.8), LAUNCH)
    assert after >= before


# --------------------------------------------------------------------------------- hand-computed


def test_depthwise_conv_on_the_a4000_is_memory_bound_with_the_exact_time():
    model = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False))
    report = _profile(model, torch.randn(1, 32, 112, 112), hardware="a4000")
    fields = report.estimate.layer("0")
    # MACs 32·112·112·9 = 3,612,672, FLOPs 7,225,344 (depthwise: CUDA cores, fp32)
    # bytes: input 32·112·112·4 = 1,605,632 + weight 32·9·4 = 1,152 + output 1,605,632 = 3,212,416
    compute = 7_225_344 / 13.44e12  # = 5.376e-7 s
    memory = 3_212_416 / 358.4e9  # = 8.9632142857e-6 s
    assert compute == pytest.approx(5.376e-7, **EXACT)
    assert fields.compute_s == pytest.approx(compute, **EXACT)
    assert fields.memory_s == pytest.approx(memory, **EXACT)
    assert fields.latency_s == pytest.approx(8.963214285714286e-6 + 4e-6, **EXACT)
    assert fields.bound == "memory"
    assert fields.launches == 1
    # intensity 7,225,344 / 3,212,416 = 2.2492 FLOP/B against the fp32 ridge 19.2e12 / 448e9 = 42.857
    assert fields.intensity_vs_ridge == pytest.approx((7_225_344 / 3_212_416) / (19.2e12 / 448e9), **EXACT)


def test_large_fp16_gemm_on_the_t4_is_compute_bound_with_the_exact_time():
    model = nn.Linear(4096, 4096, bias=False)
    report = _profile(model, torch.randn(4096, 4096), hardware="t4", dtype="fp16")
    fields = report.estimate.layer("")
    # mm 4096³: MACs 68,719,476,736, FLOPs 137,438,953,472 on the tensor cores at 65 x 0.6 = 39e12
    # bytes: (input + weight + output) 3 · 4096² · 2 = 100,663,296 at 256e9 B/s = 3.93216e-4 s
    assert fields.compute_s == pytest.approx(137_438_953_472 / 39e12, **EXACT)  # 3.5240757e-3 s
    assert fields.memory_s == pytest.approx(3.93216e-4, **EXACT)
    assert fields.latency_s == pytest.approx(137_438_953_472 / 39e12 + 4e-6, **EXACT)
    assert fields.bound == "compute"


def test_dtype_halves_bytes_and_moves_the_gemm_onto_the_tensor_cores():
    model = nn.Linear(1024, 1024)
    fp32 = _profile(model, torch.randn(1, 1024), hardware="a4000").estimate.layer("")
    fp16 = _profile(model, torch.randn(1, 1024), hardware="a4000", dtype="fp16").estimate.layer("")
    # addmm at batch 1: FLOPs 2·1024·1024 + 1024 (bias) = 2,098,176
    # fp32 bytes: input 4,096 + weight 4,194,304 + bias 4,096 + output 4,096 = 4,206,592 (CUDA cores)
    assert fp32.compute_s == pytest.approx(2_098_176 / 13.44e12, **EXACT)
    assert fp32.memory_s == pytest.approx(4_206_592 / 358.4e9, **EXACT)  # 1.1737e-5 s
    # fp16 bytes: half, 2,103,296; FLOPs on the tensor cores at 53.676e12
    assert fp16.compute_s == pytest.approx(2_098_176 / 53.676e12, **EXACT)
    assert fp16.memory_s == pytest.approx(2_103_296 / 358.4e9, **EXACT)
    assert fp32.bound == fp16.bound == "memory"  # batch 1 reads the whole weight for 2 FLOP/weight


def test_batch_turns_the_linear_layer_compute_bound_and_raises_throughput():
    model = nn.Linear(1024, 1024)
    small = _profile(model, torch.randn(1, 1024), hardware="a4000", dtype="fp16").estimate
    large = _profile(model, torch.randn(1, 1024), hardware="a4000", dtype="fp16", batch=4096).estimate
    fields = large.layer("")
    # batch 4096: FLOPs 2·4096·1024·1024 + 4096·1024 = 8,594,128,896 at 53.676e12
    # bytes: input 8,388,608 + weight 2,097,152 + bias 2,048 + output 8,388,608 = 18,876,416
    assert fields.compute_s == pytest.approx(8_594_128_896 / 53.676e12, **EXACT)  # 1.601e-4 s
    assert fields.memory_s == pytest.approx(18_876_416 / 358.4e9, **EXACT)  # 5.267e-5 s
    assert fields.bound == "compute"
    assert small.layer("").bound == "memory"
    assert large.batch == 4096 and small.batch == 1
    assert large.total.throughput_per_s == pytest.approx(4096 / fields.latency_s, **EXACT)
    assert large.total.throughput_per_s > 100 * small.total.throughput_per_s


def test_views_cost_nothing_and_launch_nothing():
    class Flatten(nn.Module):
        def forward(self, x):
            return x.view(x.shape[0], -1).transpose(0, 1)

    estimate = _profile(Flatten(), torch.randn(2, 3, 4), hardware="a4000").estimate
    assert estimate.launches == 0
    assert estimate.latency_s == 0.0
    assert estimate.total.throughput_per_s is None


def test_layers_add_up_to_the_model():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
    estimate = _profile(model, torch.randn(2, 3, 32, 32), hardware="t4").estimate
    layers = estimate.layer_sums()
    assert sum(f.latency_s for f in layers.values()) == pytest.approx(estimate.latency_s, **EXACT)
    assert sum(f.share for f in layers.values()) == pytest.approx(1.0, **EXACT)
    assert estimate.launches == 4  # conv, BN, ReLU, addmm: Flatten and the weight's transpose are views
    # every launch costs 4 µs on the t4
    assert sum(f.launch_s for f in layers.values()) == pytest.approx(4 * 4e-6, **EXACT)


# --------------------------------------------------------------------------------- unit choice


def _kernel(model, x, dtype=None):
    report = _profile(model, x, dtype=dtype)
    return next(k for k in report.kernels if k.cost.engine != "none")


@pytest.mark.parametrize(
    "hw, dtype, model, shape, unit, key",
    [
        ("a4000", "fp16", nn.Conv2d(32, 32, 3, groups=32), (1, 32, 8, 8), "vector", "fp16"),  # depthwise
        ("a4000", "fp16", nn.Conv2d(32, 64, 3), (1, 32, 8, 8), "matrix", "fp16"),  # standard
        ("a4000", "fp16", nn.Conv2d(64, 64, 3, groups=16), (1, 64, 8, 8), "vector", "fp16"),  # 4 channels/group
        ("a4000", "fp16", nn.Conv2d(64, 64, 3, groups=2), (1, 64, 8, 8), "matrix", "fp16"),  # 32 channels/group
        ("a4000", "fp32", nn.Conv2d(32, 64, 3), (1, 32, 8, 8), "vector", "fp32"),  # tensor cores lack fp32
        ("a4000", "tf32", nn.Conv2d(32, 64, 3), (1, 32, 8, 8), "matrix", "tf32"),
        ("a4000", "tf32", nn.ReLU(), (1, 32, 8, 8), "vector", "fp32"),  # tf32 is a matrix-engine format
        ("t4", "bf16", nn.Linear(64, 64), (4, 64), "vector", "fp32"),  # Turing has no bf16 anywhere
        ("xeon-8480", "bf16", nn.Linear(64, 64), (4, 64), "matrix", "bf16"),  # AMX
        ("xeon-8480", "fp16", nn.Linear(64, 64), (4, 64), "vector", "fp16"),  # no AMX-FP16 on Sapphire Rapids
        ("cortex-a76", "fp32", nn.Linear(64, 64), (4, 64), "vector", "fp32"),  # no matrix engine
        ("h100", "int8", nn.Linear(64, 64), (4, 64), "matrix", "int8"),
    ],
)
def test_unit_choice(hw, dtype, model, shape, unit, key):
    choice = choose_unit(_kernel(model, torch.randn(*shape), "fp32" if dtype == "tf32" else dtype), load_spec(hw), dtype)
    assert (choice.unit, choice.dtype) == (unit, key)


def test_a_dtype_without_a_peak_is_a_usage_error():
    with pytest.raises(UsageError, match="no roofline peaks for dtype 'fp64'"):
        _profile(nn.Linear(4, 4).double(), torch.randn(2, 4, dtype=torch.float64), hardware="a4000")


def test_notes_say_when_the_dtype_falls_back():
    report = _profile(nn.Linear(64, 64), torch.randn(4, 64), hardware="t4", dtype="bf16")
    assert any("priced on the CUDA cores" in n for n in report.notes)
    assert any("no bf16 peak" in n and "fp32 rate" in n for n in report.notes)


# --------------------------------------------------------------------------------- report fields


@pytest.fixture(scope="module")
def mobilenet():
    from profiler.api import profile_loaded
    from profiler.loading import load_model

    return profile_loaded(load_model("examples/mobilenet_v1.py", [], None), hardware="a4000")


def test_depthwise_convs_of_mobilenet_are_memory_or_overhead_bound_on_the_a4000(mobilenet):
    fields = mobilenet.estimate.layer_sums()
    depthwise = [layer for layer in mobilenet.layers if layer.conv_kind == "depthwise"]
    assert len(depthwise) == 13
    # never compute-bound (intensity 0.87-2.25 FLOP/B); the bytes outlast the 4 µs launch above
    # 4e-6 s x 448e9 B/s x 0.8 = 1,433,600 B: features.1-5 (1.61-4.02 MB), not 6-13 (0.44-1.01 MB)
    bounds = [fields[layer.name].bound for layer in depthwise]
    assert bounds == ["memory"] * 5 + ["overhead"] * 8
    assert all((b == "memory") == (layer.bytes_total > 1_433_600) for b, layer in zip(bounds, depthwise))


def test_a_kernel_whose_launch_outweighs_its_flops_and_bytes_is_overhead_bound():
    report = _profile(nn.ReLU(), torch.randn(1, 1024), hardware="a4000")
    row = report.estimate.layer("")
    # ReLU on 1,024 fp32: 1,024 FLOPs / 13.44e12 = 7.6e-11 s, bytes 8,192 / 358.4e9 = 2.29e-8 s, launch 4e-6 s
    assert row.memory_s == pytest.approx(8_192 / 358.4e9, **EXACT)
    assert row.launch_s == pytest.approx(4e-6, **EXACT)
    assert row.bound == "overhead"
    total = report.estimate.total
    assert (total.overhead_fraction, total.memory_bound_fraction, total.compute_bound_fraction) == (1.0, 0.0, 0.0)
    data = report.to_dict()
    assert data["layers"][0]["bound"] == "overhead" and data["totals"]["overhead_fraction"] == 1.0


def test_folded_rows_sum_their_subtree(mobilenet):
    fields = mobilenet.estimate.layer_sums()
    rows = mobilenet.rows(depth=2)
    folded = {row.name: mobilenet.estimate.for_row(row) for row in rows}
    block = [name for name in fields if name.startswith("features.1.")]
    assert len(block) == 6  # dw.0-2, pw.0-2
    assert folded["features.1"].latency_s == pytest.approx(sum(fields[n].latency_s for n in block), **EXACT)
    # the root row keeps only its own ops (the flatten view): nothing
    assert folded[""].latency_s == 0.0
    assert sum(f.latency_s for f in folded.values()) == pytest.approx(mobilenet.estimate.latency_s, **EXACT)


def test_json_gains_hardware_layer_and_total_fields(mobilenet):
    data = json.loads(to_json(mobilenet))
    hardware = data["hardware"]
    for key in ("name", "memory_bandwidth_gb_per_s", "peaks", "ridge_point", "efficiency", "source"):
        assert key in hardware
    assert hardware["name"] == "a4000" and hardware["memory_bandwidth_gb_per_s"] == 448
    # fp32: GEMMs run on the CUDA cores, whose ridge point is 19.2e12 / 448e9
    assert hardware["ridge_point"] == pytest.approx(19.2e12 / 448e9, **EXACT)
    assert hardware["peaks"]["matrix"]["fp16"] == 76.68
    assert "datasheet" in hardware["source"]["memory_bandwidth_gb_per_s"]
    totals = data["totals"]
    assert totals["latency_s"] == pytest.approx(sum(layer["latency_s"] for layer in data["layers"]), **EXACT)
    assert totals["throughput_per_s"] == pytest.approx(1 / totals["latency_s"], **EXACT)
    assert 0.5 < totals["memory_bound_fraction"] <= 1.0
    assert 0.3 < totals["overhead_fraction"] < 0.5  # 8 depthwise convs and most BN/ReLU of the 14x14 and 7x7 blocks
    assert all(layer["bound"] in ("memory", "compute", "overhead", None) for layer in data["layers"])
    fractions = totals["memory_bound_fraction"] + totals["compute_bound_fraction"] + totals["overhead_fraction"]
    assert fractions == pytest.approx(1.0, **EXACT)


def test_csv_and_markdown_carry_the_estimate(mobilenet):
    rows = mobilenet.rows(depth=1)
    header = to_csv(mobilenet, rows).splitlines()[0].split(",")
    assert {"latency_s", "bound", "latency_share"} <= set(header)
    markdown = to_markdown(mobilenet, rows)
    assert "Latency (µs)" in markdown and "**Estimate**" in markdown


def test_the_table_shows_latency_share_and_coloured_bound(mobilenet):
    buffer = io.StringIO()
    Console(file=buffer, width=220, force_terminal=True, color_system="standard").print(
        render_report(mobilenet, mobilenet.rows())
    )
    text = buffer.getvalue()
    for word in ("Latency", "Share", "Bound", "I/ridge", "Est. latency", "inferences/s", "Memory-bound", "Top memory-bound"):
        assert word in text
    assert re.search(r"\x1b\[3[13]m *memory", text)  # red or yellow
    assert re.search(r"\x1b\[32m *compute", text)  # green


def test_summary_rows(mobilenet):
    summary = dict(summary_rows(mobilenet.estimate))
    assert summary["Est. latency"].endswith("µs")
    assert "at batch 1" in summary["Throughput"]
    assert "below the ridge point 42.9 FLOP/B" in summary["Intensity"]
    assert summary["Memory-bound"].endswith("% of latency")


def test_the_standard_twin_has_far_more_macs_but_a_smaller_latency_ratio(mobilenet):
    from profiler.api import profile_loaded
    from profiler.loading import load_model

    twin = profile_loaded(load_model("examples/mobilenet_v1_standard.py", [], None), hardware="a4000")
    assert mobilenet.totals.macs == 568_740_352  # the paper's 569M Mult-Adds
    assert twin.totals.macs == 4_867_293_184  # the paper's 4866M
    macs_ratio = twin.totals.macs / mobilenet.totals.macs  # 8.558
    latency_ratio = twin.estimate.latency_s / mobilenet.estimate.latency_s
    assert macs_ratio > 8.5
    assert latency_ratio < macs_ratio
    assert latency_ratio < macs_ratio / 2  # the seeds' lesson: FLOPs are not latency on a GPU
