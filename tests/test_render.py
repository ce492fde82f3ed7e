"""The terminal table: numbers are never cut, narrow terminals lose whole columns instead."""

from __future__ import annotations

import io

import pytest
import torch
from rich.console import Console

from profiler import profile
from profiler.render import render_report


@pytest.fixture(scope="module")
def mobilenet_report():
    import mobilenet_v1

    with torch.device("meta"):
        model = mobilenet_v1.build_model()
    return profile(model, torch.empty(1, 3, 224, 224, device="meta"), hardware="t4", dtype="fp16")


def rendered(report, width: int, depth: int = 2) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(render_report(report, report.rows(depth=depth)))
    return console.file.getvalue()


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_numbers_are_whole_at_every_width(mobilenet_report, width):
    text = rendered(mobilenet_report, width)
    assert max(len(line) for line in text.splitlines()) <= width
    # features.3 block: 18.05 K params, 54.99 M MACs, 112.39 M FLOPs, each printed whole
    row = next(line for line in text.splitlines() if "features.3 " in line)
    for cell in ("18.05 K", "54.99 M", "112.39 M"):
        assert cell in row


def test_wide_terminal_keeps_every_column(mobilenet_report):
    text = rendered(mobilenet_report, 220)
    assert "Output" in text and "DepthwiseSeparable" in text and "hidden" not in text


def test_narrow_terminal_says_what_it_hid(mobilenet_report):
    text = rendered(mobilenet_report, 80)
    flat = " ".join(text.split())
    assert "columns Type, Kind, Output, FLOP/B, Share, I/ridge hidden to fit the terminal" in flat
    assert "568.74 M" in text  # totals stay
