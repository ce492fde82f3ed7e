"""Advice rules on small hand-built models: hand-computed evidence, hand-checked savings, and the
models that follow each guideline getting no finding for it.

Savings are checked on MEMORY_BOUND, a device whose compute is so fast and memory so slow that a
kernel's time is its bytes over 0.1 GB/s plus a 1 ns launch: a change that saves B bytes and L
launches saves B / 1e8 + L / 1e9 seconds, whatever the FLOPs. Some savings are also checked against
the engine's price of the changed model written by hand (not by the transform the rule used).
"""

from __future__ import annotations

import copy

import pytest

from profiler.document import document
import torch
from torch import nn

from profiler import profile
from profiler.advise import RULES, advise, select_rules
from profiler.errors import UsageError
from profiler.hardware import parse_spec

BANDWIDTH = 0.1e9  # bytes/s
LAUNCH_S = 1e-9


def _seconds(saved_bytes: int, saved_launches: int) -> float:
    return saved_bytes / BANDWIDTH + saved_launches * LAUNCH_S


def _spec(name: str, peak: float, *, bandwidth: float = BANDWIDTH, matrix: dict | None = None, alignment: dict | None = None):
    source = {"source": "test device"}
    data = {
        "name": name, "description": "test device", "kind": "gpu",
        "memory_bandwidth_gb_per_s": {"value": bandwidth / 1e9, **source},
        "vector_units": {"name": "vector", "peak_tflop_per_s": {"fp32": {"value": peak, **source}}},
        "efficiency": {"compute": {"value": 1.0, **source}, "memory": {"value": 1.0, **source}},
        "launch_overhead_us": {"value": LAUNCH_S * 1e6, **source},
    }
    if matrix is not None:
        data["matrix_engine"] = {"name": "matrix", "peak_tflop_per_s": {d: {"value": v, **source} for d, v in matrix.items()}}
    if alignment is not None:
        data["channel_alignment"] = alignment
    return parse_spec(data, f"<{name}>")


MEMORY_BOUND = _spec("memory-bound", 1000, matrix={"fp16": 10_000, "int8": 20_000})
COMPUTE_BOUND = _spec("compute-bound", 1e-6, bandwidth=1e12)


def _latency(model, shape, spec=MEMORY_BOUND, dtype=None) -> float:
    return profile(model, torch.empty(shape, device="meta"), hardware=spec, dtype=dtype).estimate.latency_s


def _only(report, rule: str, contains: str | None = None):
    found = [f for f in report.findings if f.rule == rule and (contains is None or contains in f.message)]
    assert len(found) == 1, [f.message for f in report.findings]
    return found[0]


def _run(model, shape, rules, spec=MEMORY_BOUND, dtype=None):
    return advise(model, torch.randn(shape), hardware=spec, rules=rules, dtype=dtype)


# ------------------------------------------------------------------------------------------ G4


def test_g4_fold_bn_evidence_and_saving():
    model = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8)).eval()
    state = copy.deepcopy(model.state_dict())
    report = _run(model, (1, 8, 4, 4), ["G4"])
    finding = _only(report, "G4", "fold")
    assert finding.layers == ("1",)
    # BN reads its input 8·16·4 = 512 B and 4 vectors of 8 fp32 = 128 B, writes 512 B: 1152 B
    assert finding.evidence["batch_norms"] == 1
    assert finding.evidence["batch_norm_bytes"] == 1152
    # folding removes those 1152 B and makes the conv read a bias of 8·4 = 32 B: 1120 B saved
    assert finding.saving_bytes == 1120
    assert finding.saving_s == pytest.approx(_seconds(1120, 1), rel=1e-9)
    hand_folded = nn.Sequential(nn.Conv2d(8, 8, 1, bias=True))
    assert finding.after.latency_s == pytest.approx(_latency(hand_folded, (1, 8, 4, 4)), rel=1e-12)
    assert isinstance(model[1], nn.BatchNorm2d)  # the user's model is left as it was
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert len(report.findings) == 1  # no activation: nothing for a fused engine to absorb


def test_g4_activation_absorbed_by_a_fused_engine():
    report = _run(nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU()), (1, 8, 4, 4), ["G4"])
    finding = _only(report, "G4", "element-wise")
    assert finding.layers == ("1",)
    assert finding.evidence["elementwise_kernels"] == 1 and finding.evidence["activations"] == 1
    # eager ReLU reads and writes 8·16·4 = 512 B each; fused, the conv's output never leaves the chip
    assert finding.saving_bytes == 1024
    assert finding.saving_s == pytest.approx(_seconds(1024, 1), rel=1e-9)


