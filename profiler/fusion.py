"""Kernel groups for the roofline: one per eager op, or TensorRT-style vertical fusion chains.

Eager PyTorch runs every op as its own kernel: a conv writes its output, batch norm reads it back
and writes another, ReLU reads and writes that. An inference compiler (TensorRT's "CBR" fusion,
seed 004) runs conv/linear + BN + bias + activation (+ a following residual add, + activation) as
one kernel:
- BN is folded into the conv's weights and a per-channel bias (w' = w·γ/σ, b' = β - μ·γ/σ), so
  its 2 FLOPs per element and its 4·C parameter reads vanish; the folded conv gains a bias
  (C_out values read, 1 FLOP per output element) when it had none.
- the chain's intermediate tensors stay in registers: neither written nor read.
- one launch for the whole chain.
A chain follows the data, not the op order: each next op must be the only reader of the previous
op's output (tensor identity tokens, versioned across in-place ops, views followed), otherwise the
intermediate must reach memory for its other readers and the chain stops. The fused kernel is
attributed to its head's module: the conv layer carries the chain's time, the BN and activation
layers carry none (`KernelGroup.members` says where their ops went).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .aggregate import Kernel
from .events import TensorMeta, tensor_args
from .vocabulary import KernelFamily, out_of_place

__all__ = ["KernelGroup", "eager_groups", "fuse_kernels", "HEAD_OPS", "ACTIVATION_OPS"]

# linear reaches the dispatcher as addmm (with bias) or mm (without); convolutions by family
HEAD_OPS = frozenset({"addmm", "mm"})
ACTIVATION_OPS = frozenset({
    "relu", "relu6", "hardtanh", "leaky_relu", "gelu", "silu", "sigmoid", "tanh", "hardswish",
    "hardsigmoid", "elu", "mish", "clamp", "clamp_min", "clamp_max", "prelu", "_prelu_kernel",
})
BATCH_NORM_OPS = frozenset({
    "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
    "cudnn_batch_norm", "miopen_batch_norm",
})


@dataclass(frozen=True)
class KernelGroup:
    """Ops that run as one kernel: one launch, one roofline term, attributed to the head's module."""

    kernels: tuple[Kernel, ...]
    flops: int
    bytes_read: int
    bytes_written: int

    @property
    def head(self) -> Kernel:
        return self.kernels[0]

    @property
    def module(self) -> str:
        return self.head.module

    @property
    def fused(self) -> bool:
        return len(self.kernels) > 1

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def members(self) -> tuple[str, ...]:
        """Modules whose ops this kernel ran, head first."""
        return tuple(dict.fromkeys(k.module for k in self.kernels))


def _single(kernel: Kernel) -> KernelGroup:
    cost = kernel.cost
    return KernelGroup((kernel,), cost.flops, cost.bytes_read, cost.bytes_written)


def eager_groups(kernels: list[Kernel]) -> list[KernelGroup]:
    """Every op its own kernel, as eager PyTorch runs them."""
    return [_single(k) for k in kernels]


# ------------------------------------------------------------------------------------- data flow

Key = tuple[int, int]  # (tensor token, version): an in-place op makes a new version


class _DataFlow:
    """Who produced and who reads each tensor version; views resolve to the tensor they alias."""

    def __init__(self, kernels: list[Kernel]) -> None:
        self.readers: dict[Key, list[int]] = {}
        self.output_key: dict[int, Key] = {}
        self.inputs: dict[int, dict[Key, TensorMeta]] = {}
        version: dict[int, int] = {}
        alias: dict[Key, Key] = {}

        def key(meta: TensorMeta) -> Key:
            found = (meta.token, version.get(meta.token, 0))
            return alias.get(found, found)

        for index, kernel in enumerate(kernels):
            event = kernel.event
            metas = [t for t in tensor_args((event.args, event.kwargs)) if t.token >= 0]
            if kernel.cost.family is KernelFamily.VIEW:
                # a view launches nothing: its readers read the tensor it aliases
                if metas and event.outputs:
                    alias[(event.outputs[0].token, 0)] = key(metas[0])
                continue
            inputs = {key(t): t for t in reversed(metas)}  # first occurrence wins
            self.inputs[index] = dict(reversed(list(inputs.items())))
            for k in self.inputs[index]:
                self.readers.setdefault(k, []).append(index)
            read_tokens = {t.token for t in metas}
            for position, out in enumerate(event.outputs):
                if event.inplace and out.token in read_tokens:
                    version[out.token] = version.get(out.token, 0) + 1
                if position == 0:
                    self.output_key[index] = key(out)

    def sole_reader(self, index: int) -> int | None:
        """The one kernel reading kernel `index`'s output, or None when zero or several do."""
        out = self.output_key.get(index)
        readers = self.readers.get(out, []) if out is not None else []
        return readers[0] if len(readers) == 1 else None

    def other_inputs(self, index: int, chain_key: Key) -> list[TensorMeta]:
        return [meta for k, meta in self.inputs.get(index, {}).items() if k != chain_key]


