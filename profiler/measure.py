"""Run a model for real and set what it took against what the roofline predicted.

Three parts, one direction:
- statistics: pure functions of numbers (error %, ranks with ties, Spearman's rho, median);
- timing: `time_forward` (the whole forward, no hooks) and `time_layers` (every module's own
  time, from forward pre/post hooks);
- comparison: `compare` pairs a Report's per-layer `latency_s` with measured own times, and
  `measure_loaded` does it all for a model from `loading.load_model`.

Own ("self") time. A hook pair around a module measures its inclusive time: its own ops plus
its children's. A report layer's latency is its own ops only, so a module's measured time is
    self = inclusive - sum(inclusive of the children called inside it),
computed per call from timestamps taken in the same forward. The root's self time is the whole
hooked forward minus its children. What the hooks themselves cost (a few µs per module call on a
CPU) falls into the parent's self time; `compare` takes it back out, using the hooked forward's
excess over a forward timed without hooks, shared equally among the module calls and taken off
each parent once per child call (`LayerTimes.corrected_self_s`). The whole-forward total is that
separate hook-free run, so it carries none of it. Ops on the device that overlap (CUDA streams)
are attributed by wall time between events: fine for eager, serial inference.

On CUDA every timestamp is a `torch.cuda.Event` and each forward ends with a synchronize, so
times are GPU times between the events; on CPU they are `time.perf_counter_ns` wall times.
The model is left as it was found: hooks are removed and training flags restored, even when
the forward raises.
"""

from __future__ import annotations

import contextlib
import math
import platform
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from .api import profile_loaded
from .errors import UsageError
from .hardware import HardwareSpec
from .loading import load_model
from .report import Report
from .realrun import Clock, inference, tf32
from .tracing import ModelInputs

__all__ = [
    "error_percent",
    "ranks",
    "spearman",
    "median",
    "within",
    "time_forward",
    "time_layers",
    "LayerTimes",
    "LayerMeasurement",
    "Measurement",
    "compare",
    "memory_needed_bytes",
    "memory_available_bytes",
    "check_fits",
    "pick_device",
    "num_threads",
    "device_name",
    "measure_loaded",
    "check_device_kind",
    "validate_target",
    "DEFAULT_WARMUP",
    "DEFAULT_REPEATS",
]

DEFAULT_WARMUP = 3
DEFAULT_REPEATS = 10

# ---------------------------------------------------------------------------------------------
# statistics


def error_percent(predicted: float, measured: float) -> float:
    """Signed prediction error in percent of the measurement: +25 means predicted 25% too slow."""
    if not measured > 0:
        raise ValueError(f"measured time must be positive, got {measured}")
    return (predicted - measured) / measured * 100.0


def within(predicted: float, measured: float, tolerance_percent: float) -> bool:
    """True when the prediction is within ±tolerance_percent of the measurement."""
    return abs(error_percent(predicted, measured)) <= tolerance_percent


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span ([5, 7, 7, 9] -> [1, 2.5, 2.5, 4])."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2.0 + 1.0  # mean of ranks start+1 .. end+1
        for position in range(start, end + 1):
            result[order[position]] = shared
        start = end + 1
    return result


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation: Pearson's r of the tie-averaged ranks.

    None when it is undefined: fewer than two pairs, or one side constant.
    """
    if len(x) != len(y):
        raise ValueError(f"spearman needs paired values, got {len(x)} and {len(y)}")
    if len(x) < 2:
        return None
    rx, ry = ranks(x), ranks(y)
    mean = (len(x) + 1) / 2.0  # ranks 1..n average to (n+1)/2, with or without ties
    dx = [r - mean for r in rx]
    dy = [r - mean for r in ry]
    sxx = sum(d * d for d in dx)
    syy = sum(d * d for d in dy)
    if sxx == 0 or syy == 0:
        return None
    return sum(a * b for a, b in zip(dx, dy)) / math.sqrt(sxx * syy)


# ---------------------------------------------------------------------------------------------
# timing


def _model_device(model: nn.Module) -> torch.device:
    for tensor in [*model.parameters(), *model.buffers()]:
        return tensor.device
    return torch.device("cpu")


def _call(model: nn.Module, inputs: ModelInputs) -> Any:
    return model(*inputs.args, **inputs.kwargs)


def time_forward(model: nn.Module, inputs: ModelInputs, *, warmup: int = DEFAULT_WARMUP,
                 repeats: int = DEFAULT_REPEATS) -> list[float]:
    """Seconds of each of `repeats` whole forward calls (eval, no grad, no hooks), after `warmup` calls."""
    _check_counts(warmup, repeats)
    clock = Clock(_model_device(model))
    times = []
    with inference(model):
        for _ in range(warmup):
            _call(model, inputs)
        clock.sync()
        for _ in range(repeats):
            start = clock.stamp()
            _call(model, inputs)
            end = clock.stamp()
            clock.sync()
            times.append(clock.seconds(start, end))
    return times


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
class _Call:
    name: str
    parent: int  # index of the enclosing call, -1 for none
    start: Any = None
    end: Any = None


def _named_modules_once(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Each module once, under its first name (a shared module keeps its first path, as in tracing)."""
    seen: set[int] = set()
    found = []
    for name, module in model.named_modules(remove_duplicate=False):
        if id(module) not in seen:
            seen.add(id(module))
            found.append((name, module))
    return found


