"""Model transforms behind `effprof advise`, public so that a user can apply them too.

Every function returns new modules and leaves its arguments untouched; `fold_batch_norms` and
`replace_modules` work on a deep copy of the whole model. Two kinds:
- function-preserving (same outputs up to float rounding, in eval mode): `fold_conv_bn`,
  `fold_batch_norms`, `merge_repvgg_branches`, `pad_channels`, `separable_to_standard`;
- design changes, which keep the layer's interface where they can but change what it computes
  and need retraining: `change_groups` (equal FLOPs, different widths), `balance_widths`
  (equal FLOPs, equal widths), `standard_to_separable`.
docs/advise.md gives the formulas and their sources.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable, Sequence
from typing import TypedDict, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

__all__ = [
    "PaddedConv",
    "PaddedLinear",
    "balance_widths",
    "change_groups",
    "find_conv_bn_pairs",
    "fold_batch_norms",
    "fold_conv_bn",
    "merge_parallel_convs",
    "merge_repvgg_branches",
    "meta_copy",
    "pad_channels",
    "replace_modules",
    "round_up",
    "separable_to_standard",
    "standard_to_separable",
]


_Conv = TypeVar("_Conv", bound=_ConvNd)


class Conv2dGeometry(TypedDict):
    """A Conv2d's kernel, stride, padding and dilation, as its constructor takes them."""

    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: str | tuple[int, int]
    dilation: tuple[int, int]


def conv2d_geometry(conv: nn.Conv2d) -> Conv2dGeometry:
    """`conv`'s geometry, to build another Conv2d with it (`nn.Conv2d(c_in, c_out, **geometry)`).
    A Conv2d stores each as a pair; torch's stubs type them as tuples of any length."""
    kernel, stride, padding, dilation = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    return Conv2dGeometry(
        kernel_size=(kernel[0], kernel[1]),
        stride=(stride[0], stride[1]),
        padding=padding if isinstance(padding, str) else (padding[0], padding[1]),
        dilation=(dilation[0], dilation[1]),
    )


# ----------------------------------------------------------------------------------- model copies


def meta_copy(model: nn.Module) -> nn.Module:
    """A deep copy of `model` whose parameters and buffers are meta tensors: no weight is copied."""
    memo: dict[int, object] = {}
    # plain tensor attributes too: old-style weight_norm keeps a computed (non-leaf) `weight` on the
    # module, which deepcopy refuses
    attributes = [v for m in model.modules() for v in vars(m).values() if isinstance(v, torch.Tensor)]
    for tensor in [*model.parameters(), *model.buffers(), *attributes]:
        if id(tensor) in memo:
            continue
        stand_in = torch.empty_like(tensor, device="meta")
        if isinstance(tensor, nn.Parameter):
            stand_in = nn.Parameter(stand_in, requires_grad=tensor.requires_grad)
        memo[id(tensor)] = stand_in
    return copy.deepcopy(model, memo)


def replace_modules(model: nn.Module, replacements: dict[str, nn.Module]) -> nn.Module:
    """A deep copy of `model` with the submodule at each path (`features.0.1`) replaced."""
    changed = copy.deepcopy(model)
    for path, module in replacements.items():
        parent_path, _, name = path.rpartition(".")
        if not name:
            raise ValueError("the root module cannot be replaced; apply the transform to it directly")
        parent = changed.get_submodule(parent_path)
        if not hasattr(parent, name):
            raise ValueError(f"no submodule '{path}' in the model")
        setattr(parent, name, module)
    return changed


# ------------------------------------------------------------------------------------ BN folding


def _bn_scale_shift(bn: _BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) with bn(x) = scale·x + shift in eval mode."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("a batch norm without running statistics (track_running_stats=False) cannot be folded")
    std = torch.sqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
    scale = gamma / std
    return scale, beta - bn.running_mean * scale


