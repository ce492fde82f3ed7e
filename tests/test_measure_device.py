"""`--measure` and `validate` against a spec of another kind of device are refused; a spec that
does not name the measured device is said to differ."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from profiler.cli.flags import COMMAND_LINE
from profiler.errors import UsageError
from profiler.hardware import load_spec

TINY = """
import torch
from torch import nn
model = nn.Sequential(nn.Linear(16, 16), nn.ReLU())
def example_inputs():
    return torch.randn(1, 16)
"""


@pytest.mark.parametrize("command", [[], ["validate"]])
def test_a_gpu_spec_measured_on_the_cpu_is_refused_in_one_line(write_model, capsys, command):
    path = write_model(TINY)
    argv = [*command, path, "--hw", "a4000"] + (["--measure"] if not command else []) + ["--repeats", "1"]
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert "--hw a4000 describes a gpu, but the model would run on this machine's cpu" in err
    assert "effprof calibrate" in err
    assert "Error" not in out  # no percentage against another device


def test_a_cpu_spec_on_a_gpu_is_refused_too():
    from profiler.realrun import check_device_kind

    with pytest.raises(UsageError, match="^hardware='xeon-8480' describes a cpu, but the model would run on this machine's gpu") as caught:
        check_device_kind(load_spec("xeon-8480"), "cuda")
    assert caught.value.spelled(COMMAND_LINE).startswith("--hw xeon-8480 describes a cpu")
    assert str(caught.value).endswith("(effprof calibrate -o this.yaml) and use hardware='this.yaml'")


def test_a_spec_that_does_not_name_the_cpu_measured_says_the_devices_may_differ(write_model, capsys, monkeypatch):
    monkeypatch.setattr("profiler.realrun.device.cpu_name", lambda: "Some Other CPU 9000")
    code, out, err = run_cli([write_model(TINY), "--hw", "xeon-8480", "--measure", "--repeats", "1", "-f", "json"], capsys)
    assert code == 0, err
    measurement = json.loads(out)["measurement"]
    assert measurement["device_matches_spec"] is False
    assert any("does not name the device measured (Some Other CPU 9000)" in note for note in measurement["notes"])


def test_a_spec_naming_the_cpu_measured_matches(write_model, capsys, monkeypatch):
    monkeypatch.setattr("profiler.realrun.device.cpu_name", lambda: "Intel Xeon Platinum 8480+")
    code, out, err = run_cli([write_model(TINY), "--hw", "xeon-8480", "--measure", "--repeats", "1", "-f", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["measurement"]["device_matches_spec"] is True