# ---------------------------------------------------------------------------------------- stages


def _op(kernel: Kernel) -> str:
    return out_of_place(kernel.event.name)  # a kernel has a formula, so it is an aten or prims op


def _is_head(kernel: Kernel) -> bool:
    family = kernel.cost.family
    return family is KernelFamily.CONV or (family is KernelFamily.MATMUL and _op(kernel) in HEAD_OPS)


def _is_batch_norm(kernel: Kernel) -> bool:
    # only inference BN folds: training BN computes batch statistics at run time
    return _op(kernel) in BATCH_NORM_OPS and bool(kernel.event.outputs) and not kernel.cost.training


def _add_kind(kernel: Kernel, others: list[TensorMeta]) -> str | None:
    """'bias' for an add of a broadcast (smaller) tensor, 'residual' for one of the output's size."""
    if _op(kernel) != "add" or len(others) != 1 or not kernel.event.outputs:
        return None
    out = kernel.event.outputs[0]
    if others[0].numel == out.numel:
        return "residual"
    return "bias" if others[0].numel < out.numel else None


# head -> [BN] -> [bias] -> [activation] -> [residual add] -> [activation], each step optional
_Stage = Callable[[Kernel, "str | None"], bool]
_STAGES: tuple[tuple[str, _Stage], ...] = (
    ("batch_norm", lambda k, add: _is_batch_norm(k)),
    ("bias", lambda k, add: add == "bias"),
    ("activation", lambda k, add: _op(k) in ACTIVATION_OPS),
    ("residual", lambda k, add: add == "residual"),
    ("activation", lambda k, add: _op(k) in ACTIVATION_OPS),
)


def _chain(head: int, kernels: list[Kernel], flow: _DataFlow, taken: set[int]) -> list[tuple[int, str]]:
    """[(index, stage)] of the ops fused behind the kernel `head` (head excluded)."""
    members: list[tuple[int, str]] = []
    stage = 0
    current = head
    while stage < len(_STAGES):
        nxt = flow.sole_reader(current)
        if nxt is None or nxt in taken:
            break
        kernel = kernels[nxt]
        add = _add_kind(kernel, flow.other_inputs(nxt, flow.output_key[current]))
        matched = next((i for i in range(stage, len(_STAGES)) if _STAGES[i][1](kernel, add)), None)
        if matched is None:
            break
        members.append((nxt, _STAGES[matched][0]))
        stage = matched + 1
        current = nxt
    return members


def _folded_bias(head: Kernel, bn: Kernel) -> tuple[int, int]:
    """(bytes read, FLOPs) the head gains from folding BN: a bias, unless it already had one."""
    if head.cost.family is KernelFamily.CONV:
        has_bias = isinstance(head.event.args[2], TensorMeta)
    else:
        has_bias = _op(head) == "addmm"
    channels = next((t for t in bn.event.args[1:5] if isinstance(t, TensorMeta)), None)
    if has_bias or channels is None:
        return 0, 0  # the folded shift replaces the existing bias at no extra cost
    return channels.nbytes, head.event.outputs[0].numel


def _fused_group(members: list[tuple[int, str]], head: int, kernels: list[Kernel], flow: _DataFlow) -> KernelGroup:
    head_kernel = kernels[head]
    flops = head_kernel.cost.flops
    read = head_kernel.cost.bytes_read
    seen = set(flow.inputs.get(head, {}))
    current = head
    for index, stage in members:
        kernel = kernels[index]
        chain_key = flow.output_key[current]
        current = index
        if stage == "batch_norm":
            # folded into the head's weights: BN's FLOPs and its 4·C parameter reads are gone
            bias_bytes, bias_flops = _folded_bias(head_kernel, kernel)
            read += bias_bytes
            flops += bias_flops
            continue
        flops += kernel.cost.flops
        for key, meta in flow.inputs.get(index, {}).items():
            if key != chain_key and key not in seen:  # the intermediate stays on chip
                seen.add(key)
                read += meta.nbytes
    tail = kernels[members[-1][0]]
    return KernelGroup(
        (head_kernel, *(kernels[i] for i, _ in members)), flops, read, tail.event.outputs[0].nbytes
    )


def fuse_kernels(kernels: list[Kernel]) -> list[KernelGroup]:
    """Kernels grouped into fused chains (head first); ops in no chain stay single kernels.

    Groups keep execution order by their head; an op joins at most one chain.
    """
    flow = _DataFlow(kernels)
    taken: set[int] = set()
    chains: dict[int, list[tuple[int, str]]] = {}
    for index, kernel in enumerate(kernels):
        if index in taken or not _is_head(kernel):
            continue
        members = _chain(index, kernels, flow, taken)
        if members:
            chains[index] = members
            taken.update(i for i, _ in members)
            taken.add(index)
    groups: list[KernelGroup] = []
    for index, kernel in enumerate(kernels):
        if index in chains:
            groups.append(_fused_group(chains[index], index, kernels, flow))
        elif index not in taken:
            groups.append(_single(kernel))
    return groups
