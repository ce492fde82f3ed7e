"""What a kernel pays inside a model on a calibrated CPU (profiler/in_model.py), by hand.

Cold weights: a model whose parameters outgrow the last-level cache streams each kernel's weights
at `cold_weights_gb_per_s`, added to the kernel's time. Fresh pages: every buffer of at least
`fresh_pages.min_kib` costs its bytes at `fresh_pages.gb_per_s`; a CPU convolution also allocates
oneDNN's blocked copies of its input, weights and output.
"""

from __future__ import annotations

import pytest
import torch
import yaml
from torch import nn

from profiler.api import profile
from profiler.calibrate import MIB, fresh_pages_from
from profiler.errors import SpecError
from profiler.hardware import load_spec

COLD = {"value": 10, "source": "test"}  # 10 GB/s
FRESH = {"min_kib": 64, "gb_per_s": 1, "source": "test"}  # buffers of 64 KiB or more, 1 GB/s


def _spec(tmp_path, *, kind="cpu", llc_kib=64, **extra):
    data = {
        "name": "in-model", "description": "hand-made", "kind": kind,
        "memory_bandwidth_gb_per_s": {"value": 10, "source": "test"},
        "vector_units": {"name": "v", "peak_tflop_per_s": {"fp32": {"value": 1, "source": "test"}}},
        "efficiency": {"compute": {"value": 1.0, "source": "test"}, "memory": {"value": 1.0, "source": "test"}},
        "launch_overhead_us": {"value": 1, "source": "test"},
        "caches": {"l3": {"size_kib": llc_kib, "per": "device", "source": "test"}},
        **extra,
    }
    path = tmp_path / f"spec-{kind}-{llc_kib}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_spec(str(path))


def _kernels(model, x, spec):
    return {k.ops[0]: k for k in profile(model, x, hardware=spec).estimate.kernels}


def test_weights_of_a_model_beyond_the_last_level_cache_stream_at_the_cold_rate(tmp_path):
    # Linear(256, 256): weight 256x256x4 = 262144 B and bias 1024 B, more than a 64 KiB cache
    spec = _spec(tmp_path, cold_weights_gb_per_s=COLD)
    addmm = _kernels(nn.Linear(256, 256), torch.randn(2, 256), spec)["aten::addmm"]
    assert addmm.exposed_s == pytest.approx((262144 + 1024) / 10e9, rel=1e-12)  # 26.3 µs
    assert addmm.latency_s == pytest.approx(max(addmm.compute_s, addmm.memory_s) + addmm.launch_s + addmm.exposed_s)


def test_weights_that_fit_the_last_level_cache_stay_warm(tmp_path):
    spec = _spec(tmp_path, llc_kib=1024, cold_weights_gb_per_s=COLD)  # 257 KiB of weights fit 1 MiB
    assert _kernels(nn.Linear(256, 256), torch.randn(2, 256), spec)["aten::addmm"].exposed_s == 0


def test_the_cold_rule_counts_the_whole_model_not_one_layer(tmp_path):
    # two Linear(128, 128): 66048 B each, 132096 B together: each alone fits 100 KiB, both do not
    spec = _spec(tmp_path, llc_kib=100, cold_weights_gb_per_s=COLD)
    kernels = profile(nn.Sequential(nn.Linear(128, 128), nn.Linear(128, 128)), torch.randn(2, 128),
                      hardware=spec).estimate.kernels
    addmms = [k for k in kernels if k.ops == ("aten::addmm",)]
    assert [k.exposed_s for k in addmms] == pytest.approx([66048 / 10e9] * 2, rel=1e-12)
    assert all(k.exposed_s == 0 for k in kernels if k.ops == ("aten::t",))  # a view reads nothing


def test_activations_share_the_cache_with_the_weights(tmp_path):
    # 263168 B of weights fit a 512 KiB cache alone; with a 1024x256 fp32 output (1048576 B) alive, they do not
    spec = _spec(tmp_path, llc_kib=512, cold_weights_gb_per_s=COLD)
    small = _kernels(nn.Linear(256, 256), torch.randn(2, 256), spec)["aten::addmm"]
    large = _kernels(nn.Linear(256, 256), torch.randn(1024, 256), spec)["aten::addmm"]
    assert small.exposed_s == 0
    assert large.exposed_s == pytest.approx(263168 / 10e9, rel=1e-12)


