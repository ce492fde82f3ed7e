"""`effprof calibrate`: its output is a valid spec, and calibrated specs mean what docs/accuracy.md says.

The one real calibration runs in quick mode (a few seconds); nothing here checks a timing.
"""

from __future__ import annotations

import pytest
import torch
import yaml
from torch import nn

from profiler.api import profile
from profiler.calibrate import (
    MIB, Calibration, FamilyReading, Reading, bandwidth_tiers, calibrate, spec_dict, write_spec,
)
from profiler.errors import SpecError, UsageError
from profiler.hardware import load_spec, parse_spec

MEASURED = "measured by effprof calibrate on "


@pytest.fixture(scope="module")
def quick():
    steps = []
    # keep_implausible: the tests check the spec's form, not its timings, on a machine shared with other jobs
    result = calibrate(quick=True, device="cpu", progress=lambda step, done, total: steps.append((step, done, total)),
                       keep_implausible=True)
    return result, steps


def test_quick_calibration_writes_a_spec_that_loads(quick, tmp_path):
    result, _ = quick
    path = tmp_path / "here.yaml"
    spec = write_spec(result, path)
    assert load_spec(str(path)) == spec
    assert spec.name == "here" and spec.kind == "cpu"
    assert spec.memory_bandwidth_gb_per_s.value > 0
    assert spec.matrix_engine.peak("fp32").value > 0
    assert spec.vector_units.peak("fp32").value == spec.matrix_engine.peak("fp32").value  # CPU: same FMA units
    assert spec.launch_overhead_us.value > 0
    assert set(spec.kernel_families) >= {"conv.standard", "conv.depthwise", "matmul", "norm", "elementwise", "pool"}
    # each family keeps every probe as (work, efficiency): 5 sizes x batch 1 and 8 for 3x3 convs
    conv = spec.kernel_families["conv.standard"]
    assert len(conv.points) == 10 and all(w > 0 and e > 0 for w, e in conv.points)
    # and, being GEMM-shaped, each probe's implicit GEMM: rows = N x H x W output pixels,
    # reduction = input channels x 9 taps (32@112, 64@56, 256@14, 512@7, the 3-channel stem @112)
    rows_and_reductions = [(112 * 112, 32 * 9), (56 * 56, 64 * 9), (14 * 14, 256 * 9), (7 * 7, 512 * 9), (112 * 112, 3 * 9)]
    assert [(m, k) for m, k, _ in conv.gemm_points] == [
        (batch * m, k) for batch in (1, 8) for m, k in rows_and_reductions]
    assert [e for _, _, e in conv.gemm_points] == [e for _, e in conv.points]
    linear = spec.kernel_families["matmul"]
    assert [(m, k) for m, k, _ in linear.gemm_points] == [(128, 512), (197, 192), (1, 512), (1024, 512), (1576, 192), (8, 512)]
    # every measured number says so, with the date and the device it was measured on
    for field, source in spec.sources().items():
        if not field.startswith("caches."):
            assert source.startswith(MEASURED + result.date + " on " + result.device_name), field


def test_progress_reports_every_step_and_ends_done(quick):
    _, steps = quick
    assert steps[0] == ("memory bandwidth", 0, steps[0][2])
    total = steps[-1][2]
    assert steps[-1] == ("done", total, total)
    assert [done for _, done, _ in steps] == list(range(total + 1))


def test_quick_spec_can_be_named(quick, tmp_path):
    spec = write_spec(quick[0], tmp_path / "file.yaml", name="my_laptop")
    assert spec.name == "my_laptop"


def test_write_spec_refuses_a_file_that_is_not_yaml(quick, tmp_path):
    with pytest.raises(UsageError, match=r"must end in \.yaml"):
        write_spec(quick[0], tmp_path / "spec.txt")


# ---------------------------------------------------------------------------- fixed calibrations


def test_bandwidth_tiers_keep_cache_resident_points_and_never_speed_up():
    curve = [(1 * MIB, 150.0), (2 * MIB, 170.0), (4 * MIB, 60.0), (8 * MIB, 30.0), (16 * MIB, 20.0)]
    # memory 20 GB/s: cache-resident means >= 1.25 * 20 = 25 GB/s (up to 8 MiB); 2 MiB capped at 1 MiB's 150
    assert bandwidth_tiers(curve, 20.0) == [(1 * MIB, 150.0), (2 * MIB, 150.0), (4 * MIB, 60.0), (8 * MIB, 30.0)]


