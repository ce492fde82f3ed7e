"""Set what a model took for real against what the roofline predicted (`--measure`, `validate`).

`compare` pairs a Report's per-layer `latency_s` with the own times `realrun.time_layers`
measured, and its total with `realrun.time_forward`'s hook-free forward; `measure_loaded` does it
all for a model from `loading.load_model`: device, threads, TF32, the memory check, the timing and
the statistics all come from `realrun`, the same code `calibrate` measures the machine with.

What the timing hooks cost falls into each parent's own time; `compare` takes it back out
(`LayerTimes.corrected_self_s`, docs in `realrun/layers.py`). The whole-forward total is the
separate hook-free run, so it carries none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import torch

from .api import profile_loaded
from .errors import UsageError, on_command_line, option
from .hardware import HardwareSpec
from .loading import LoadedModel, load_model
from .realrun import (
    DEFAULT_REPEATS, DEFAULT_WARMUP, LayerTimes, check_device_kind, check_fits, device_name, error_percent, median,
    memory_needed_bytes, num_threads, pick_device, spearman, tf32, threads_in_use, time_forward, time_layers,
)
from .report import Report

__all__ = ["LayerMeasurement", "Measurement", "measure_loaded", "measurement_of", "validate_target"]

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


def measurement_of(report: Report, layer_times: LayerTimes, forward_times: Sequence[float], *, device: str,
            device_label: str, warmup: int, repeats: int, threads: int | None = None) -> Measurement:
    """Pair every report layer's predicted latency with its measured own time."""
    predicted, predicted_total = _predictions(report)
    measured = layer_times.corrected_self_s(median(forward_times))
    rows = [
        LayerMeasurement(layer.name, layer.type, predicted.get(layer.name), measured.get(layer.name))
        for layer in report.layers
    ]
    notes: list[str] = []
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
        threads=threads_in_use() if threads is None else threads,
        warmup=warmup,
        repeats=repeats,
        layers=rows,
        predicted_total_s=predicted_total,
        measured_total_s=median(forward_times),
        hooked_total_s=layer_times.forward_s,
        notes=notes,
        device_matches_spec=None if estimate is None else matches,
    )


_MEASURABLE = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp64": torch.float64}


def _measure_dtype(report: Report, device: str) -> torch.dtype:
    name = report.dtype
    if name == "tf32" and device == "cuda":
        return torch.float32
    if name not in _MEASURABLE:
        raise UsageError(
            on_command_line(option("measure"), python="measuring"), " runs the model in a floating dtype (fp32, fp16, bf16) "
            f"and cannot run {name} on {device}: profile with ", option("dtype", "fp32"), " (or quantize the model yourself)",
        )
    return _MEASURABLE[name]


def measure_loaded(
    loaded: LoadedModel,
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
    device = pick_device(device, spec=None if report.estimate is None else report.estimate.spec)
    if report.estimate is not None:
        check_device_kind(report.estimate.spec, device)
    dtype = _measure_dtype(report, device)
    if loaded.rebuild_real is None:
        raise UsageError(f"{report.model} cannot be rebuilt with real weights, so it cannot be measured")
    weights = report.totals.params + report.totals.buffers
    traffic = (k.cost.bytes_read + k.cost.bytes_written for k in report.kernels)
    check_fits(memory_needed_bytes(weights, traffic, torch.empty((), dtype=dtype).element_size()), device,
               what=report.model)
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
        used = threads_in_use()
    measurement = measurement_of(report, per_layer, forward, device=device, device_label=device_name(device),
                          warmup=warmup, repeats=repeats, threads=used)
    if loaded.guessed_input is None:
        return measurement
    shape = ", ".join("x".join(map(str, i.shape)) for i in report.inputs)
    notes = [*measurement.notes, f"input shape {shape} guessed from the first layer: give the real one with --input-shape, "
             "or example_inputs() in the model file"]
    return replace(measurement, notes=notes, guessed_input=shape)


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