def test_the_liveness_walk_runs_only_for_specs_that_price_cold_weights(tmp_path):
    from profiler.in_model import live_activation_bytes
    from profiler.tracing import ModelInputs, trace_model
    from profiler.aggregate import aggregate

    model = nn.Linear(256, 256)
    trace = trace_model(model, ModelInputs.from_example(torch.randn(1024, 256)))
    kernels = aggregate(trace, model).kernels
    parameters = trace.tags["parameters"]
    # the addmm's 1024x256 fp32 output: 1048576 B
    assert live_activation_bytes(kernels, trace.view_of, parameters, _spec(tmp_path, cold_weights_gb_per_s=COLD)) == 1048576
    assert live_activation_bytes(kernels, trace.view_of, parameters, _spec(tmp_path)) == 0


def test_a_lookup_is_not_priced_cold_twice(tmp_path):
    # the embedding's table (1000 x 64 x 4 = 256000 B) outgrows the cache, but its family's probe
    # already reads rows from memory: no cold stream on top
    spec = _spec(tmp_path, cold_weights_gb_per_s=COLD)
    lookup = _kernels(nn.Embedding(1000, 64), torch.randint(0, 1000, (1, 16)), spec)["aten::embedding"]
    assert lookup.exposed_s == 0


def test_a_big_output_costs_its_first_touch(tmp_path):
    spec = _spec(tmp_path, fresh_pages=FRESH)
    # relu out of place on 1x32768 fp32: a 131072 B output >= 64 KiB -> 131072 B at 1 GB/s
    big = _kernels(nn.ReLU(), torch.randn(1, 32768), spec)["aten::relu"]
    assert big.exposed_s == pytest.approx(131072 / 1e9, rel=1e-12)
    # 8192 floats: 32768 B < 64 KiB, reused by the allocator
    assert _kernels(nn.ReLU(), torch.randn(1, 8192), spec)["aten::relu"].exposed_s == 0
    # in place: nothing is allocated
    assert _kernels(nn.ReLU(inplace=True), torch.randn(1, 32768), spec)["aten::relu_"].exposed_s == 0


def test_a_cpu_convolution_pays_for_onednns_blocked_copies(tmp_path):
    model, x = nn.Conv2d(16, 16, 3, padding=1, bias=False), torch.randn(1, 16, 64, 64)
    # output 16x64x64x4 = 262144 B, twice (blocked, then plain); input 262144 B; weight 9216 B < 64 KiB
    conv = _kernels(model, x, _spec(tmp_path, fresh_pages=FRESH))["aten::convolution"]
    assert conv.exposed_s == pytest.approx(3 * 262144 / 1e9, rel=1e-12)
    # a 3-channel image is read as it is: its output twice only (3x64x64x4 = 49152 B is small anyway)
    stem = _kernels(nn.Conv2d(3, 16, 3, padding=1, bias=False), torch.randn(1, 3, 64, 64),
                    _spec(tmp_path, fresh_pages=FRESH))["aten::convolution"]
    assert stem.exposed_s == pytest.approx(2 * 262144 / 1e9, rel=1e-12)
    # on a GPU spec the convolution allocates its output only
    gpu = _kernels(model, x, _spec(tmp_path, kind="gpu", fresh_pages=FRESH))["aten::convolution"]
    assert gpu.exposed_s == pytest.approx(262144 / 1e9, rel=1e-12)


def test_specs_without_the_fields_pay_nothing(tmp_path):
    spec = _spec(tmp_path)
    assert _kernels(nn.Linear(256, 256), torch.randn(2, 256), spec)["aten::addmm"].exposed_s == 0
    assert _kernels(nn.ReLU(), torch.randn(1, 32768), spec)["aten::relu"].exposed_s == 0


