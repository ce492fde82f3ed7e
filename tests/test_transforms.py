"""Model transforms: function-preserving ones checked on real tensors (eval mode, 1e-5), design
changes checked for the shapes and FLOPs they promise; none may touch its inputs."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from profiler import transforms as T

ATOL = 1e-5


def _trained_bn(channels: int, seed: int) -> nn.BatchNorm2d:
    """A BN with non-trivial statistics and affine parameters, in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(channels)
    with torch.no_grad():
        bn.running_mean.copy_(torch.rand(channels, generator=generator) * 2 - 1)
        bn.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
        bn.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
        bn.bias.copy_(torch.rand(channels, generator=generator) * 2 - 1)
    return bn.eval()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("groups", [1, 4])
def test_fold_conv_bn_preserves_the_output(bias, groups):
    conv, bn = nn.Conv2d(8, 16, 3, padding=1, groups=groups, bias=bias).eval(), _trained_bn(16, 1)
    x = torch.randn(2, 8, 10, 10)
    folded = T.fold_conv_bn(conv, bn)
    assert torch.allclose(folded(x), bn(conv(x)), atol=ATOL)
    assert folded.bias is not None
    assert (conv.bias is None) == (not bias)  # the input conv is untouched


def test_fold_conv_bn_matches_the_hand_formula_on_one_weight():
    # one 1x1 conv, weight 2, no bias; BN gamma 3, beta 1, mean 0.5, var 3.99, eps 0.01:
    # sigma = sqrt(3.99 + 0.01) = 2; w' = 2 * 3 / 2 = 3; b' = 1 + (0 - 0.5) * 3 / 2 = 0.25
    conv = nn.Conv2d(1, 1, 1, bias=False)
    bn = nn.BatchNorm2d(1, eps=0.01).eval()
    with torch.no_grad():
        conv.weight.fill_(2.0)
        bn.weight.fill_(3.0), bn.bias.fill_(1.0), bn.running_mean.fill_(0.5), bn.running_var.fill_(3.99)
    folded = T.fold_conv_bn(conv, bn)
    assert folded.weight.item() == pytest.approx(3.0)
    assert folded.bias.item() == pytest.approx(0.25)


def test_fold_batch_norms_copies_the_model_and_keeps_its_function():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), _trained_bn(8, 2), nn.ReLU(),
                          nn.Conv2d(8, 4, 1), _trained_bn(4, 3)).eval()
    before = copy.deepcopy(model.state_dict())
    assert T.find_conv_bn_pairs(model) == [("0", "1"), ("3", "4")]
    folded = T.fold_batch_norms(model)
    x = torch.randn(2, 3, 12, 12)
    assert torch.allclose(folded(x), model(x), atol=ATOL)
    assert isinstance(folded[1], nn.Identity) and isinstance(folded[4], nn.Identity)
    assert isinstance(model[1], nn.BatchNorm2d)  # the user's model is untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("with_identity", [True, False])
def test_repvgg_merge_preserves_the_output(groups, with_identity):
    dense, dense_bn = nn.Conv2d(8, 8, 3, padding=1, groups=groups, bias=False), _trained_bn(8, 4)
    point, point_bn = nn.Conv2d(8, 8, 1, groups=groups, bias=False), _trained_bn(8, 5)
    identity = _trained_bn(8, 6) if with_identity else None
    merged = T.merge_repvgg_branches(dense, dense_bn, point, point_bn, identity)
    x = torch.randn(2, 8, 9, 9)
    expected = dense_bn(dense(x)) + point_bn(point(x)) + (identity(x) if identity is not None else 0)
    assert torch.allclose(merged(x), expected, atol=ATOL)
    assert merged.kernel_size == (3, 3) and merged.bias is not None


