"""Which device a real run uses, what it is called, and how many threads it runs on."""

from __future__ import annotations

import contextlib
import platform
from typing import Iterator

import torch

from ..errors import UsageError, option
from ..hardware import HardwareSpec

__all__ = ["pick_device", "check_device_kind", "num_threads", "threads_in_use", "cpu_name", "device_name"]


def pick_device(requested: str | None = None, *, spec: HardwareSpec | None = None) -> str:
    """'cpu' or 'cuda'. Asked for one: that one, if it is there. Asked for none: the kind of device
    `spec` describes (a GPU spec runs on CUDA when there is one, else on the CPU); without a spec,
    CUDA when there is one, else the CPU."""
    if requested is None:
        wants_gpu = spec is None or spec.kind == "gpu"
        return "cuda" if wants_gpu and torch.cuda.is_available() else "cpu"
    name = requested.strip().lower()
    if name not in ("cpu", "cuda"):
        raise UsageError(f"unknown device '{requested}'; use cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("no CUDA device is available to measure on; use ", option("device", "cpu"))
    return name


def check_device_kind(spec: HardwareSpec, device: str) -> None:
    """Refuse to measure on a CPU against a GPU spec (or the reverse): the 'error' would be the gap
    between two devices, reported as if it were the estimate's."""
    kind = "gpu" if device == "cuda" else "cpu"
    if spec.kind == kind:
        return
    named = f" ({device_name(device)})" if device == "cpu" or torch.cuda.is_available() else ""
    raise UsageError(
        option("hardware", spec.name), f" describes a {spec.kind}, but the model would run on this machine's {kind}"
        f"{named}: measured against another device's estimate, the error means nothing; "
        f"measure where the {spec.kind} is, or calibrate this machine (effprof calibrate -o this.yaml) and use ",
        option("hardware", "this.yaml"),
    )


@contextlib.contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to `threads` for the duration (None: left as it is)."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise UsageError(option("threads"), f" must be 1 or more, got {threads}")
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def threads_in_use() -> int:
    """torch's intra-op thread count now: what a timing taken now holds for."""
    return torch.get_num_threads()


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(device: str) -> str:
    """'NVIDIA H100 80GB HBM3' for 'cuda' (the current GPU), the CPU's model name for 'cpu'."""
    if device == "cuda":
        return torch.cuda.get_device_name()
    return cpu_name()
