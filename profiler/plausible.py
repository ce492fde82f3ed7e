"""Is a calibration believable? Rules that a measurement of real hardware cannot break.

`effprof calibrate` on a busy machine once wrote a 24 ms fixed cost for 3x3 convolutions, a batch
norm running at 10x the measured peak and a 0 GB/s cache tier; `--measure` then predicted 24.4 ms
for a layer measured at 248 µs. These rules catch such numbers: calibrate repeats a probe that
breaks one and refuses (exit 2) when it keeps breaking it. Pure functions of the numbers, so they
are tested with made-up probe results.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence, TypeVar

__all__ = [
    "COMPUTE_EFFICIENCY_MAX", "CACHED_MEMORY_EFFICIENCY_MAX", "EFFICIENCY_CLIP", "OVERHEAD_LAUNCH_RATIO_MAX",
    "OVERHEAD_FLOOR_US", "SPREAD_BUSY", "family_problem", "tier_problems", "busy_warnings", "load_average", "retry",
]

# A compute-bound probe is timed against the GEMM rate measured minutes before on the same machine.
# That rate is one library's matmul, not the core's ceiling: on a 2-vCPU AMD EPYC, oneDNN's 1x1 convs
# ran up to 395 GFLOP/s against torch.matmul's 210 (2 threads), and 3x3 convs 2.2x the matmul rate
# (1 thread; Winograd F(2x2,3x3) does 2.25x fewer multiplies). The most an algorithm saves is
# Winograd F(4x4,3x3)'s 4x; beyond that, plus 10% timing noise, the probe's time was misread.
COMPUTE_EFFICIENCY_MAX = 4.0 * 1.1
# A memory-bound probe may beat the DRAM copy when its bytes sit in cache; with cache tiers in the
# spec the roofline already prices those bytes at cache speed, so beating that by half is misread.
CACHED_MEMORY_EFFICIENCY_MAX = 1.5
EFFICIENCY_CLIP = 10.0  # calibrate clips efficiencies here: a clipped value is no measurement
# A family's fixed cost is the time of the op on a tiny tensor: dispatch plus a little work. The
# measured ones run 1.5x to 80x the launch probe (a 1-element add); 24 ms against a 1 µs launch is
# another program's time slice, not the op's.
OVERHEAD_LAUNCH_RATIO_MAX = 200.0
OVERHEAD_FLOOR_US = 1000.0  # below 1 ms a fixed cost is never called implausible on this ratio alone
SPREAD_BUSY = 1.5  # slowest / fastest repeat of one measurement beyond which the machine was busy

T = TypeVar("T")


def family_problem(
    key: str, efficiency: float, overhead_us: float, term: str, typical_us: Sequence[float], launch_us: float,
    has_tiers: bool, *, strict: bool = True,
) -> str | None:
    """What is implausible about one kernel family's probe, or None. `strict=False` leaves out the
    efficiency-above-peak rules, which a peak measured low (short GEMMs on a busy machine, as in
    quick mode) also breaks: the probes are then right and the peak is what is off."""
    if efficiency >= EFFICIENCY_CLIP:
        return f"{key}: efficiency {efficiency:g} hit the {EFFICIENCY_CLIP:g} clip (the probe ran faster than it can)"
    if strict and term == "compute" and efficiency > COMPUTE_EFFICIENCY_MAX:
        return (f"{key}: efficiency {efficiency:.3g} is over 4x the GEMM rate measured on this machine, more than "
                "any kernel library or algorithm (Winograd F(4x4,3x3)) explains")
    if strict and term == "memory" and has_tiers and efficiency > CACHED_MEMORY_EFFICIENCY_MAX:
        return f"{key}: efficiency {efficiency:.3g} beats the measured copy bandwidth of its working set by over half"
    if overhead_us > max(OVERHEAD_LAUNCH_RATIO_MAX * launch_us, OVERHEAD_FLOOR_US):
        return (f"{key}: fixed cost {overhead_us:.0f} µs is {overhead_us / max(launch_us, 1e-9):.0f}x the "
                f"{launch_us:.3g} µs launch probe")
    if typical_us and overhead_us > min(typical_us):
        return (f"{key}: fixed cost {overhead_us:.1f} µs (the op on a tiny tensor) is more than the whole op on a "
                f"typical tensor ({min(typical_us):.1f} µs)")
    return None


def tier_problems(tiers: Sequence[tuple[int, float]], memory_gb_per_s: float) -> list[str]:
    """Cache tiers [(working-set bytes, GB/s)] that no cache hierarchy has: zero, slower than the
    memory behind them, or faster for a larger working set."""
    problems = []
    for size, gbps in tiers:
        if gbps <= 0 or gbps < memory_gb_per_s:
            problems.append(f"cache tier {size // 1024} KiB: {gbps:g} GB/s is below the {memory_gb_per_s:g} GB/s of memory")
    for (size_a, gbps_a), (size_b, gbps_b) in zip(tiers, tiers[1:]):
        if size_b <= size_a or gbps_b > gbps_a:
            problems.append(f"cache tiers out of order: {size_a // 1024} KiB at {gbps_a:g} GB/s, then "
                            f"{size_b // 1024} KiB at {gbps_b:g} GB/s")
    return problems


def load_average() -> float | None:
    """The 1-minute load average, where the system has one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def busy_warnings(load1: float | None, cores: int, spread: float | None) -> list[str]:
    """Why timings on this machine may be slow and noisy: other work (load average) or repeats that
    disagree (run-to-run spread, slowest over fastest)."""
    warnings = []
    if load1 is not None and load1 > 0.5 * max(cores, 1):
        warnings.append(f"the machine is busy (1-minute load average {load1:.2f} on {cores} cores): timings run slow "
                        "and noisy; calibrate on a quiet machine")
    if spread is not None and spread > SPREAD_BUSY:
        warnings.append(f"repeats of one measurement differed by up to {spread:.1f}x (slowest / fastest): other "
                        "work ran during the calibration; calibrate on a quiet machine")
    return warnings


def retry(measure: Callable[[], T], problem: Callable[[T], str | None], tries: int) -> tuple[T, str | None]:
    """Measure up to `tries` times until `problem` finds nothing; the last result and its problem."""
    result = measure()
    found = problem(result)
    for _ in range(tries - 1):
        if found is None:
            break
        result = measure()
        found = problem(result)
    return result, found
