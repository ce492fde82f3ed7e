"""`effprof conv`, `effprof compare`, `effprof crosscheck` as a user runs them."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli

SMALL_CNN = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(x.mean((2, 3)))


def example_inputs():
    return torch.randn(1, 3, 16, 16)
"""

HUGE = """
from torch import nn

model = nn.Sequential(nn.Linear(20000, 20000), nn.Linear(20000, 20000))
"""


def _no_traceback(out: str, err: str) -> None:
    assert "Traceback" not in out and "Traceback" not in err


def test_conv_json_has_the_seed_numbers(capsys):
    code, out, err = run_cli(["conv", "--in-channels", "3", "--out-channels", "4", "--kernel", "3", "--size", "64",
                              "--format", "json"], capsys)
    assert code == 0, err
    rows = {row["kind"]: row for row in json.loads(out)["rows"]}
    assert list(rows) == ["standard", "depthwise", "pointwise", "separable"]
    assert [rows[k]["params"] for k in rows] == [108, 27, 12, 39]
    assert [rows[k]["macs"] for k in rows] == [442_368, 110_592, 49_152, 159_744]
    assert rows["separable"]["ratio_macs_exact"] == rows["separable"]["closed_form_exact"] == "13/36"
    assert rows["standard"]["latency_s"] is None and rows["standard"]["bound"] is None


def test_conv_table_prints_ratios_beside_closed_forms(capsys):
    code, out, err = run_cli(["conv", "--in-channels", "32", "--out-channels", "64", "--kernel", "3", "--size", "112",
                              "--stride", "2", "--groups", "4"], capsys)
    assert code == 0, err
    assert "output 56×56" in out
    assert "0.1267 (73/576)" in out and "1/N + 1/K^2 = 73/576" in out  # 1/64 + 1/9
    assert "0.2500 (1/4)" in out and "1/g = 1/4" in out
    assert "57.80 M" in out  # standard: 64*56*56*32*9 = 57,802,752 MACs


