"""Calibration plausibility: numbers no real machine produces are measured again, then refused.

Fake probe results stand in for a busy machine: the rules and calibrate's retry-or-refuse are
tested without timing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler import calibrate as C
from profiler.errors import UsageError
from profiler.hardware import load_spec
from profiler.plausible import busy_warnings, family_problem, tier_problems

ROOT = Path(__file__).resolve().parents[1]


# --- the rules, on the numbers a busy quick calibration once wrote ------------------------------


def test_a_24_ms_fixed_cost_against_a_1_us_launch_is_implausible():
    # 24,000 µs / 0.9 µs = 26,667x the launch probe, beyond 200x and beyond 1 ms
    problem = family_problem("conv.standard", 0.8, 24_000.0, "compute", (1_020.0, 6_108.0), 0.9, True)
    assert problem == "conv.standard: fixed cost 24000 µs is 26667x the 0.9 µs launch probe"


def test_an_efficiency_at_the_clip_is_implausible_even_when_not_strict():
    assert "hit the 10 clip" in family_problem("norm", 10.0, 9.6, "compute", (53.0,), 0.9, True, strict=False)


def test_a_compute_probe_over_4x_the_measured_gemm_rate_is_implausible_when_strict():
    # Winograd F(4x4,3x3) does 144/36 = 4x fewer multiplies than the direct count; 4 x 1.1 noise = 4.4
    assert "over 4x the GEMM rate" in family_problem("conv.standard", 4.5, 12.0, "compute", (1_020.0,), 0.9, True)
    assert family_problem("conv.standard", 4.5, 12.0, "compute", (1_020.0,), 0.9, True, strict=False) is None
    assert family_problem("conv.standard", 4.4, 12.0, "compute", (1_020.0,), 0.9, True) is None


def test_probes_that_beat_one_librarys_matmul_are_measurements_not_misreads():
    # measured on a 2-vCPU AMD EPYC: 1x1 convs (oneDNN) up to 395 GFLOP/s against torch.matmul's 210
    # (1.9x) at 2 threads; 3x3 convs 2.2x the matmul rate at 1 thread. A 1.1 cap refused every calibration there.
    assert family_problem("conv.pointwise", 1.9, 12.0, "compute", (1_020.0,), 0.9, True) is None
    assert family_problem("conv.standard", 2.2, 12.0, "compute", (1_020.0,), 0.9, True) is None


def test_memory_probes_may_beat_dram_when_their_bytes_are_cached():
    # measured on the 2-vCPU Xeon without cache tiers: gather 3.62, copy 2.52 (benchmarks/results)
    assert family_problem("gather", 3.62, 4.2, "memory", (30.0,), 0.94, False) is None
    assert family_problem("gather", 1.16, 4.1, "memory", (30.0,), 0.88, True) is None  # with tiers
    assert "by over half" in family_problem("gather", 2.0, 4.1, "memory", (30.0,), 0.88, True)


def test_a_fixed_cost_above_the_whole_typical_op_is_implausible():
    problem = family_problem("pool", 0.002, 400.0, "compute", (300.0, 2_936.0), 5.0, True)
    assert problem == "pool: fixed cost 400.0 µs (the op on a tiny tensor) is more than the whole op on a typical tensor (300.0 µs)"


@pytest.mark.parametrize("name", ["xeon-2vcpu-calibrated.yaml", "xeon-2vcpu-calibrated-no-cache-tiers.yaml"])
def test_the_committed_calibrations_pass_the_rules(name):
    spec = load_spec(str(ROOT / "benchmarks" / "results" / name))
    launch = spec.launch_overhead_us.value
    for key, family in spec.kernel_families.items():
        # the committed files do not record the term or typical times: check the rules that need neither
        assert family_problem(key, family.efficiency, family.overhead_us, "", (), launch, bool(spec.cache_bandwidth)) is None


def test_cache_tiers_that_no_hierarchy_has():
    assert tier_problems([(2**20, 150.0), (2**21, 90.0)], 25.0) == []
    assert tier_problems([(2**20, 0.0)], 25.0) == ["cache tier 1024 KiB: 0 GB/s is below the 25 GB/s of memory"]
    assert tier_problems([(2**20, 90.0), (2**21, 150.0)], 25.0) == [
        "cache tiers out of order: 1024 KiB at 90 GB/s, then 2048 KiB at 150 GB/s"]


def test_busy_machine_warnings():
    assert busy_warnings(0.3, 2, 1.1) == []
    load, spread = busy_warnings(9.03, 2, 1.9)
    assert "load average 9.03 on 2 cores" in load and "differed by up to 1.9x" in spread


# --- calibrate's retry or refuse, with fake measurements -----------------------------------------


def _reading(efficiency: float, overhead_us: float) -> C.FamilyReading:
    return C.FamilyReading(efficiency, overhead_us, "fake probe", "compute", (500.0, 4_000.0))


@pytest.fixture
def fake_machine(monkeypatch):
    """A machine measured instantly: 20 GB/s, 1 TFLOP/s GEMMs, a 1 µs launch, one probe family,
    no cache tiers; `probes` is the queue of results the family probe returns, one per try."""
    monkeypatch.setattr(C, "_plan", lambda quick, device: C._Plan(1, 3, 0.01, 2**20, (64,), 0.001, 2**20))
    monkeypatch.setattr(C, "_copy_gb_per_s", lambda timer, plan, device, nbytes: 20.0)
    monkeypatch.setattr(C, "_bandwidth_curve", lambda timer, plan, device: [(2**20, 20.0)])
    monkeypatch.setattr(C, "_gemm_tflop_per_s", lambda timer, plan, device, dtype: (1.0, 64))
    monkeypatch.setattr(C, "_launch_overhead_us", lambda timer, plan, device: 1.0)
    monkeypatch.setattr(C, "PROBES", {"conv.standard": C.PROBES["conv.standard"]})
    monkeypatch.setattr(C, "load_average", lambda: 0.1)
    probes: list[C.FamilyReading] = []
    tries: list[int] = []

    def probe(*args, **kwargs):
        tries.append(1)
        return probes.pop(0)

    monkeypatch.setattr(C, "_probe", probe)
    return probes, tries


def test_an_implausible_probe_is_measured_again_and_the_plausible_result_kept(fake_machine):
    probes, tries = fake_machine
    probes += [_reading(0.8, 24_000.0), _reading(0.8, 12.0)]
    result = C.calibrate(device="cpu", quick=True)
    assert len(tries) == 2
    assert result.families["conv.standard"].overhead_us == 12.0


def test_a_probe_implausible_every_time_is_refused_in_one_message(fake_machine):
    probes, tries = fake_machine
    probes += [_reading(0.8, 24_000.0)] * 3
    with pytest.raises(UsageError) as caught:
        C.calibrate(device="cpu", quick=True)
    assert len(tries) == C.MEASURE_TRIES == 3
    message = str(caught.value)
    assert "calibration refused, measured 3 times and still implausible: conv.standard: fixed cost 24000 µs" in message
    assert "nothing was written" in message and "\n" not in message


def test_keep_implausible_writes_it_with_a_warning(fake_machine):
    probes, _ = fake_machine
    probes += [_reading(10.0, 9.0)] * 3
    result = C.calibrate(device="cpu", quick=True, keep_implausible=True)
    assert result.families["conv.standard"].efficiency == 10.0
    assert any("--keep-implausible" in w and "hit the 10 clip" in w for w in result.warnings)
    assert "# warning: kept implausible numbers" in C.spec_yaml(result, "t")


def test_quick_mode_keeps_a_probe_faster_than_a_low_peak_with_a_warning_and_full_mode_refuses(fake_machine):
    probes, _ = fake_machine
    probes += [_reading(5.0, 9.0)] * 6
    result = C.calibrate(device="cpu", quick=True)
    assert any("quick mode; a full calibration refuses it" in w for w in result.warnings)
    with pytest.raises(UsageError, match="efficiency 5 is over 4x the GEMM rate"):
        C.calibrate(device="cpu", quick=False)
