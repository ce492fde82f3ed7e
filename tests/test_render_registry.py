"""Renderers register themselves per (result type, format); emit and --format read the registry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from profiler.advise import AdviceReport
from profiler.budgets import CheckResult
from profiler.compare import Comparison
from profiler.convtable import ConvTable
from profiler.crosscheck import Crosscheck
from profiler.hardware import HardwareSpec
from profiler.llm import LlmResult
from profiler.render import Format, formats_of
from profiler.render.registry import registered_types, renders
from profiler.results import ProfileResult, SpecList, Validation

TABLE, JSON, MARKDOWN, CSV = Format.TABLE, Format.JSON, Format.MARKDOWN, Format.CSV


@pytest.mark.parametrize("kind, formats", [
    (ProfileResult, (TABLE, JSON, MARKDOWN, CSV)),
    (CheckResult, (TABLE, JSON, MARKDOWN)),
    (Comparison, (TABLE, JSON, MARKDOWN)),
    (ConvTable, (TABLE, JSON, MARKDOWN)),
    (Crosscheck, (TABLE, JSON, MARKDOWN)),
    (AdviceReport, (TABLE, JSON, MARKDOWN)),
    (LlmResult, (TABLE, JSON, MARKDOWN)),
    (Validation, (TABLE, JSON, MARKDOWN)),
    (SpecList, (TABLE, JSON, MARKDOWN)),
    (HardwareSpec, (TABLE, JSON, MARKDOWN)),
])
def test_every_result_type_offers_its_formats(kind, formats):
    assert formats_of(kind) == formats


def test_every_command_result_has_a_table():
    assert set(registered_types()) == {ProfileResult, CheckResult, Comparison, ConvTable, Crosscheck, AdviceReport,
                                       LlmResult, Validation, SpecList, HardwareSpec}


def test_a_second_renderer_for_the_same_format_is_refused():
    with pytest.raises(ValueError, match="Comparison already has a markdown renderer"):
        renders(Comparison, Format.MARKDOWN)(lambda comparison: "")


def test_json_is_not_a_renderer():
    @dataclass
    class Result:
        value: int

    with pytest.raises(ValueError, match="JSON is built by document"):
        renders(Result, Format.JSON)(lambda result: "{}")
    assert Result not in registered_types()
