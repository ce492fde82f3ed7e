"""`--measure`: the comparison of a report with real runs of a small CNN.

The statistics, the own-time bookkeeping, the clock and the memory check are `realrun`'s
(tests/test_realrun.py). No timing thresholds: what a measurement takes belongs in benchmarks/.
"""

from __future__ import annotations

import pytest

from profiler.api import profile_loaded
from profiler.document import document
from profiler.errors import UsageError
from profiler.loading import load_model
from profiler.measure import measure_loaded
from profiler.results import ProfileResult

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


# ------------------------------------------------------------------------------------ real runs


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


def test_int8_cannot_be_measured(write_model):
    loaded = load_model(str(write_model(SMALL_CNN)))
    report = profile_loaded(loaded, dtype="int8", hardware="xeon-8480")
    with pytest.raises(UsageError, match="cannot run int8"):
        measure_loaded(loaded, report, device="cpu")
