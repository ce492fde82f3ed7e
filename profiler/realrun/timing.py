"""The one clock, the one bulk timer, the one TF32 setting and the one inference context.

On CUDA every timestamp is a recorded `torch.cuda.Event` and an interval is read only after a
synchronize, so times are GPU times between the events; on the CPU they are
`time.perf_counter_ns` wall times.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Iterator

import torch
from torch import nn

from ..errors import UsageError, option
from ..tracing import ModelInputs, eval_mode
from .statistics import median, spread

__all__ = ["Clock", "Stamp", "Timer", "tf32", "inference", "time_forward", "model_device", "check_counts",
           "DEFAULT_WARMUP", "DEFAULT_REPEATS"]

DEFAULT_WARMUP = 3
DEFAULT_REPEATS = 10

Stamp = Any
"""A point in time on a Clock: int nanoseconds on the CPU, a recorded torch.cuda.Event on CUDA."""


class Clock:
    """Timestamps on a device: perf_counter_ns on the CPU, recorded CUDA events on a GPU."""

    def __init__(self, device: torch.device | str) -> None:
        self.cuda = torch.device(device).type == "cuda"

    def stamp(self) -> Stamp:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]  # torch's Event.__init__ is unannotated
            event.record()
            return event
        return time.perf_counter_ns()

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def seconds(self, start: Stamp, end: Stamp) -> float:
        """Time between two stamps; on CUDA only after `sync()`."""
        if self.cuda:
            return float(start.elapsed_time(end)) / 1e3
        return float(end - start) / 1e9


class Timer:
    """Seconds per call of a function on one device: warm-up calls, then `repeats` timed batches
    of `inner` calls each, the device synchronised before and after each batch. With `batch_s`,
    `inner` is chosen (from one more, untimed-for-the-result batch of one call) so that a batch
    lasts about that long: tiny ops are timed in bulk. Without it every call is timed alone."""

    def __init__(self, device: torch.device | str) -> None:
        self.clock = Clock(device)
        self.worst_spread = 1.0  # slowest / fastest repeat of any one measurement: how busy the machine was

    def _batch(self, fn: Callable[[], Any], inner: int) -> float:
        self.clock.sync()
        start = self.clock.stamp()
        for _ in range(inner):
            fn()
        end = self.clock.stamp()
        self.clock.sync()
        return self.clock.seconds(start, end) / inner

    def times_s(self, fn: Callable[[], Any], *, warmup: int, repeats: int, batch_s: float | None = None) -> list[float]:
        for _ in range(warmup):
            fn()
        inner = 1
        if batch_s is not None:
            one = max(self._batch(fn, 1), 1e-7)
            inner = max(1, min(100_000, int(batch_s / one)))
        times = [self._batch(fn, inner) for _ in range(repeats)]
        ratio = spread(times) if times else None
        if ratio is not None:
            self.worst_spread = max(self.worst_spread, ratio)
        return times

    def median_s(self, fn: Callable[[], Any], *, warmup: int, repeats: int, batch_s: float | None = None) -> float:
        """The typical time per call: for what kernels usually take (probes, launch overhead)."""
        return median(self.times_s(fn, warmup=warmup, repeats=repeats, batch_s=batch_s))

    def best_s(self, fn: Callable[[], Any], *, warmup: int, repeats: int, batch_s: float | None = None) -> float:
        """The fastest time per call: for ceilings (bandwidth, peaks). Other work on the machine only
        ever slows a repeat down, so the fastest is the machine's own rate (STREAM reports it so)."""
        return min(self.times_s(fn, warmup=warmup, repeats=repeats, batch_s=batch_s))


@contextlib.contextmanager
def tf32(allowed: bool) -> Iterator[None]:
    """TF32 on (or off) for matmuls AND cuDNN convolutions alike, restored after: an fp32 run is
    fp32 in both, a tf32 run is tf32 in both (PyTorch's defaults differ: cuDNN allows TF32,
    matmul does not). Nothing changes on a machine without CUDA."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


@contextlib.contextmanager
def inference(model: nn.Module) -> Iterator[None]:
    """eval mode and no_grad for the duration; the model restored exactly after (tracing.eval_mode)."""
    with eval_mode(model), torch.no_grad():
        yield


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (the CPU for a model with neither)."""
    for tensor in [*model.parameters(), *model.buffers()]:
        return tensor.device
    return torch.device("cpu")


def check_counts(warmup: int, repeats: int) -> None:
    if warmup < 0:
        raise UsageError(f"warm-up count must be 0 or more, got {warmup}")
    if repeats < 1:
        raise UsageError(option("repeats"), f" must be 1 or more, got {repeats}")


def time_forward(model: nn.Module, inputs: ModelInputs, *, warmup: int = DEFAULT_WARMUP,
                 repeats: int = DEFAULT_REPEATS) -> list[float]:
    """Seconds of each of `repeats` whole forward calls (eval, no grad, no hooks), after `warmup` calls."""
    check_counts(warmup, repeats)
    with inference(model):
        return Timer(model_device(model)).times_s(lambda: model(*inputs.args, **inputs.kwargs),
                                                  warmup=warmup, repeats=repeats)