def test_a_noisy_dip_caps_the_larger_tiers_but_never_below_memory():
    curve = [(1 * MIB, 100.0), (2 * MIB, 10.0), (4 * MIB, 80.0)]
    assert bandwidth_tiers(curve, 20.0) == [(1 * MIB, 100.0), (2 * MIB, 20.0), (4 * MIB, 20.0)]
    assert bandwidth_tiers([(1 * MIB, 24.0)], 20.0) == []  # nothing 1.25x faster than memory: no cache tier


def _calibration(**changes) -> Calibration:
    fields = dict(
        device="cpu", device_name="Test CPU", date="2025-01-02", threads=2, quick=False,
        memory_bandwidth_gb_per_s=Reading(26.18675, "copy"),
        matrix_tflop_per_s={"fp32": Reading(0.37195, "gemm"), "bf16": Reading(2.6049, "gemm")},
        vector_tflop_per_s={"fp32": Reading(0.37195, "gemm")},
        launch_overhead_us=Reading(0.76032, "add"),
        tiers=[(1 * MIB, 141.0), (64 * MIB, 51.0)],
        families={
            "pool": FamilyReading(0.0018, 5.18, "max pool"),
            "conv.standard": FamilyReading(0.7751, 14.04, "3x3 conv"),
        },
    )
    fields.update(changes)
    return Calibration(**fields)


def test_spec_dict_rounds_to_four_digits_and_names_its_sources():
    spec = parse_spec(spec_dict(_calibration(), "t"), "test", "t")
    assert spec.memory_bandwidth_gb_per_s.value == 26.19
    assert spec.matrix_engine.peak("fp32").value == 0.372 and spec.matrix_engine.peak("bf16").value == 2.605
    assert spec.launch_overhead_us.value == 0.76  # 3 digits
    assert [(t.working_set_kib, t.gb_per_s) for t in spec.cache_bandwidth] == [(1024, 141.0), (65536, 51.0)]
    pool = spec.kernel_families["pool"]
    assert (pool.efficiency, pool.overhead_us) == (0.0018, 5.18)
    conv = spec.kernel_families["conv.standard"]
    assert (conv.efficiency, conv.overhead_us) == (0.775, 14.0)  # 3 significant digits
    assert conv.source == "measured by effprof calibrate on 2025-01-02 on Test CPU: 3x3 conv"
    assert spec.memory_bandwidth_gb_per_s.source == "measured by effprof calibrate on 2025-01-02 on Test CPU: copy"
    assert spec.compute_efficiency.value == spec.memory_efficiency.value == 1.0
    assert "Test CPU, 2 threads" in spec.description


def test_a_plain_calibration_has_no_refinement_fields():
    data = spec_dict(_calibration(tiers=[], families={}), "t")
    assert "cache_bandwidth_gb_per_s" not in data and "kernel_families" not in data


# ------------------------------------------------------------------ what a calibrated spec changes


def _spec(tmp_path, **extra):
    data = {
        "name": "calibrated", "description": "hand-made", "kind": "cpu",
        "memory_bandwidth_gb_per_s": {"value": 10, "source": "test"},
        "vector_units": {"name": "v", "peak_tflop_per_s": {"fp32": {"value": 1, "source": "test"}}},
        "efficiency": {"compute": {"value": 1.0, "source": "test"}, "memory": {"value": 1.0, "source": "test"}},
        "launch_overhead_us": {"value": 1, "source": "test"},
        **extra,
    }
    path = tmp_path / "calibrated.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_spec(str(path))


TIERS = [{"working_set_kib": 16, "value": 100, "source": "test"}]


def _one_kernel(model, x, spec):
    kernels = profile(model, x, hardware=spec).estimate.kernels
    assert len(kernels) == 1
    return kernels[0]


def test_a_kernel_that_fits_a_cache_tier_moves_at_its_bandwidth(tmp_path):
    spec = _spec(tmp_path, cache_bandwidth_gb_per_s=TIERS)
    # relu on 1000 fp32: 4000 B read + 4000 B written = 8000 B <= 16 KiB -> 100 GB/s: 80 ns
    small = _one_kernel(nn.ReLU(), torch.randn(1, 1000), spec)
    assert small.memory_s == pytest.approx(8000 / 100e9, rel=1e-12)
    # 3000 floats: 24000 B > 16384 B -> memory's 10 GB/s: 2.4 µs
    large = _one_kernel(nn.ReLU(), torch.randn(1, 3000), spec)
    assert large.memory_s == pytest.approx(24000 / 10e9, rel=1e-12)


