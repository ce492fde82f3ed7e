"""What every advice rule reads: the model (a meta copy), its profile, the data flow between its
kernels, and one way to price a change: profile the changed model, or the changed part, with the
same engine, spec, dtype and batch (`profiler.profile(..., hardware=...)`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from torch import nn

from ..aggregate import Kernel
from ..api import profile
from ..errors import EffprofError
from ..fusion import ACTIVATION_OPS, _DataFlow
from ..hardware import HardwareSpec
from ..report import Report
from ..roofline import KernelEstimate, RooflineEstimate
from ..tracing import ModelInputs
from ..vocabulary import KernelFamily
from .findings import Cost, Finding

__all__ = ["AdviceContext", "bare_op", "estimate_of", "report_cost"]


def bare_op(op: str) -> str:
    """'aten::relu_' / 'aten.relu_' / 'relu_' -> 'relu': the op whatever its spelling."""
    name = op.replace("::", ".").rsplit(".", 1)[-1]
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


def estimate_of(report: Report) -> RooflineEstimate:
    """The roofline estimate of a profile made with hardware (every profile advice prices is)."""
    if report.estimate is None:
        raise RuntimeError("advise: a profile made without hardware has no latency to price")
    return report.estimate


def report_cost(report: Report) -> Cost:
    """A profile's predicted latency and the bytes its kernels move, as the engine priced them."""
    estimate = estimate_of(report)
    return Cost(estimate.latency_s, sum(k.bytes for k in estimate.kernels))


Key = tuple[int, int]


@dataclass(frozen=True)
class AdviceContext:
    """A model and its profile on one device; rules read it and never change it."""

    model: nn.Module  # on meta: a copy of the user's model, never the model itself
    inputs: ModelInputs  # on meta, batch applied
    report: Report  # eager profile with a roofline estimate: the 'before' of every finding
    spec: HardwareSpec | None  # None: reading the model's structure only, nothing priced
    notes: list[str] = field(default_factory=list, compare=False)  # changes that could not be priced

    # ------------------------------------------------------------------------------ the model

    @property
    def dtype(self) -> str:
        return self.report.dtype

    @cached_property
    def base(self) -> Cost:
        return report_cost(self.report)

    @property
    def kernels(self) -> Sequence[Kernel]:
        return self.report.kernels

    @property
    def hardware(self) -> HardwareSpec:
        """The spec changes are priced on: only the rules that price read it (`advise` gives one)."""
        if self.spec is None:
            raise RuntimeError("advise: pricing a change needs a hardware spec")
        return self.spec

    @property
    def estimate(self) -> RooflineEstimate:
        """The eager profile's roofline estimate (there is one whenever there is a spec)."""
        return estimate_of(self.report)

    def module(self, path: str) -> nn.Module:
        return self.model.get_submodule(path)

    @cached_property
    def _calls(self) -> dict[str, int]:
        return {layer.name: layer.calls for layer in self.report.layers}

    def called_once(self, path: str) -> bool:
        return self._calls.get(path, 1) == 1

    def is_leaf(self, path: str) -> bool:
        return bool(path) and not any(True for _ in self.module(path).children())

    # ------------------------------------------------------------------------------ data flow

    @cached_property
    def flow(self) -> _DataFlow:
        return _DataFlow(list(self.kernels))

    @cached_property
    def producers(self) -> dict[Key, int]:
        return {key: index for index, key in self.flow.output_key.items()}

    def input_keys(self, index: int) -> list[Key]:
        return list(self.flow.inputs.get(index, {}))

    def sole_reader(self, index: int) -> int | None:
        return self.flow.sole_reader(index)

    def readers(self, key: Key) -> list[int]:
        return self.flow.readers.get(key, [])

    def op(self, index: int) -> str:
        return bare_op(self.kernels[index].event.op)

    def family(self, index: int) -> KernelFamily:
        return self.kernels[index].cost.family

    def is_activation(self, index: int) -> bool:
        return self.family(index) is KernelFamily.ELEMENTWISE and self.op(index) in ACTIVATION_OPS

    def module_of(self, index: int) -> str:
        return self.kernels[index].module

    # ------------------------------------------------------------------------------ latency

    @cached_property
    def kernel_estimates(self) -> dict[int, KernelEstimate]:
        """The engine's estimate of each launched kernel of the eager profile, by kernel index."""
        # eager: one estimate per launched kernel, in order; views launch nothing and have none
        launched = [index for index, kernel in enumerate(self.kernels) if kernel.cost.engine != "none"]
        estimates = self.estimate.kernels
        paired = dict(zip(launched, estimates))
        if len(launched) != len(estimates) or any(self.kernels[i].module != e.module for i, e in paired.items()):
            raise RuntimeError("advise: the eager estimate's kernels no longer pair one to one with the traced kernels")
        return paired

    @cached_property
    def kernel_costs(self) -> dict[int, Cost]:
        return {index: Cost(e.latency_s, e.bytes) for index, e in self.kernel_estimates.items()}

    def unit(self, index: int) -> str | None:
        """'matrix' or 'vector': the units the engine runs kernel `index` on."""
        estimate = self.kernel_estimates.get(index)
        return estimate.choice.unit if estimate is not None else None

    def cost_of(self, indices: Sequence[int]) -> Cost:
        costs = [self.kernel_costs[i] for i in indices if i in self.kernel_costs]
        return Cost(sum(c.latency_s for c in costs), sum(c.bytes for c in costs))

    def layer_cost(self, path: str) -> Cost:
        return self.cost_of([i for i, k in enumerate(self.kernels) if k.module == path])

    def share(self, cost: Cost) -> float:
        return cost.latency_s / self.base.latency_s if self.base.latency_s else 0.0

    # ------------------------------------------------------------------------------ pricing

    def profile(self, model: nn.Module, inputs: Any = None, *, fuse: bool = False) -> Report:
        """`model` (or a part, with its own `inputs`) profiled exactly as the user's model was."""
        return profile(model, self.inputs if inputs is None else inputs, dtype=self.dtype,
                       hardware=self.spec, fuse=fuse, allow_real=False)

    def price(self, model: nn.Module, *, fuse: bool = False) -> Cost:
        return report_cost(self.profile(model, fuse=fuse))

    def try_profile(self, model: nn.Module, rule: str, layers: Sequence[str]) -> Report | None:
        """The changed model's profile, or None (and a note) when its forward does not run: a forward
        that reads attributes of the replaced modules (`self.conv.weight.dtype`), say."""
        try:
            return self.profile(model)
        except EffprofError as error:
            shown = ", ".join(layers[:3]) + (" ..." if len(layers) > 3 else "")
            self.notes.append(f"{rule}: the change to {shown} could not be priced, so it is not reported ({error})")
            return None

    def price_part(self, module: nn.Module, *input_shapes: Sequence[int]) -> Cost:
        """A part of the model on its own (one layer, a few branches), fed meta inputs of `input_shapes`."""
        inputs = tuple(torch.empty(tuple(shape), device="meta") for shape in input_shapes)
        return report_cost(self.profile(module, inputs))

    def finding(self, rule: str, layers: Sequence[str], message: str, evidence: Mapping[str, Any],
                before: Cost, after: Cost) -> Finding:
        """A finding whose change was priced as `before` -> `after` (the whole model, or a part of
        it): the model's totals before, and with that difference taken off after."""
        return Finding(rule, tuple(layers), message, dict(evidence), self.base, self.base.minus(before, after))