@pytest.mark.parametrize("extra, words", [
    ({"fresh_pages": {"min_kib": 64, "source": "x"}}, "fresh_pages.gb_per_s"),
    ({"fresh_pages": {"min_kib": 64, "gb_per_s": 1, "source": "x", "per": 3}}, "per"),
    ({"cold_weights_gb_per_s": 12}, "cold_weights_gb_per_s"),
    ({"cold_weights_gb_per_s": {"value": -1, "source": "x"}}, "cold_weights_gb_per_s.value"),
])
def test_bad_in_model_fields_fail_with_one_line(tmp_path, extra, words):
    with pytest.raises(SpecError, match=words.replace(".", r"\.")) as error:
        _spec(tmp_path, **extra)
    assert "\n" not in str(error.value)


def test_the_fields_are_listed_with_their_sources(tmp_path):
    sources = _spec(tmp_path, cold_weights_gb_per_s=COLD, fresh_pages=FRESH).sources()
    assert sources["cold_weights_gb_per_s"] == "test" and sources["fresh_pages"] == "test"


def test_fresh_pages_start_at_the_smallest_size_from_which_every_larger_one_pays():
    # 32 MiB and 64 MiB pay 12 and 24 ms (2.8 GB/s); 16 MiB only 0.1 ms: glibc's mmap ceiling
    assert fresh_pages_from({4: 0.0, 16: 0.0001, 32: 0.012, 64: 0.024}) == (32 * MIB, pytest.approx(64 * MIB / 0.024 / 1e9))
    # a small size that pays once (heap trimming) but with a size between that does not: not a threshold
    assert fresh_pages_from({4: 0.0016, 8: 0.0, 16: 0.006, 32: 0.012, 64: 0.024})[0] == 16 * MIB
    # half the predicted cost is enough; less is not
    assert fresh_pages_from({32: 0.006, 64: 0.024})[0] == 32 * MIB
    assert fresh_pages_from({32: 0.0059, 64: 0.024})[0] == 64 * MIB
    # an allocator that keeps its pages (or a GPU): nothing to price
    assert fresh_pages_from({4: 0.0, 64: 0.0}) is None
    assert fresh_pages_from({4: 0.0, 64: -0.001}) is None


def test_hw_show_prints_the_fields_with_their_sources(tmp_path, capsys):
    import json

    from profiler.cli import main

    spec = _spec(tmp_path, cold_weights_gb_per_s=COLD, fresh_pages=FRESH)
    assert main(["hw", "show", spec.path, "-f", "markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "| Cold weights | 10 GB/s | test |" in lines
    assert "| Fresh pages | 1 GB/s from 64 KiB | test |" in lines
    assert main(["hw", "show", spec.path, "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cold_weights_gb_per_s"] == 10 and data["fresh_pages"] == {"min_kib": 64, "gb_per_s": 1}


def test_the_report_says_what_the_in_model_costs_added(tmp_path):
    spec = _spec(tmp_path, cold_weights_gb_per_s=COLD, fresh_pages=FRESH)
    report = profile(nn.Sequential(nn.Linear(256, 256), nn.ReLU()), torch.randn(128, 256), hardware=spec)
    # weights 263168 B = 0.3 MiB > 64 KiB: 26.3 µs; outputs 128x256x4 = 131072 B >= 64 KiB, twice: 262 µs
    # live at once: the linear's output and the ReLU's, 131072 B each
    assert ("in-model: the model's 263.17 kB of weights and 262.14 kB of live activations outgrow the 64 KiB "
            "last-level cache: the weights stream from DRAM on every forward, +0.0263 ms "
            "(docs/roofline.md, Inside a model)") in report.notes
    assert ("in-model: 2 buffers of 64 KiB or more come as fresh pages, whose first touch costs +0.262 ms "
            "(docs/roofline.md, Inside a model)") in report.notes
    # a kernel whose time is mostly page faults is memory-bound, not compute-bound
    relu = next(k for k in report.estimate.kernels if k.ops == ("aten::relu",))
    assert relu.exposed_s > relu.compute_s and relu.bound == "memory"
    assert not [n for n in profile(nn.ReLU(), torch.randn(1, 8), hardware=spec).notes if "in-model" in n]
