"""--by-op: totals per operator and per (module, operator), with call counts.

The model (input 1x3x32x32, fp32):
  down  Conv2d(3, 8, 3, stride 2, pad 1, no bias) -> 1x8x16x16: MACs 8*16*16 * 3*3*3 = 55,296;
        reads 3*32*32*4 + 216*4 = 12,288 + 864 = 13,152 B; writes 8*16*16*4 = 8,192 B
  root  interpolate x2 (nearest): reads 8,192 B, writes 8*32*32*4 = 32,768 B
        cat([u, u]): reads 2 * 32,768 = 65,536 B, writes 65,536 B
  up    Conv2d(16, 4, 1, no bias) -> 1x4x32x32: MACs 4*32*32 * 16 = 65,536;
        reads 16*32*32*4 + 64*4 = 65,792 B; writes 4*32*32*4 = 16,384 B
  root  + 1.0 on 4*32*32 = 4,096 elements: 4,096 FLOPs, reads and writes 16,384 B
"""

from __future__ import annotations

import inspect
import json

import pytest
import torch
import torch.nn.functional as F
from conftest import run_cli
from torch import nn

from profiler import profile
from profiler.byop import by_operator


class UNetish(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.up = nn.Conv2d(16, 4, 1, bias=False)

    def forward(self, x):
        u = F.interpolate(self.down(x), scale_factor=2.0, mode="nearest")
        return self.up(torch.cat([u, u], dim=1)) + 1.0


# the same model as a file, for the CLI
MODEL_FILE = (
    "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n"
    + inspect.getsource(UNetish)
    + "\n\ndef example_inputs():\n    return torch.randn(1, 3, 32, 32)\n"
)


def _by_op(model, x):
    report = profile(model, x)
    return by_operator(report.kernels, {layer.name: layer.calls for layer in report.layers})


def test_per_operator_totals_split_the_root_rows_work():
    ops = {row.op: row for row in _by_op(UNetish(), torch.randn(1, 3, 32, 32)).ops}
    conv, cat, up, add = ops["aten::convolution"], ops["aten::cat"], ops["aten::upsample_nearest2d"], ops["aten::add"]
    assert (conv.calls, conv.macs, conv.bytes_read, conv.bytes_written) == (2, 55_296 + 65_536, 13_152 + 65_792, 8_192 + 16_384)
    assert (cat.calls, cat.macs, cat.bytes_read, cat.bytes_written) == (1, 0, 65_536, 65_536)
    assert (up.calls, up.bytes_read, up.bytes_written) == (1, 8_192, 32_768)
    assert (add.calls, add.flops, add.bytes_read, add.bytes_written) == (1, 4_096, 16_384, 16_384)


def test_per_module_and_operator_rows_in_execution_order():
    rows = [(row.module, row.op, row.macs) for row in _by_op(UNetish(), torch.randn(1, 3, 32, 32)).module_ops]
    assert rows == [
        ("down", "aten::convolution", 55_296),
        ("", "aten::upsample_nearest2d", 0),
        ("", "aten::cat", 0),
        ("", "aten::add", 0),
        ("up", "aten::convolution", 65_536),
    ]


def test_convolution_macs_agree_with_fvcores_by_operator():
    fvcore = pytest.importorskip("fvcore.nn")
    model, x = UNetish(), torch.randn(1, 3, 32, 32)
    ours = {row.op: row.macs for row in _by_op(model, x).ops}
    theirs = fvcore.FlopCountAnalysis(model, x).unsupported_ops_warnings(False).by_operator()  # fvcore: 1 "flop" = 1 MAC
    assert ours["aten::convolution"] == theirs["conv"] == 120_832


def test_call_counts_of_a_shared_module():
    shared = nn.Linear(4, 4, bias=False)
    operators = _by_op(nn.Sequential(shared, nn.ReLU(), shared), torch.randn(1, 4))
    (mm,) = [row for row in operators.module_ops if row.module == "0" and row.op == "aten::mm"]
    # one 1x4 @ 4x4 product per call: 16 MACs, twice
    assert (mm.calls, mm.macs, operators.module_calls["0"]) == (2, 32, 2)




def test_cli_by_op_table_and_json(write_model, capsys):
    path = write_model(MODEL_FILE)
    code, out, err = run_cli([path, "--by-op"], capsys)
    assert code == 0, err
    assert "By operator" in out and "By module and operator" in out and "aten::cat" in out
    code, out, err = run_cli([path, "--by-op", "-f", "json"], capsys)
    data = json.loads(out)["by_op"]
    cat = next(row for row in data["ops"] if row["op"] == "aten::cat")
    assert cat == {"op": "aten::cat", "calls": 1, "macs": 0, "flops": 0, "bytes_read": 65_536, "bytes_written": 65_536}
    root_cat = next(row for row in data["module_ops"] if row["op"] == "aten::cat")
    assert root_cat["module"] == "" and root_cat["module_calls"] == 1


def test_cli_by_op_refuses_csv(write_model, capsys):
    code, _, err = run_cli([write_model(MODEL_FILE), "--by-op", "-f", "csv"], capsys)
    assert code == 2 and "--by-op shows its numbers as a table or JSON" in err


def test_operators_add_up_to_the_totals(examples_dir):
    from mobilenet_v1 import build_model  # examples/ is on sys.path (conftest)

    report = profile(build_model(), torch.randn(1, 3, 224, 224))
    operators = by_operator(report.kernels)
    for key in ("macs", "flops", "bytes_read", "bytes_written"):
        assert sum(getattr(row, key) for row in operators.ops) == getattr(report.totals, key)
        assert sum(getattr(row, key) for row in operators.module_ops) == getattr(report.totals, key)
    assert report.totals.macs == 568_740_352  # the paper's 569M Mult-Adds