def fold_conv_bn(conv: _Conv, bn: _BatchNorm) -> _Conv:
    """The convolution that computes bn(conv(x)) in eval mode, as a new module.

    w' = w·γ/σ and b' = β + (b - μ)·γ/σ with σ = sqrt(running_var + eps): the formula of the
    conv+BN fusion in TensorRT and in PyTorch's own `fuse_conv_bn_eval`; with b = 0 for a conv
    without bias it is the formula of the deployment notes this tool is built on.
    """
    if conv.transposed:
        raise ValueError("folding BN into a transposed convolution is not supported")
    if bn.num_features != conv.out_channels:
        raise ValueError(f"BN has {bn.num_features} features but the conv has {conv.out_channels} output channels")
    scale, shift = _bn_scale_shift(bn)
    folded = copy.deepcopy(conv)
    with torch.no_grad():
        shape = (-1,) + (1,) * (conv.weight.dim() - 1)
        folded.weight = nn.Parameter(conv.weight * scale.reshape(shape).to(conv.weight.dtype))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(shift)
        folded.bias = nn.Parameter((bias * scale + shift).to(conv.weight.dtype))
    return folded


def find_conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """(conv path, BN path) of every convolution followed directly by a batch norm in a plain
    `nn.Sequential`: there the BN reads the conv's output and nothing else does."""
    pairs = []
    for path, module in model.named_modules():
        if type(module).forward is not nn.Sequential.forward or not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        for (name, first), (next_name, second) in itertools.pairwise(children):
            if isinstance(first, _ConvNd) and isinstance(second, _BatchNorm) and not first.transposed:
                prefix = f"{path}." if path else ""
                pairs.append((prefix + name, prefix + next_name))
    return pairs


def fold_batch_norms(model: nn.Module, pairs: Iterable[tuple[str, str]] | None = None) -> nn.Module:
    """A copy of `model` with each BN folded into the conv before it and replaced by Identity.

    `pairs` (conv path, BN path) must be convs whose output only that BN reads (`effprof advise`
    finds them in the traced data flow); by default, `find_conv_bn_pairs(model)`.
    """
    pairs = find_conv_bn_pairs(model) if pairs is None else list(pairs)
    replacements: dict[str, nn.Module] = {}
    for conv_path, bn_path in pairs:
        conv, bn = model.get_submodule(conv_path), model.get_submodule(bn_path)
        if not isinstance(conv, _ConvNd) or not isinstance(bn, _BatchNorm):
            raise TypeError(f"'{conv_path}' -> '{bn_path}' is not a convolution followed by a batch norm")
        replacements[conv_path] = fold_conv_bn(conv, bn)
        replacements[bn_path] = nn.Identity()
    return replace_modules(model, replacements)


# --------------------------------------------------------------------------------- RepVGG merge