# ------------------------------------------------------------------------------------------ G1


def test_g1_imbalanced_pointwise_conv():
    report = _run(nn.Sequential(nn.Conv2d(16, 64, 1, bias=False)), (1, 16, 8, 8), ["G1"])
    finding = _only(report, "G1")
    evidence = finding.evidence
    assert finding.layers == ("0",)
    assert (evidence["in_channels"], evidence["out_channels"], evidence["positions"]) == (16, 64, 64)
    # MAC = hw(c1 + c2) + c1·c2 = 64·80 + 1024 = 6144; balanced sqrt(16·64) = 32: 64·64 + 1024 = 5120
    assert evidence["mac_elements"] == 6144
    assert evidence["balanced_width"] == 32 and evidence["balanced_mac_elements"] == 5120
    # the saving is the 1024 elements of 4 B the balanced layer does not move
    assert finding.saving_bytes == 4096
    assert finding.saving_s == pytest.approx(_seconds(4096, 0), rel=1e-9)


class BasicBlock(nn.Module):
    """ResNet's basic block with equal widths: two 3x3 convs and an identity shortcut."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        self.conv2, self.bn2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)


def test_g1_balanced_resnet_block_and_square_layers_get_nothing():
    assert not _run(BasicBlock(), (1, 16, 8, 8), ["G1"]).findings
    assert not _run(nn.Sequential(nn.Conv2d(32, 32, 1), nn.Linear(8, 8)), (1, 32, 8, 8), ["G1"]).findings


# ------------------------------------------------------------------------------------------ G2


def test_g2_group_conv_at_equal_flops():
    report = _run(nn.Sequential(nn.Conv2d(64, 64, 1, groups=4, bias=False)), (1, 64, 8, 8), ["G2"])
    finding = _only(report, "G2")
    evidence = finding.evidence
    # MAC = 64·64 in + 64·64 out + 64·64/4 weights = 9216; ungrouped at equal FLOPs (64·64/4 = 32·32):
    # 32 -> 32 channels, 64·32 + 64·32 + 32·32 = 5120
    assert evidence["mac_elements"] == 9216
    assert (evidence["equal_flops_in_channels"], evidence["equal_flops_out_channels"]) == (32, 32)
    assert evidence["equal_flops_mac_elements"] == 5120
    assert finding.saving_bytes == (9216 - 5120) * 4
    assert finding.saving_s == pytest.approx(_seconds((9216 - 5120) * 4, 0), rel=1e-9)


def test_g2_leaves_depthwise_and_ungrouped_convs_alone():
    model = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 16, 1))
    assert not _run(model, (1, 16, 8, 8), ["G2"]).findings


# ------------------------------------------------------------------------------------------ G3


class TwoHeads(nn.Module):
    """Two 1x1 convs reading the same input, as an Inception block or a detection head does."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(16, 8, 1), nn.Conv2d(16, 24, 1)

    def forward(self, x):
        return self.a(x), self.b(x)


def test_g3_parallel_convs_on_one_input():
    finding = _only(_run(TwoHeads(), (1, 16, 8, 8), ["G3"]), "G3")
    assert finding.layers == ("a", "b")
    assert finding.evidence["branches"] == 2 and finding.evidence["out_channels"] == [8, 24]
    # merged, the 16·64·4 = 4096 B input is read once instead of twice; weights, biases and
    # outputs are the same bytes either way
    assert finding.saving_bytes == 4096
    assert finding.saving_s == pytest.approx(_seconds(4096, 1), rel=1e-9)


def test_g3_plain_conv_stack_gets_nothing():
    stack = nn.Sequential(*(nn.Conv2d(16, 16, 3, padding=1) for _ in range(4)))
    assert not _run(stack, (1, 16, 8, 8), ["G3"]).findings


# ---------------------------------------------------------------------------------- alignment


