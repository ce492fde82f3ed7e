"""Every module's own time in a real forward, from forward pre/post hooks.

A hook pair around a module measures its inclusive time: its own ops plus its children's. A
report layer's latency is its own ops only, so a module's measured time is
    self = inclusive - sum(inclusive of the children called inside it),
computed per call from timestamps taken in the same forward. The root's self time is the whole
hooked forward minus its children. What the hooks themselves cost (a few µs per module call on a
CPU) falls into the parent's self time; `LayerTimes.corrected_self_s` takes it back out, using
the hooked forward's excess over a forward timed without hooks, shared equally among the module
calls and taken off each parent once per child call. Ops on the device that overlap (CUDA
streams) are attributed by wall time between events: fine for eager, serial inference.

The model is left as it was found: hooks are removed and training flags restored, even when
the forward raises.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from torch import nn

from ..tracing import ModelInputs, hooks_on_every_module
from .statistics import median
from .timing import DEFAULT_REPEATS, DEFAULT_WARMUP, Clock, Stamp, check_counts, inference, model_device

__all__ = ["LayerTimes", "time_layers"]


@dataclass(frozen=True)
class LayerTimes:
    """Median per-forward times per module path ('' = the root): own time and inclusive time."""

    self_s: dict[str, float]
    inclusive_s: dict[str, float]
    forward_s: float  # median of the hooked forward (root inclusive): carries the hooks' cost
    calls: dict[str, int]
    child_calls: dict[str, int] = field(default_factory=dict)  # direct submodule calls per forward

    def corrected_self_s(self, unhooked_forward_s: float) -> dict[str, float]:
        """Own times less the hooks' cost that lands in a parent: the hooked forward's excess over
        the unhooked one, shared equally among the module calls, taken off each parent once per
        direct child call (never below zero)."""
        calls = sum(self.calls.values())
        per_call = max(self.forward_s - unhooked_forward_s, 0.0) / calls if calls else 0.0
        return {name: max(own - per_call * self.child_calls.get(name, 0), 0.0) for name, own in self.self_s.items()}


@dataclass
class _ModuleCall:
    name: str
    parent: int  # index of the enclosing call, -1 for none
    start: Stamp = None
    end: Stamp = None


@contextlib.contextmanager
def _timing_hooks(model: nn.Module, clock: Clock, calls: list[_ModuleCall]) -> Iterator[None]:
    """Hooks that append one `_ModuleCall` per module call to `calls` (the caller empties it between forwards)."""
    stack: list[int] = []

    def pre_hook(name: str) -> Callable[[nn.Module, Any], None]:
        def hook(module: nn.Module, args: Any) -> None:
            calls.append(_ModuleCall(name, stack[-1] if stack else -1))
            stack.append(len(calls) - 1)
            calls[-1].start = clock.stamp()  # last thing before the module's own code runs

        return hook

    def post_hook(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            end = clock.stamp()  # first thing after the module's own code
            if stack and calls[stack[-1]].name == name:
                calls[stack.pop()].end = end

        return hook

    with hooks_on_every_module(model, pre_hook, post_hook):
        yield


def _own_times(
    calls: list[_ModuleCall], clock: Clock
) -> tuple[dict[str, float], dict[str, float], dict[str, int], dict[str, int]]:
    """Per module: own seconds, inclusive seconds, calls and direct child calls in one forward."""
    inclusive = [clock.seconds(c.start, c.end) if c.end is not None else 0.0 for c in calls]
    children = [0.0] * len(calls)
    for index, call in enumerate(calls):
        if call.parent >= 0:
            children[call.parent] += inclusive[index]
    own: dict[str, float] = {}
    total: dict[str, float] = {}
    counts: dict[str, int] = {}
    child_counts: dict[str, int] = {}
    for call in calls:
        if call.parent >= 0:
            parent = calls[call.parent].name
            child_counts[parent] = child_counts.get(parent, 0) + 1
    for index, call in enumerate(calls):
        # clock jitter can make children add up to a hair more than their parent: own time is never negative
        own[call.name] = own.get(call.name, 0.0) + max(inclusive[index] - children[index], 0.0)
        total[call.name] = total.get(call.name, 0.0) + inclusive[index]
        counts[call.name] = counts.get(call.name, 0) + 1
    return own, total, counts, child_counts


def time_layers(model: nn.Module, inputs: ModelInputs, *, warmup: int = DEFAULT_WARMUP,
                repeats: int = DEFAULT_REPEATS) -> LayerTimes:
    """Own and inclusive time of every module, median over `repeats` hooked forwards after `warmup`."""
    check_counts(warmup, repeats)
    clock = Clock(model_device(model))
    own_runs: list[dict[str, float]] = []
    total_runs: list[dict[str, float]] = []
    counts: dict[str, int] = {}
    child_counts: dict[str, int] = {}
    root = ""
    calls: list[_ModuleCall] = []
    with inference(model), _timing_hooks(model, clock, calls):
        for iteration in range(warmup + repeats):
            calls.clear()
            model(*inputs.args, **inputs.kwargs)
            clock.sync()
            if iteration < warmup or not calls:
                continue
            root = calls[0].name
            own, total, counts, child_counts = _own_times(calls, clock)
            own_runs.append(own)
            total_runs.append(total)
    names = list(own_runs[0]) if own_runs else []
    return LayerTimes(
        self_s={n: median([run.get(n, 0.0) for run in own_runs]) for n in names},
        inclusive_s={n: median([run.get(n, 0.0) for run in total_runs]) for n in names},
        forward_s=median([run.get(root, 0.0) for run in total_runs]) if total_runs else 0.0,
        calls=counts,
        child_calls=child_counts,
    )