def test_a_family_scales_the_compute_term_and_replaces_the_launch(tmp_path):
    spec = _spec(tmp_path, cache_bandwidth_gb_per_s=TIERS,
                 kernel_families={"elementwise": {"efficiency": 0.01, "overhead_us": 2, "source": "test"}})
    k = _one_kernel(nn.ReLU(), torch.randn(1, 1000), spec)
    # 1000 FLOP at 1 TFLOP/s x 0.01 = 100 ns, above the 80 ns memory term, + 2 µs fixed cost
    assert k.compute_s == pytest.approx(1e-7, rel=1e-12)
    assert k.compute_s > k.memory_s
    assert k.bound == "overhead"  # the 2 µs fixed cost outweighs the 100 ns of arithmetic
    assert k.latency_s == pytest.approx(2.1e-6, rel=1e-12)


def test_the_most_specific_family_key_wins(tmp_path):
    spec = _spec(tmp_path, kernel_families={
        "elementwise": {"efficiency": 0.5, "overhead_us": 9, "source": "test"},
        "elementwise.relu": {"efficiency": 0.01, "overhead_us": 2, "source": "test"},
    })
    assert _one_kernel(nn.ReLU(), torch.randn(1, 1000), spec).launch_s == pytest.approx(2e-6)
    assert _one_kernel(nn.Sigmoid(), torch.randn(1, 1000), spec).launch_s == pytest.approx(9e-6)


def test_family_efficiency_follows_the_probes_nearest_in_size():
    from profiler.hardware import FamilyCalibration

    family = FamilyCalibration("conv.standard", 0.6, 10.0, "test", points=((10.0, 0.5), (100.0, 0.9), (100.0, 0.7)))
    # probes of 100 µs of work average 0.8; below the smallest and above the largest, the nearest
    assert family.efficiency_for(5e-6) == pytest.approx(0.5)
    assert family.efficiency_for(1e-3) == pytest.approx(0.8)
    # 31.62 µs is halfway from 10 to 100 µs in log(work): halfway from 0.5 to 0.8
    assert family.efficiency_for(10 ** 1.5 * 1e-6) == pytest.approx(0.65)
    assert FamilyCalibration("pool", 0.6, 1.0, "test").efficiency_for(1e-3) == 0.6  # no points: the median


def test_a_family_with_points_prices_a_kernel_by_its_size(tmp_path):
    spec = _spec(tmp_path, kernel_families={"elementwise": {
        "efficiency": 0.5, "overhead_us": 0, "source": "test", "points": [[0.1, 0.01], [10, 0.1]]}})
    # relu on 1000 fp32: 1000 FLOP at 1 TFLOP/s = 1 ns of work, below the smallest probe: 0.01 -> 100 ns
    assert _one_kernel(nn.ReLU(), torch.randn(1, 1000), spec).compute_s == pytest.approx(1e-9 / 0.01, rel=1e-12)
    # 1e6 FLOP = 1 µs of work: log-halfway from 0.1 to 10 µs, so efficiency 0.055 -> 18.18 µs
    assert _one_kernel(nn.ReLU(), torch.randn(1, 1_000_000), spec).compute_s == pytest.approx(1e-6 / 0.055, rel=1e-9)


def test_a_gemm_family_follows_the_probe_nearest_in_shape():
    from profiler.hardware import FamilyCalibration

    family = FamilyCalibration("conv.standard", 0.6, 10.0, "test", points=((10.0, 0.5),),
                          gemm_points=((49, 4608, 1.2), (3136, 576, 2.4), (12544, 27, 0.2), (12544, 27, 0.4)))
    # a late 1024-channel layer on 7x7 (49 rows, 9216 deep): one octave from the 49 x 4608 probe
    assert family.efficiency_at(1e-3, 49, 9216) == pytest.approx(1.2)
    # 1568 x 576 is one octave from 3136 x 576 and far from the rest
    assert family.efficiency_at(1e-3, 1568, 576) == pytest.approx(2.4)
    # a stem (reduction 27) at any size: the two stem probes share the shape, so their mean
    assert family.efficiency_at(1e-3, 50176, 27) == pytest.approx(0.3)
    # no shape (not a GEMM): by work, as before
    assert family.efficiency_at(5e-6) == pytest.approx(0.5)
    assert FamilyCalibration("pool", 0.6, 1.0, "test").efficiency_at(1e-3, 49, 9216) == 0.6


