"""Running a model (or a probe kernel) for real: the one clock, the one TF32 setting and the one
inference context that `calibrate` and `--measure`/`validate` share, so that what calibration
measured and what a measurement compares against ran under the same settings."""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

import torch
from torch import nn

from .tracing import eval_mode

__all__ = ["Clock", "tf32", "inference"]


class Clock:
    """Timestamps on a device: perf_counter_ns on the CPU, recorded CUDA events on a GPU."""

    def __init__(self, device: torch.device | str) -> None:
        self.cuda = torch.device(device).type == "cuda"

    def stamp(self) -> Any:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter_ns()

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def seconds(self, start: Any, end: Any) -> float:
        """Time between two stamps; on CUDA only after `sync()`."""
        if self.cuda:
            return float(start.elapsed_time(end)) / 1e3
        return float(end - start) / 1e9


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
