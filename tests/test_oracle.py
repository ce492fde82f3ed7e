"""effprof against an independent oracle: torch.utils.flop_counter.FlopCounterMode.

FlopCounterMode counts 2 FLOPs per MAC for matmuls and convolutions only, on real tensors. Where
the conventions agree, effprof's conv+matmul MACs must equal its total / 2 exactly; the one
difference is attention, whose CPU kernel (_scaled_dot_product_flash_attention_for_cpu)
FlopCounterMode does not know: effprof adds exactly B*H*Lq*Lk*(E+Ev) per attention call.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from profiler import profile

transformers = pytest.importorskip("transformers")
warnings.filterwarnings("ignore", category=UserWarning)


def flop_counter_macs(model, inputs) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**inputs)
    return counter.get_total_flops() // 2


def family_macs(report, families) -> int:
    return sum(k.cost.macs for k in report.kernels if k.cost.family in families)


T = transformers
SMALL_TEXT = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128)

MODELS = {
    # name: (builder, inputs, attention MACs by hand)
    "bert": (
        lambda: T.BertModel(T.BertConfig(**SMALL_TEXT, attn_implementation="sdpa")),
        lambda: {"input_ids": torch.ones(2, 12, dtype=torch.long)},
        # 2 layers * B2 * H4 * 12 * 12 * (16 + 16)
        2 * 2 * 4 * 12 * 12 * 32,
    ),
    "gpt2": (
        lambda: T.GPT2LMHeadModel(T.GPT2Config(n_layer=2, n_embd=64, n_head=4, attn_implementation="sdpa")),
        lambda: {"input_ids": torch.ones(1, 10, dtype=torch.long)},
        2 * 1 * 4 * 10 * 10 * 32,  # causal, counted in full
    ),
    "vit": (
        lambda: T.ViTModel(T.ViTConfig(**SMALL_TEXT, image_size=32, patch_size=8, attn_implementation="sdpa")),
        lambda: {"pixel_values": torch.randn(1, 3, 32, 32)},
        2 * 1 * 4 * 17 * 17 * 32,  # 16 patches + [CLS]
    ),
    "mobilenet_v1": (lambda: T.MobileNetV1Model(T.MobileNetV1Config(image_size=96)), lambda: {"pixel_values": torch.randn(1, 3, 96, 96)}, 0),
    "mobilenet_v2": (lambda: T.MobileNetV2Model(T.MobileNetV2Config(image_size=96)), lambda: {"pixel_values": torch.randn(1, 3, 96, 96)}, 0),
    "resnet": (
        lambda: T.ResNetModel(T.ResNetConfig(depths=[1, 1, 1, 1], hidden_sizes=[32, 64, 128, 256], embedding_size=16)),
        lambda: {"pixel_values": torch.randn(1, 3, 64, 64)},
        0,
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_conv_and_matmul_macs_equal_flop_counter_mode(name):
    build, make_inputs, attention_macs = MODELS[name]
    torch.manual_seed(0)
    model = build().eval()
    inputs = make_inputs()
    report = profile(model, inputs)
    assert report.unsupported_ops == {}
    assert family_macs(report, ("conv", "matmul")) == flop_counter_macs(model, inputs)
    assert family_macs(report, ("attention",)) == attention_macs
    assert report.totals.macs == flop_counter_macs(model, inputs) + attention_macs


def test_tied_weights_count_once():
    model = T.GPT2LMHeadModel(T.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100, n_positions=16))
    assert model.lm_head.weight is model.transformer.wte.weight
    report = profile(model, {"input_ids": torch.ones(1, 4, dtype=torch.long)})
    unique = sum(p.numel() for p in model.parameters())  # parameters() yields a tied tensor once
    assert report.totals.params == unique
    assert sum(layer.params for layer in report.layers) == unique