def merge_repvgg_branches(
    dense_conv: nn.Conv2d,
    dense_bn: _BatchNorm,
    pointwise_conv: nn.Conv2d | None = None,
    pointwise_bn: _BatchNorm | None = None,
    identity_bn: _BatchNorm | None = None,
) -> nn.Conv2d:
    """One KxK convolution with bias computing bn(conv_KxK(x)) + bn(conv_1x1(x)) + bn(x), eval mode.

    RepVGG's structural re-parameterisation (Ding et al., 2021): each branch is folded with its
    BN, the 1x1 kernel is zero-padded to KxK at the centre, the identity becomes a KxK kernel with
    a 1 at the centre of its own channel (per group), and the kernels and biases are summed.
    Needs a 'same' dense conv (padding K//2), a 1x1 conv with padding 0 and the same stride and
    groups, and an identity branch only where input and output widths and the grid agree.
    """
    k_h, k_w = dense_conv.kernel_size
    if k_h % 2 == 0 or k_w % 2 == 0 or dense_conv.padding != (k_h // 2, k_w // 2) or dense_conv.dilation != (1, 1):
        raise ValueError("the dense branch must be an odd-sized conv with 'same' padding (K//2) and no dilation")
    merged = fold_conv_bn(dense_conv, dense_bn)
    assert merged.bias is not None  # folding always gives the conv a bias
    weight, bias = merged.weight.detach().clone(), merged.bias.detach().clone()
    centre = (k_h // 2, k_w // 2)
    if (pointwise_conv is None) != (pointwise_bn is None):
        raise ValueError("give the 1x1 branch's conv and its BN together")
    if pointwise_conv is not None and pointwise_bn is not None:
        if (pointwise_conv.kernel_size != (1, 1) or pointwise_conv.padding != (0, 0) or pointwise_conv.stride != dense_conv.stride
                or pointwise_conv.groups != dense_conv.groups or pointwise_conv.out_channels != dense_conv.out_channels):
            raise ValueError("the 1x1 branch must be a 1x1 conv without padding, with the dense conv's stride, groups and widths")
        folded = fold_conv_bn(pointwise_conv, pointwise_bn)
        assert folded.bias is not None  # folding always gives the conv a bias
        weight[:, :, centre[0], centre[1]] += folded.weight.detach()[:, :, 0, 0]
        bias += folded.bias.detach()
    if identity_bn is not None:
        if dense_conv.in_channels != dense_conv.out_channels or dense_conv.stride != (1, 1):
            raise ValueError("an identity branch needs equal input and output widths and stride 1")
        scale, shift = _bn_scale_shift(identity_bn)
        per_group = dense_conv.in_channels // dense_conv.groups
        channels = torch.arange(dense_conv.out_channels, device=weight.device)
        identity = torch.zeros_like(weight)
        identity[channels, channels % per_group, centre[0], centre[1]] = 1.0
        weight += identity * scale.reshape(-1, 1, 1, 1).to(weight.dtype)
        bias += shift.to(bias.dtype)
    merged.weight = nn.Parameter(weight)
    merged.bias = nn.Parameter(bias)
    return merged


# -------------------------------------------------------------------------------- channel padding


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


class PaddedConv(nn.Module):
    """A convolution whose channel counts are padded with zeros: same outputs, aligned shapes.

    The input gains zero channels (one copy kernel) when `in_channels` is padded; the padded
    output channels are computed (zero filters) and dropped with a view.
    """

    def __init__(self, conv: nn.Conv2d, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if conv.groups != 1:
            raise ValueError("only ungrouped convolutions are padded")
        self.extra_in = in_channels - conv.in_channels
        self.out_channels = conv.out_channels
        padded = nn.Conv2d(in_channels, out_channels, **conv2d_geometry(conv),
                           bias=conv.bias is not None, padding_mode=conv.padding_mode,
                           device=conv.weight.device, dtype=conv.weight.dtype)
        _copy_into_zeros(conv, padded)
        self.conv = padded

    @property
    def weight(self) -> torch.Tensor:
        """The padded weight: what a forward reading `layer.weight.dtype` or `.device` needs."""
        return self.conv.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.extra_in:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_in))
        out: torch.Tensor = self.conv(x)
        return out[:, : self.out_channels]


def _copy_into_zeros(layer: nn.Conv2d | nn.Linear, padded: nn.Conv2d | nn.Linear) -> None:
    """`layer`'s weight and bias in the leading output/input rows of `padded`, zeros elsewhere."""
    out_channels, in_channels = layer.weight.shape[:2]
    with torch.no_grad():
        padded.weight.zero_()
        padded.weight[:out_channels, :in_channels] = layer.weight
        if layer.bias is not None and padded.bias is not None:  # padded has a bias when layer has one
            padded.bias.zero_()
            padded.bias[:out_channels] = layer.bias


class PaddedLinear(nn.Module):
    """A linear layer with zero-padded input and output features: same outputs, aligned shapes."""

    def __init__(self, linear: nn.Linear, in_features: int, out_features: int) -> None:
        super().__init__()
        self.extra_in = in_features - linear.in_features
        self.out_features = linear.out_features
        padded = nn.Linear(in_features, out_features, bias=linear.bias is not None,
                           device=linear.weight.device, dtype=linear.weight.dtype)
        _copy_into_zeros(linear, padded)
        self.linear = padded

    @property
    def weight(self) -> torch.Tensor:
        return self.linear.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.extra_in:
            x = F.pad(x, (0, self.extra_in))
        out: torch.Tensor = self.linear(x)
        return out[..., : self.out_features]


def pad_channels(layer: nn.Module, in_multiple: int = 1, out_multiple: int = 1) -> nn.Module:
    """`layer` (an ungrouped Conv2d or a Linear) with its input and output channels rounded up to
    the multiples, computing the same outputs; the layer itself when nothing needs padding."""
    if isinstance(layer, nn.Conv2d):
        c_in, c_out = layer.in_channels, layer.out_channels
        padded_in, padded_out = round_up(c_in, in_multiple), round_up(c_out, out_multiple)
        return layer if (padded_in, padded_out) == (c_in, c_out) else PaddedConv(layer, padded_in, padded_out)
    if isinstance(layer, nn.Linear):
        c_in, c_out = layer.in_features, layer.out_features
        padded_in, padded_out = round_up(c_in, in_multiple), round_up(c_out, out_multiple)
        return layer if (padded_in, padded_out) == (c_in, c_out) else PaddedLinear(layer, padded_in, padded_out)
    raise ValueError(f"cannot pad the channels of a {type(layer).__name__}: a Conv2d or a Linear is needed")


# ---------------------------------------------------------------------------- horizontal fusion


def merge_parallel_convs(convs: Sequence[nn.Conv2d]) -> nn.Conv2d:
    """One convolution computing every conv of `convs` on the same input, their outputs stacked
    along the channels in order (split them with `torch.split(y, widths, dim=1)`): TensorRT's
    horizontal fusion. The convs must agree on everything but their output widths."""
    first = convs[0]
    for conv in convs[1:]:
        if (conv.in_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups, conv.padding_mode,
                conv.bias is None) != (first.in_channels, first.kernel_size, first.stride, first.padding, first.dilation,
                                       first.groups, first.padding_mode, first.bias is None):
            raise ValueError("parallel convolutions merge only when they agree on all but their output widths")
    if first.groups != 1:
        raise ValueError("only ungrouped convolutions are merged")
    merged = nn.Conv2d(first.in_channels, sum(c.out_channels for c in convs), **conv2d_geometry(first),
                       bias=first.bias is not None, padding_mode=first.padding_mode,
                       device=first.weight.device, dtype=first.weight.dtype)
    with torch.no_grad():
        merged.weight.copy_(torch.cat([c.weight for c in convs]))
        if merged.bias is not None:  # all of them have a bias (checked above)
            merged.bias.copy_(torch.cat([c.bias for c in convs if c.bias is not None]))
    return merged


# ----------------------------------------------------------------------- equal-FLOPs design changes


def _scaled_width(width: int, factor: float, multiple: int) -> int:
    return max(multiple, round(width * factor / multiple) * multiple)


def change_groups(conv: nn.Conv2d, groups: int) -> nn.Conv2d:
    """A new (untrained) conv with `groups` groups at the FLOPs of `conv`, as ShuffleNet V2's G2
    experiment builds it: FLOPs ∝ c_in·c_out/g, so both widths scale by sqrt(groups/conv.groups)
    (rounded to a multiple of `groups`). A design change: the widths, hence the neighbours' widths,
    change."""
    if groups < 1:
        raise ValueError(f"groups must be 1 or more, got {groups}")
    factor = math.sqrt(groups / conv.groups)
    c_in, c_out = _scaled_width(conv.in_channels, factor, groups), _scaled_width(conv.out_channels, factor, groups)
    return nn.Conv2d(c_in, c_out, **conv2d_geometry(conv), groups=groups,
                     bias=conv.bias is not None, device=conv.weight.device, dtype=conv.weight.dtype)


def balance_widths(layer: nn.Module) -> nn.Conv2d | nn.Linear:
    """A new (untrained) layer with equal input and output widths c = sqrt(c_in·c_out) (rounded),
    hence about the same FLOPs: ShuffleNet V2's G1 (equal widths minimise memory access at equal
    FLOPs). A design change: the widths change."""
    if isinstance(layer, nn.Conv2d):
        width = max(1, round(math.sqrt(layer.in_channels * layer.out_channels / layer.groups ** 2))) * layer.groups
        return nn.Conv2d(width, width, **conv2d_geometry(layer), groups=layer.groups,
                         bias=layer.bias is not None, device=layer.weight.device, dtype=layer.weight.dtype)
    if isinstance(layer, nn.Linear):
        width = max(1, round(math.sqrt(layer.in_features * layer.out_features)))
        return nn.Linear(width, width, bias=layer.bias is not None, device=layer.weight.device, dtype=layer.weight.dtype)
    raise ValueError(f"cannot balance a {type(layer).__name__}: a Conv2d or a Linear is needed")


# ------------------------------------------------------------------------ separable <-> standard


def separable_to_standard(depthwise: nn.Conv2d, pointwise: nn.Conv2d) -> nn.Conv2d:
    """The standard KxK conv equal to pointwise(depthwise(x)) when nothing runs between them:
    W[o, i] = P[o, i]·D[i] and b = P·b_D + b_P (the depthwise conv may have a channel multiplier)."""
    if depthwise.groups != depthwise.in_channels:
        raise ValueError("the first conv must be depthwise (groups == in_channels)")
    if pointwise.kernel_size != (1, 1) or pointwise.groups != 1 or pointwise.stride != (1, 1) or pointwise.padding != (0, 0):
        raise ValueError("the second conv must be a 1x1, stride 1, ungrouped conv without padding")
    if pointwise.in_channels != depthwise.out_channels:
        raise ValueError(f"the pointwise conv reads {pointwise.in_channels} channels, the depthwise conv writes {depthwise.out_channels}")
    multiplier = depthwise.out_channels // depthwise.in_channels
    standard = nn.Conv2d(depthwise.in_channels, pointwise.out_channels, **conv2d_geometry(depthwise),
                         bias=depthwise.bias is not None or pointwise.bias is not None,
                         padding_mode=depthwise.padding_mode, device=depthwise.weight.device, dtype=depthwise.weight.dtype)
    with torch.no_grad():
        p = pointwise.weight[:, :, 0, 0]  # (c_out, c_in·multiplier)
        d = depthwise.weight[:, 0]  # (c_in·multiplier, K, K); output channel j reads input channel j // multiplier
        combined = p[:, :, None, None] * d[None]  # (c_out, c_in·multiplier, K, K)
        standard.weight.copy_(combined.reshape(p.shape[0], depthwise.in_channels, multiplier, *d.shape[1:]).sum(2))
        if standard.bias is not None:
            bias = torch.zeros(pointwise.out_channels, dtype=p.dtype, device=p.device)
            if depthwise.bias is not None:
                bias += p @ depthwise.bias
            if pointwise.bias is not None:
                bias += pointwise.bias
            standard.bias.copy_(bias)
    return standard


def standard_to_separable(conv: nn.Conv2d) -> nn.Sequential:
    """A new (untrained) depthwise KxK + pointwise 1x1 pair with the interface of `conv`
    (MobileNet's factorisation). A design change: it computes a different, cheaper function."""
    if conv.groups != 1:
        raise ValueError("only an ungrouped convolution factorises into depthwise + pointwise")
    device, dtype = conv.weight.device, conv.weight.dtype
    return nn.Sequential(
        nn.Conv2d(conv.in_channels, conv.in_channels, **conv2d_geometry(conv),
                  groups=conv.in_channels, bias=False, padding_mode=conv.padding_mode, device=device, dtype=dtype),
        nn.Conv2d(conv.in_channels, conv.out_channels, 1, bias=conv.bias is not None, device=device, dtype=dtype),
    )