def test_a_family_with_gemm_points_prices_a_convolution_by_its_shape(tmp_path):
    spec = _spec(tmp_path, kernel_families={"conv.standard": {
        "efficiency": 0.5, "overhead_us": 0, "source": "test", "gemm_points": [[3136, 576, 0.25], [49, 4608, 0.1]]}})
    # 64 -> 64 3x3 on 56x56: 3136 rows x 576 deep, 2 x 3136 x 64 x 576 = 231,211,008 FLOP at 1 TFLOP/s x 0.25
    conv = nn.Conv2d(64, 64, 3, padding=1, bias=False)
    assert _one_kernel(conv, torch.randn(1, 64, 56, 56), spec).compute_s == pytest.approx(231_211_008 / 0.25e12, rel=1e-12)
    # 512 -> 512 on 7x7: 49 rows x 4608 deep, the same 231,211,008 FLOP, at 0.1 of the peak
    conv = nn.Conv2d(512, 512, 3, padding=1, bias=False)
    assert _one_kernel(conv, torch.randn(1, 512, 7, 7), spec).compute_s == pytest.approx(231_211_008 / 0.1e12, rel=1e-12)


@pytest.mark.parametrize("points", [[[49, 4608]], [[49.5, 4608, 1.0]], [[0, 4608, 1.0]], "49,4608,1"])
def test_malformed_gemm_points_are_refused(tmp_path, points):
    with pytest.raises(SpecError, match="rows, reduction, efficiency"):
        _spec(tmp_path, kernel_families={"conv.standard": {
            "efficiency": 0.5, "overhead_us": 0, "source": "test", "gemm_points": points}})


def test_a_family_without_arithmetic_scales_the_memory_term(tmp_path):
    spec = _spec(tmp_path, kernel_families={"copy": {"efficiency": 0.5, "overhead_us": 0, "source": "test"}})

    class Cat(nn.Module):
        def forward(self, a):
            return torch.cat((a, a), 1)

    # cat of two 1x1000 views of one tensor: reads 8000 B, writes 8000 B at 10 GB/s x 0.5 -> 3.2 µs
    k = _one_kernel(Cat(), torch.randn(1, 1000), spec)
    assert k.flops == 0 and k.memory_s == pytest.approx(16000 / 5e9, rel=1e-12)


@pytest.mark.parametrize(
    "extra, words",
    [
        ({"cache_bandwidth_gb_per_s": [{"working_set_kib": 16, "value": 50, "source": "t"},
                                       {"working_set_kib": 32, "value": 60, "source": "t"}]},
         "field 'cache_bandwidth_gb_per_s': expected tiers in ascending working_set_kib with non-increasing value"),
        ({"cache_bandwidth_gb_per_s": [{"working_set_kib": 16, "value": 50}]},
         "missing field 'cache_bandwidth_gb_per_s[0].source'"),
        ({"kernel_families": {"pool": {"efficiency": 0, "overhead_us": 1, "source": "t"}}},
         "field 'kernel_families.pool.efficiency': expected a positive number"),
        ({"kernel_families": {"pool": {"efficiency": 0.5, "overhead": 1, "source": "t"}}},
         "unknown field 'kernel_families.pool.overhead' (did you mean 'overhead_us'?)"),
        ({"kernel_families": {"pool": {"efficiency": 0.5, "overhead_us": 1, "source": "t", "points": [[1]]}}},
         "field 'kernel_families.pool.points': expected a list of [work_us, efficiency] pairs"),
    ],
)
def test_bad_refinement_fields_fail_with_one_line(tmp_path, extra, words):
    with pytest.raises(SpecError) as error:
        _spec(tmp_path, **extra)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_embedding_probe_ids_spread_over_the_whole_table():
    # ids from a few rows gather from L1 while the formula prices every row from memory: the probe
    # must read rows as a real text does, across the vocabulary
    from profiler.calibrate import _probe_inputs

    torch.manual_seed(0)
    (ids,) = _probe_inputs(((8, 128),), "cpu", ids_below=30522)
    assert ids.dtype == torch.int64 and 0 <= int(ids.min()) and int(ids.max()) < 30522
    assert int(ids.max()) > 16 and len(torch.unique(ids)) > 900  # 1024 draws from 30522 rows: few repeats
