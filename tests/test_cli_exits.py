"""A model file that exits or is interrupted: exit 2 with its message, or 130, in one line."""

from __future__ import annotations

import pytest

from conftest import run_cli

NET = """
import os, signal, sys, time
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        {forward}
        return self.fc(x)

def example_inputs():
    return torch.randn(1, 4)
"""


@pytest.mark.parametrize("source, said", [
    ('raise SystemExit("this model needs a GPU")\n' + NET.format(forward="pass"),
     "the model's code exited with SystemExit: this model needs a GPU."),
    ("import sys\nsys.exit()\n", "the model's code exited with sys.exit()."),
    ("import sys\nsys.exit(0)\n", "the model's code exited with sys.exit(0)."),
    ("import sys\nsys.exit(1)\n", "the model's code exited with sys.exit(1)."),
    (NET.format(forward='sys.exit("no forward today")'), "the model's code exited with SystemExit: no forward today."),
], ids=["SystemExit(msg) at import", "sys.exit()", "sys.exit(0)", "sys.exit(1)", "sys.exit(msg) in forward"])
def test_model_that_exits_is_an_error_with_its_message(source, said, write_model, capsys):
    code, out, err = run_cli([write_model(source)], capsys)
    assert code == 2  # never 0 (nothing was profiled) nor 1 (that means over budget)
    assert err.startswith(f"effprof: error: {said}") and err.count("\n") == 1
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("forward", [
    "os.kill(os.getpid(), signal.SIGINT); time.sleep(5)",  # Ctrl-C as the terminal sends it
    "raise KeyboardInterrupt",
], ids=["SIGINT", "KeyboardInterrupt"])
def test_ctrl_c_exits_130_with_one_line(forward, write_model, capsys):
    code, out, err = run_cli([write_model(NET.format(forward=forward))], capsys)
    assert (code, err, out) == (130, "effprof: interrupted\n", "")


def test_usage_errors_and_help_keep_their_exit_codes(write_model, capsys):
    from conftest import SMALL_NET

    assert run_cli(["hw", "list", "--bogus"], capsys)[0] == 2
    assert run_cli(["--help"], capsys)[0] == 0
    assert run_cli([write_model(SMALL_NET), "-i", "1,3,8,8"], capsys)[0] == 0