def test_alignment_on_tensor_cores_in_fp16():
    report = _run(nn.Sequential(nn.Conv2d(3, 16, 3, padding=1)), (1, 3, 8, 8), ["alignment"], dtype="fp16")
    finding = _only(report, "alignment")
    evidence = finding.evidence
    assert (evidence["in_channels"], evidence["padded_in_channels"], evidence["input_multiple"]) == (3, 8, 8)
    assert evidence["padded_out_channels"] == 16
    # fp16: the pad copy reads 3·64·2 = 384 B and writes 8·64·2 = 1024 B; the conv then reads
    # 1024 B of input (not 384) and 16·8·9·2 = 2304 B of weights (not 864): 1408 + 640 + 1440 more
    assert finding.saving_bytes == -(1408 + 640 + 1440)
    assert finding.saving_s == pytest.approx(_seconds(-(1408 + 640 + 1440), -1), rel=1e-9)  # + the pad's launch


def test_alignment_from_a_spec_field_npu_style():
    npu = _spec("npu", 1000, matrix={"int8": 20_000},
                alignment={"int8": {"input": 4, "output": 16, "source": "NNIE: inputs of 4, outputs of 16"}})
    assert npu.alignment("int8").output == 16
    report = _run(nn.Sequential(nn.Conv2d(4, 24, 1)), (1, 4, 8, 8), ["alignment"], spec=npu, dtype="int8")
    finding = _only(report, "alignment")
    assert (finding.evidence["padded_in_channels"], finding.evidence["padded_out_channels"]) == (4, 32)
    assert finding.evidence["alignment_source"] == "NNIE: inputs of 4, outputs of 16"


def test_alignment_leaves_aligned_layers_and_vector_units_alone():
    assert not _run(nn.Sequential(nn.Conv2d(8, 16, 1)), (1, 8, 8, 8), ["alignment"], dtype="fp16").findings
    # fp32 has no matrix-engine peak on this spec: the conv runs on the vector units
    assert not _run(nn.Sequential(nn.Conv2d(3, 16, 1)), (1, 3, 8, 8), ["alignment"]).findings


# ---------------------------------------------------------------------------------- separable


def _separable_block() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Conv2d(4, 8, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())


def test_separable_priced_as_a_standard_conv_when_memory_bound():
    finding = _only(_run(_separable_block(), (1, 4, 8, 8), ["separable"]), "separable")
    assert finding.layers == ("0", "1", "2", "3")
    assert (finding.evidence["in_channels"], finding.evidence["out_channels"]) == (4, 8)
    # separable: dw 1024 + 144 + 1024, BN 1024 + 64 + 1024, ReLU 1024 + 1024, pw 1024 + 128 + 2048
    # = 9552 B; standard 3x3 4 -> 8: 1024 + 8·4·9·4 = 1152 + 2048 = 4224 B
    assert finding.saving_bytes == 9552 - 4224
    assert finding.saving_s == pytest.approx(_seconds(9552 - 4224, 3), rel=1e-9)  # 4 kernels become 1
    hand = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    assert finding.after.latency_s == pytest.approx(_latency(hand, (1, 4, 8, 8)), rel=1e-12)


def test_separable_kept_when_the_standard_conv_is_slower():
    # compute-bound: the standard conv's 9x more FLOPs make it slower, so no finding
    assert not _run(_separable_block(), (1, 4, 8, 8), ["separable"], spec=COMPUTE_BOUND).findings


# ---------------------------------------------------------------------------------- re-param


class RepBlock(nn.Module):
    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.dense = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.one = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.identity = nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(self.dense(x) + self.one(x) + self.identity(x))


def test_reparam_block_priced_as_the_deployed_conv():
    model = nn.Sequential(RepBlock(), RepBlock())
    finding = _only(_run(model, (1, 8, 8, 8), ["reparam"]), "reparam")
    assert finding.layers == ("0", "1")
    assert finding.evidence["blocks"] == 2 and finding.evidence["branch_kernels"] == 2 * 7
    deployed = nn.Sequential(*(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()) for _ in range(2)))
    assert finding.after.latency_s == pytest.approx(_latency(deployed, (1, 8, 8, 8)), rel=1e-12)
    assert finding.after.bytes == profile(deployed, torch.empty(1, 8, 8, 8, device="meta"), hardware=MEMORY_BOUND).totals.bytes_total


