"""Measure the machine effprof runs on and write it down as a hardware spec (`effprof calibrate`).

What is measured, each with warm-up calls and several timed repeats. Ceilings (bandwidths, GEMM
peaks) keep the fastest repeat, as STREAM does: other work on the machine only ever slows a repeat
down. Typical costs (launch overhead, the kernel-family probes) keep the median.
- memory bandwidth: `dst.copy_(src)` on buffers far larger than the last-level cache, counting
  the bytes read and the bytes written (2 x the buffer);
- cache tiers: the same copy over working sets from 1 MiB up to that buffer (16 MiB in quick
  mode); every set copied at least 1.25x faster than main memory is a cache tier
  (`cache_tiers=False` leaves them out; the curve stays in the spec's header);
- matrix throughput per dtype: square GEMMs (`a @ b`, 2*n^3 FLOP) grown until one call takes long
  enough to fill the device; int8 through `torch._int_mm` where the build has it; on CUDA, tf32
  is an fp32 GEMM with TF32 allowed;
- vector throughput: the fp32 GEMM rate on the vector units. A CPU runs fp32 GEMM on its vector
  FMA units (AVX, NEON) and a GPU runs it on its CUDA cores when TF32 is off, and a GEMM is the one
  kernel that keeps those units busy: an elementwise op (1 FLOP per 8-12 bytes) measures memory,
  not the units (see docs/accuracy.md);
- per-kernel overhead: a 1-element `torch.add` in a tight loop (CPU: dispatch; GPU: launch);
- the thread count (`torch.get_num_threads()`) the numbers hold for;
- kernel families: a probe kernel per family run at a tiny size (its fixed cost, `overhead_us`)
  and at typical sizes at batch 1 and 8 (measured time against the roofline's, `efficiency`).
The cache tiers and kernel families are refinements the roofline applies to calibrated specs only
(`cache_bandwidth_gb_per_s`, `kernel_families`; docs/accuracy.md).

Every interval is timed by `realrun.Timer`, the clock `--measure` uses too (CUDA events and a
synchronize on a GPU, perf_counter on the CPU), under `realrun.tf32` and, for the probes,
`realrun.inference`.
Measured peaks are achieved rates, so the spec's efficiencies are 1.0 (saying so in their
source). Nothing here prints: progress goes to the `progress` callback.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from .errors import UsageError, on_command_line, option
from . import latency_model
from .hardware import HardwareSpec, load_spec, parse_spec
from .plausible import busy_warnings, family_problem, load_average, retry, tier_problems
from .yamlfile import load_yaml
from .realrun import (
    Timer, device_name, inference, median, memory_available_bytes, num_threads, pick_device, tf32, threads_in_use,
)

__all__ = [
    "Calibration", "Reading", "FamilyReading", "Probe", "PROBES", "calibrate", "bandwidth_tiers", "spec_dict", "spec_yaml",
    "write_spec", "Progress", "cpu_caches",
]

Progress = Callable[[str, int, int], None]
"""progress(step description, steps done, steps in all)."""

MIB = 2**20


@dataclass(frozen=True)
class Reading:
    """One measured number and how it was measured (the spec's `source` adds date and device)."""

    value: float
    how: str


@dataclass(frozen=True)
class FamilyReading:
    """A kernel family's probes: its efficiency (the median over every probe size) and fixed cost."""

    efficiency: float
    overhead_us: float
    how: str
    term: str = ""  # "compute" or "memory": the roofline term the efficiency scales
    typical_us: tuple[float, ...] = ()  # the measured times of the typical sizes
    points: tuple[tuple[float, float], ...] = ()  # (the probe's plain-roofline work in µs, its efficiency)
    gemm_points: tuple[tuple[int, int, float], ...] = ()  # (GEMM rows, reduction, efficiency) of GEMM-shaped probes


@dataclass(frozen=True)
class Calibration:
    device: str  # "cpu" or "cuda"
    device_name: str
    date: str  # ISO date, e.g. 2025-11-22
    threads: int
    quick: bool
    memory_bandwidth_gb_per_s: Reading
    matrix_tflop_per_s: dict[str, Reading]
    vector_tflop_per_s: dict[str, Reading]
    launch_overhead_us: Reading
    bandwidth_curve: list[tuple[int, float]] = field(default_factory=list)  # (working-set bytes, GB/s)
    tiers: list[tuple[int, float]] = field(default_factory=list)  # (working-set bytes, GB/s) for the roofline
    families: dict[str, FamilyReading] = field(default_factory=dict)
    caches: list[tuple[str, float, str]] = field(default_factory=list)  # (name, KiB, per)
    # a model's weights read from DRAM on top of the kernel's time (CPU only; in_model.py)
    cold_weights_gb_per_s: Reading | None = None
    fresh_pages: tuple[int, Reading] | None = None  # (smallest buffer in bytes that comes fresh, GB/s of first touch)
    warnings: tuple[str, ...] = ()  # the machine was busy while measuring (plausible.busy_warnings)

    def source(self, reading: Reading) -> str:
        return f"measured by effprof calibrate on {self.date} on {self.device_name}: {reading.how}"


@dataclass(frozen=True)
class _Plan:
    warmup: int
    repeats: int
    batch_s: float
    dram_bytes: int  # one copy buffer
    gemm_sizes: tuple[int, ...]
    gemm_target_s: float  # grow the GEMM until one call takes this long
    sweep_max_bytes: int


def _plan(quick: bool, device: str) -> _Plan:
    llc = _last_level_cache_bytes() if device == "cpu" else 0
    available = memory_available_bytes(device)
    if quick:
        return _Plan(warmup=1, repeats=3, batch_s=0.01, dram_bytes=min(256 * MIB, available // 8),
                     gemm_sizes=(512, 1024), gemm_target_s=0.005, sweep_max_bytes=16 * MIB)
    # buffers at least 4x the last-level cache (the VM's or chip's figure), at most 1/8 of free memory
    dram = min(max(4 * llc, 512 * MIB), 2048 * MIB, available // 8)
    return _Plan(warmup=2, repeats=5, batch_s=0.05, dram_bytes=dram,
                 gemm_sizes=(1024, 2048, 4096, 8192), gemm_target_s=0.05, sweep_max_bytes=dram)


# ------------------------------------------------------------------------------------ measurements


def _copy_gb_per_s(timer: Timer, plan: _Plan, device: str, nbytes: int) -> float:
    count = max(1, nbytes // 4)
    src = torch.rand(count, device=device)
    dst = torch.empty_like(src)
    seconds = timer.best_s(lambda: dst.copy_(src), warmup=plan.warmup, repeats=plan.repeats, batch_s=plan.batch_s)
    return 2 * count * 4 / seconds / 1e9  # every byte read once and written once


def _bandwidth_curve(timer: Timer, plan: _Plan, device: str) -> list[tuple[int, float]]:
    """GB/s of copies whose working set (source + destination) is 1 MiB, 2 MiB, ... up to the DRAM buffer."""
    curve = []
    working_set = MIB
    while working_set <= plan.sweep_max_bytes:
        curve.append((working_set, _copy_gb_per_s(timer, plan, device, working_set // 2)))
        working_set *= 2
    return curve


CACHE_SPEEDUP = 1.25  # a working set counts as cache-resident when copied this much faster than memory


def bandwidth_tiers(curve: list[tuple[int, float]], memory_gb_per_s: float) -> list[tuple[int, float]]:
    """The roofline's cache tiers from a measured copy curve [(working-set bytes, GB/s)]: every point
    up to the last one copied at least CACHE_SPEEDUP x faster than memory, each capped at the
    bandwidth of the smaller sets before it (so a kernel's time never falls as its bytes grow).

    >>> bandwidth_tiers([(1, 150.0), (2, 170.0), (4, 60.0), (8, 20.0)], 20.0)
    [(1, 150.0), (2, 150.0), (4, 60.0)]
    """
    fast = [i for i, (_, gbps) in enumerate(curve) if gbps >= CACHE_SPEEDUP * memory_gb_per_s]
    if not fast:
        return []
    tiers: list[tuple[int, float]] = []
    for size, gbps in curve[: fast[-1] + 1]:
        capped = min(gbps, tiers[-1][1]) if tiers else gbps
        tiers.append((size, max(capped, memory_gb_per_s)))
    return tiers


def _gemm_tflop_per_s(timer: Timer, plan: _Plan, device: str, dtype: torch.dtype) -> tuple[float, int] | None:
    """Best FLOP rate over growing square GEMMs, and the size it came from; None if the dtype cannot run."""
    best: tuple[float, int] | None = None
    for n in plan.gemm_sizes:
        fn: Callable[[], torch.Tensor]
        try:
            if dtype == torch.int8:
                a = torch.randint(-64, 64, (n, n), dtype=torch.int8, device=device)
                b = torch.randint(-64, 64, (n, n), dtype=torch.int8, device=device)
                fn = lambda: torch._int_mm(a, b)  # noqa: E731
            else:
                a = torch.randn(n, n, device=device).to(dtype)
                b = torch.randn(n, n, device=device).to(dtype)
                fn = lambda: a @ b  # noqa: E731
            fn()
        except (RuntimeError, NotImplementedError, AttributeError):
            return best
        seconds = timer.best_s(fn, warmup=plan.warmup, repeats=plan.repeats, batch_s=plan.batch_s)
        rate = 2 * n**3 / seconds / 1e12
        if best is None or rate > best[0]:
            best = (rate, n)
        if seconds >= plan.gemm_target_s:
            break
    return best


def _launch_overhead_us(timer: Timer, plan: _Plan, device: str) -> float:
    a = torch.ones(1, device=device)
    b = torch.ones(1, device=device)
    out = torch.empty(1, device=device)
    seconds = timer.median_s(lambda: torch.add(a, b, out=out), warmup=max(plan.warmup, 10),
                             repeats=plan.repeats, batch_s=plan.batch_s)
    return seconds * 1e6


COLD_LAYER_FEATURES = 1024  # the cold-weights probe's layers: 1024x1024 fp32 weights, 4 MiB each
COLD_ROWS = 8


def _cold_weights_gb_per_s(timer: Timer, plan: _Plan) -> Reading | None:
    """One core's rate for weights that are in no cache: linear layers whose weights together are
    4x the last-level cache, called in turn, against as many calls of one of them (its weights
    stay cached); the difference is the stream, not hidden by the arithmetic. None if no cost shows."""
    layer_bytes = COLD_LAYER_FEATURES**2 * 4
    cache = _last_level_cache_bytes()
    count = max(2, min(4 * cache, plan.dram_bytes) // layer_bytes)
    weights = [torch.randn(COLD_LAYER_FEATURES, COLD_LAYER_FEATURES) for _ in range(count)]
    rows = torch.randn(COLD_ROWS, COLD_LAYER_FEATURES)

    def in_turn() -> None:
        for weight in weights:
            F.linear(rows, weight)

    def one() -> None:
        for _ in weights:
            F.linear(rows, weights[0])

    cold = timer.median_s(in_turn, warmup=plan.warmup, repeats=plan.repeats)
    warm = timer.median_s(one, warmup=plan.warmup, repeats=plan.repeats)
    if cold <= warm * 1.05:  # the weights stayed cached, or the stream hides behind the arithmetic
        return None
    total = count * layer_bytes
    return Reading(total / (cold - warm) / 1e9,
                   f"{count} linear layers {COLD_ROWS}x{COLD_LAYER_FEATURES} @ {COLD_LAYER_FEATURES}x"
                   f"{COLD_LAYER_FEATURES} ({total / MIB:.0f} MiB of weights, {total / cache:.2g}x the last-level cache) "
                   f"called in turn: {cold * 1e3:.2f} ms against {warm * 1e3:.2f} ms for one layer called as "
                   f"often, weight bytes / difference, medians of {plan.repeats}")


# glibc's dynamic mmap threshold never rises above 32 MiB on 64-bit Linux, so from there on every
# buffer is fresh pages whatever the process did before; below it, whether a buffer is depends on
# that history (a 4 or 8 MiB buffer paid in some orders of allocation and not in others), and a
# probe cannot stand for a model's: only the sizes from the ceiling on are measured and priced
FRESH_SIZES_MIB = (32, 64)


def fresh_pages_from(extra_s: dict[int, float]) -> tuple[int, float] | None:
    """(smallest buffer in bytes that comes as fresh pages, GB/s of their first touch) from the
    extra seconds a fresh buffer took over a reused one, by size in MiB. The rate is the largest
    size's; a size pays when its extra time is at least half of what that rate predicts, and the
    threshold is the smallest size from which every larger one pays. None when the largest does not.

    >>> smallest, rate = fresh_pages_from({4: 0.0, 16: 0.0001, 32: 0.012, 64: 0.024})
    >>> smallest // MIB, round(rate, 2)
    (32, 2.8)
    """
    sizes = sorted(extra_s)
    largest = sizes[-1]
    if extra_s[largest] <= 0:
        return None
    per_byte = extra_s[largest] / (largest * MIB)
    first = len(sizes)
    for mib in reversed(sizes):
        if extra_s[mib] < 0.5 * per_byte * mib * MIB:
            break
        first -= 1
    return sizes[first] * MIB, 1 / per_byte / 1e9


def _fresh_pages(timer: Timer, plan: _Plan) -> tuple[int, Reading] | None:
    """Which buffers the allocator hands out as new pages, and what their first touch costs: fill
    a newly allocated buffer against filling one kept alive, at FRESH_SIZES_MIB (fresh_pages_from)."""
    def extra_s(mib: int) -> float:
        count = mib * MIB // 4
        kept = torch.empty(count)
        reused = timer.median_s(lambda: kept.fill_(1.0), warmup=plan.warmup, repeats=plan.repeats)
        fresh = timer.median_s(lambda: torch.empty(count).fill_(1.0), warmup=plan.warmup, repeats=plan.repeats)
        return fresh - reused

    extra = {mib: extra_s(mib) for mib in FRESH_SIZES_MIB}
    found = fresh_pages_from(extra)
    if found is None:
        return None
    smallest, rate = found
    steps = ", ".join(f"{mib} MiB: +{extra[mib] * 1e3:.2f} ms" for mib in FRESH_SIZES_MIB)
    return smallest, Reading(rate, f"torch.empty(n).fill_(1) against filling a buffer kept alive, medians of "
                                   f"{plan.repeats}, extra time by size: {steps}; buffers of {smallest // MIB} MiB "
                                   "or more pay it (glibc serves 32 MiB and more by mmap)")


# ------------------------------------------------------------------------------------ the machine


_SYS_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")


def _parse_size(text: str) -> float:
    """'48K' -> 48.0 KiB, '2048K', '105M' -> KiB."""
    text = text.strip().upper()
    scale = {"K": 1, "M": 1024, "G": 1024 * 1024}.get(text[-1:], None)
    return float(text[:-1]) * scale if scale else float(text) / 1024


def cpu_caches(root: Path = _SYS_CACHE) -> list[tuple[str, float, str]]:
    """(name, KiB, per) of each data/unified cache level of cpu0, from Linux sysfs; [] elsewhere."""
    found: dict[str, tuple[str, float, str]] = {}
    try:
        entries = sorted(p for p in root.iterdir() if p.name.startswith("index"))
        for entry in entries:
            kind = (entry / "type").read_text().strip()
            if kind == "Instruction":
                continue
            level = (entry / "level").read_text().strip()
            size = _parse_size((entry / "size").read_text())
            shared = (entry / "shared_cpu_list").read_text().strip()
            per = "core" if shared.replace(",", "-").split("-")[0] == shared else "device"
            found[f"l{level}"] = (f"l{level}", size, per)
    except OSError:
        return []
    return list(found.values())


def _last_level_cache_bytes() -> int:
    caches = cpu_caches()
    return int(max((kib for _, kib, _ in caches), default=32 * 1024) * 1024)


def _today() -> str:
    return datetime.date.today().isoformat()


# ------------------------------------------------------------------------------------------ driver

# (spec dtype, torch dtype, TF32 allowed): what each device's matrix engine is measured in
_GEMM_DTYPES = {
    "cpu": (("fp32", torch.float32, False), ("bf16", torch.bfloat16, False), ("fp16", torch.float16, False),
            ("int8", torch.int8, False)),
    "cuda": (("tf32", torch.float32, True), ("bf16", torch.bfloat16, False), ("fp16", torch.float16, False),
             ("int8", torch.int8, False)),
}


def calibrate(*, device: str | None = None, quick: bool = False, families: bool = True, cache_tiers: bool = True,
              threads: int | None = None, progress: Progress | None = None, keep_implausible: bool = False) -> Calibration:
    """Measure this machine (the GPU when `device` is 'cuda' or one is present, else the CPU).

    `families=False` skips the kernel-family probes (the spec then holds the plain roofline's numbers);
    `cache_tiers=False` leaves the cache-bandwidth tiers out (the families are probed against the
    spec without them);
    `threads` sets torch's intra-op thread count for the run (default: as it is).
    A probe that stays implausible after MEASURE_TRIES measurements (plausible.py) raises UsageError,
    unless `keep_implausible`: then it is kept and named in `warnings`.
    """
    with num_threads(threads):
        return _calibrate(pick_device(device), quick, families, cache_tiers, progress, keep_implausible)


def _calibrate(device: str, quick: bool, families: bool, cache_tiers: bool, progress: Progress | None,
               keep_implausible: bool = False) -> Calibration:
    plan = _plan(quick, device)
    timer = Timer(device)
    gemms = _GEMM_DTYPES[device]
    steps = ["memory bandwidth", "cache bandwidth sweep", *(f"{name} GEMM" for name, _, _ in gemms),
             *(["fp32 GEMM on CUDA cores"] if device == "cuda" else []), "launch overhead",
             *(["cold weights", "fresh pages"] if device == "cpu" else []),
             *([f"{key} probe" for key in PROBES] if families else [])]
    done = 0

    def step(name: str) -> None:
        nonlocal done
        if progress is not None:
            progress(name, done, len(steps))
        done += 1

    step("memory bandwidth")
    dram = _copy_gb_per_s(timer, plan, device, plan.dram_bytes)
    memory = Reading(dram, f"copy of {plan.dram_bytes / 1e9:.2f} GB, bytes read + written, best of {plan.repeats}")

    step("cache bandwidth sweep")
    curve, problems = retry(lambda: _bandwidth_curve(timer, plan, device),
                            lambda c: "; ".join(tier_problems(bandwidth_tiers(c, dram), dram)) or None, MEASURE_TRIES)
    kept: list[str] = []
    if problems is not None and cache_tiers:
        if not keep_implausible:
            raise _implausible(problems, timer)
        kept.append(f"kept implausible numbers (--keep-implausible): {problems}")

    matrix: dict[str, Reading] = {}
    for name, dtype, allow_tf32 in gemms:
        step(f"{name} GEMM")
        with tf32(allow_tf32):
            result = _gemm_tflop_per_s(timer, plan, device, dtype)
        if result is not None:
            rate, n = result
            op = "torch._int_mm" if dtype == torch.int8 else "matmul"
            unit = "ops" if name == "int8" else "FLOP"
            matrix[name] = Reading(rate, f"{op} {n}x{n}x{n} ({2 * n**3 / 1e9:.3g} G{unit}), best of {plan.repeats}")

    vector: dict[str, Reading] = {}
    if device == "cuda":
        step("fp32 GEMM on CUDA cores")
        with tf32(False):
            result = _gemm_tflop_per_s(timer, plan, device, torch.float32)
        if result is not None:
            vector["fp32"] = Reading(result[0], f"fp32 matmul {result[1]}^3 with TF32 off (CUDA cores), best of {plan.repeats}")
    elif "fp32" in matrix:
        vector["fp32"] = Reading(matrix["fp32"].value,
                                 "the fp32 GEMM rate: a CPU runs fp32 GEMM on its vector FMA units, " + matrix["fp32"].how)
    if "fp32" not in vector:
        raise UsageError(f"an fp32 matrix multiply does not run on {device}: cannot calibrate it")

    step("launch overhead")
    what = "dispatch" if device == "cpu" else "launch"
    launch = Reading(_launch_overhead_us(timer, plan, device),
                     f"1-element torch.add in a loop ({what} cost per op), median of {plan.repeats}")

    cold: Reading | None = None
    fresh: tuple[int, Reading] | None = None
    if device == "cpu":  # a GPU's caching allocator keeps its pages; its weight streams overlap
        step("cold weights")
        cold = _cold_weights_gb_per_s(timer, plan)
        step("fresh pages")
        fresh = _fresh_pages(timer, plan)

    calibration = Calibration(
        device=device,
        device_name=device_name(device),
        date=_today(),
        threads=threads_in_use(),
        quick=quick,
        memory_bandwidth_gb_per_s=memory,
        matrix_tflop_per_s=matrix,
        vector_tflop_per_s=vector,
        launch_overhead_us=launch,
        bandwidth_curve=curve,
        tiers=bandwidth_tiers(curve, dram) if cache_tiers else [],
        caches=cpu_caches() if device == "cpu" else [],
        cold_weights_gb_per_s=cold,
        fresh_pages=fresh,
    )
    if families:
        base = parse_spec(spec_dict(calibration, "base"), "the calibration in progress", "base")
        found: dict[str, FamilyReading] = {}
        for key, probe in PROBES.items():
            step(f"{key} probe")
            reading, problem = retry(
                lambda: _probe(probe, base, timer, plan, device),  # noqa: B023 - called before the loop moves on
                lambda r: None if r is None else family_problem(  # noqa: B023
                    key, r.efficiency, r.overhead_us, r.term, r.typical_us, launch.value, bool(calibration.tiers)),
                MEASURE_TRIES,
            )
            if problem is not None and reading is not None:
                hard = family_problem(key, reading.efficiency, reading.overhead_us, reading.term, reading.typical_us,
                                      launch.value, bool(calibration.tiers), strict=False)
                if keep_implausible:
                    kept.append(f"kept implausible numbers (--keep-implausible): {problem}")
                elif hard is not None or not quick:
                    raise _implausible(problem, timer)
                else:  # quick mode's short GEMMs on a busy machine measure the peak low; the probe is kept
                    kept.append(f"kept {problem} (quick mode; a full calibration refuses it)")
            if reading is not None:
                found[key] = reading
        calibration = replace(calibration, families=found)
    calibration = replace(calibration, warnings=tuple(
        kept + busy_warnings(load_average(), os.cpu_count() or 1, timer.worst_spread)))
    if progress is not None:
        progress("done", len(steps), len(steps))
    return calibration


MEASURE_TRIES = 3  # a probe (or the cache sweep) breaking a plausibility rule is measured again, this often in all


def _implausible(problem: str, timer: Timer) -> UsageError:
    busy = busy_warnings(load_average(), os.cpu_count() or 1, timer.worst_spread)
    why = f" ({'; '.join(busy)})" if busy else ""
    return UsageError(
        f"calibration refused, measured {MEASURE_TRIES} times and still implausible: {problem}{why}; "
        "nothing was written: rerun ", on_command_line("effprof calibrate", python="calibrate()"), " on a quiet machine (",
        option("families", False), " or ", option("cache_tiers", False), " leave those refinements out; ",
        option("keep_implausible", True), on_command_line(" writes", python=" keeps"), " the numbers anyway, with warnings)",
    )


def _curve_text(curve: list[tuple[int, float]]) -> str:
    return ", ".join(f"{_size_text(size)}: {gbps:.0f} GB/s" for size, gbps in curve)


def _size_text(nbytes: int) -> str:
    return f"{nbytes // MIB} MiB" if nbytes >= MIB else f"{nbytes // 1024} KiB"


# --------------------------------------------------------------------------------- family probes


class _Call(nn.Module):
    """A module around one function, so a probe runs (and is profiled) like a layer."""

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.fn(*args)


def _cat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat((a, b), 1)


Shapes = tuple[tuple[int, ...], ...]
Width = int | tuple[int, int]  # a probe's channels (or features); (in, out) where they differ


@dataclass(frozen=True)
class Probe:
    """One kernel family measured at a `tiny` size (its fixed cost) and at one or more `typical`
    sizes, each at batch 1 and 8 (its efficiency: the median over them). Each size is (width given
    to `build`, input shapes); integer inputs (`ids`) are token ids over the module's whole table."""

    build: Callable[[Any], nn.Module]  # Width -> module
    tiny: tuple[Width, Shapes]
    typical: tuple[tuple[Width, Shapes], ...]
    ids: bool = False
    what: str = ""


def _conv(kernel: int, groups: Callable[[int], int]) -> Callable[[Width], nn.Module]:
    def build(width: Width) -> nn.Module:
        c_in, c_out = width if isinstance(width, tuple) else (width, width)
        return nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, groups=groups(c_in), bias=False)
    return build


def _unary(fn: Callable[[torch.Tensor], torch.Tensor], what: str) -> Probe:
    """An element-wise function on a transformer's MLP activation (128 tokens x 2048)."""
    return Probe(lambda c: _Call(fn), (8, ((1, 4, 8),)), ((2048, ((1, 128, 2048),)),), what=what)


def _maps(*sizes: tuple[int, int]) -> tuple[tuple[int, Shapes], ...]:
    """(channels, spatial) pairs -> typical sizes of one NCHW input at batch 1."""
    return tuple((c, ((1, c, hw, hw),)) for c, hw in sizes)


TINY_MAP = (8, ((1, 8, 8, 8),))
# A stem: 3 input channels (an image's colours), so the GEMM reduction is only 3 x 9 taps = 27
STEM: tuple[Width, Shapes] = ((3, 32), ((1, 3, 112, 112),))
# Typical sizes: the stem and the early, middle and late stages of a 224x224 CNN and the linear
# layers of BERT/ViT-like blocks, each run at batch 1 and 8 (PROBE_BATCHES) -- the regime of
# effprof's zoo and of most edge inference. A family's efficiency is the median over its sizes; a
# GEMM-shaped family also keeps each probe's shape (rows, reduction) and efficiency. Keys follow
# roofline.family_keys(): 'family', 'family.conv_kind' or 'family.aten_op'.
PROBES: dict[str, Probe] = {
    "conv.standard": Probe(_conv(3, lambda c: 1), TINY_MAP, (*_maps((32, 112), (64, 56), (256, 14), (512, 7)), STEM),
                           what="3x3 conv"),
    "conv.pointwise": Probe(_conv(1, lambda c: 1), TINY_MAP, _maps((64, 56), (256, 14), (1024, 7)), what="1x1 conv"),
    "conv.depthwise": Probe(_conv(3, lambda c: c), TINY_MAP, _maps((32, 112), (128, 56), (512, 14)),
                            what="3x3 depthwise conv"),
    "conv.group": Probe(_conv(3, lambda c: 4), TINY_MAP, _maps((128, 28)), what="3x3 conv, 4 groups"),
    "matmul": Probe(lambda c: nn.Linear(c, 4 * c), (8, ((1, 4, 8),)),
                    ((512, ((1, 128, 512),)), (192, ((1, 197, 192),)), (512, ((1, 512),))), what="linear"),
    "attention": Probe(lambda c: _Call(F.scaled_dot_product_attention), (8, ((1, 1, 4, 8),) * 3),
                       ((64, ((1, 8, 128, 64),) * 3),), what="scaled_dot_product_attention"),
    "norm": Probe(lambda c: nn.BatchNorm2d(c), TINY_MAP, _maps((32, 112), (64, 56), (256, 14)), what="batch norm"),
    "norm.native_layer_norm": Probe(lambda c: nn.LayerNorm(c), (8, ((1, 4, 8),)), ((512, ((1, 128, 512),)),),
                                    what="layer norm"),
    "elementwise": Probe(lambda c: _Call(torch.add), (8, ((1, 8, 8, 8),) * 2), ((64, ((1, 64, 56, 56),) * 2),), what="add"),
    "elementwise.relu_": Probe(lambda c: nn.ReLU(inplace=True), TINY_MAP, _maps((64, 112)), what="in-place relu"),
    "elementwise.gelu": Probe(lambda c: nn.GELU(), (8, ((1, 4, 8),)), ((2048, ((1, 128, 2048),)),), what="gelu"),
    # transcendental element-wise ops cost up to 17x an add per element on a CPU (tanh; exp 5x,
    # sigmoid and SiLU 2x, measured on one AMD EPYC core): each its own probe
    **{f"elementwise.{name}": _unary(fn, name) for name, fn in (("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
                                                                 ("silu", F.silu), ("exp", torch.exp))},
    "pool": Probe(lambda c: nn.MaxPool2d(3, 2, 1), TINY_MAP, _maps((64, 112)), what="3x3/2 max pool"),
    "reduction": Probe(lambda c: nn.AdaptiveAvgPool2d(1), TINY_MAP, _maps((256, 56)), what="global average pool"),
    "softmax": Probe(lambda c: nn.Softmax(-1), (8, ((1, 1, 4, 8),)), ((128, ((1, 8, 128, 128),)),), what="softmax"),
    "copy": Probe(lambda c: _Call(_cat), (8, ((1, 8, 8, 8),) * 2), ((64, ((1, 64, 56, 56),) * 2),), what="cat"),
    "gather": Probe(lambda c: nn.Embedding(30522, c), (8, ((1, 4),)), ((512, ((1, 128),)),), ids=True, what="embedding"),
}


def _probe_inputs(shapes: tuple[tuple[int, ...], ...], device: str, ids_below: int | None = None) -> tuple[torch.Tensor, ...]:
    """Random floats, or with `ids_below` token ids spread over the whole table, as a real text's
    are: ids drawn from a few rows would gather from L1 while the formula (rightly) prices every
    row read from memory."""
    if ids_below is not None:
        return tuple(torch.randint(0, ids_below, shape, device=device) for shape in shapes)
    return tuple(torch.randn(shape, device=device) for shape in shapes)


def _roofline_s(module: nn.Module, inputs: tuple[torch.Tensor, ...],
                spec: HardwareSpec) -> tuple[float, float, float, tuple[int, int] | None]:
    """The plain roofline's compute and memory seconds for the module's kernels (no launch overhead),
    the seconds it pays beyond them (fresh pages, cold weights: in_model.py), and the
    (rows, reduction) of its largest GEMM, if it runs one."""
    from .api import profile  # the pipeline, for probes only: calibrate sits downstream of it

    report = profile(module, inputs, hardware=spec)
    estimate = report.estimate
    assert estimate is not None  # a spec was given
    kernels = estimate.kernels
    gemms = [shape for shape in map(latency_model.gemm_shape, report.kernels) if shape is not None]
    gemm = max(gemms, key=lambda shape: shape.flops, default=None)
    return (sum(k.compute_s for k in kernels), sum(k.memory_s for k in kernels), sum(k.exposed_s for k in kernels),
            (gemm.m, gemm.k) if gemm is not None else None)


PROBE_BATCHES = (1, 8)


def _batched(sizes: tuple[tuple[Width, Shapes], ...]) -> list[tuple[Width, Shapes]]:
    """Every typical size at each of PROBE_BATCHES (the leading dimension of each input)."""
    return [(width, tuple((batch, *shape[1:]) for shape in shapes)) for batch in PROBE_BATCHES for width, shapes in sizes]


def _probe(probe: Probe, base: HardwareSpec, timer: Timer, plan: _Plan, device: str) -> FamilyReading | None:
    """One family's fixed cost and efficiencies; None if the probe cannot run here.

    The tiny probe's time beyond its roofline is the family's fixed cost. Each typical probe's time
    beyond that fixed cost gives an efficiency: the share of the peak FLOP rate that makes the
    roofline's compute term match it (the bandwidth share, for probes that do no arithmetic), as
    roofline.estimate_group applies it, clipped to [1e-4, 10]. The family's efficiency is the
    median over all sizes.
    """

    def run(width: Width, shapes: Shapes) -> tuple[float, float, float, tuple[int, int] | None]:
        module = probe.build(width).to(device)
        inputs = _probe_inputs(shapes, device, int(getattr(module, "num_embeddings")) if probe.ids else None)
        compute_s, memory_s, beyond_s, gemm = _roofline_s(module, inputs, base)  # traced in eval mode, as it runs below
        # fp32 probes priced against fp32 peaks: TF32 off in cuDNN as in matmuls, as --measure runs fp32
        with inference(module), tf32(False):
            measured = timer.median_s(lambda: module(*inputs), warmup=plan.warmup, repeats=plan.repeats,
                                      batch_s=plan.batch_s)
        own_s = measured - beyond_s  # what the family's fixed cost and efficiency must explain
        return compute_s, memory_s, own_s, gemm

    try:
        tiny_c, tiny_m, tiny_s, _ = run(*probe.tiny)
        overhead = max(tiny_s - max(tiny_c, tiny_m), 0.0)
        found = []
        gemm_points = []
        for width, shapes in _batched(probe.typical):
            compute_s, memory_s, measured, gemm = run(width, shapes)
            work = compute_s if compute_s > 0 else memory_s
            term = "compute" if compute_s > 0 else "memory"
            efficiency = min(max(work / max(measured - overhead, 1e-9), 1e-4), 10.0)
            found.append((shapes, measured, work, efficiency))
            if gemm is not None:
                gemm_points.append((*gemm, efficiency))
    except (RuntimeError, NotImplementedError):
        return None
    tiny_shape = "x".join(str(d) for d in probe.tiny[1][0])
    parts = "; ".join(f"{'x'.join(str(d) for d in shapes[0])}: {measured * 1e6:.1f} us vs {work * 1e6:.1f} us -> "
                      f"{efficiency:.3g}" for shapes, measured, work, efficiency in found)
    how = (f"{probe.what}, measured vs the roofline's {term} term after a {overhead * 1e6:.1f} us fixed cost "
           f"(the same op on {tiny_shape}), medians of {plan.repeats}: {parts}; median taken")
    points = tuple((work * 1e6, efficiency) for _, _, work, efficiency in found)
    return FamilyReading(median([row[3] for row in found]), overhead * 1e6, how, term,
                         tuple(measured * 1e6 for _, measured, _, _ in found), points,
                         tuple(gemm_points) if len(gemm_points) == len(found) else ())


# -------------------------------------------------------------------------------------- the spec


def _sourced(calibration: Calibration, reading: Reading, digits: int = 4) -> dict[str, Any]:
    return {"value": _round(reading.value, digits), "source": calibration.source(reading)}


def _round(value: float, digits: int) -> float:
    """`digits` significant digits: specs hold human-sized numbers."""
    if value == 0:
        return 0.0
    return round(value, max(0, digits - 1 - int(math.floor(math.log10(abs(value))))))


def spec_dict(calibration: Calibration, name: str) -> dict[str, Any]:
    """The calibration in the bundled spec format (docs/roofline.md), ready for YAML."""
    c = calibration
    kind = "cpu" if c.device == "cpu" else "gpu"
    threads = f", {c.threads} threads" if c.device == "cpu" else ""
    achieved = Reading(1.0, "the peaks and bandwidth above are achieved rates, not datasheet peaks, so no further derating")
    data: dict[str, Any] = {
        "name": name,
        "description": f"{c.device_name}{threads} (measured by effprof calibrate on {c.date}"
                       f"{' in quick mode' if c.quick else ''}; {platform.system()} {platform.machine()}, torch {torch.__version__})",
        "kind": kind,
        "memory_bandwidth_gb_per_s": _sourced(c, c.memory_bandwidth_gb_per_s),
        "matrix_engine": {
            "name": "torch.matmul as dispatched by this torch build (oneDNN/MKL)" if c.device == "cpu" else "tensor cores via cuBLAS",
            "peak_tflop_per_s": {dtype: _sourced(c, r) for dtype, r in c.matrix_tflop_per_s.items()},
        },
        "vector_units": {
            "name": "vector FMA units" if c.device == "cpu" else "CUDA cores",
            "peak_tflop_per_s": {dtype: _sourced(c, r) for dtype, r in c.vector_tflop_per_s.items()},
        },
        "efficiency": {"compute": _sourced(c, achieved), "memory": _sourced(c, achieved)},
        "launch_overhead_us": _sourced(c, c.launch_overhead_us, 3),
    }
    if c.tiers:
        how = "dst.copy_(src) over this working set (source + destination), bytes read + written, best of the repeats"
        data["cache_bandwidth_gb_per_s"] = [
            {"working_set_kib": size // 1024, "value": _round(gbps, 4), "source": c.source(Reading(gbps, how))}
            for size, gbps in c.tiers
        ]
    if c.families:
        data["kernel_families"] = {
            key: _family_dict(c, family) for key, family in c.families.items()
        }
    if c.cold_weights_gb_per_s is not None:
        data["cold_weights_gb_per_s"] = _sourced(c, c.cold_weights_gb_per_s, 3)
    if c.fresh_pages is not None:
        smallest, rate = c.fresh_pages
        data["fresh_pages"] = {"min_kib": smallest // 1024, "gb_per_s": _round(rate.value, 3), "source": c.source(rate)}
    if c.caches:
        data["caches"] = {
            level: {"size_kib": size, "per": per,
                    "source": f"read from Linux sysfs ({_SYS_CACHE}) by effprof calibrate on {c.date}"}
            for level, size, per in c.caches
        }
    return data


def _family_dict(c: Calibration, family: FamilyReading) -> dict[str, Any]:
    return {
        "efficiency": _round(family.efficiency, 3),
        "overhead_us": _round(family.overhead_us, 3),
        "source": c.source(Reading(family.efficiency, family.how)),
        **({"points": [[_round(w, 4), _round(e, 3)] for w, e in family.points]} if family.points else {}),
        **({"gemm_points": [[m, k, _round(e, 3)] for m, k, e in family.gemm_points]} if family.gemm_points else {}),
    }


def spec_yaml(calibration: Calibration, name: str) -> str:
    """YAML text of the spec, with a header saying what was measured and how to redo it."""
    header = [
        f"# {name}: measured by `effprof calibrate` on {calibration.date} on {calibration.device_name}",
        f"# ({calibration.device}, {calibration.threads} threads). Timings taken while other work ran on the machine",
        "# are low: re-run `effprof calibrate` on a quiet machine to refresh. docs/accuracy.md says how good it is.",
    ]
    if calibration.bandwidth_curve:
        header.append("# copy bandwidth by working set: " + _curve_text(calibration.bandwidth_curve))
    header += [f"# warning: {warning}" for warning in calibration.warnings]
    body: str = yaml.safe_dump(spec_dict(calibration, name), sort_keys=False, allow_unicode=True, width=1000)
    return "\n".join(header) + "\n" + body


def write_spec(calibration: Calibration, path: str | Path, name: str | None = None) -> HardwareSpec:
    """Write the spec YAML to `path` and load it back (so a bad file can never be left behind unseen)."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml"):
        raise UsageError(option("output"), f" '{path}' must end in .yaml (or .yml): it is a hardware spec file")
    name = name or path.stem
    text = spec_yaml(calibration, name)
    parse_spec(load_yaml(text, str(path)), str(path), name)  # validate before touching the disk
    try:
        if path.parent != Path(""):
            os.makedirs(path.parent, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError("cannot write ", option("output"), f" '{path}': {error.strerror}") from error
    return load_spec(path)
