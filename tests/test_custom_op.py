"""A user's own op (defined with torch.library) priced by a formula the user registers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import profiler
from profiler import OpCost, OpEvent, register_op, unregister_op
from profiler.costs import formula_for

OP = "effprof_test::fused_bias_gelu"


@torch.library.custom_op(OP, mutates_args=())
def fused_bias_gelu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.gelu(x + bias)


@fused_bias_gelu.register_fake
def _(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # the shape rule: runs on meta
    return torch.empty_like(x)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 32, bias=False)
        self.bias = nn.Parameter(torch.zeros(32))

    def forward(self, x):
        return fused_bias_gelu(self.fc(x), self.bias)


def bias_gelu_cost(event: OpEvent) -> OpCost:
    x, bias = event.args[0], event.args[1]
    out = event.outputs[0]
    # one add and one gelu per output element; the sum never goes to memory
    return OpCost(flops=2 * out.numel, bytes_read=x.nbytes + bias.nbytes, bytes_written=out.nbytes)


def test_a_custom_op_is_unsupported_until_its_formula_is_registered():
    model, x = Mlp(), torch.randn(4, 16)
    before = profiler.profile(model, x)
    assert before.unsupported_ops == {OP: 1}
    assert before.layer("").flops == 0  # the op is reported, never counted as zero in silence

    register_op(OP)(bias_gelu_cost)
    try:
        after = profiler.profile(model, x)
    finally:
        unregister_op(OP)

    assert after.unsupported_ops == {}
    root = after.layer("")
    # fused_bias_gelu on x (4, 32) fp32 and bias (32,):
    #   FLOPs 2 * 4*32 = 256; bytes read (128 + 32) * 4 = 640; written 128 * 4 = 512; no MACs
    assert (root.macs, root.flops, root.bytes_read, root.bytes_written) == (0, 256, 640, 512)
    # fc: 4*16*32 = 2048 MACs, untouched by the registration
    assert after.layer("fc").macs == 2048 and after.totals.macs == 2048
    assert formula_for(OP) is None  # unregistered: the next test sees the op as unsupported again


def test_register_op_refuses_duplicates_bare_names_and_builtins():
    register_op(OP)(bias_gelu_cost)
    try:
        with pytest.raises(ValueError, match="registered twice"):
            register_op(OP)(bias_gelu_cost)
    finally:
        unregister_op(OP)
    with pytest.raises(ValueError, match="registered twice"):
        register_op("aten::mm")(bias_gelu_cost)  # a built-in formula is never replaced
    with pytest.raises(ValueError, match="namespace"):
        register_op("fused_bias_gelu")
    with pytest.raises(ValueError, match="costs nothing"):
        register_op("aten::dim")
    with pytest.raises(ValueError, match="no formula registered with register_op"):
        unregister_op("aten::mm")  # built-ins cannot be removed
    assert formula_for("aten::mm") is not None


def test_the_example_model_file_registers_its_formula_for_the_cli():
    # a new process: the example defines mylib::fused_gelu and registers its formula at import
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "profiler", "examples/custom_op.py", "-f", "json"],
        capture_output=True, text=True, check=False, cwd=root,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["unsupported_ops"] == {}
    model_row = next(layer for layer in report["layers"] if layer["name"] == "")
    # fused_gelu on (8, 128, 3072) fp32 plus a (3072,) bias: 8*128*3072 = 3,145,728 elements;
    # FLOPs 2 * 3,145,728 = 6,291,456; read (3,145,728 + 3,072) * 4 = 12,595,200; written 12,582,912
    assert (model_row["macs"], model_row["flops"]) == (0, 6_291_456)
    assert (model_row["bytes_read"], model_row["bytes_written"]) == (12_595_200, 12_582_912)
