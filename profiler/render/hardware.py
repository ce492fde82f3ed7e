"""Hardware specs as tables: `effprof hw list` and `effprof hw show`."""

from __future__ import annotations

from typing import Literal

from rich.console import Group
from rich.table import Table

from ..hardware import HardwareSpec

__all__ = ["hardware_list_table", "hardware_detail"]


_SPEC_DTYPES = ("fp32", "tf32", "fp16", "bf16", "int8")


def _gemm_peak(spec: HardwareSpec, dtype: str) -> tuple[float, bool]:
    """(peak, on the matrix engine?) a GEMM gets in `dtype`: the matrix engine when it supports
    the dtype, else the vector units (tf32 and unlisted narrow types at their fp32 rate)."""
    matrix = spec.matrix_engine.peak(dtype) if spec.matrix_engine is not None else None
    if matrix is not None:
        return matrix.value, True
    vector = spec.vector_units.peak(dtype) or spec.vector_units.peak("fp32")
    assert vector is not None  # parse_spec requires an fp32 vector peak
    return vector.value, False


def hardware_list_table(specs: list[HardwareSpec]) -> Table:
    """One row per spec: bandwidth, and per dtype the GEMM peak and its ridge point."""
    table = Table(title="Bundled hardware specs (dense peaks)", header_style="bold", pad_edge=False,
                  caption="TFLOP/s (TOPS for int8) / ridge point in FLOP/byte, for a GEMM: on the matrix engine "
                          "where it supports the dtype, else on the vector units (marked *)")
    table.add_column("Name", no_wrap=True)
    table.add_column("Device", overflow="fold", max_width=40)
    table.add_column("GB/s", justify="right")
    for dtype in _SPEC_DTYPES:
        table.add_column(dtype, justify="right", no_wrap=True)
    for spec in specs:
        bandwidth = spec.memory_bandwidth_gb_per_s.value
        cells = [spec.name, spec.description, f"{bandwidth:g}"]
        for dtype in _SPEC_DTYPES:
            peak, on_matrix = _gemm_peak(spec, dtype)
            ridge = peak * 1e3 / bandwidth
            cells.append(f"{peak:g}{'' if on_matrix else '*'} / {ridge:.0f}")
        table.add_row(*cells)
    return table


def hardware_detail(spec: HardwareSpec) -> Group:
    """Everything in one spec, every number with its source."""
    bandwidth = spec.memory_bandwidth_gb_per_s.value
    head = Table(show_header=False, box=None, pad_edge=False, title=f"{spec.name}: {spec.description}", title_justify="left")
    head.add_column(style="bold", no_wrap=True)
    head.add_column(no_wrap=True)
    head.add_column(style="dim", overflow="fold")
    head.add_row("Kind", spec.kind, spec.path)
    head.add_row("Memory bandwidth", f"{bandwidth:g} GB/s", spec.memory_bandwidth_gb_per_s.source)
    head.add_row("Compute efficiency", f"{spec.compute_efficiency.value:g}", spec.compute_efficiency.source)
    head.add_row("Memory efficiency", f"{spec.memory_efficiency.value:g}", spec.memory_efficiency.source)
    head.add_row("Launch overhead", f"{spec.launch_overhead_us.value:g} µs", spec.launch_overhead_us.source)
    peaks = Table(title="Dense peaks", header_style="bold", pad_edge=False, title_justify="left")
    columns: tuple[tuple[str, Literal["left", "right"]], ...] = (
        ("Unit", "left"), ("dtype", "left"), ("TFLOP/s", "right"), ("Ridge FLOP/B", "right"), ("Source", "left"))
    for title, justify in columns:
        peaks.add_column(title, justify=justify, overflow="fold" if title == "Source" else "ellipsis", no_wrap=title != "Source")
    for key, unit in spec.units().items():
        for dtype, peak in unit.peak_tflop_per_s.items():
            peaks.add_row(f"{key}: {unit.name}", dtype, f"{peak.value:g}", f"{peak.value * 1e3 / bandwidth:.1f}", peak.source)
    parts = [head, peaks]
    if spec.caches:
        caches = Table(title="Caches", header_style="bold", pad_edge=False, title_justify="left")
        for title in ("Level", "Size", "Per", "Source"):
            caches.add_column(title, overflow="fold" if title == "Source" else "ellipsis", no_wrap=title != "Source")
        for cache in spec.caches:
            size = f"{cache.size_kib / 1024:g} MiB" if cache.size_kib >= 1024 else f"{cache.size_kib:g} KiB"
            caches.add_row(cache.name, size, cache.per, cache.source)
        parts.append(caches)
    return Group(*parts)