def test_repvgg_merge_with_stride_and_widths_changing():
    dense, dense_bn = nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False), _trained_bn(8, 7)
    point, point_bn = nn.Conv2d(4, 8, 1, stride=2, bias=False), _trained_bn(8, 8)
    merged = T.merge_repvgg_branches(dense, dense_bn, point, point_bn)
    x = torch.randn(1, 4, 10, 10)
    assert torch.allclose(merged(x), dense_bn(dense(x)) + point_bn(point(x)), atol=ATOL)
    with pytest.raises(ValueError, match="identity"):
        T.merge_repvgg_branches(dense, dense_bn, point, point_bn, _trained_bn(4, 9))


def test_pad_channels_preserves_the_output_and_rounds_up():
    conv = nn.Conv2d(3, 30, 3, padding=1)
    padded = T.pad_channels(conv, 8, 16)
    assert (padded.conv.in_channels, padded.conv.out_channels) == (8, 32)
    x = torch.randn(2, 3, 7, 7)
    assert torch.allclose(padded(x), conv(x), atol=ATOL)
    linear = nn.Linear(5, 13)
    padded_linear = T.pad_channels(linear, 4, 16)
    assert (padded_linear.linear.in_features, padded_linear.linear.out_features) == (8, 16)
    z = torch.randn(3, 5)
    assert torch.allclose(padded_linear(z), linear(z), atol=ATOL)
    aligned = nn.Conv2d(8, 16, 1)
    assert T.pad_channels(aligned, 8, 8) is aligned


def test_separable_to_standard_is_exact_with_a_channel_multiplier_and_biases():
    depthwise = nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4, bias=True)
    pointwise = nn.Conv2d(8, 6, 1, bias=True)
    standard = T.separable_to_standard(depthwise, pointwise)
    assert (standard.in_channels, standard.out_channels, standard.groups) == (4, 6, 1)
    x = torch.randn(2, 4, 9, 9)
    assert torch.allclose(standard(x), pointwise(depthwise(x)), atol=ATOL)


def test_standard_to_separable_keeps_the_interface():
    conv = nn.Conv2d(8, 16, 3, stride=2, padding=1)
    pair = T.standard_to_separable(conv)
    x = torch.randn(1, 8, 10, 10)
    assert pair(x).shape == conv(x).shape
    assert pair[0].groups == 8 and pair[1].kernel_size == (1, 1)


def test_merge_parallel_convs_stacks_the_outputs():
    a, b = nn.Conv2d(6, 4, 3, padding=1), nn.Conv2d(6, 10, 3, padding=1)
    merged = T.merge_parallel_convs([a, b])
    x = torch.randn(1, 6, 8, 8)
    left, right = torch.split(merged(x), [4, 10], dim=1)
    assert torch.allclose(left, a(x), atol=ATOL) and torch.allclose(right, b(x), atol=ATOL)
    with pytest.raises(ValueError, match="agree"):
        T.merge_parallel_convs([a, nn.Conv2d(6, 4, 1)])


def test_equal_flops_design_changes():
    # G2: 4 groups on 64 -> 64 at 1x1: FLOPs ∝ 64·64/4 = 1024; ungrouped at equal FLOPs: 32·32/1 = 1024
    regrouped = T.change_groups(nn.Conv2d(64, 64, 1, groups=4), 1)
    assert (regrouped.in_channels, regrouped.out_channels, regrouped.groups) == (32, 32, 1)
    # G1: 16 -> 64 balanced at equal FLOPs: sqrt(16·64) = 32
    balanced = T.balance_widths(nn.Conv2d(16, 64, 1))
    assert (balanced.in_channels, balanced.out_channels) == (32, 32)
    assert T.balance_widths(nn.Linear(100, 400)).in_features == 200


def test_meta_copy_copies_no_weight_and_keeps_ties():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    model[1].weight = model[0].weight
    copied = T.meta_copy(model)
    assert all(p.is_meta for p in copied.parameters())
    assert copied[1].weight is copied[0].weight
    assert not model[0].weight.is_meta


def test_replace_modules_names_a_missing_path():
    with pytest.raises(ValueError, match="no submodule"):
        T.replace_modules(nn.Sequential(nn.ReLU()), {"nothing": nn.Identity()})
