"""Advice on the bundled examples and zoo: the findings the design guidelines predict."""

from __future__ import annotations

import re

import pytest
from conftest import EXAMPLES

from profiler import profile
from profiler.advise import advise_loaded
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


def test_repvgg_merged_counts_equal_the_deployed_counts():
    from profiler.advise.context import AdviceContext
    from profiler.advise.rules import _deployed_block, _rep_blocks
    from profiler.transforms import replace_modules

    train = load_model(str(EXAMPLES / "repvgg_a0_train.py"))
    report = profile(train.model, train.inputs, hardware="a4000")
    ctx = AdviceContext(model=train.model, inputs=train.inputs, report=report, spec=report.estimate.spec)
    merged = replace_modules(train.model, {b.path: _deployed_block(ctx, b) for b in _rep_blocks(ctx)})
    deployed = load_model(str(EXAMPLES / "zoo" / "repvgg_a0.py"))
    merged_totals = profile(merged, train.inputs).totals
    deployed_totals = profile(deployed.model, deployed.inputs).totals
    # RepVGG-A0 deployed: 8,309,384 params and 1,361,451,008 MACs (examples/zoo/repvgg_a0.py)
    assert (merged_totals.params, merged_totals.macs) == (8_309_384, 1_361_451_008)
    assert merged_totals == deployed_totals


def test_seed_mobilenet_v1_first_layer_alignment_in_fp16():
    report = _advise("mobilenet_v1.py", ["alignment"], dtype="fp16")
    first = next(f for f in report.findings if f.layers == ("features.0.0",))
    assert first.evidence["in_channels"] == 3 and first.evidence["padded_in_channels"] == 8
    assert first.evidence["input_multiple"] == 8
