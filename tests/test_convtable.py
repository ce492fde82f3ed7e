"""`convtable`: the seeds' separable-vs-standard arithmetic, counted by the engine.

Every expected number below is derived by hand from the layer's shape (arithmetic in the
comment), never from the engine's own formulas.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from profiler.document import document

from profiler.convtable import ConvSpec, conv_table
from profiler.cli.flags import COMMAND_LINE
from profiler.errors import SpecError, UsageError


@pytest.fixture(scope="module")
def seed_table():
    # seed 000: a 64x64 RGB image, 4 filters of 3x3, "same" output size
    return conv_table(ConvSpec(in_channels=3, out_channels=4, kernel=3, size=64))


@pytest.mark.parametrize(
    "kind, params, macs",
    [
        ("standard", 108, 442_368),  # params 4*3*3*3 = 108; MACs 4*64*64 outputs * 3*9 = 442,368
        ("depthwise", 27, 110_592),  # params 3*3*3 = 27; MACs 3*64*64 * 9 = 110,592
        ("pointwise", 12, 49_152),  # params 1*1*3*4 = 12; MACs 4*64*64 * 3 = 49,152
        ("separable", 39, 159_744),  # 27 + 12 = 39; 110,592 + 49,152 = 159,744
    ],
)
def test_seed_numbers(seed_table, kind, params, macs):
    row = seed_table.row(kind)
    assert row.params == params
    assert row.macs == macs
    assert row.flops == 2 * macs  # no bias, no other arithmetic: 2 FLOPs per MAC


def test_seed_has_no_group_row_without_groups(seed_table):
    assert [row.kind for row in seed_table.rows] == ["standard", "depthwise", "pointwise", "separable"]


@pytest.mark.parametrize(
    "kind, read, written",
    [
        # fp32: input 3*64*64*4 = 49,152 B; weights 108*4 = 432 B; output 4*64*64*4 = 65,536 B
        ("standard", 49_152 + 432, 65_536),
        # weights 27*4 = 108 B; output 3*64*64*4 = 49,152 B
        ("depthwise", 49_152 + 108, 49_152),
        # reads the depthwise output (49,152 B) and 12*4 = 48 B of weights
        ("pointwise", 49_152 + 48, 65_536),
        # both kernels: the intermediate 3x64x64 map is written once and read once
        ("separable", 49_260 + 49_200, 49_152 + 65_536),
    ],
)
def test_seed_bytes(seed_table, kind, read, written):
    row = seed_table.row(kind)
    assert (row.bytes_read, row.bytes_written) == (read, written)


def test_seed_ratios_are_exact(seed_table):
    separable = seed_table.row("separable")
    # 159,744 / 442,368 = 13/36 = 1/4 + 1/9 (N = 4, K = 3)
    assert separable.ratio_macs == Fraction(13, 36)
    assert separable.ratio_params == Fraction(39, 108) == Fraction(13, 36)
    assert separable.closed_form == "1/N + 1/K^2"
    assert separable.closed_form_value == Fraction(13, 36)


@pytest.mark.parametrize(
    "c_in, c_out, kernel, size, expected",
    [
        (3, 4, 3, 64, Fraction(13, 36)),  # 1/4 + 1/9 = (9 + 4)/36
        (32, 64, 3, 112, Fraction(73, 576)),  # 1/64 + 1/9 = (9 + 64)/576
        (512, 512, 3, 14, Fraction(521, 4608)),  # 1/512 + 1/9 = (9 + 512)/4608
        (16, 24, 5, 20, Fraction(49, 600)),  # 1/24 + 1/25 = (25 + 24)/600
        (8, 8, 7, 9, Fraction(57, 392)),  # 1/8 + 1/49 = (49 + 8)/392
        (64, 128, 1, 10, Fraction(129, 128)),  # K = 1: 1/128 + 1 = 129/128, "separable" costs more
    ],
)
def test_separable_over_standard_is_one_over_n_plus_one_over_k_squared(c_in, c_out, kernel, size, expected):
    table = conv_table(ConvSpec(c_in, c_out, kernel, size))
    separable = table.row("separable")
    assert separable.ratio_macs == expected
    assert separable.ratio_params == expected  # without bias, params follow the same algebra
    assert separable.closed_form_value == expected


@pytest.mark.parametrize(
    "kind, params, macs",
    [
        # 32 -> 64, 3x3, 112x112 input, stride 2, padding 1: output (112 + 2 - 3)//2 + 1 = 56
        ("standard", 18_432, 57_802_752),  # 64*32*9 = 18,432; 64*56*56 * 32*9 = 57,802,752
        ("group", 4_608, 14_450_688),  # g = 4: 64*8*9 = 4,608; 64*56*56 * 8*9 = 14,450,688
        ("depthwise", 288, 903_168),  # 32*9 = 288; 32*56*56 * 9 = 903,168
        ("pointwise", 2_048, 6_422_528),  # 32*64 = 2,048; at 56x56: 64*56*56 * 32 = 6,422,528
        ("separable", 2_336, 7_325_696),  # 288 + 2,048; 903,168 + 6,422,528
    ],
)
def test_stride_and_groups(kind, params, macs):
    table = conv_table(ConvSpec(32, 64, 3, 112, stride=2, groups=4))
    row = table.row(kind)
    assert (row.params, row.macs) == (params, macs)


def test_group_ratio_is_one_over_g():
    table = conv_table(ConvSpec(32, 64, 3, 112, stride=2, groups=4))
    group = table.row("group")
    assert group.ratio_macs == Fraction(1, 4) == group.ratio_params
    assert group.closed_form == "1/g"
    assert table.row("depthwise").ratio_macs == Fraction(1, 64)  # 1/N
    assert table.row("pointwise").ratio_macs == Fraction(1, 9)  # 1/K^2


def test_engine_classifies_each_form():
    table = conv_table(ConvSpec(32, 64, 3, 28, groups=4))
    assert {row.kind: row.conv_kinds for row in table.rows} == {
        "standard": ("standard",),
        "group": ("group",),
        "depthwise": ("depthwise",),
        "pointwise": ("pointwise",),
        "separable": ("depthwise", "pointwise"),
    }


def test_valid_padding_and_stride():
    # 8 -> 8, 3x3 on 7x7, padding 0, stride 2: output (7 - 3)//2 + 1 = 3
    table = conv_table(ConvSpec(8, 8, 3, 7, stride=2, padding=0))
    assert table.spec.out_size == 3
    assert table.row("standard").macs == 8 * 3 * 3 * 8 * 9  # 5,184
    assert table.row("depthwise").macs == 8 * 3 * 3 * 9  # 648
    assert table.row("separable").ratio_macs == Fraction(1, 8) + Fraction(1, 9)  # 17/72


def test_bias_adds_params_and_flops_not_macs():
    table = conv_table(ConvSpec(3, 4, 3, 64, bias=True))
    standard, separable = table.row("standard"), table.row("separable")
    assert standard.params == 108 + 4
    assert standard.macs == 442_368
    assert standard.flops == 2 * 442_368 + 4 * 64 * 64  # one add per output element: 901,120
    assert separable.params == (27 + 3) + (12 + 4)  # 46
    assert separable.ratio_macs == Fraction(13, 36)  # the MACs closed form still holds
    assert separable.ratio_params == Fraction(46, 112)  # the params one no longer does


@pytest.mark.parametrize(
    "spec",
    [ConvSpec(3, 4, 3, 64), ConvSpec(32, 64, 3, 112, stride=2, bias=True), ConvSpec(16, 48, 5, 17, batch=3)],
)
def test_depthwise_plus_pointwise_is_separable(spec):
    table = conv_table(spec)
    dw, pw, sep = table.row("depthwise"), table.row("pointwise"), table.row("separable")
    for column in ("params", "macs", "flops", "bytes_read", "bytes_written"):
        assert getattr(dw, column) + getattr(pw, column) == getattr(sep, column), column


def test_dtype_and_batch():
    fp16 = conv_table(ConvSpec(3, 4, 3, 64, batch=2), dtype="fp16").row("standard")
    assert fp16.macs == 2 * 442_368
    # fp16, batch 2: input 2*3*64*64*2 = 49,152 B; weights 108*2 = 216 B; output 2*4*64*64*2 = 65,536 B
    assert (fp16.bytes_read, fp16.bytes_written) == (49_152 + 216, 65_536)


def test_json_rows_have_the_documented_keys(seed_table):
    data = document(seed_table)
    keys = {"kind", "params", "macs", "flops", "bytes_read", "bytes_written", "intensity", "latency_s", "bound", "ratio_macs"}
    assert all(keys <= set(row) for row in data["rows"])
    separable = data["rows"][-1]
    assert separable["ratio_macs_exact"] == "13/36"
    assert separable["ratio_macs"] == pytest.approx(13 / 36, rel=1e-15)


@pytest.mark.parametrize(
    "spec, message, python",
    [
        (ConvSpec(3, 4, 0, 64), "--kernel must be 1 or more, got 0", "kernel must be 1 or more, got 0"),
        (ConvSpec(0, 4, 3, 64), "--in-channels must be 1 or more", "in_channels must be 1 or more"),
        (ConvSpec(3, 4, 3, 0), "--size must be 1 or more", "size must be 1 or more"),
        (ConvSpec(32, 64, 3, 56, groups=3), "--groups 3 must divide both --in-channels 32 and --out-channels 64; use one of 1, 2, 4, 8",
         "groups=3 must divide both in_channels=32 and out_channels=64; use one of 1, 2, 4, 8"),
        (ConvSpec(32, 64, 7, 2, padding=0), "would be empty; use --size 7 or more, more --padding, or a smaller --kernel",
         "would be empty; use size=7 or more, more padding, or a smaller kernel"),
        (ConvSpec(32, 64, 3, 8, padding=-1), "--padding must be 0 or more", "padding must be 0 or more"),
    ],
)
def test_invalid_layers_are_usage_errors(spec, message, python):
    """The command line's words (its flags) and a Python caller's (ConvSpec's fields) for one mistake."""
    with pytest.raises(UsageError) as caught:
        conv_table(spec)
    text = str(caught.value)
    assert python in text and "--" not in text
    assert message in caught.value.spelled(COMMAND_LINE)
    assert "\n" not in text


def test_unknown_hardware_is_a_spec_error():
    with pytest.raises(SpecError, match="a4001"):
        conv_table(ConvSpec(3, 4, 3, 64), hardware="a4001")


def test_latency_on_a4000():
    table = conv_table(ConvSpec(32, 64, 3, 112), hardware="a4000")
    assert all(row.latency_s is not None and row.latency_s > 0 for row in table.rows)
    # issue 3: a depthwise 3x3 on 112x112x32 in fp32 on the A4000 waits on memory
    assert table.row("depthwise").bound == "memory"
    dw, pw, sep = table.row("depthwise"), table.row("pointwise"), table.row("separable")
    assert sep.latency_s == pytest.approx(dw.latency_s + pw.latency_s, rel=1e-9)
