"""Ops are known by their full name: a library's op is never priced as the aten op it shares a
name with, and profiler bookkeeping ops are free rather than unsupported."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from profiler import profile
from profiler.costs import FREE_OPS, formula_for, is_free, registered_ops


@torch.library.custom_op("effprof_test::mm", mutates_args=())
def elementwise_named_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """An elementwise product that happens to be called `mm`."""
    return a * b


@elementwise_named_mm.register_fake
def _(a, b):
    return torch.empty_like(a)


class UsesCustomMm(nn.Module):
    def forward(self, x):
        return torch.ops.effprof_test.mm(x, x)


def test_custom_op_with_an_aten_name_is_unsupported_not_a_matmul():
    report = profile(UsesCustomMm(), torch.randn(64, 64))
    # counted as aten::mm it would be 64 * 64 * 64 = 262,144 MACs
    assert report.totals.macs == 0 and report.totals.flops == 0
    assert report.unsupported_ops == {"effprof_test::mm": 1}
    assert report.to_dict()["unsupported_ops"] == {"effprof_test::mm": 1}


def test_custom_op_is_unsupported_on_the_cpu_fallback_too():
    class NeedsValues(UsesCustomMm):
        def forward(self, x):
            if x.sum().item() == x.sum().item() + 1:
                return x
            return super().forward(x)

    report = profile(NeedsValues(), torch.randn(64, 64))
    assert report.device == "cpu"
    assert report.unsupported_ops == {"effprof_test::mm": 1}


def test_aten_ops_keep_their_namespace_in_the_report():
    report = profile(nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=-1)), torch.randn(2, 4))
    ops = {kernel.event.op for kernel in report.kernels}
    assert ops == {"aten::t", "aten::addmm", "aten::_softmax"}
    unknown = profile(_Inverse(), torch.randn(3, 3))
    assert unknown.unsupported_ops == {"aten::linalg_inv_ex": 1}


class _Inverse(nn.Module):
    def forward(self, x):
        return torch.linalg.inv(x)


def test_only_aten_and_prims_ops_have_formulas():
    assert {op.partition("::")[0] for op in registered_ops()} <= {"aten", "prims"}
    assert formula_for("aten::mm") is not None and formula_for("aten::relu_") is not None
    assert formula_for("mylib::mm") is None and formula_for("mm") is None
    assert all(is_free(op) and formula_for(op) is None for op in FREE_OPS)


class Marked(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        with torch.autograd.profiler.record_function("my_region"):
            return self.fc(x)


@pytest.mark.parametrize("model", [Marked(), nn.DataParallel(nn.Linear(4, 3))], ids=["record_function", "DataParallel"])
def test_record_function_markers_are_free_not_unsupported(model):
    report = profile(model, torch.randn(2, 4))
    assert report.unsupported_ops == {}
    # the linear only: 2 * 4 * 3 = 24 MACs, 2 * 24 + 6 bias adds = 54 FLOPs
    assert (report.totals.macs, report.totals.flops) == (24, 54)
    assert not any(kernel.event.namespace == "profiler" for kernel in report.kernels)
