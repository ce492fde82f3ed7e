from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


# 3->8 conv (3x3, pad 1) on 8x8, then 512->10 linear: 8*8*8*3*9 + 512*10 = 13824 + 5120 = 18944 MACs
SMALL_NET = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.fc = nn.Linear(512, 10, bias=False)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))
"""


class Lambda(torch.nn.Module):
    """A function as a module, so that a test profiles one op or a few like a model."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def write_model(tmp_path, monkeypatch):
    """Write a model file into tmp_path and return its path. Tests write model files within the
    same second: no .pyc is cached, so one never answers for a file rewritten since."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def write(source: str, name: str = "model.py") -> Path:
        path = tmp_path / name
        path.write_text(source)
        return path

    return write


def run_cli(argv, capsys):
    """Run the effprof CLI in-process; returns (exit code, stdout, stderr)."""
    from profiler.cli import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


sys.path.insert(0, str(EXAMPLES))