@contextlib.contextmanager
def _timing_hooks(model: nn.Module, clock: Clock, calls: list[_Call]) -> Iterator[None]:
    """Hooks that append one `_Call` per module call to `calls` (the caller empties it between forwards)."""
    stack: list[int] = []
    handles = []

    def pre_hook(name: str) -> Callable:
        def hook(module: nn.Module, args: Any) -> None:
            calls.append(_Call(name, stack[-1] if stack else -1))
            stack.append(len(calls) - 1)
            calls[-1].start = clock.stamp()  # last thing before the module's own code runs

        return hook

    def post_hook(name: str) -> Callable:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            end = clock.stamp()  # first thing after the module's own code
            if stack and calls[stack[-1]].name == name:
                calls[stack.pop()].end = end

        return hook

    try:
        for name, module in _named_modules_once(model):
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name), always_call=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _own_times(calls: list[_Call], clock: Clock) -> tuple[dict[str, float], dict[str, float], dict[str, int], dict[str, int]]:
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
    _check_counts(warmup, repeats)
    clock = Clock(_model_device(model))
    own_runs: list[dict[str, float]] = []
    total_runs: list[dict[str, float]] = []
    counts: dict[str, int] = {}
    child_counts: dict[str, int] = {}
    root = ""
    calls: list[_Call] = []
    with inference(model), _timing_hooks(model, clock, calls):
        for iteration in range(warmup + repeats):
            calls.clear()
            _call(model, inputs)
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


def _check_counts(warmup: int, repeats: int) -> None:
    if warmup < 0:
        raise UsageError(f"warm-up count must be 0 or more, got {warmup}")
    if repeats < 1:
        raise UsageError(f"--repeats must be 1 or more, got {repeats}")


# ---------------------------------------------------------------------------------------------
# comparison


@dataclass(frozen=True)
class LayerMeasurement:
    name: str
    type: str
    predicted_s: float | None
    measured_s: float | None

    @property
    def ratio(self) -> float | None:
        """predicted / measured: 1 is exact, below 1 the estimate is optimistic (too fast)."""
        if self.predicted_s is None or not self.measured_s:
            return None
        return self.predicted_s / self.measured_s


@dataclass(frozen=True)
class Measurement:
    """Predicted against measured, per layer and for the whole forward, on one device."""

    model: str
    device: str
    device_name: str
    threads: int
    warmup: int
    repeats: int
    layers: list[LayerMeasurement]
    predicted_total_s: float | None
    measured_total_s: float
    hooked_total_s: float
    notes: list[str] = field(default_factory=list)
    # None without a spec; False when the spec's description does not name the measured device
    device_matches_spec: bool | None = None
    # the input shape was guessed from the first layer: "1x3x224x224", else None
    guessed_input: str | None = None

    @property
    def error_percent(self) -> float | None:
        if self.predicted_total_s is None:
            return None
        return error_percent(self.predicted_total_s, self.measured_total_s)

    @property
    def ratio(self) -> float | None:
        return None if self.predicted_total_s is None else self.predicted_total_s / self.measured_total_s

    @property
    def spearman(self) -> float | None:
        """Rank correlation of predicted and measured own time over the layers that have both."""
        pairs = [(r.predicted_s, r.measured_s) for r in self.layers if r.predicted_s is not None and r.measured_s is not None]
        return spearman([p for p, _ in pairs], [m for _, m in pairs])


