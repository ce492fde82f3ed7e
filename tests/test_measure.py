"""`--measure`: the error statistics on fixed inputs, own-time bookkeeping, and real runs of a small CNN.

No timing thresholds: what a measurement takes belongs in benchmarks/, not in a test.
"""

from __future__ import annotations

import math
import random

import pytest

from profiler.realrun import Clock

from profiler.document import document
from profiler.results import ProfileResult
import torch
from torch import nn

from profiler.api import profile, profile_loaded
from profiler.errors import UsageError
from profiler.loading import load_model
from profiler.measure import (
    LayerTimes,
    _Call,
    _own_times,
    check_fits,
    error_percent,
    measure_loaded,
    median,
    memory_needed_bytes,
    ranks,
    spearman,
    time_forward,
    time_layers,
    within,
)

SMALL_CNN = """
import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.pool(self.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(x, 1))


def build_model():
    return SmallCNN()


def example_inputs():
    return torch.randn(1, 3, 16, 16)
"""


# ------------------------------------------------------------------------------------ statistics


def test_spearman_of_one_swapped_pair_is_exactly_0_8():
    # ranks 1 2 3 4 against 1 2 4 3: sum d^2 = 2, rho = 1 - 6*2 / (4*(16-1)) = 0.8
    assert spearman([1, 2, 3, 4], [10, 20, 40, 30]) == 0.8


def test_spearman_with_ties_uses_mean_ranks():
    # x ranks 1, 2.5, 2.5, 4 (two 2s share ranks 2 and 3); y ranks 1..4; both centred on 2.5:
    # sum dx*dy = 2.25 + 0 + 0 + 2.25 = 4.5, sum dx^2 = 4.5, sum dy^2 = 5 -> 4.5 / sqrt(22.5) = sqrt(0.9)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(math.sqrt(0.9), abs=1e-15)


def test_spearman_extremes_and_undefined_cases():
    assert spearman([1, 2, 3], [30, 20, 10]) == -1.0
    assert spearman([0.1, 5, 7], [1, 2, 1000]) == 1.0  # ranks only: the values' spread does not matter
    assert spearman([1], [2]) is None  # one pair: no correlation
    assert spearman([3, 3, 3], [1, 2, 3]) is None  # a constant side has no ranking
    with pytest.raises(ValueError, match="paired"):
        spearman([1, 2], [1, 2, 3])


def test_spearman_agrees_with_scipy_on_data_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(6)
    x = [rng.randint(0, 9) for _ in range(50)]
    y = [v + rng.randint(-3, 3) for v in x]
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


@pytest.mark.parametrize(
    "values, expected",
    [([5, 7, 7, 9], [1, 2.5, 2.5, 4]), ([3, 1, 2], [3, 1, 2]), ([2, 2, 2], [2, 2, 2]), ([], [])],
)
def test_ranks(values, expected):
    assert ranks(values) == expected


def test_error_percent_and_within():
    assert error_percent(12, 10) == pytest.approx(20.0, rel=1e-12)  # predicted 12 for a measured 10: 20% slow
    assert error_percent(8, 10) == pytest.approx(-20.0, rel=1e-12)
    assert error_percent(10, 10) == 0.0
    assert within(12, 10, 20) and within(8, 10, 20)
    assert not within(12.5, 10, 20)
    with pytest.raises(ValueError, match="positive"):
        error_percent(1, 0)


def test_median():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError):
        median([])


# ------------------------------------------------------------------------------ own time per layer


def test_own_time_is_inclusive_minus_direct_children():
    # root 0..100 ns holds a (10..40, which holds a.x 15..25) and b (50..90)
    calls = [_Call("", -1, 0, 100), _Call("a", 0, 10, 40), _Call("a.x", 1, 15, 25), _Call("b", 0, 50, 90)]
    own, inclusive, counts, children = _own_times(calls, Clock(torch.device("cpu")))
    assert own == pytest.approx({"": 30e-9, "a": 20e-9, "a.x": 10e-9, "b": 40e-9})  # 100-30-40, 30-10
    assert inclusive == pytest.approx({"": 100e-9, "a": 30e-9, "a.x": 10e-9, "b": 40e-9})
    assert counts == {"": 1, "a": 1, "a.x": 1, "b": 1}
    assert children == {"": 2, "a": 1}


def test_a_module_called_twice_adds_its_calls():
    calls = [_Call("", -1, 0, 50), _Call("relu", 0, 10, 20), _Call("relu", 0, 30, 35)]
    own, _, counts, children = _own_times(calls, Clock(torch.device("cpu")))
    assert own["relu"] == pytest.approx(15e-9) and own[""] == pytest.approx(35e-9)
    assert counts["relu"] == 2 and children[""] == 2


