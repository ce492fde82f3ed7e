"""The advice rules, registered in one place (`RULES`). Each is a function of an `AdviceContext`
(the model, its profile and the data flow between its kernels) returning findings, each priced by
profiling the changed model, or the changed part, with the same engine and spec.
docs/advise.md gives every rule's source, evidence, pricing and limits."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .. import transforms
from ..events import TensorMeta
from ..units import format_seconds
from ..vocabulary import ConvKind, KernelFamily
from .context import AdviceContext, Key, estimate_of, report_cost
from .findings import Cost, Finding

__all__ = ["RULES", "Rule", "deployed_blocks", "rule"]

Check = Callable[[AdviceContext], list[Finding]]


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    source: str
    check: Check


RULES: dict[str, Rule] = {}


def rule(name: str, title: str, source: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        if name in RULES:
            raise ValueError(f"advice rule '{name}' registered twice")
        RULES[name] = Rule(name, title, source, check)
        return check

    return register


# ---------------------------------------------------------------------------------------- helpers


_Module = TypeVar("_Module", bound=nn.Module)


def _module_as(ctx: AdviceContext, index: int, kind: type[_Module]) -> _Module:
    """The module that ran kernel `index`, which a rule already found to be a `kind`."""
    module = ctx.module(ctx.module_of(index))
    if not isinstance(module, kind):
        raise RuntimeError(f"advise: kernel {index} ran in a {type(module).__name__}, not a {kind.__name__}")
    return module


def _conv2d(ctx: AdviceContext, index: int) -> nn.Conv2d | None:
    """The Conv2d module that ran conv kernel `index`, if it ran once and is a plain 2-D conv."""
    if ctx.family(index) is not KernelFamily.CONV:
        return None
    path = ctx.module_of(index)
    if not path or not ctx.called_once(path):
        return None
    module = ctx.module(path)
    return module if isinstance(module, nn.Conv2d) and not module.transposed else None


def _linear(ctx: AdviceContext, index: int) -> nn.Linear | None:
    if ctx.family(index) is not KernelFamily.MATMUL:
        return None
    path = ctx.module_of(index)
    if not path or not ctx.called_once(path):
        return None
    module = ctx.module(path)
    return module if isinstance(module, nn.Linear) else None


def _batch_norm(ctx: AdviceContext, index: int | None) -> _BatchNorm | None:
    if index is None or ctx.family(index) is not KernelFamily.NORM:
        return None
    path = ctx.module_of(index)
    module = ctx.module(path) if path else None
    return module if isinstance(module, _BatchNorm) and ctx.called_once(path) else None


def _input_shape(ctx: AdviceContext, index: int) -> tuple[int, ...]:
    """The input of a conv kernel; of a linear layer's matmul, its output's rows by the layer's inputs
    (addmm's first argument is the bias)."""
    module = ctx.module(ctx.module_of(index))
    if isinstance(module, nn.Linear):
        return _with_channels(ctx.kernels[index].event.outputs[0].shape, module.in_features, -1)
    x: TensorMeta = ctx.kernels[index].event.args[0]
    return x.shape


def _output_positions(ctx: AdviceContext, index: int, channels: int) -> int:
    """Output positions of a layer (batch x spatial, or batch x tokens): elements / channels."""
    return ctx.kernels[index].event.outputs[0].numel // channels


def _with_channels(shape: Sequence[int], channels: int, dim: int) -> tuple[int, ...]:
    changed = list(shape)
    changed[dim] = channels
    return tuple(changed)


def _conv_bn_pairs(ctx: AdviceContext) -> list[tuple[int, int]]:
    """(conv kernel, BN kernel): a Conv2d whose output only an eval-mode BN module reads."""
    pairs = []
    for index in range(len(ctx.kernels)):
        conv = _conv2d(ctx, index)
        reader = ctx.sole_reader(index) if conv is not None else None
        bn = _batch_norm(ctx, reader)
        if conv is not None and reader is not None and bn is not None and bn.num_features == conv.out_channels:
            pairs.append((index, reader))
    return pairs


def _us(seconds: float) -> str:
    return format_seconds(abs(seconds))


def _verdict(before: Cost, after: Cost) -> str:
    saving = before.latency_s - after.latency_s
    return f"saves {_us(saving)}" if saving > 0 else f"costs {_us(saving)} more"


# ------------------------------------------------------------------------------------------ G1


def _mac_1x1(positions: int, c_in: int, c_out: int, groups: int = 1) -> int:
    """ShuffleNet V2's memory access cost of a 1x1 conv, in elements: hw(c1 + c2) + c1·c2/g."""
    return positions * (c_in + c_out) + c_in * c_out // groups


@rule("G1", "Equal channel widths minimise memory access (1x1 convs and linear layers)",
      "ShuffleNet V2 (Ma et al., ECCV 2018), guideline G1 and Table 1")
def equal_widths(ctx: AdviceContext) -> list[Finding]:
    findings = []
    for index in range(len(ctx.kernels)):
        conv, linear = _conv2d(ctx, index), _linear(ctx, index)
        layer: nn.Conv2d | nn.Linear
        if conv is not None and conv.kernel_size == (1, 1) and conv.groups == 1:
            layer, c_in, c_out, channel_dim = conv, conv.in_channels, conv.out_channels, 1
        elif linear is not None:
            layer, c_in, c_out, channel_dim = linear, linear.in_features, linear.out_features, -1
        else:
            continue
        if c_in == c_out:
            continue
        path = ctx.module_of(index)
        positions = _output_positions(ctx, index, c_out)
        balanced = transforms.balance_widths(layer)
        width = balanced.in_channels if isinstance(balanced, nn.Conv2d) else balanced.in_features
        mac, mac_balanced = _mac_1x1(positions, c_in, c_out), _mac_1x1(positions, width, width)
        if mac_balanced >= mac:  # nearly balanced already: rounding the width gains nothing
            continue
        shape = _input_shape(ctx, index)
        before = ctx.price_part(layer, shape)
        after = ctx.price_part(balanced, _with_channels(shape, width, channel_dim))
        findings.append(ctx.finding(
            "G1", [path],
            f"{c_in} -> {c_out} channels (1:{c_out / c_in:.3g}); at equal FLOPs, {width} -> {width} moves "
            f"{1 - mac_balanced / mac:.1%} less memory: {_verdict(before, after)} on this layer",
            {"in_channels": c_in, "out_channels": c_out, "positions": positions,
             "mac_elements": mac, "balanced_width": width, "balanced_mac_elements": mac_balanced,
             "latency_share": ctx.share(ctx.layer_cost(path)),
             "priced": "the layer alone, as it is and with equal widths, same engine and spec"},
            before, after,
        ))
    return findings


# ------------------------------------------------------------------------------------------ G2


def _mac_conv(positions_in: int, positions_out: int, kernel: int, c_in: int, c_out: int, groups: int) -> int:
    """Memory access of a KxK conv in elements: its input, its output and its weights (K²·c1·c2/g);
    ShuffleNet V2's hw(c1 + c2) + c1·c2/g at 1x1, stride 1."""
    return positions_in * c_in + positions_out * c_out + kernel * c_in * c_out // groups


@rule("G2", "Too many groups raise memory access at equal FLOPs",
      "ShuffleNet V2 (Ma et al., ECCV 2018), guideline G2 and Table 2")
def group_count(ctx: AdviceContext) -> list[Finding]:
    findings = []
    for index in range(len(ctx.kernels)):
        conv = _conv2d(ctx, index)
        if conv is None or not 1 < conv.groups < conv.in_channels:
            continue
        path = ctx.module_of(index)
        fewer = transforms.change_groups(conv, 1)
        shape = _input_shape(ctx, index)
        positions_in = math.prod(shape) // conv.in_channels
        positions_out = _output_positions(ctx, index, conv.out_channels)
        kernel = math.prod(conv.kernel_size)

        before = ctx.price_part(conv, shape)
        after = ctx.price_part(fewer, _with_channels(shape, fewer.in_channels, 1))
        findings.append(ctx.finding(
            "G2", [path],
            f"{conv.groups} groups on {conv.in_channels} -> {conv.out_channels} channels; at equal FLOPs an ungrouped "
            f"{fewer.in_channels} -> {fewer.out_channels} conv {_verdict(before, after)} on this layer",
            {"groups": conv.groups, "in_channels": conv.in_channels, "out_channels": conv.out_channels,
             "mac_elements": _mac_conv(positions_in, positions_out, kernel, conv.in_channels, conv.out_channels, conv.groups),
             "equal_flops_groups": 1, "equal_flops_in_channels": fewer.in_channels,
             "equal_flops_out_channels": fewer.out_channels,
             "equal_flops_mac_elements": _mac_conv(positions_in, positions_out, kernel, fewer.in_channels, fewer.out_channels, 1),
             "latency_share": ctx.share(ctx.layer_cost(path)),
             "priced": "the layer alone, as it is and ungrouped at equal FLOPs, same engine and spec"},
            before, after,
        ))
    return findings


# ------------------------------------------------------------------------------------------ G3


class _Branches(nn.Module):
    """Parallel convolutions reading one input, run one after another (as eager PyTorch does)."""

    def __init__(self, convs: Sequence[nn.Module]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(conv(x) for conv in self.convs)


class _MergedBranches(nn.Module):
    """The same branches as one wider convolution whose output is split (views, no copy)."""

    def __init__(self, merged: nn.Conv2d, widths: Sequence[int]) -> None:
        super().__init__()
        self.merged, self.widths = merged, list(widths)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(self.merged(x), self.widths, dim=1)


def _conv_signature(conv: nn.Conv2d) -> tuple[Hashable, ...]:
    return (conv.in_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups,
            conv.padding_mode, conv.bias is not None)


@rule("G3", "Fragmentation lowers parallelism: parallel convolutions on one input can run as one",
      "ShuffleNet V2 guideline G3 and Table 3; TensorRT's horizontal fusion")
def fragmentation(ctx: AdviceContext) -> list[Finding]:
    by_input: dict[tuple[Key, tuple[Hashable, ...]], list[int]] = {}
    for index in range(len(ctx.kernels)):
        conv = _conv2d(ctx, index)
        keys = ctx.input_keys(index)
        if conv is not None and conv.groups == 1 and keys:
            by_input.setdefault((keys[0], _conv_signature(conv)), []).append(index)
    findings = []
    for indices in by_input.values():
        if len(indices) < 2:
            continue
        convs = [_module_as(ctx, i, nn.Conv2d) for i in indices]
        widths = [conv.out_channels for conv in convs]
        shape = _input_shape(ctx, indices[0])
        before = ctx.price_part(_Branches(convs), shape)
        after = ctx.price_part(_MergedBranches(transforms.merge_parallel_convs(convs), widths), shape)
        branches = ctx.cost_of(indices)
        paths = [ctx.module_of(i) for i in indices]
        findings.append(ctx.finding(
            "G3", paths,
            f"{len(indices)} parallel {convs[0].kernel_size[0]}x{convs[0].kernel_size[1]} convs read the same input: "
            f"one {sum(widths)}-channel conv split into {len(indices)} views {_verdict(before, after)}",
            {"branches": len(indices), "out_channels": widths, "launches_before": len(indices), "launches_after": 1,
             "latency_share": ctx.share(branches),
             "launch_time_s": len(indices) * ctx.hardware.launch_overhead_s,
             "priced": "the branches alone, as they are and merged into one conv, same engine and spec"},
            before, after,
        ))
    return findings


# ------------------------------------------------------------------------------------------ G4


def _fold_bn_finding(ctx: AdviceContext, pairs: list[tuple[int, int]]) -> Finding | None:
    paths = [(ctx.module_of(c), ctx.module_of(b)) for c, b in pairs]
    bn_cost = ctx.cost_of([b for _, b in pairs])
    folded_report = ctx.try_profile(transforms.fold_batch_norms(ctx.model, paths), "G4", [bn for _, bn in paths])
    if folded_report is None:
        return None
    folded = report_cost(folded_report)
    return ctx.finding(
        "G4", [bn for _, bn in paths],
        f"fold {len(pairs)} batch norms into the convolutions before them (w' = w·γ/σ, b' = β + (b - μ)·γ/σ): "
        f"BN kernels take {ctx.share(bn_cost):.1%} of the latency; folding {_verdict(ctx.base, folded)}",
        {"batch_norms": len(pairs), "batch_norm_latency_s": bn_cost.latency_s, "batch_norm_bytes": bn_cost.bytes,
         "batch_norm_share": ctx.share(bn_cost),
         "priced": "the whole model with the batch norms folded (transforms.fold_batch_norms), same engine and spec"},
        ctx.base, folded,
    )


@rule("G4", "Element-wise ops are not negligible: fold BN, fuse activations and residual adds",
      "ShuffleNet V2 guideline G4 and Table 4; conv+BN folding and TensorRT's CBR fusion")
def elementwise(ctx: AdviceContext) -> list[Finding]:
    findings = []
    pairs = _conv_bn_pairs(ctx)
    folded_model = ctx.model
    fold = _fold_bn_finding(ctx, pairs) if pairs else None
    if fold is not None:
        findings.append(fold)
        folded_model = transforms.fold_batch_norms(ctx.model, [(ctx.module_of(c), ctx.module_of(b)) for c, b in pairs])
    element = [i for i in range(len(ctx.kernels)) if ctx.family(i) is KernelFamily.ELEMENTWISE]
    if not element:
        return findings
    eager = ctx.profile(folded_model)
    fused = ctx.profile(folded_model, fuse=True)
    absorbed = sorted(estimate_of(fused).fused_into)
    if not absorbed:
        return findings
    element_cost = ctx.cost_of(element)
    activations = sum(1 for i in element if ctx.is_activation(i))
    before, after = report_cost(eager), report_cost(fused)
    findings.append(ctx.finding(
        "G4", absorbed,
        f"{len(element)} element-wise kernels ({activations} activations) take {ctx.share(element_cost):.1%} of the latency; "
        f"a fused engine (TensorRT-style conv+bias+activation+residual) absorbs the ops of {len(absorbed)} modules: "
        f"{_verdict(before, after)}" + (" after folding BN" if fold else ""),
        {"elementwise_kernels": len(element), "activations": activations,
         "elementwise_latency_s": element_cost.latency_s, "elementwise_bytes": element_cost.bytes,
         "elementwise_share": ctx.share(element_cost), "fused_chains": len(set(estimate_of(fused).fused_into.values())),
         "priced": "the model" + (" with BN folded" if fold else "") + " eager against the same with --fuse, same engine and spec"},
        before, after,
    ))
    return findings


# ---------------------------------------------------------------------------------- alignment


@rule("alignment", "Channel counts the matrix engine wants for the dtype",
      "HiSilicon NNIE: inputs in multiples of 4, outputs of 16; MobileDets: multiples of 8; "
      "NVIDIA cuDNN/cuBLAS: 16-byte multiples")
def alignment(ctx: AdviceContext) -> list[Finding]:
    wanted = ctx.hardware.alignment(ctx.estimate.dtype)
    if wanted is None:
        return []
    # layers of one shape are one finding, priced together: a stage of 58-channel layers is one design choice
    groups: dict[tuple[str, int, int], list[tuple[str, nn.Module]]] = {}
    for index in range(len(ctx.kernels)):
        conv, linear = _conv2d(ctx, index), _linear(ctx, index)
        layer = conv if conv is not None and conv.groups == 1 else linear
        if layer is None or ctx.unit(index) != "matrix":
            continue
        c_in = layer.in_channels if isinstance(layer, nn.Conv2d) else layer.in_features
        c_out = layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features
        if c_in % wanted.input or c_out % wanted.output:
            groups.setdefault((type(layer).__name__, c_in, c_out), []).append((ctx.module_of(index), layer))
    dtype = ctx.estimate.dtype
    matrix_engine = ctx.hardware.matrix_engine
    engine = matrix_engine.name if matrix_engine else "matrix engine"
    findings = []
    for (_, c_in, c_out), members in groups.items():
        paths = [path for path, _ in members]
        padded_in, padded_out = transforms.round_up(c_in, wanted.input), transforms.round_up(c_out, wanted.output)
        padded = ctx.try_profile(transforms.replace_modules(
            ctx.model, {path: transforms.pad_channels(layer, wanted.input, wanted.output) for path, layer in members}),
            "alignment", paths)
        if padded is None:
            continue
        after = report_cost(padded)
        sides = [f"input channels {c_in} -> {padded_in}" if padded_in != c_in else "",
                 f"output channels {c_out} -> {padded_out}" if padded_out != c_out else ""]
        count = f"{len(paths)} layers: " if len(paths) > 1 else ""
        findings.append(ctx.finding(
            "alignment", paths,
            f"{count}{' and '.join(s for s in sides if s)} (the {engine} want multiples of {wanted.input} in / "
            f"{wanted.output} out in {dtype}): zero-padding {_verdict(ctx.base, after)}",
            {"layers": len(paths), "in_channels": c_in, "out_channels": c_out, "input_multiple": wanted.input,
             "output_multiple": wanted.output, "padded_in_channels": padded_in, "padded_out_channels": padded_out,
             "dtype": dtype, "alignment_source": wanted.source,
             "latency_share": ctx.share(ctx.cost_of([i for i, k in enumerate(ctx.kernels) if k.module in paths])),
             "priced": "the whole model with these layers zero-padded (transforms.pad_channels), same engine and spec"},
            ctx.base, after,
        ))
    return findings


# ---------------------------------------------------------------------------------- separable


def _separable_chain(ctx: AdviceContext, index: int) -> list[int] | None:
    """[depthwise, (BN), (activation), pointwise] kernel indices, each the only reader of the last."""
    chain = [index]
    current = index
    for _ in range(3):
        nxt = ctx.sole_reader(current)
        if nxt is None:
            return None
        conv = _conv2d(ctx, nxt)
        if conv is not None:
            if conv.kernel_size == (1, 1) and conv.groups == 1 and conv.stride == (1, 1) and conv.padding == (0, 0):
                return chain + [nxt]
            return None
        if _batch_norm(ctx, nxt) is None and not ctx.is_activation(nxt):
            return None
        chain.append(nxt)
        current = nxt
    return None


@rule("separable", "Low channel counts: a standard convolution can beat a depthwise-separable pair",
      "MobileDets (Xiong et al., CVPR 2021)")
def separable(ctx: AdviceContext) -> list[Finding]:
    findings = []
    for index in range(len(ctx.kernels)):
        depthwise = _conv2d(ctx, index)
        if depthwise is None or ctx.kernels[index].cost.conv_kind is not ConvKind.DEPTHWISE:
            continue
        chain = _separable_chain(ctx, index)
        if chain is None:
            continue
        pointwise = _module_as(ctx, chain[-1], nn.Conv2d)
        standard = nn.Conv2d(depthwise.in_channels, pointwise.out_channels, **transforms.conv2d_geometry(depthwise),
                             bias=False, device="meta")
        paths = [ctx.module_of(i) for i in chain]
        replacements: dict[str, nn.Module] = {paths[0]: standard, paths[-1]: nn.Identity()}
        for index_in_chain, path in zip(chain[1:-1], paths[1:-1]):
            # a BN or activation module goes with the pair; a functional activation (in a forward that
            # does more) stays where it is
            own = [i for i, k in enumerate(ctx.kernels) if k.module == path and k.cost.engine != "none"]
            if ctx.is_leaf(path) and ctx.called_once(path) and own == [index_in_chain]:
                replacements[path] = nn.Identity()
        after_report = ctx.try_profile(transforms.replace_modules(ctx.model, replacements), "separable", paths)
        if after_report is None:
            continue
        after = report_cost(after_report)
        if after.latency_s >= ctx.base.latency_s:
            continue
        pair = ctx.cost_of(chain)
        after_kernels = estimate_of(after_report).kernels
        standard_cost = sum(k.latency_s for k in after_kernels if k.module == paths[0])
        findings.append(ctx.finding(
            "separable", paths,
            f"{depthwise.in_channels} -> {pointwise.out_channels} channels, {depthwise.kernel_size[0]}x{depthwise.kernel_size[1]} "
            f"depthwise + 1x1: one standard {depthwise.kernel_size[0]}x{depthwise.kernel_size[1]} conv (then the pointwise "
            f"conv's BN and activation) {_verdict(ctx.base, after)}",
            {"in_channels": depthwise.in_channels, "out_channels": pointwise.out_channels,
             "kernel": list(depthwise.kernel_size), "stride": list(depthwise.stride),
             "separable_flops": sum(ctx.kernels[i].cost.flops for i in chain),
             "standard_flops": next(k.flops for k in after_kernels if k.module == paths[0]),
             "separable_latency_s": pair.latency_s, "standard_latency_s": standard_cost,
             "latency_share": ctx.share(pair),
             "priced": "the whole model with this pair replaced by a standard conv, same engine and spec"},
            ctx.base, after,
        ))
    return findings


# --------------------------------------------------------------------------------- re-param


@dataclass(frozen=True)
class _RepBlock:
    path: str
    dense: tuple[int, int]
    pointwise: tuple[int, int] | None
    identity: int | None
    adds: tuple[int, ...]
    activation: int | None


def _common_parent(paths: Sequence[str]) -> str:
    parts = [p.split(".") for p in paths]
    common: list[str] = []
    for names in zip(*parts):
        if len(set(names)) != 1:
            break
        common.append(names[0])
    return ".".join(common)


def _sum_tree(ctx: AdviceContext, branches: list[int]) -> tuple[list[int], int] | None:
    """The add kernels summing the branch kernels' outputs, and the kernel holding the sum."""
    pending = {ctx.flow.output_key[b] for b in branches}
    adds: list[int] = []
    while len(pending) > 1:
        readers = {ctx.sole_reader(ctx.producers[key]) for key in pending}
        step = next((r for r in readers if r is not None and ctx.op(r) == "add"
                     and set(ctx.input_keys(r)) <= pending and len(ctx.input_keys(r)) == 2), None)
        if step is None:
            return None
        adds.append(step)
        pending = (pending - set(ctx.input_keys(step))) | {ctx.flow.output_key[step]}
    last = adds[-1] if adds else None
    return (adds, last) if last is not None else None


def _rep_blocks(ctx: AdviceContext) -> list[_RepBlock]:
    pairs = {conv: bn for conv, bn in _conv_bn_pairs(ctx)}
    blocks = []
    for conv_index, bn_index in pairs.items():
        dense = _module_as(ctx, conv_index, nn.Conv2d)
        k_h, k_w = dense.kernel_size
        if k_h < 3 or k_h % 2 == 0 or k_w % 2 == 0 or dense.padding != (k_h // 2, k_w // 2) or dense.dilation != (1, 1):
            continue
        source = ctx.input_keys(conv_index)[0]
        pointwise = identity = None
        for reader in ctx.readers(source):
            conv = _conv2d(ctx, reader)
            if reader in pairs and conv is not None and conv.kernel_size == (1, 1) and conv.padding == (0, 0) \
                    and conv.stride == dense.stride and conv.groups == dense.groups and conv.out_channels == dense.out_channels:
                pointwise = (reader, pairs[reader])
            bn = _batch_norm(ctx, reader)
            if bn is not None and ctx.input_keys(reader)[0] == source and dense.stride == (1, 1) \
                    and bn.num_features == dense.in_channels == dense.out_channels:
                identity = reader
        branches = [bn_index] + ([pointwise[1]] if pointwise else []) + ([identity] if identity is not None else [])
        if len(branches) < 2:
            continue
        tree = _sum_tree(ctx, branches)
        if tree is None:
            continue
        adds, last = tree
        after_sum = ctx.sole_reader(last)
        activation = after_sum if after_sum is not None and ctx.is_activation(after_sum) else None
        members = [conv_index, bn_index, *(pointwise or ()), *([identity] if identity is not None else []), *adds,
                   *([activation] if activation is not None else [])]
        path = _common_parent([ctx.module_of(i) for i in members])
        inside = [i for i, k in enumerate(ctx.kernels) if k.cost.engine != "none"
                  and (k.module == path or k.module.startswith(path + "."))]
        if not path or sorted(inside) != sorted(members) or not ctx.called_once(path):
            continue  # the block does more than the branches and their sum: not a RepVGG block
        blocks.append(_RepBlock(path, (conv_index, bn_index), pointwise, identity, tuple(adds), activation))
    return blocks


_ACTIVATION_MODULES: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid,
    "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid, "tanh": nn.Tanh, "mish": nn.Mish, "elu": nn.ELU,
}


def _deployed_block(ctx: AdviceContext, block: _RepBlock) -> nn.Module | None:
    def conv(index: int) -> nn.Conv2d:
        return _module_as(ctx, index, nn.Conv2d)

    def bn(index: int) -> _BatchNorm:
        return _module_as(ctx, index, _BatchNorm)

    merged = transforms.merge_repvgg_branches(
        conv(block.dense[0]), bn(block.dense[1]),
        conv(block.pointwise[0]) if block.pointwise else None, bn(block.pointwise[1]) if block.pointwise else None,
        bn(block.identity) if block.identity is not None else None,
    )
    if block.activation is None:
        return merged
    path = ctx.module_of(block.activation)
    if path != block.path and ctx.is_leaf(path):
        return nn.Sequential(merged, copy.deepcopy(ctx.module(path)))
    make = _ACTIVATION_MODULES.get(ctx.op(block.activation))
    return nn.Sequential(merged, make()) if make is not None else None


def deployed_blocks(ctx: AdviceContext, blocks: Sequence[_RepBlock] | None = None) -> dict[str, nn.Module]:
    """{block path: its merged KxK conv (+ activation)} for the RepVGG-style blocks of the model."""
    found = {}
    for block in _rep_blocks(ctx) if blocks is None else blocks:
        deployed = _deployed_block(ctx, block)
        if deployed is not None:
            found[block.path] = deployed
    return found


@rule("reparam", "Multi-branch training blocks (KxK + 1x1 + identity, each with BN) become one KxK conv",
      "RepVGG (Ding et al., CVPR 2021): structural re-parameterisation")
def reparameterisation(ctx: AdviceContext) -> list[Finding]:
    blocks = _rep_blocks(ctx)
    replacements = deployed_blocks(ctx, blocks)
    if not replacements:
        return []
    merged = ctx.try_profile(transforms.replace_modules(ctx.model, replacements), "reparam", list(replacements))
    if merged is None:
        return []
    after = report_cost(merged)
    branch_kernels = sum(2 + (2 if b.pointwise else 0) + (1 if b.identity is not None else 0) + len(b.adds)
                         for b in blocks if b.path in replacements)
    return [ctx.finding(
        "reparam", list(replacements),
        f"re-parameterise {len(replacements)} multi-branch blocks into one conv each for inference "
        f"(transforms.merge_repvgg_branches, exact in eval mode): {_verdict(ctx.base, after)}",
        {"blocks": len(replacements), "branch_kernels": branch_kernels, "kernels_after": len(replacements),
         "priced": "the whole model with every block merged, same engine and spec"},
        ctx.base, after,
    )]


# ------------------------------------------------------------------------------------- concat


def _writes_whole(ctx: AdviceContext, key: Key, numel: int, reader: int) -> bool:
    producer = ctx.producers.get(key)
    return (producer is not None and ctx.sole_reader(producer) == reader
            and ctx.kernels[producer].event.outputs[0].numel == numel)


@rule("concat", "Concatenations whose copy a fused engine eliminates",
      "TensorRT's concat elimination")
def concat(ctx: AdviceContext) -> list[Finding]:
    eliminable = []
    for index in range(len(ctx.kernels)):
        if ctx.op(index) != "cat" or index not in ctx.kernel_costs:
            continue
        inputs = ctx.flow.inputs.get(index, {})
        # each input must be the whole output of a kernel that nothing else reads: that kernel can
        # write straight into its slice of the concatenation (a view of a larger tensor cannot)
        if inputs and all(_writes_whole(ctx, key, meta.numel, index) for key, meta in inputs.items()):
            eliminable.append(index)
    if not eliminable:
        return []
    copies = ctx.cost_of(eliminable)
    return [ctx.finding(
        "concat", sorted({ctx.module_of(i) or "(root)" for i in eliminable}),
        f"{len(eliminable)} concatenations copy {copies.bytes:,} bytes ({ctx.share(copies):.1%} of the latency); "
        f"an engine that lets each producer write into its slice of the output removes them: {_verdict(copies, Cost(0.0, 0))}",
        {"concatenations": len(eliminable), "copy_bytes": copies.bytes, "copy_latency_s": copies.latency_s,
         "latency_share": ctx.share(copies),
         "priced": "the engine's estimate of the copy kernels, taken off the model"},
        copies, Cost(0.0, 0),
    )]