def _predictions(report: Report) -> tuple[dict[str, float | None], float | None]:
    """Per-layer and total predicted latency from the report's roofline estimate (None without one)."""
    estimate = report.estimate
    if estimate is None:
        return {layer.name: None for layer in report.layers}, None
    return {layer.name: estimate.layer(layer.name).latency_s for layer in report.layers}, estimate.latency_s


def compare(report: Report, layer_times: LayerTimes, forward_times: Sequence[float], *, device: str,
            device_label: str, warmup: int, repeats: int, threads: int | None = None) -> Measurement:
    """Pair every report layer's predicted latency with its measured own time."""
    predicted, predicted_total = _predictions(report)
    measured = layer_times.corrected_self_s(median(forward_times))
    rows = [
        LayerMeasurement(layer.name, layer.type, predicted.get(layer.name), measured.get(layer.name))
        for layer in report.layers
    ]
    notes = []
    estimate = report.estimate
    if estimate is None:
        notes.append("no hardware given: nothing predicted to compare with (pass --hw)")
    else:
        if estimate.fused:
            notes.append("the estimate models fused kernels (--fuse) but the model ran eagerly, one kernel per op")
        matches = device_label.lower() in estimate.spec.description.lower()
        if not matches:
            notes.append(
                f"the spec '{estimate.spec.name}' ({estimate.spec.description}) does not name the device measured "
                f"({device_label}): if they differ, the error tells how far apart the devices are, not how good the "
                "estimate is; a spec of this machine comes from `effprof calibrate`"
            )
    missing = [r.name or "(root)" for r in rows if r.measured_s is None]
    if not layer_times.self_s:
        notes.append("per-layer times not measured (whole forward only)")
    elif missing:
        notes.append(f"{len(missing)} layer(s) never ran in the real forward: {', '.join(missing[:5])}")
    return Measurement(
        model=report.model,
        device=device,
        device_name=device_label,
        threads=torch.get_num_threads() if threads is None else threads,
        warmup=warmup,
        repeats=repeats,
        layers=rows,
        predicted_total_s=predicted_total,
        measured_total_s=median(forward_times),
        hooked_total_s=layer_times.forward_s,
        notes=notes,
        device_matches_spec=None if estimate is None else matches,
    )


# ---------------------------------------------------------------------------------------------
# devices and memory