def test_conv_markdown_and_bias(capsys):
    code, out, err = run_cli(["conv", "--in-channels", "3", "--out-channels", "4", "--size", "64", "--bias", "-f", "markdown"], capsys)
    assert code == 0, err
    # with bias: 108 + 4 params, 2*442,368 + 4*64*64 = 901,120 FLOPs
    assert "| standard | 112 | 442,368 | 901,120 |" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kernel", "0"], "--kernel must be 1 or more, got 0"),
        (["--groups", "3"], "--groups 3 must divide both --in-channels 32 and --out-channels 64"),
        (["--kernel", "7", "--padding", "0", "--size", "2"], "size + 2 * padding = 2 < kernel"),
        (["--format", "yaml"], "unknown --format 'yaml'"),
        (["--dtype", "fp17"], "did you mean 'fp16'"),
    ],
)
def test_conv_bad_input_is_one_line_and_exit_2(capsys, args, message):
    base = ["conv", "--in-channels", "32", "--out-channels", "64", "--size", "56"]
    code, out, err = run_cli(base + args, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    _no_traceback(out, err)


def test_conv_with_hardware(capsys):
    code, out, err = run_cli(["conv", "--in-channels", "32", "--out-channels", "64", "--size", "112", "--hw", "a4000",
                              "-f", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    rows = {row["kind"]: row for row in data["rows"]}
    assert all(row["latency_s"] > 0 for row in rows.values())
    assert rows["depthwise"]["bound"] == "memory"
    assert data["hardware"] == "a4000"


def test_compare_the_two_examples(examples_dir, capsys):
    code, out, err = run_cli(["compare", examples_dir / "mobilenet_v1.py", examples_dir / "mobilenet_v1_standard.py",
                              "-f", "json", "--top", "3"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [e["macs"] for e in data["entries"]] == [568_740_352, 4_867_293_184]
    assert data["entries"][1]["ratios"]["macs"] == pytest.approx(4_867_293_184 / 568_740_352, rel=1e-12)
    assert data["aligned"] is False
    assert [c["name"] for c in data["top"][0]] == ["features.3.pw.0", "features.5.pw.0", "features.7.pw.0"]


def test_compare_table(examples_dir, capsys):
    code, out, err = run_cli(["compare", examples_dir / "mobilenet_v1.py", examples_dir / "mobilenet_v1_standard.py"], capsys)
    assert code == 0, err
    assert "×8.56" in out  # 4,867,293,184 / 568,740,352 = 8.558
    assert "Structures differ" in out


def test_compare_needs_two(examples_dir, capsys):
    code, out, err = run_cli(["compare", examples_dir / "mobilenet_v1.py"], capsys)
    assert code == 2
    assert "compare needs two or more models, or one model with two or more --hw" in err
    _no_traceback(out, err)


def test_compare_one_model_on_several_devices(examples_dir, capsys):
    code, out, err = run_cli(["compare", examples_dir / "mobilenet_v1.py", "--hw", "a4000", "--hw", "t4",
                              "--hw", "cortex-a76", "-f", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [e["hardware"] for e in data["entries"]] == ["a4000", "t4", "cortex-a76"]
    assert [e["macs"] for e in data["entries"]] == [568_740_352] * 3
    assert data["aligned"] is True
    assert all(e["latency_s"] > 0 for e in data["entries"])


def test_compare_fused_is_faster_than_eager(examples_dir, capsys):
    targets = [examples_dir / "mobilenet_v1.py", examples_dir / "mobilenet_v1_standard.py"]
    latencies = []
    for extra in ([], ["--fuse"]):
        code, out, err = run_cli(["compare", *targets, "--hw", "t4", "-f", "json", *extra], capsys)
        assert code == 0, err
        latencies.append([e["latency_s"] for e in json.loads(out)["entries"]])
    eager, fused = latencies
    # fusion only removes kernels and intermediate tensors: never slower, per model
    assert fused[0] < eager[0] and fused[1] < eager[1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hw", "a4001", "--hw", "t4"], "unknown hardware 'a4001' (did you mean 'a4000'?)"),
        (["--hw", "a4000", "--hw", "t4", "--top", "0"], "--top must be 1 or more"),
        (["--fuse", "examples/mobilenet_v1.py"], "--fuse changes only the latency estimate"),
        (["--format", "csv", "examples/mobilenet_v1.py"], "unknown --format 'csv'"),
    ],
)
def test_compare_bad_input_is_one_line_and_exit_2(examples_dir, capsys, args, message):
    code, out, err = run_cli(["compare", examples_dir / "mobilenet_v1.py", *args], capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    _no_traceback(out, err)


def test_crosscheck_explains_batch_norm(write_model, capsys):
    path = write_model(SMALL_CNN)
    code, out, err = run_cli(["crosscheck", path, "-f", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    modules = {m["module"]: m for m in data["modules"]}
    # conv 8*16*16*27 = 55,296; fc 8*10 = 80; fvcore adds BN at 2 per element: 2 * 2,048 = 4,096
    assert (modules["conv"]["effprof_macs"], modules["conv"]["fvcore_macs"], modules["conv"]["flop_counter_macs"]) == (55_296,) * 3
    assert (modules["bn"]["effprof_macs"], modules["bn"]["fvcore_macs"]) == (0, 4_096)
    assert data["total"]["fvcore_macs"] == 55_296 + 80 + 4_096
    (reason,) = modules["bn"]["differences"]
    assert reason["text"].startswith("fvcore counts BatchNorm as MACs (2 per element)")


def test_crosscheck_table(write_model, capsys):
    code, out, err = run_cli(["crosscheck", write_model(SMALL_CNN)], capsys)
    assert code == 0, err
    assert "FlopCounterMode/2" in out and "fvcore counts BatchNorm as MACs" in out


@pytest.mark.parametrize(
    "source, args, message",
    [
        (HUGE, ["-i", "1,20000"], "has 800.04 M params (limit 200.00 M)"),  # 2 * (20000*20000 + 20000)
        (SMALL_CNN, ["-i", "1,3,4000,4000"], "input 1,3,4000,4000 has 48.00 M elements"),
    ],
)
def test_crosscheck_refuses_big_models_in_one_line(write_model, capsys, source, args, message):
    code, out, err = run_cli(["crosscheck", write_model(source), *args], capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    _no_traceback(out, err)
