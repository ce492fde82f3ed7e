"""`crosscheck`: effprof vs fvcore vs FlopCounterMode, with every difference explained.

The expected counts are derived by hand from the layer shapes and from what each peer's source
does (fvcore/nn/jit_handles.py, torch/utils/flop_counter.py), then checked against the peers
themselves: these tests fail if a peer changes its rules, which is the point.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from profiler.crosscheck import FLOP_COUNTER, FVCORE, crosscheck
from profiler.errors import UsageError


class SmallCNN(nn.Module):
    """Conv + BN, depthwise + GroupNorm + BN without affine, pooling, bilinear upsampling,
    a transposed conv, a residual add, global pooling and a classifier; input 1x3x16x16."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.gn = nn.GroupNorm(2, 8)
        self.bn_plain = nn.BatchNorm2d(8, affine=False)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.deconv = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.conv(x)))  # 8x16x16
        x = self.bn_plain(self.gn(self.dw(x)))  # 8x16x16
        y = self.pool(x)  # 8x8x8
        x = self.up(y) + self.deconv(y)  # 8x16x16 each
        return self.fc(self.gap(x).flatten(1))


@pytest.fixture(scope="module")
def cnn_check():
    torch.manual_seed(0)
    return crosscheck(SmallCNN(), torch.randn(1, 3, 16, 16))


# (module, effprof MACs, fvcore, FlopCounterMode / 2); 8x16x16 = 2,048 elements
CNN_ROWS = [
    ("conv", 55_296, 55_296, 55_296),  # 8*16*16 * 3*9; the bias add is no MAC for anyone
    ("bn", 0, 4_096, 0),  # fvcore: 2 per element with affine = 2 * 2,048
    ("dw", 18_432, 18_432, 18_432),  # 8*16*16 * 1*9
    ("gn", 0, 10_240, 0),  # fvcore: 5 per element with affine = 5 * 2,048
    ("bn_plain", 0, 2_048, 0),  # fvcore: 1 per element without affine
    ("up", 0, 8_192, 0),  # fvcore: 4 per output element of bilinear upsampling = 4 * 2,048
    ("deconv", 16_384, 16_384, 16_384),  # transposed: C_in 8 * 8*8 inputs * C_out 8 * 2*2
    ("gap", 0, 2_048, 0),  # fvcore: 1 per input element of adaptive average pooling
    ("fc", 80, 80, 80),  # 8 * 10
]


@pytest.mark.parametrize("module, effprof, fvcore, flop_counter", CNN_ROWS)
def test_cnn_per_module(cnn_check, module, effprof, fvcore, flop_counter):
    row = cnn_check.row(module)
    assert (row.effprof_macs, row.fvcore_macs, row.flop_counter_macs) == (effprof, fvcore, flop_counter)


def test_cnn_totals(cnn_check):
    total = cnn_check.total
    assert total.effprof_macs == 55_296 + 18_432 + 16_384 + 80  # 90,192
    assert total.flop_counter_macs == 90_192  # FlopCounterMode counts exactly effprof's MACs here
    assert total.fvcore_macs == 90_192 + 4_096 + 10_240 + 2_048 + 8_192 + 2_048  # 116,816


@pytest.mark.parametrize(
    "module, category, fragment, macs",
    [
        ("bn", "norm", "fvcore counts BatchNorm as MACs (2 per element)", 4_096),
        ("bn_plain", "norm", "fvcore counts BatchNorm as MACs (1 per element)", 2_048),
        ("gn", "norm", "fvcore counts GroupNorm as MACs (5 per element)", 10_240),
        ("up", "resample", "fvcore counts bilinear upsampling as MACs (4 per output element)", 8_192),
        ("gap", "pool", "fvcore counts adaptive average pooling as MACs (1 per input element)", 2_048),
    ],
)
def test_cnn_differences_are_explained(cnn_check, module, category, fragment, macs):
    (diff,) = cnn_check.row(module).differences
    assert (diff.tool, diff.category, diff.macs) == (FVCORE, category, macs)
    assert fragment in diff.text


def test_cnn_agreeing_modules_have_no_differences(cnn_check):
    for module in ("conv", "dw", "deconv", "fc"):
        assert cnn_check.row(module).differences == ()
    assert cnn_check.unexplained == ()
    assert not any(d.tool == FLOP_COUNTER for d in cnn_check.summary)
    # fvcore lists what it skipped: the pooling and the residual add (relu is on its ignore list)
    assert cnn_check.fvcore_unsupported == {"aten::max_pool2d": 1, "aten::add": 1}


def test_cnn_summary_adds_up_to_the_totals(cnn_check):
    fvcore_delta = sum(d.macs for d in cnn_check.summary if d.tool == FVCORE)
    assert cnn_check.total.effprof_macs + fvcore_delta == cnn_check.total.fvcore_macs


@pytest.fixture(scope="module")
def bert_check():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        max_position_embeddings=64, attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    model = transformers.BertModel(config)  # random weights: nothing is downloaded
    inputs = {"input_ids": torch.ones(1, 16, dtype=torch.long), "attention_mask": torch.ones(1, 16, dtype=torch.long)}
    return crosscheck(model, inputs)


