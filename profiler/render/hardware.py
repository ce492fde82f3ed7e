"""Hardware specs as tables and Markdown: `effprof hw list` and `effprof hw show`.

Each table's rows are built once (`*_rows`) and drawn by rich or written as Markdown.
"""

from __future__ import annotations

from typing import Literal, Sequence

from rich.console import Group
from rich.table import Table

from ..dtypes import PROFILE_DTYPES
from ..hardware import HardwareSpec, LatencyModel
from ..results import SpecList
from ..units import format_kib
from .formats import Format
from .markdown import markdown_table
from .registry import renders

__all__ = ["hardware_list_table", "hardware_list_markdown", "hardware_detail", "hardware_markdown", "latency_model_rows"]

MISSING = "-"  # a number the spec does not have, as every effprof table writes it
_LIST_CAPTION = ("TFLOP/s (TOPS for int8) / ridge point in FLOP/byte, for a GEMM: on the matrix engine "
                 "where it supports the dtype, else on the vector units (marked *); fp8: - where the spec has "
                 "no fp8 peak (--dtype fp8 is refused there)")


def _gemm_peak(spec: HardwareSpec, dtype: str) -> tuple[float, bool] | None:
    """(peak, on the matrix engine?) a GEMM gets in `dtype`: the matrix engine when it supports
    the dtype, else the vector units (tf32 and unlisted narrow types at their fp32 rate); None for
    fp8 on a spec without an fp8 peak, which the roofline refuses rather than price at fp32."""
    matrix = spec.matrix_engine.peak(dtype) if spec.matrix_engine is not None else None
    if matrix is not None:
        return matrix.value, True
    vector = spec.vector_units.peak(dtype)
    if vector is None and dtype != "fp8":
        vector = spec.vector_units.peak("fp32")
        assert vector is not None  # parse_spec requires an fp32 vector peak
    return (vector.value, False) if vector is not None else None


def _list_header() -> list[str]:
    return ["Name", "Device", "GB/s", *PROFILE_DTYPES]


def _list_rows(specs: SpecList) -> list[list[str]]:
    rows = []
    for spec in specs.specs:
        bandwidth = spec.memory_bandwidth_gb_per_s.value
        cells = [spec.name, spec.description, f"{bandwidth:g}"]
        for dtype in PROFILE_DTYPES:
            gemm = _gemm_peak(spec, dtype)
            if gemm is None:
                cells.append(MISSING)
                continue
            peak, on_matrix = gemm
            cells.append(f"{peak:g}{'' if on_matrix else '*'} / {peak * 1e3 / bandwidth:.0f}")
        rows.append(cells)
    return rows


@renders(SpecList, Format.TABLE)
def hardware_list_table(specs: SpecList) -> Table:
    """One row per spec: bandwidth, and per dtype the GEMM peak and its ridge point."""
    table = Table(title="Bundled hardware specs (dense peaks)", header_style="bold", pad_edge=False, caption=_LIST_CAPTION)
    for title in _list_header():
        if title == "Name":
            table.add_column(title, no_wrap=True)
        elif title == "Device":
            table.add_column(title, overflow="fold", max_width=40)
        else:
            table.add_column(title, justify="right", no_wrap=title != "GB/s")
    for cells in _list_rows(specs):
        table.add_row(*cells)
    return table


@renders(SpecList, Format.MARKDOWN)
def hardware_list_markdown(specs: SpecList) -> str:
    header = _list_header()
    align = ["---", "---", *["---:"] * (len(header) - 2)]
    lines = ["**Bundled hardware specs (dense peaks)**", "", *markdown_table(header, _list_rows(specs), align=align),
             "", _LIST_CAPTION]
    return "\n".join(lines) + "\n"


def _head_rows(spec: HardwareSpec) -> list[tuple[str, str, str]]:
    rows = [
        ("Kind", spec.kind, spec.path),
        ("Memory bandwidth", f"{spec.memory_bandwidth_gb_per_s.value:g} GB/s", spec.memory_bandwidth_gb_per_s.source),
        ("Compute efficiency", f"{spec.compute_efficiency.value:g}", spec.compute_efficiency.source),
        ("Memory efficiency", f"{spec.memory_efficiency.value:g}", spec.memory_efficiency.source),
        ("Launch overhead", f"{spec.launch_overhead_us.value:g} µs", spec.launch_overhead_us.source),
    ]
    if spec.memory_capacity_gib is not None:
        rows.append(("Memory capacity", f"{spec.memory_capacity_gib.value:g} GiB", spec.memory_capacity_gib.source))
    if spec.cold_weights_gb_per_s is not None:
        rows.append(("Cold weights", f"{spec.cold_weights_gb_per_s.value:g} GB/s", spec.cold_weights_gb_per_s.source))
    if spec.fresh_pages is not None:
        pages = spec.fresh_pages
        rows.append(("Fresh pages", f"{pages.gb_per_s:g} GB/s from {format_kib(pages.min_kib)}", pages.source))
    return rows


_PEAK_HEADER = ("Unit", "dtype", "TFLOP/s", "Ridge FLOP/B", "Source")


def _peak_rows(spec: HardwareSpec) -> list[tuple[str, str, str, str, str]]:
    bandwidth = spec.memory_bandwidth_gb_per_s.value
    return [(f"{key}: {unit.name}", dtype, f"{peak.value:g}", f"{peak.value * 1e3 / bandwidth:.1f}", peak.source)
            for key, unit in spec.units().items() for dtype, peak in unit.peak_tflop_per_s.items()]


_CACHE_HEADER = ("Level", "Size", "Per", "Source")


def _cache_rows(spec: HardwareSpec) -> list[tuple[str, str, str, str]]:
    return [(cache.name, format_kib(cache.size_kib), cache.per, cache.source) for cache in spec.caches]


