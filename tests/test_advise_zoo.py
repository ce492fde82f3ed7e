"""Advice on the bundled examples and zoo: the findings the design guidelines predict."""

from __future__ import annotations

import re

import pytest
import torch
from conftest import EXAMPLES
from torch import nn

from profiler import profile
from profiler.advise import advise_loaded, reparameterize
from profiler.loading import load_model


def _advise(name: str, rules, hardware="a4000", dtype=None):
    return advise_loaded(load_model(str(EXAMPLES / name)), hardware=hardware, dtype=dtype, rules=rules)


def test_mobilenet_v1_gets_bn_folding_and_elementwise_findings():
    report = _advise("zoo/mobilenet_v1.py", ["G4"])
    fold = next(f for f in report.findings if f.message.startswith("fold"))
    # 27 conv+BN pairs: the stem and 13 blocks x (depthwise, pointwise)
    assert fold.evidence["batch_norms"] == 27 and fold.saving_s > 0
    assert "features.1.dw.1" in fold.layers
    elementwise = next(f for f in report.findings if "element-wise" in f.message)
    assert elementwise.evidence["activations"] == 27 and elementwise.saving_s > 0


def test_shufflenet_v2_balanced_branches_get_no_g1():
    report = _advise("zoo/shufflenet_v2.py", ["G1"])
    flagged = {layer for f in report.findings for layer in f.layers}
    # stride-1 units (stageN.1 onwards) run half -> half 1x1 convs: balanced by design
    assert not [layer for layer in flagged if re.match(r"stage\d\.[1-9]", layer)]
    # the 464 -> 1024 head conv is not balanced
    assert "conv5.0" in flagged


def test_repvgg_training_blocks_merge_to_the_deployed_model_exactly():
    report = _advise("repvgg_a0_train.py", ["reparam"])
    (finding,) = report.findings
    assert finding.evidence["blocks"] == 22  # RepVGG-A0: 1 + 2 + 4 + 14 + 1
    deployed = load_model(str(EXAMPLES / "zoo" / "repvgg_a0.py"))
    reference = profile(deployed.model, deployed.inputs, hardware="a4000")
    assert finding.after.latency_s == pytest.approx(reference.estimate.latency_s, rel=1e-12)
    assert finding.after.bytes == sum(k.bytes for k in reference.estimate.kernels)
    assert finding.saving_s > 0


def test_repvgg_reparameterized_outputs_and_counts_equal_the_deployed_model():
    train = load_model(str(EXAMPLES / "repvgg_a0_train.py")).rebuild_real()[0].eval()
    torch.manual_seed(0)
    with torch.no_grad():  # non-trivial BN statistics, so that every branch matters
        for module in train.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1), module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.3, 0.6), module.bias.uniform_(-0.1, 0.1)
    x = torch.randn(2, 3, 64, 64)
    merged = reparameterize(train, x)
    with torch.no_grad():
        assert torch.allclose(merged(x), train(x), atol=1e-5)
    assert isinstance(train.features[2].rbr_identity, nn.BatchNorm2d)  # the model itself is untouched
    deployed = load_model(str(EXAMPLES / "zoo" / "repvgg_a0.py"))
    merged_totals = profile(merged, torch.empty(1, 3, 224, 224)).totals
    # RepVGG-A0 deployed: 8,309,384 params and 1,361,451,008 MACs (examples/zoo/repvgg_a0.py)
    assert (merged_totals.params, merged_totals.macs) == (8_309_384, 1_361_451_008)
    assert merged_totals == profile(deployed.model, deployed.inputs).totals


def test_seed_mobilenet_v1_first_layer_alignment_in_fp16():
    report = _advise("mobilenet_v1.py", ["alignment"], dtype="fp16")
    first = next(f for f in report.findings if f.layers == ("features.0.0",))
    assert first.evidence["in_channels"] == 3 and first.evidence["padded_in_channels"] == 8
    assert first.evidence["input_multiple"] == 8
