"""Every deterministic command on the examples, byte for byte against tests/golden/outputs.

A failure here means the output changed. If the change is intended (a new column, a corrected
number), regenerate with `python tests/golden/regenerate.py [NAME...]`, review the diff, and say in
the commit which change moved them. Measured timings are no goldens: their shape is tested below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

from cases import CASES, OUTPUTS, run_case  # noqa: E402

from conftest import run_cli  # noqa: E402


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_is_byte_identical_to_its_golden(name):
    code, out = run_case(CASES[name], Path(name).suffix)
    assert code == 0
    expected = (OUTPUTS / name).read_text()
    assert out == expected, f"{name} changed; if intended: python tests/golden/regenerate.py {name}"


def test_every_golden_file_has_a_case():
    assert sorted(p.name for p in OUTPUTS.iterdir()) == sorted(CASES)


MEASUREMENT_KEYS = {"device", "device_name", "threads", "warmup", "repeats", "predicted_latency_s",
                    "measured_latency_s", "hooked_latency_s", "latency_ratio", "error_percent", "spearman", "notes"}
LAYER_KEYS = {"name", "type", "conv_kind", "output_shape", "params", "macs", "flops", "bytes_read", "bytes_written",
              "intensity", "latency_s", "latency_share", "bound", "compute_time_s", "memory_time_s", "launch_time_s",
              "launches", "intensity_vs_ridge", "fused_into", "measured_latency_s", "predicted_latency_s", "latency_ratio"}


def test_measure_json_has_the_documented_shape(write_model, capsys):
    """`--measure` times a real run: not a golden, but its JSON keeps its keys (docs/json-schema.md)."""
    path = write_model(
        "import torch\nfrom torch import nn\n"
        "model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16 * 16, 10))\n"
        "def example_inputs():\n    return torch.randn(1, 3, 16, 16)\n"
    )
    code, out, err = run_cli([path, "--hw", "xeon-8480", "--measure", "--repeats", "2", "-f", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"schema_version", "model", "inputs", "dtype", "device", "totals", "layers",
                         "unsupported_ops", "notes", "hardware", "measurement"}
    measurement = data["measurement"]
    assert set(measurement) >= MEASUREMENT_KEYS
    assert measurement["repeats"] == 2 and measurement["device"] == "cpu"
    assert measurement["measured_latency_s"] > 0 and measurement["predicted_latency_s"] > 0
    assert [layer["name"] for layer in data["layers"]] == ["0", "1", "2", "3"]  # a Sequential root has no row of its own
    conv = data["layers"][0]
    assert set(conv) >= LAYER_KEYS
    assert conv["measured_latency_s"] > 0 and conv["macs"] == 8 * 16 * 16 * 3 * 9  # C_out*H*W*C_in*K*K = 55,296


def test_measure_table_has_its_columns_and_summary(write_model, capsys):
    path = write_model(
        "import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(16, 16), nn.ReLU())\n"
        "def example_inputs():\n    return torch.randn(1, 16)\n"
    )
    code, out, err = run_cli([path, "--hw", "xeon-8480", "--measure", "--repeats", "2"], capsys)
    assert code == 0, err
    for header in ("Predicted", "Measured", "Pred/Meas", "Predicted latency", "Measured latency", "Error",
                   "Per-layer Spearman", "Hooked forward", "Device"):
        assert header in out
