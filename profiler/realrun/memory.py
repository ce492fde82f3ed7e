"""Will a model fit on the device (or in RAM) before it runs for real?"""

from __future__ import annotations

from typing import Iterable

import torch

from ..errors import UsageError, on_command_line, option

__all__ = ["memory_needed_bytes", "memory_available_bytes", "check_fits", "HEADROOM"]

HEADROOM = 0.9  # the share of the free memory a run may plan to use: the allocator and torch keep some


def memory_needed_bytes(weight_elements: int, kernel_bytes: Iterable[int], itemsize: int) -> int:
    """What running a model for real needs, at least: its weights (parameters + buffers, at
    `itemsize` bytes each) plus twice the largest single kernel's traffic (inputs, weights and
    output of the heaviest op, with room for one temporary). A conservative estimate; eager
    inference frees the rest."""
    return weight_elements * itemsize + 2 * max(kernel_bytes, default=0)


def memory_available_bytes(device: str) -> int:
    """Free memory on the GPU ('cuda') or available RAM ('cpu'), in bytes."""
    if device == "cuda":
        free, _ = torch.cuda.mem_get_info()
        return int(free)
    try:
        import psutil
    except ImportError:  # psutil is a dependency; read Linux's own figure if it is somehow missing
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        raise UsageError("cannot tell how much memory is free: install psutil") from None
    return int(psutil.virtual_memory().available)


def check_fits(needed: int, device: str, *, what: str, available: int | None = None, headroom: float = HEADROOM) -> None:
    """Refuse (UsageError, one line) when `needed` bytes will not fit in `headroom` of the device's
    free memory (`available`, when stated; else what the device reports now)."""
    free = memory_available_bytes(device) if available is None else available
    if needed > headroom * free:
        raise UsageError(
            f"{what} needs about {needed / 1e9:.2f} GB to run for real (weights + largest layer) "
            f"but {device} has {free / 1e9:.2f} GB free: ", on_command_line(("drop ", option("measure"), ", or try"), python="try"),
            " a smaller ", option("batch"),
        )
