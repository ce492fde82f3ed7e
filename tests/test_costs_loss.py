"""Loss formulas (profiler/costs/loss.py), each against a hand count: the steps of the loss's
definition per element, +1 per element for a sum or mean; the negative log-likelihood gathers
one value per sample. Neither FlopCounterMode nor fvcore counts losses, so the hand count is the reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import Lambda
from profiler import profile


def _kernels(fn, *args):
    report = profile(Lambda(fn), args)
    assert not report.unsupported_ops
    return {k.event.op: k.cost for k in report.kernels}


X, T = torch.randn(4, 10), torch.rand(4, 10)  # 40 fp32 elements: 160 B each
IDS = torch.randint(0, 10, (4,))  # 4 int64 targets: 32 B


@pytest.mark.parametrize("fn, op, steps", [
    (F.mse_loss, "aten::mse_loss", 2),
    (F.smooth_l1_loss, "aten::smooth_l1_loss", 4),
    (F.huber_loss, "aten::huber_loss", 4),
    (F.soft_margin_loss, "aten::soft_margin_loss", 4),
    (F.binary_cross_entropy_with_logits, "aten::binary_cross_entropy_with_logits", 7),
])
def test_an_elementwise_loss_counts_its_steps_and_its_mean(fn, op, steps):
    cost = _kernels(fn, X, T)[op]
    assert cost.flops == (steps + 1) * 40  # + the mean's one per element
    assert (cost.bytes_read, cost.bytes_written) == (320, 4)  # input and target; one fp32 loss
    assert cost.family == "reduction"


def test_an_unreduced_loss_writes_every_element_and_sums_nothing():
    cost = _kernels(lambda x, t: F.mse_loss(x, t, reduction="none"), X, T)["aten::mse_loss"]
    assert (cost.flops, cost.bytes_read, cost.bytes_written) == (2 * 40, 320, 160)
    assert cost.family == "elementwise"


def test_binary_cross_entropy_weights_cost_one_multiply_each():
    w = torch.rand(10)  # 40 B, broadcast over the 40 elements
    cost = _kernels(lambda x, t, w: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=w, reduction="sum"),
                    X, T, w)["aten::binary_cross_entropy_with_logits"]
    assert cost.flops == (7 + 2 + 1) * 40
    assert cost.bytes_read == 160 + 160 + 40 + 40
    probabilities = _kernels(lambda x, t: F.binary_cross_entropy(torch.sigmoid(x), t), X, T)["aten::binary_cross_entropy"]
    assert probabilities.flops == (7 + 1) * 40


def test_cross_entropy_is_log_softmax_then_a_gather_of_one_value_per_sample():
    kernels = _kernels(F.cross_entropy, X, IDS)
    assert kernels["aten::_log_softmax"].flops == 5 * 40
    nll = kernels["aten::nll_loss_forward"]
    # per sample: negate, then the mean; reads the 4 targets and the 4 gathered log-probabilities
    assert (nll.flops, nll.bytes_read, nll.bytes_written) == (4 * 2, 32 + 16, 4)
    weighted = _kernels(lambda x, t, w: F.cross_entropy(x, t, weight=w), X, IDS, torch.rand(10))["aten::nll_loss_forward"]
    assert (weighted.flops, weighted.bytes_read) == (4 * 3, 32 + 16 + 16)  # + each sample's class weight


def test_a_per_pixel_loss_counts_every_pixel():
    logits, target = torch.randn(2, 5, 3, 3), torch.randint(0, 5, (2, 3, 3))  # 18 pixels
    nll = _kernels(F.nll_loss, logits, target)["aten::nll_loss2d_forward"]
    assert (nll.flops, nll.bytes_read) == (18 * 2, 18 * 8 + 18 * 4)


def test_unsafe_split_is_a_view():
    cost = _kernels(lambda x: torch.unsafe_chunk(x, 2)[0] + 1, X)["aten::unsafe_split"]
    assert (cost.flops, cost.bytes_read, cost.bytes_written) == (0, 0, 0)


def test_a_transformers_model_given_labels_is_fully_counted():
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                        vocab_size=100, num_labels=3)
    model = BertForSequenceClassification(config)
    report = profile(model, {"input_ids": torch.randint(0, 100, (2, 8)), "labels": torch.tensor([0, 2])})
    assert not report.unsupported_ops
    assert any(k.event.op == "aten::nll_loss_forward" for k in report.kernels)