def pick_device(requested: str | None = None) -> str:
    """'cuda' when asked for or (by default) when one is present, else 'cpu'."""
    if requested is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    name = requested.strip().lower()
    if name not in ("cpu", "cuda"):
        raise UsageError(f"unknown device '{requested}'; use cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("no CUDA device is available to measure on; use --device cpu")
    return name


@contextlib.contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to `threads` for the duration (None: left as it is)."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise UsageError(f"--threads must be 1 or more, got {threads}")
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


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
    if device == "cuda":
        return torch.cuda.get_device_name()
    return cpu_name()


def memory_needed_bytes(report: Report, itemsize: int) -> int:
    """What running the report's model for real needs, at least: its weights (params + buffers)
    plus twice the largest single kernel's traffic (inputs, weights and output of the heaviest op,
    with room for one temporary). A conservative estimate; eager inference frees the rest."""
    weights = (report.totals.params + report.totals.buffers) * itemsize
    largest = max((k.cost.bytes_read + k.cost.bytes_written for k in report.kernels), default=0)
    return weights + 2 * largest


def memory_available_bytes(device: str) -> int:
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


def check_fits(report: Report, device: str, itemsize: int = 4, *, headroom: float = 0.9) -> None:
    """Refuse (UsageError) when the model will not fit in `headroom` of the device's free memory."""
    needed = memory_needed_bytes(report, itemsize)
    available = memory_available_bytes(device)
    if needed > headroom * available:
        raise UsageError(
            f"{report.model} needs about {needed / 1e9:.2f} GB to run for real (weights + largest layer) "
            f"but {device} has {available / 1e9:.2f} GB free: drop --measure, or try a smaller --batch"
        )


# ---------------------------------------------------------------------------------------------
# a loaded model, end to end

_MEASURABLE = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp64": torch.float64}


def _measure_dtype(report: Report, device: str) -> torch.dtype:
    name = report.dtype
    if name == "tf32" and device == "cuda":
        return torch.float32
    if name not in _MEASURABLE:
        raise UsageError(
            f"--measure runs the model in a floating dtype (fp32, fp16, bf16) and cannot run {name} "
            f"on {device}: profile with --dtype fp32 (or quantize the model yourself)"
        )
    return _MEASURABLE[name]


def measure_loaded(
    loaded: Any,
    report: Report,
    *,
    device: str | None = None,
    warmup: int = DEFAULT_WARMUP,
    repeats: int = DEFAULT_REPEATS,
    layers: bool = True,
    threads: int | None = None,
) -> Measurement:
    """Rebuild `loaded` (from `loading.load_model`) with real weights, run it on `device` and compare
    with `report`. `layers=False` skips the hooked runs (whole-forward total only). Without a
    `device`, the report's spec decides: a GPU spec runs on CUDA when there is one, else the CPU."""
    if device is None and report.estimate is not None:
        device = "cuda" if report.estimate.spec.kind == "gpu" and torch.cuda.is_available() else "cpu"
    device = pick_device(device)
    if report.estimate is not None:
        check_device_kind(report.estimate.spec, device)
    dtype = _measure_dtype(report, device)
    if loaded.rebuild_real is None:
        raise UsageError(f"{report.model} cannot be rebuilt with real weights, so it cannot be measured")
    check_fits(report, device, torch.empty((), dtype=dtype).element_size())
    model, inputs = loaded.rebuild_real()
    model = model.to(device=device, dtype=dtype)
    inputs = inputs.map_tensors(
        lambda t: t.to(device=device, dtype=dtype) if t.is_floating_point() else t.to(device=device)
    )
    with tf32(report.dtype == "tf32"), num_threads(threads):
        forward = time_forward(model, inputs, warmup=warmup, repeats=repeats)
        if layers:
            per_layer = time_layers(model, inputs, warmup=1, repeats=repeats)
        else:
            per_layer = LayerTimes({}, {}, 0.0, {})
        used = torch.get_num_threads()
    measurement = compare(report, per_layer, forward, device=device, device_label=device_name(device),
                          warmup=warmup, repeats=repeats, threads=used)
    guessed = getattr(loaded, "guessed_input", None)
    if guessed is None:
        return measurement
    shape = ", ".join("x".join(map(str, i.shape)) for i in report.inputs)
    notes = [*measurement.notes, f"input shape {shape} guessed from the first layer: give the real one with --input-shape, "
             "or example_inputs() in the model file"]
    return replace(measurement, notes=notes, guessed_input=shape)


def check_device_kind(spec: HardwareSpec, device: str) -> None:
    """Refuse to measure on a CPU against a GPU spec (or the reverse): the 'error' would be the gap
    between two devices, reported as if it were the estimate's."""
    kind = "gpu" if device == "cuda" else "cpu"
    if spec.kind == kind:
        return
    named = f" ({device_name(device)})" if device == "cpu" or torch.cuda.is_available() else ""
    raise UsageError(
        f"--hw {spec.name} describes a {spec.kind}, but the model would run on this machine's {kind}"
        f"{named}: measured against another device's estimate, the error means nothing; "
        f"measure where the {spec.kind} is, or calibrate this machine (effprof calibrate -o this.yaml) and use --hw this.yaml"
    )


def validate_target(
    target: str,
    hardware: str | HardwareSpec,
    *,
    batch: int | None = None,
    dtype: str | None = None,
    device: str | None = None,
    warmup: int = DEFAULT_WARMUP,
    repeats: int = DEFAULT_REPEATS,
    layers: bool = True,
    threads: int | None = None,
) -> Measurement:
    """Profile `target` (a model file, as the CLI takes it) on `hardware` and measure it for real."""
    loaded = load_model(target, None, batch)
    report = profile_loaded(loaded, dtype=dtype, hardware=hardware)
    return measure_loaded(loaded, report, device=device, warmup=warmup, repeats=repeats, layers=layers, threads=threads)
