"""Running a model (or a probe kernel) for real: the one home of everything `calibrate` and
`--measure`/`validate` share, so that what calibration measured and what a measurement compares
against ran under the same settings and were counted the same way.

- `timing`: the one clock (`Clock`: perf_counter_ns on the CPU, CUDA events + synchronize on a
  GPU), the one bulk timer (`Timer`: warm-up, repeats, batches of tiny calls, the spread seen),
  the one TF32 setting (`tf32`: matmul and cuDNN together), the one inference context
  (`inference`: eval + no_grad, the model restored after) and `time_forward` (a whole forward);
- `layers`: `time_layers`, every module's own time from forward hooks;
- `device`: which device (`pick_device`), its name, its kind against a spec, the thread count;
- `memory`: whether a model fits before it runs (`check_fits`);
- `statistics`: median, spread, error %, ranks and Spearman's rho.
"""

from __future__ import annotations

from .device import check_device_kind, cpu_name, device_name, num_threads, pick_device, threads_in_use
from .layers import LayerTimes, time_layers
from .memory import HEADROOM, check_fits, memory_available_bytes, memory_needed_bytes
from .statistics import error_percent, median, ranks, spearman, spread, within
from .timing import (
    DEFAULT_REPEATS, DEFAULT_WARMUP, Clock, Stamp, Timer, check_counts, inference, model_device, tf32, time_forward,
)

__all__ = [
    "Clock", "Stamp", "Timer", "tf32", "inference", "time_forward", "model_device", "check_counts",
    "DEFAULT_WARMUP", "DEFAULT_REPEATS",
    "LayerTimes", "time_layers",
    "pick_device", "check_device_kind", "num_threads", "threads_in_use", "cpu_name", "device_name",
    "memory_needed_bytes", "memory_available_bytes", "check_fits", "HEADROOM",
    "median", "spread", "error_percent", "within", "ranks", "spearman",
]