_TIER_HEADER = ("Working set up to", "GB/s", "Source")


def _tier_rows(spec: HardwareSpec) -> list[tuple[str, str, str]]:
    return [(format_kib(tier.working_set_kib), f"{tier.gb_per_s:g}", tier.source) for tier in spec.cache_bandwidth]


_FAMILY_HEADER = ("Kernel family", "Efficiency", "Overhead", "Probes", "Source")


def _family_rows(spec: HardwareSpec) -> list[tuple[str, str, str, str, str]]:
    return [(key, f"{family.efficiency:g}", f"{family.overhead_us:g} µs", f"{len(family.points) + len(family.gemm_points)}",
             family.source)
            for key, family in spec.kernel_families.items()]


_ALIGNMENT_HEADER = ("dtype", "Input channels", "Output channels", "Source")


def _alignment_rows(spec: HardwareSpec) -> list[tuple[str, str, str, str]]:
    return [(dtype, f"multiple of {a.input}", f"multiple of {a.output}", a.source)
            for dtype, a in spec.channel_alignment.items()]


_LATENCY_MODEL_TITLE = "Latency model (kernel-aware pricing)"
_LATENCY_MODEL_HEADER = ("Parameter", "Value", "Source")


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def latency_model_rows(model: LatencyModel) -> list[tuple[str, str, str]]:
    """(YAML key, value with its unit, source) per parameter of the spec's `latency_model` block."""
    source = model.source
    winograd = ", ".join(f"F({m}x{m}, 3x3)" for m in model.winograd_tiles) or "none"
    values = {
        "units": f"{model.units}",
        "gemm_tiles": ", ".join(f"{rows}x{cols}" for rows, cols in model.gemm_tiles),
        "k_step": f"{model.k_step}",
        "tile_overhead_k": f"{model.tile_overhead_k:g} k-steps",
        "winograd_tiles": winograd,
        "memory_overlap": f"{model.memory_overlap:g}",
        "eager_per_op_us": f"{model.eager_per_op_us:g} µs",
        "fused_per_op_us": f"{model.fused_per_op_us:g} µs",
        "horizontal_fusion": _yes_no(model.horizontal_fusion),
        "concat_elimination": _yes_no(model.concat_elimination),
    }
    return [("runtime", model.runtime, ""), *((key, value, source.get(key, "")) for key, value in values.items())]


def _sourced_table(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]], *,
                   right: tuple[str, ...] = (), wrap: tuple[str, ...] = ("Source",)) -> Table:
    """A titled table whose `wrap` columns fold and the others stay on one line."""
    table = Table(title=title, header_style="bold", pad_edge=False, title_justify="left")
    for column in header:
        justify: Literal["left", "right"] = "right" if column in right else "left"
        table.add_column(column, justify=justify, overflow="fold" if column in wrap else "ellipsis", no_wrap=column not in wrap)
    for row in rows:
        table.add_row(*row)
    return table


# a titled table: (title, header, rows, right-aligned columns)
_Section = tuple[str, tuple[str, ...], Sequence[tuple[str, ...]], tuple[str, ...]]


def _optional_tables(spec: HardwareSpec) -> list[_Section]:
    """The parts a spec may leave out, those it has."""
    tables: list[_Section] = [
        ("Caches", _CACHE_HEADER, _cache_rows(spec), ()),
        ("Cache bandwidth", _TIER_HEADER, _tier_rows(spec), ("Working set up to", "GB/s")),
        ("Kernel families (calibrated)", _FAMILY_HEADER, _family_rows(spec), ("Efficiency", "Overhead", "Probes")),
        ("Channel alignment (matrix engine)", _ALIGNMENT_HEADER, _alignment_rows(spec), ()),
    ]
    return [table for table in tables if table[2]]


@renders(HardwareSpec, Format.TABLE)
def hardware_detail(spec: HardwareSpec) -> Group:
    """Everything in one spec, every number with its source."""
    head = Table(show_header=False, box=None, pad_edge=False, title=f"{spec.name}: {spec.description}", title_justify="left")
    head.add_column(style="bold", no_wrap=True)
    head.add_column(no_wrap=True)
    head.add_column(style="dim", overflow="fold")
    for row in _head_rows(spec):
        head.add_row(*row)
    parts = [head, _sourced_table("Dense peaks", _PEAK_HEADER, _peak_rows(spec), right=("TFLOP/s", "Ridge FLOP/B"))]
    for title, header, rows, right in _optional_tables(spec):
        parts.append(_sourced_table(title, header, rows, right=right))
    if spec.latency_model is not None:
        parts.append(_sourced_table(_LATENCY_MODEL_TITLE, _LATENCY_MODEL_HEADER, latency_model_rows(spec.latency_model),
                                    wrap=("Value", "Source")))
    return Group(*parts)


@renders(HardwareSpec, Format.MARKDOWN)
def hardware_markdown(spec: HardwareSpec) -> str:
    """The same tables as `hardware_detail`, in Markdown."""
    lines = [f"**{spec.name}: {spec.description}**", "", *markdown_table(("Property", "Value", "Source"), _head_rows(spec)),
             "", "**Dense peaks**", "", *markdown_table(_PEAK_HEADER, _peak_rows(spec), align=["---", "---", "---:", "---:", "---"])]
    for title, header, rows, right in _optional_tables(spec):
        align = ["---:" if column in right else "---" for column in header]
        lines += ["", f"**{title}**", "", *markdown_table(header, rows, align=align)]
    if spec.latency_model is not None:
        lines += ["", f"**{_LATENCY_MODEL_TITLE}**", "",
                  *markdown_table(_LATENCY_MODEL_HEADER, latency_model_rows(spec.latency_model))]
    return "\n".join(lines) + "\n"