def test_reparam_ignores_a_block_that_does_more_than_sum_branches():
    class WithScale(RepBlock):
        def forward(self, x):
            return torch.relu(self.dense(x) + self.one(x) + self.identity(x)) * 2

    assert not _run(nn.Sequential(WithScale()), (1, 8, 8, 8), ["reparam"]).findings
    assert not _run(BasicBlock(8), (1, 8, 8, 8), ["reparam"]).findings


# ------------------------------------------------------------------------------------- concat


class ConcatHeads(TwoHeads):
    def forward(self, x):
        return torch.cat((self.a(x), self.b(x)), dim=1)


class ConcatHalf(nn.Module):
    """ShuffleNet V2's stride-1 unit: half the input passes through and is concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        left, right = x.chunk(2, dim=1)
        return torch.cat((left, self.conv(right)), dim=1)


def test_concat_of_whole_outputs_is_eliminated():
    finding = _only(_run(ConcatHeads(), (1, 16, 8, 8), ["concat"]), "concat")
    # cat reads 8·64·4 + 24·64·4 = 8192 B and writes as much
    assert finding.evidence["copy_bytes"] == 16384
    assert finding.saving_bytes == 16384
    assert finding.saving_s == pytest.approx(_seconds(16384, 1), rel=1e-9)


def test_concat_of_a_view_is_not_eliminated():
    assert not _run(ConcatHalf(), (1, 16, 8, 8), ["concat"]).findings


# ---------------------------------------------------------------------------------- the report


def test_findings_sorted_by_saving_and_filtered_by_min_saving():
    model = nn.Sequential(nn.Conv2d(16, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.Conv2d(64, 64, 1, groups=4))
    report = advise(model, torch.randn(1, 16, 8, 8), hardware=MEMORY_BOUND)
    savings = [f.saving_s for f in report.findings]
    assert savings == sorted(savings, reverse=True) and len(savings) >= 3
    floor = report.findings[1].saving_fraction
    kept = advise(model, torch.randn(1, 16, 8, 8), hardware=MEMORY_BOUND, min_saving=floor)
    assert [f.saving_fraction >= floor for f in kept.findings] == [True] * len(kept.findings) and len(kept.findings) == 2
    data = document(report)
    assert set(data) == {"model", "hardware", "totals", "findings", "notes"}
    assert set(data["findings"][0]) == {"rule", "layers", "message", "evidence", "before", "after", "saving_s", "saving_fraction"}
    assert data["totals"]["latency_s"] == report.totals.cost.latency_s


def test_rule_names_are_checked():
    assert select_rules(["g4", "Alignment"]) == ["G4", "alignment"]
    assert select_rules(None) == list(RULES)
    with pytest.raises(UsageError, match="did you mean 'G4'"):
        select_rules(["g5"])


@pytest.mark.parametrize("alignment, message", [
    ({"int8": {"input": 0, "output": 16, "source": "x"}}, "channel_alignment.int8.input': expected a whole number"),
    ({"int8": {"input": 4.5, "output": 16, "source": "x"}}, "channel_alignment.int8.input': expected a whole number"),
    ({"int4": {"input": 4, "output": 16, "source": "x"}}, "unknown field 'channel_alignment.int4'"),
    ({"int8": {"input": 4, "output": 16}}, "missing field 'channel_alignment.int8.source'"),
])
def test_channel_alignment_field_is_validated(alignment, message):
    from profiler.errors import SpecError

    with pytest.raises(SpecError, match=message.replace(".", r"\.")):
        _spec("npu", 1000, matrix={"int8": 20_000}, alignment=alignment)


def test_default_alignment_follows_the_sixteen_byte_rule():
    spec = _spec("gpu", 1000, matrix={"tf32": 100, "fp16": 200, "int8": 400})
    assert [spec.alignment(d).input for d in ("tf32", "fp16", "int8")] == [4, 8, 16]
    assert spec.alignment("fp32") is None  # no matrix-engine peak for fp32: nothing to align for


class ReadsItsConv(nn.Module):
    """A forward that reads an attribute of its conv: the padded stand-in lacks it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)

    def forward(self, x):
        return self.conv(x) * self.conv.kernel_size[0]


def test_a_change_that_cannot_run_is_noted_not_reported():
    report = _run(ReadsItsConv(), (1, 3, 8, 8), ["alignment"], dtype="fp16")
    assert not report.findings
    (note,) = [n for n in report.notes if n.startswith("alignment")]
    assert note.startswith("alignment: the change to conv could not be priced") and "kernel_size" in note
