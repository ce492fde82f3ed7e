"""--dtype fp8 (e4m3, e5m2): one byte per element, priced at the spec's fp8 peak where it has one."""

from __future__ import annotations

import pytest
import torch
from conftest import run_cli
from torch import nn

from profiler import profile
from profiler.dtypes import dtype_name, parse_dtype
from profiler.errors import UsageError
from profiler.hardware import load_spec


@pytest.mark.parametrize(
    "name, dtype",
    [("fp8", torch.float8_e4m3fn), ("e4m3", torch.float8_e4m3fn), ("fp8_e5m2", torch.float8_e5m2), ("e5m2", torch.float8_e5m2)],
)
def test_fp8_names(name, dtype):
    assert parse_dtype(name) is dtype
    assert dtype_name(dtype) in ("fp8_e4m3", "fp8_e5m2")


@pytest.mark.parametrize("spec", ["h100", "h200"])
def test_hopper_specs_have_the_dense_fp8_peak(spec):
    # H100 whitepaper, SXM5: FP8 tensor 3957.8 TFLOPS with sparsity, 1978.9 dense (twice fp16's 989.4)
    peak = load_spec(spec).matrix_engine.peak("fp8")
    assert peak.value == 1978.9 and "sparsity" in peak.source


@pytest.mark.parametrize("dtype", ["fp8", "fp8_e5m2"])
def test_a_gemm_in_fp8_is_one_byte_per_element_at_the_fp8_peak(dtype):
    model = nn.Linear(1024, 1024, bias=False)
    report = profile(model, torch.randn(1, 1024), dtype=dtype, hardware="h100")
    # MACs 1024 * 1024 = 1,048,576; read input 1024 + weight 1,048,576 bytes; write 1024 bytes
    assert report.totals.macs == 1_048_576
    assert report.totals.bytes_read == 1024 + 1_048_576
    assert report.totals.bytes_written == 1024
    assert report.dtype == ("fp8_e4m3" if dtype == "fp8" else "fp8_e5m2")
    (gemm,) = [k for k in report.estimate.kernels if k.choice is not None and k.choice.unit == "matrix"]
    assert (gemm.choice.dtype, gemm.choice.peak_tflop_per_s) == ("fp8", 1978.9)


def test_fp8_on_a_device_without_fp8_is_refused_naming_those_that_have_it():
    with pytest.raises(UsageError, match=r"a4000 has no fp8 peak.*h100, h200"):
        profile(nn.Linear(8, 8), torch.randn(1, 8), dtype="fp8", hardware="a4000")


def test_cli_dtype_fp8_with_hopper(capsys, examples_dir):
    code, out, err = run_cli([examples_dir / "mobilenet_v1.py", "--dtype", "fp8", "--hw", "h100", "-f", "json"], capsys)
    assert code == 0, err
    import json

    data = json.loads(out)
    assert data["dtype"] == "fp8_e4m3"
    # 4,231,976 params at one byte each are all read once: the weights alone are 4.23 MB
    assert data["totals"]["bytes_read"] > 4_231_976
