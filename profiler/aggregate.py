"""Cost every traced op and add the costs up per module.

A *layer* is a module with ops or parameters of its own; its numbers are its own (self) numbers,
so the layers add up to the totals exactly. Container rows (`Report.folded`) add up subtrees.
Parameters count once per tensor: a tied weight belongs to the first module that owns it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import Callable

import torch
from torch import nn

from .costs import OpCost, formula_for, is_free
from .events import OpEvent, TensorMeta, tensor_args
from .tracing import Roles, Trace
from .vocabulary import ConvKind

__all__ = ["Kernel", "Layer", "Totals", "Aggregate", "aggregate", "module_depth"]


@dataclass(frozen=True, slots=True)
class Kernel:
    """One costed op: what ran, where, and what it cost."""

    event: OpEvent
    cost: OpCost
    # the model's parameters and buffers the op reads, each under its storage's token (a transposed
    # weight counts as the weight): the roofline prices weights that a model too big for the
    # last-level cache brings from DRAM on every forward
    state: tuple[TensorMeta, ...] = ()

    @property
    def module(self) -> str:
        return self.event.module

    @property
    def state_bytes(self) -> int:
        return sum(t.nbytes for t in self.state)


class _Traffic:
    """Derived figures of anything with flops, bytes_read and bytes_written."""

    flops: int
    bytes_read: int
    bytes_written: int

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def intensity(self) -> float | None:
        """Arithmetic intensity in FLOP per byte moved; None when nothing moves."""
        return self.flops / self.bytes_total if self.bytes_total else None


@dataclass(frozen=True)
class Layer(_Traffic):
    name: str
    type: str
    conv_kind: ConvKind | None
    output_shape: tuple[int, ...] | None
    params: int
    buffers: int
    macs: int
    flops: int
    bytes_read: int
    bytes_written: int
    calls: int

    @property
    def depth(self) -> int:
        return module_depth(self.name)


@dataclass(frozen=True)
class Totals(_Traffic):
    params: int
    buffers: int
    macs: int
    flops: int
    bytes_read: int
    bytes_written: int


@dataclass
class Aggregate:
    kernels: list[Kernel]
    layers: list[Layer]
    totals: Totals
    unsupported_ops: dict[str, int]
    unsupported_by_module: dict[str, dict[str, int]] = field(default_factory=dict)


def module_depth(name: str) -> int:
    return 0 if not name else name.count(".") + 1


def _owned_counts(model: nn.Module, kind: str) -> dict[str, int]:
    """Elements of parameters (or buffers) per owning module, each tensor once."""
    named = model.named_parameters() if kind == "params" else model.named_buffers()
    owned: dict[str, int] = defaultdict(int)
    for full_name, tensor in named:  # remove_duplicate=True: a tied tensor appears once
        owner = full_name.rpartition(".")[0]
        owned[owner] += tensor.numel()
    return owned


def _state_read(event: OpEvent, roles: Roles) -> tuple[TensorMeta, ...]:
    read = {roles.base(t): t for t in tensor_args((event.args, event.kwargs)) if roles.is_parameter(t)}
    return tuple(replace(t, token=token) for token, t in read.items())


def cost_of(event: OpEvent) -> OpCost | None:
    formula = formula_for(event.op)
    return formula(event) if formula is not None else None


def aggregate(
    trace: Trace, model: nn.Module, dtype: torch.dtype | None = None, recost: Callable[[Kernel], OpCost] | None = None
) -> Aggregate:
    """Cost `trace` (as if floating tensors were `dtype`, when given) and sum per module.
    `recost` may re-price each costed kernel (precision per role, `precision.py`)."""
    kernels: list[Kernel] = []
    unsupported: Counter[str] = Counter()
    unsupported_by_module: dict[str, Counter[str]] = defaultdict(Counter)
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    kinds: dict[str, set[ConvKind]] = defaultdict(set)
    roles = Roles.from_trace(trace)
    for event in trace.events:
        if is_free(event.op):
            continue  # a profiler marker: no kernel, no cost
        if dtype is not None:
            event = event.remap_dtype(dtype)
        try:
            cost = cost_of(event)
        except (IndexError, AttributeError, TypeError, ValueError):
            cost = None  # an argument layout the formula does not know: report, never guess
        if cost is None:
            unsupported[event.op] += 1  # the full name: a custom op is told from an aten one
            unsupported_by_module[event.module][event.op] += 1
            continue
        if recost is not None:
            cost = recost(Kernel(event, cost))
        kernels.append(Kernel(event, cost, _state_read(event, roles)))
        row = sums[event.module]
        row[0] += cost.macs
        row[1] += cost.flops
        row[2] += cost.bytes_read
        row[3] += cost.bytes_written
        if cost.conv_kind is not None:
            kinds[event.module].add(cost.conv_kind)

    params = _owned_counts(model, "params")
    buffers = _owned_counts(model, "buffers")
    order = list(trace.module_order)
    order += [name for name in trace.module_types if name not in trace.module_calls]
    layers = []
    for name in order:
        if name not in sums and not params.get(name) and name not in unsupported_by_module:
            continue
        macs, flops, read, written = sums.get(name, (0, 0, 0, 0))
        module_kinds = kinds.get(name, set())
        layers.append(
            Layer(
                name=name,
                type=trace.module_types.get(name, "?"),
                conv_kind=next(iter(module_kinds)) if len(module_kinds) == 1 else None,
                output_shape=trace.output_shapes.get(name),
                params=params.get(name, 0),
                buffers=buffers.get(name, 0),
                macs=macs,
                flops=flops,
                bytes_read=read,
                bytes_written=written,
                calls=trace.module_calls.get(name, 0),
            )
        )
    totals = Totals(
        params=sum(params.values()),
        buffers=sum(buffers.values()),
        macs=sum(layer.macs for layer in layers),
        flops=sum(layer.flops for layer in layers),
        bytes_read=sum(layer.bytes_read for layer in layers),
        bytes_written=sum(layer.bytes_written for layer in layers),
    )
    return Aggregate(
        kernels=kernels,
        layers=layers,
        totals=totals,
        unsupported_ops=dict(unsupported.most_common()),
        unsupported_by_module={k: dict(v) for k, v in unsupported_by_module.items()},
    )