def test_hook_cost_is_taken_off_each_parent_once_per_child_call():
    times = LayerTimes(
        self_s={"": 10.0, "a": 5.0, "b": 3.0}, inclusive_s={}, forward_s=21.0,
        calls={"": 1, "a": 1, "b": 1}, child_calls={"": 2},
    )
    # hooked 21 s against 18 s without hooks: 3 s over 3 calls = 1 s per call; the root had 2 children
    assert times.corrected_self_s(18.0) == {"": 8.0, "a": 5.0, "b": 3.0}
    # a hook-free run slower than the hooked one (noise) corrects nothing
    assert times.corrected_self_s(25.0) == {"": 10.0, "a": 5.0, "b": 3.0}


# ------------------------------------------------------------------------------------ real runs


def test_timing_leaves_the_model_as_found():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(1, 3, 8, 8)
    from profiler.tracing import ModelInputs

    times = time_layers(model, ModelInputs((x,)), warmup=1, repeats=2)
    forward = time_forward(model, ModelInputs((x,)), warmup=0, repeats=2)
    assert len(forward) == 2 and all(t > 0 for t in forward)
    assert set(times.self_s) == {"", "0", "1", "2"}
    assert all(m.training for m in model.modules())  # eval only while timing
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    after = model.state_dict()  # eval-mode BN does not touch its running stats
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_measure_rows_carry_predicted_and_measured_on_a_small_cnn(write_model):
    loaded = load_model(str(write_model(SMALL_CNN)))
    report = profile_loaded(loaded, hardware="xeon-8480")
    result = measure_loaded(loaded, report, warmup=1, repeats=2, device="cpu")
    names = [row.name for row in result.layers]
    assert names == [layer.name for layer in report.layers]
    assert {"conv", "bn", "relu", "pool", "fc"} <= set(names)
    for row in result.layers:
        assert row.predicted_s is not None and row.measured_s is not None, row
    conv = next(r for r in result.layers if r.name == "conv")
    assert conv.predicted_s > 0 and conv.measured_s > 0 and conv.ratio == conv.predicted_s / conv.measured_s
    assert result.predicted_total_s == pytest.approx(report.to_dict()["totals"]["latency_s"])
    assert result.measured_total_s > 0 and result.error_percent is not None
    data = document(ProfileResult(report, result))
    fields = next(layer for layer in data["layers"] if layer["name"] == "conv")
    assert {"measured_latency_s", "predicted_latency_s", "latency_ratio"} <= set(fields)
    assert fields["measured_latency_s"] == conv.measured_s and fields["latency_ratio"] == conv.ratio
    assert data["measurement"]["device"] == "cpu"


def test_measure_without_hardware_says_there_is_nothing_to_compare(write_model):
    loaded = load_model(str(write_model(SMALL_CNN)))
    result = measure_loaded(loaded, profile_loaded(loaded), warmup=0, repeats=1, layers=False, device="cpu")
    assert result.predicted_total_s is None and result.error_percent is None and result.spearman is None
    assert any("pass --hw" in note for note in result.notes)
    assert all(row.measured_s is None for row in result.layers)


def test_memory_needed_is_weights_plus_twice_the_largest_kernel():
    # Linear(4, 3) without bias on a 1x4 input: 12 fp32 weights = 48 B; its one kernel (mm) reads the
    # input (16 B) and the weight (48 B) and writes 3 floats (12 B): 76 B. 48 + 2 * 76 = 200.
    report = profile(nn.Linear(4, 3, bias=False), torch.randn(1, 4))
    assert memory_needed_bytes(report, 4) == 200


def test_a_model_too_big_for_free_memory_is_refused(monkeypatch):
    report = profile(nn.Linear(4, 3, bias=False), torch.randn(1, 4))
    monkeypatch.setattr("profiler.measure.memory_available_bytes", lambda device: 100)
    with pytest.raises(UsageError, match=r"needs about .* GB to run for real .* drop --measure"):
        check_fits(report, "cpu")
    monkeypatch.setattr("profiler.measure.memory_available_bytes", lambda device: 1000)
    check_fits(report, "cpu")  # 200 B needed, 900 B usable


def test_int8_cannot_be_measured(write_model):
    loaded = load_model(str(write_model(SMALL_CNN)))
    report = profile_loaded(loaded, dtype="int8", hardware="xeon-8480")
    with pytest.raises(UsageError, match="cannot run int8"):
        measure_loaded(loaded, report, device="cpu")