# BERT, hidden 64, 4 heads of 16, FFN 128, 2 layers, 16 tokens:
#   q, k, v, o: 16*64*64 = 65,536 each; FFN in and out: 16*64*128 = 131,072 each
#   SDPA: B*H*Lq*Lk*(E + Ev) = 1*4*16*16*(16 + 16) = 32,768 per layer
#   pooler: the [CLS] row only, 1*64*64 = 4,096
#   LayerNorm: 16*64 = 1,024 elements, 5 of them (embeddings + 2 per layer)
BERT_ROWS = [
    ("encoder.layer.0.attention.self.query", 65_536, 65_536, 65_536),
    ("encoder.layer.1.intermediate.dense", 131_072, 131_072, 131_072),
    ("encoder.layer.0.attention.self", 32_768, 0, 0),  # its own op is the SDPA call
    ("embeddings.LayerNorm", 0, 5_120, 0),  # fvcore: 5 per element with affine = 5 * 1,024
    ("pooler.dense", 4_096, 4_096, 4_096),
]


@pytest.mark.parametrize("module, effprof, fvcore, flop_counter", BERT_ROWS)
def test_bert_per_module(bert_check, module, effprof, fvcore, flop_counter):
    row = bert_check.row(module)
    assert (row.effprof_macs, row.fvcore_macs, row.flop_counter_macs) == (effprof, fvcore, flop_counter)


def test_bert_totals(bert_check):
    linear = 2 * (4 * 65_536 + 2 * 131_072) + 4_096  # 1,052,672
    attention = 2 * 32_768  # 65,536
    total = bert_check.total
    assert total.effprof_macs == linear + attention  # 1,118,208
    assert total.flop_counter_macs == linear  # the CPU SDPA kernel is not in its table
    assert total.fvcore_macs == linear + 5 * 5_120  # no SDPA handle; LayerNorm as MACs: 1,078,272


def test_bert_attention_is_explained_for_both_tools(bert_check):
    diffs = {d.tool: d for d in bert_check.row("encoder.layer.1.attention.self").differences}
    assert set(diffs) == {FVCORE, FLOP_COUNTER}
    assert diffs[FVCORE].category == diffs[FLOP_COUNTER].category == "attention"
    assert diffs[FVCORE].macs == diffs[FLOP_COUNTER].macs == -32_768
    assert "aten::scaled_dot_product_attention (it lists the op as unsupported)" in diffs[FVCORE].text
    # the kernel is named from what ran, not hard-coded
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in diffs[FLOP_COUNTER].text


def test_bert_summary(bert_check):
    summary = {(d.tool, d.category): d for d in bert_check.summary}
    assert set(summary) == {(FVCORE, "norm"), (FVCORE, "attention"), (FLOP_COUNTER, "attention")}
    assert (summary[FVCORE, "norm"].macs, summary[FVCORE, "norm"].modules) == (25_600, 5)
    assert "LayerNorm as MACs (5 per element)" in summary[FVCORE, "norm"].text
    assert (summary[FLOP_COUNTER, "attention"].macs, summary[FLOP_COUNTER, "attention"].modules) == (-65_536, 2)
    assert bert_check.fvcore_unsupported["aten::scaled_dot_product_attention"] == 2


class Attention(nn.Module):
    """SDPA with dropout: CPU takes the math path, whose bmm calls FlopCounterMode does count."""

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)


def test_math_path_attention_agrees_with_flop_counter():
    check = crosscheck(Attention(), torch.randn(1, 4, 16, 16))
    row = check.row("")
    assert row.effprof_macs == 4 * 16 * 16 * (16 + 16)  # 32,768
    assert row.flop_counter_macs == 32_768  # two bmm calls, counted halved
    assert row.fvcore_macs == 0
    assert [(d.tool, d.category, d.macs) for d in row.differences] == [(FVCORE, "attention", -32_768)]


class Einsums(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        contraction = torch.einsum("bi,ji->bj", x, self.w)  # 4*8*16 = 512 MACs for everyone
        outer = torch.einsum("i,j->ij", x[0], x[0])  # no index contracted: 256 multiplies
        return contraction.sum() + outer.sum()


def test_einsum_outer_product():
    check = crosscheck(Einsums(), torch.randn(4, 16))
    row = check.row("")
    assert row.effprof_macs == row.flop_counter_macs == 512
    # numpy's einsum_path costs the outer product 16*16 = 256 FLOPs; fvcore halves it: 128
    assert row.fvcore_macs == 512 + 128
    assert [(d.tool, d.category, d.macs) for d in row.differences] == [(FVCORE, "einsum", 128)]


def test_refuses_meta_models():
    with torch.device("meta"):
        model = nn.Linear(4, 4)
    with pytest.raises(UsageError, match="needs a model and inputs with real CPU tensors"):
        crosscheck(model, torch.empty(1, 4, device="meta"))


@pytest.mark.parametrize(
    "limits, message",
    [
        # conv 3*8*9 + 8 = 224, bn 16, dw 8*9 = 72, gn 16, deconv 8*8*2*2 + 8 = 264, fc 80 + 10 = 90: 682
        ({"max_params": 100}, "this one has 682 params (limit 100)"),
        ({"max_input_elements": 500}, "input 1,3,16,16 has 768 elements (limit 500): pass smaller example_inputs"),
        ({"max_macs": 1000}, "this forward is 90.19 K MACs (limit 1.00 K)"),
    ],
)
def test_refuses_models_over_the_limits(limits, message):
    with pytest.raises(UsageError) as caught:
        crosscheck(SmallCNN(), torch.randn(1, 3, 16, 16), **limits)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_model_left_as_found():
    model = SmallCNN().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    crosscheck(model, torch.randn(1, 3, 16, 16))
    assert model.training and all(m.training for m in model.modules())
    after = model.state_dict()
    # eval mode: BN running statistics untouched by either peer's run
    assert all(torch.equal(before[k], after[k]) for k in before)
