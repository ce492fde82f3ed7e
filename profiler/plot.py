"""`--plot roofline.png|.svg`: the roofline chart of one estimate. matplotlib is an optional extra.

Each layer is a point at (arithmetic intensity, achieved FLOP/s = its FLOPs / its estimated
latency), coloured by bound and sized by its share of the latency. The solid roofs are the raw
ceilings min(peak, intensity × bandwidth) of every unit and dtype in the spec (the one the
profile's dtype uses in bold); the dotted roof is that one derated by the spec's efficiencies,
which is where the points would sit without launch overhead. The ridge point is marked.
Built on a bare `matplotlib.figure.Figure`, so no pyplot state is touched.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .errors import UsageError, option
from .report import Report
from .roofline import RooflineEstimate, ridge_point
from .vocabulary import Bound

__all__ = ["PLOT_SUFFIXES", "check_plot_path", "plot_roofline"]

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
# effprof is installed from its checkout (README), not from PyPI: `pip install 'effprof[plot]'` finds nothing
INSTALL_HINT = 'pip install matplotlib (or, in the effprof checkout, pip install -e ".[plot]")'
LABELLED_LAYERS = 5
_BOUND_COLOURS = {Bound.MEMORY.value: "#d62728", Bound.COMPUTE.value: "#2ca02c", Bound.OVERHEAD.value: "#9467bd"}


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(option("plot"), f" needs matplotlib, which is not installed: {INSTALL_HINT}") from None
    return Figure


def check_plot_path(path: str | Path) -> None:
    """Fail before any slow work when the plot could not be written."""
    suffix = Path(path).suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise UsageError(option("plot"), f" '{path}': unknown image type '{suffix or '(none)'}'; end the name in {', '.join(PLOT_SUFFIXES)}")
    _figure_class()


def _points(estimate: RooflineEstimate) -> list[tuple[str, float, float, str, float]]:
    """(layer, intensity, achieved TFLOP/s, bound, latency) of every layer a log plot can show."""
    found = []
    for name, row in estimate.layer_sums().items():
        if row.latency_s > 0 and row.flops > 0 and row.bytes > 0:
            found.append((name or "(root)", row.flops / row.bytes, row.flops / row.latency_s / 1e12, (row.bound or Bound.MEMORY).value, row.latency_s))
    return found


def plot_roofline(report: Report, path: str | Path) -> Path:
    """Draw the roofline of `report.estimate` to `path` (.png, .svg or .pdf) and return the path."""
    estimate = report.estimate
    if estimate is None:
        raise UsageError(option("plot"), " needs a latency estimate: add ", option("hardware"), ", e.g. ", option("hardware", "a4000"))
    check_plot_path(path)
    Figure = _figure_class()
    spec = estimate.spec
    bandwidth = spec.memory_bandwidth_gb_per_s.value
    points = _points(estimate)
    primary = estimate.primary_unit()

    lowest = min([p[1] for p in points] + [0.1]) / 4
    highest = max([p[1] for p in points] + [4 * estimate.ridge_point, 10.0]) * 4
    xs = [lowest * (highest / lowest) ** (i / 200) for i in range(201)]

    fig = Figure(figsize=(10, 6.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    placed: list[float] = []
    for unit_key, unit in spec.units().items():
        by_peak: dict[float, list[str]] = {}  # one roof per distinct peak, naming every dtype on it
        for dtype, peak in unit.peak_tflop_per_s.items():
            by_peak.setdefault(peak.value, []).append(dtype)
        for value, dtypes in by_peak.items():
            used = unit_key == primary.unit and primary.dtype in dtypes
            roof = [min(value, x * bandwidth / 1000) for x in xs]
            ax.plot(xs, roof, color="#1f77b4" if unit_key == "matrix" else "#7f7f7f",
                    linewidth=2.2 if used else 0.8, alpha=1.0 if used else 0.6)
            crowded = any(abs(math.log10(value / other)) < 0.04 for other in placed)
            placed.append(value)
            ax.annotate(f"{unit_key} {'/'.join(dtypes)} {value:g} T", (xs[-1], value), fontsize=7,
                        ha="right", va="top" if crowded else "bottom", color="black" if used else "#555555")
    derated = [min(primary.peak_tflop_per_s * spec.compute_efficiency.value, x * bandwidth * spec.memory_efficiency.value / 1000) for x in xs]
    ax.plot(xs, derated, linestyle=":", color="#1f77b4", linewidth=1.2,
            label=f"derated roof ({spec.compute_efficiency.value:g} × compute, {spec.memory_efficiency.value:g} × memory)")
    ridge = ridge_point(primary.peak_tflop_per_s, bandwidth)
    ax.axvline(ridge, color="#9467bd", linestyle="--", linewidth=0.9)
    ax.annotate(f"ridge {ridge:.1f} FLOP/B\n({primary.dtype}, {primary.name})", (ridge, primary.peak_tflop_per_s),
                textcoords="offset points", xytext=(4, -48), fontsize=8, color="#9467bd")

    total = estimate.latency_s or 1.0
    for bound, colour in _BOUND_COLOURS.items():
        chosen = [p for p in points if p[3] == bound]
        if chosen:
            ax.scatter([p[1] for p in chosen], [p[2] for p in chosen], s=[12 + 600 * p[4] / total for p in chosen],
                       color=colour, alpha=0.7, edgecolors="black", linewidths=0.4, label=f"{bound}-bound layers", zorder=3)
    labels: list[tuple[float, float, list[str]]] = []  # layers at the same spot share one label
    for name, x, y, _, _ in sorted(points, key=lambda p: p[4], reverse=True)[:LABELLED_LAYERS]:
        twin = next((item for item in labels if abs(math.log10(item[0] / x)) < 0.03 and abs(math.log10(item[1] / y)) < 0.03), None)
        if twin is None:
            labels.append((x, y, [name]))
        else:
            twin[2].append(name)
    for x, y, names in labels:
        ax.annotate(", ".join(names), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7)

    fused = ", fused" if estimate.fused else ""
    ax.set_title(f"{report.model} on {spec.name} ({estimate.dtype}, batch {estimate.batch}{fused}): "
                 f"{estimate.latency_s * 1e3:.3f} ms estimated", fontsize=10)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("achieved TFLOP/s (TOPS for int8)")
    ax.set_xlim(lowest, highest)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    ax.legend(loc="lower right", fontsize=8)
    path = Path(path)
    try:
        fig.savefig(path, dpi=150)
    except OSError as error:
        raise UsageError("cannot write ", option("plot"), f" '{path}': {error.strerror or error}") from None
    return path
