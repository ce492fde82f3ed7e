"""Statistics of timings and of predictions against them: pure functions of numbers.

The median is what a timing reports (other work on the machine makes a few repeats slow, and
the median ignores them); the fastest repeat is what a ceiling reports (calibration's
bandwidths and peaks, as STREAM does); the spread, slowest over fastest, says how busy the
machine was. Error, ranks and Spearman's rho set predictions against measurements.
"""

from __future__ import annotations

import math
from typing import Sequence

__all__ = ["median", "spread", "error_percent", "within", "ranks", "spearman"]


def median(values: Sequence[float]) -> float:
    """The middle value; the mean of the two middle values of an even count."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def spread(values: Sequence[float]) -> float | None:
    """Slowest over fastest (1.0: every repeat took the same); None when the fastest is not positive."""
    if not values:
        raise ValueError("spread of no values")
    fastest = min(values)
    return max(values) / fastest if fastest > 0 else None


def error_percent(predicted: float, measured: float) -> float:
    """Signed prediction error in percent of the measurement: +25 means predicted 25% too slow."""
    if not measured > 0:
        raise ValueError(f"measured time must be positive, got {measured}")
    return (predicted - measured) / measured * 100.0


def within(predicted: float, measured: float, tolerance_percent: float) -> bool:
    """True when the prediction is within ±tolerance_percent of the measurement."""
    return abs(error_percent(predicted, measured)) <= tolerance_percent


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
