"""`effprof calibrate`, `effprof validate` and `effprof MODEL.py --hw ... --measure` as a user runs them."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from test_measure import SMALL_CNN

from profiler.hardware import load_spec


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """One quick calibration through the CLI, shared by the tests below."""
    from profiler.cli import main

    path = tmp_path_factory.mktemp("hw") / "this_machine.yaml"
    # --keep-implausible: the tests check the spec's form, not its timings, on a machine shared with other jobs
    assert main(["calibrate", "--output", str(path), "--quick", "--name", "this-machine", "--keep-implausible"]) == 0
    return path


def test_calibrate_writes_a_spec_that_loads(calibrated):
    spec = load_spec(str(calibrated))
    assert spec.name == "this-machine" and spec.kind == "cpu"
    assert spec.kernel_families


def test_calibrate_prints_what_it_measured(tmp_path, capsys):
    path = tmp_path / "plain.yaml"
    code, out, err = run_cli(["calibrate", "-o", path, "--quick", "--no-families"], capsys)
    assert code == 0, err
    assert f"wrote {path}" in out and "memory bandwidth" in out and f"--hw {path}" in out
    spec = load_spec(str(path))
    assert not spec.kernel_families
    # the in-model costs, where this machine shows them (a CPU with glibc does: docs/roofline.md)
    if spec.cold_weights_gb_per_s is not None:
        assert f"  cold weights      {spec.cold_weights_gb_per_s.value:g} GB/s" in out
    if spec.fresh_pages is not None:
        assert (f"  fresh pages       {spec.fresh_pages.gb_per_s:g} GB/s of first touch, buffers of "
                f"{spec.fresh_pages.min_kib / 1024:g} MiB or more") in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["calibrate", "--output", "spec.txt", "--quick"], "--output 'spec.txt' must end in .yaml"),
        (["calibrate", "--output", "x.yaml", "--device", "tpu"], "unknown device 'tpu'; use cpu or cuda"),
        (["validate", "--hw", "nope", "m.py"], "unknown hardware 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_validate_prints_one_line_per_model_and_batch(calibrated, write_model, capsys):
    model = write_model(SMALL_CNN, "small_cnn.py")
    code, out, err = run_cli(["validate", "--hw", calibrated, model, "--batch", "1", "--batch", "2",
                              "--repeats", "2", "--warmup", "1"], capsys)
    assert code == 0, err
    lines = [line for line in out.splitlines() if "small_cnn.py" in line]
    assert len(lines) == 2 and "%" in lines[0]
    assert "of 2 within ±20%" in out


def test_measure_adds_measured_predicted_and_ratio(calibrated, write_model, capsys):
    model = write_model(SMALL_CNN)
    code, out, err = run_cli([model, "--hw", calibrated, "--measure", "--repeats", "2"], capsys)
    assert code == 0, err
    for words in ("Predicted", "Measured", "Pred/Meas", "Per-layer Spearman", "Measured latency", "Error"):
        assert words in out


def test_measure_json_carries_both_numbers_per_layer(calibrated, write_model, capsys):
    model = write_model(SMALL_CNN)
    code, out, err = run_cli([model, "--hw", calibrated, "--measure", "--repeats", "2", "-f", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    conv = next(row for row in data["layers"] if row["name"] == "conv")
    assert conv["predicted_latency_s"] == conv["latency_s"] > 0
    assert conv["measured_latency_s"] > 0
    assert conv["latency_ratio"] == pytest.approx(conv["predicted_latency_s"] / conv["measured_latency_s"])
    summary = data["measurement"]
    assert summary["predicted_latency_s"] == data["totals"]["latency_s"]
    assert summary["measured_latency_s"] > 0 and summary["repeats"] == 2 and summary["device"] == "cpu"


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "--measure compares with a latency estimate: add --hw"),
        (["--hw", "xeon-8480", "-f", "csv"], "--measure shows its numbers as a table or JSON, not csv"),
    ],
)
def test_measure_needs_hw_and_a_table_or_json(write_model, capsys, extra, message):
    code, out, err = run_cli([write_model(SMALL_CNN), "--measure", *extra], capsys)
    assert code == 2 and message in err and "Traceback" not in err
