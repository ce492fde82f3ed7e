"""`compare`: totals with ratios to the first, layers matched by name or the heaviest of each."""

from __future__ import annotations

import pytest

from profiler.cli.flags import COMMAND_LINE
from profiler.document import document
import torch
from torch import nn

from conftest import EXAMPLES
from profiler import profile
from profiler.api import profile_loaded
from profiler.compare import compare, ratio
from profiler.errors import UsageError
from profiler.loading import load_model


@pytest.fixture(scope="module")
def mobilenets():
    return [profile_loaded(load_model(str(EXAMPLES / name))) for name in ("mobilenet_v1.py", "mobilenet_v1_standard.py")]


def test_mobilenet_against_its_standard_twin(mobilenets):
    result = compare(mobilenets)
    first, second = result.totals
    # conv + fc Mult-Adds at 224: 568,740,352 (paper: 569M) and 4,867,293,184 (paper Table 4: 4866M)
    assert (first.macs, second.macs) == (568_740_352, 4_867_293_184)
    assert (first.params, second.params) == (4_231_976, 29_294_088)
    assert first.ratios.macs == 1.0
    assert second.ratios["macs"] == second.ratios.macs  # still readable as a mapping
    assert second.ratios.macs == 4_867_293_184 / 568_740_352  # ≈ 8.558
    assert second.ratios.params == 29_294_088 / 4_231_976  # ≈ 6.922
    assert result.labels == ("mobilenet_v1.py:build_model", "mobilenet_v1_standard.py:build_model")


def test_different_structures_give_the_heaviest_layers_of_each(mobilenets):
    result = compare(mobilenets, top=3)
    # shared names: (root), features.0.{0,1,2}, pool, fc = 6 of MobileNet's 84 layers
    assert not result.aligned and result.shared_layers == 6
    assert result.matched == ()
    assert result.top_by == "macs"
    mobilenet, standard = result.top
    # 128 -> 128 pointwise at 56x56: 128*128*3136 = 51,380,224 (ties with blocks 5, 7-11, 13: first wins)
    assert [(c.name, c.macs) for c in mobilenet] == [
        ("features.3.pw.0", 51_380_224), ("features.5.pw.0", 51_380_224), ("features.7.pw.0", 51_380_224)]
    # 128 -> 128 3x3 at 56x56: 128*128*9*3136 = 462,422,016
    assert standard[0].name == "features.3.0" and standard[0].macs == 462_422_016
    assert standard[0].conv_kind == "standard"


def _small(extra: bool):
    layers = [nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 1, bias=False)]
    if extra:
        layers.append(nn.Conv2d(16, 16, 1, bias=False))
    with torch.device("meta"):
        return nn.Sequential(*layers)


def test_aligned_structures_match_by_name():
    x = torch.empty(1, 3, 10, 10, device="meta")
    base = profile(_small(False), x, name="base")
    wider = profile(_small(True), x, name="longer")
    result = compare([base, wider])
    # 4 of the longer model's 5 layers are shared: 4 >= 0.5 * 5
    assert result.aligned and result.shared_layers == 4
    rows = {row.name: row for row in result.matched}
    assert list(rows) == ["0", "1", "2", "3", "4"]
    # conv 3->8, 3x3 at 10x10: 8*100*27 = 21,600 MACs in both
    assert [c.macs for c in rows["0"].cells] == [21_600, 21_600]
    assert rows["0"].ratio("macs", 1) == 1.0
    # the extra 16->16 1x1 conv exists only in the second: 16*100*16 = 25,600
    assert rows["4"].cells[0] is None and rows["4"].cells[1].macs == 25_600
    assert rows["4"].ratio("macs", 1) is None
    # totals: 21,600 + 8*100*16 = 34,400 vs 34,400 + 25,600 = 60,000
    assert [t.macs for t in result.totals] == [34_400, 60_000]
    assert result.totals[1].ratios.macs == 60_000 / 34_400


def test_dtype_halves_bytes_layer_by_layer():
    x = torch.empty(1, 3, 10, 10, device="meta")
    result = compare([profile(_small(False), x, dtype="fp32"), profile(_small(False), x, dtype="fp16")], ["fp32", "fp16"])
    assert result.aligned and result.labels == ("fp32", "fp16")
    conv = next(row for row in result.matched if row.name == "0")
    # fp32 conv: input 300*4 + weight 216*4 + output 800*4 = 5,264 B; fp16 half of it
    assert [c.bytes_total for c in conv.cells] == [5_264, 2_632]
    assert conv.ratio("bytes_total", 1) == 0.5
    assert result.totals[1].ratios.bytes_total == 0.5
    assert result.totals[1].ratios.macs == 1.0


def test_json_form(mobilenets):
    data = document(compare(mobilenets, top=2))
    assert [e["macs"] for e in data["entries"]] == [568_740_352, 4_867_293_184]
    assert data["aligned"] is False and len(data["top"]) == 2 and len(data["top"][0]) == 2
    assert data["entries"][0]["latency_s"] is None  # no --hw: no estimate


def test_needs_two_reports(mobilenets):
    with pytest.raises(UsageError, match="two or more models"):
        compare(mobilenets[:1])
    with pytest.raises(UsageError) as caught:
        compare(mobilenets, top=0)
    assert str(caught.value) == "top must be 1 or more, got 0"
    assert caught.value.spelled(COMMAND_LINE) == "--top must be 1 or more, got 0"


@pytest.mark.parametrize("value, reference, expected", [(3, 2, 1.5), (0, 5, 0.0), (5, 0, None), (None, 1, None), (1, None, None)])
def test_ratio(value, reference, expected):
    assert ratio(value, reference) == expected


def test_one_model_on_two_devices():
    loaded = load_model(str(EXAMPLES / "mobilenet_v1.py"))
    reports = [profile_loaded(loaded, hardware=hw) for hw in ("a4000", "t4")]
    result = compare(reports, ["a4000", "t4"])
    assert result.aligned and result.top_by == "latency_s"
    assert [t.macs for t in result.totals] == [568_740_352, 568_740_352]
    assert all(t.latency_s and t.latency_s > 0 for t in result.totals)
    assert result.totals[1].ratios.latency_s == result.totals[1].latency_s / result.totals[0].latency_s
    depthwise = next(row for row in result.matched if row.name == "features.1.dw.0")
    assert [c.bound for c in depthwise.cells] == ["memory", "memory"]


@pytest.mark.parametrize("module", ["convtable", "compare", "crosscheck"])
def test_logic_modules_return_plain_data(module):
    # rendering belongs to the CLI: these modules must not import rich or typer
    import ast
    from pathlib import Path

    import profiler

    source = (Path(profiler.__file__).parent / f"{module}.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & {"rich", "typer"}
    assert "print(" not in source
