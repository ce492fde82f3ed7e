"""The JSON documents effprof writes, built in one place from the typed results.

`document(result)` turns any result a command produces (a `Report`, a report with measurements, a
comparison, a conv table, a crosscheck, a budget check, hardware specs) into plain dictionaries,
ready for `json.dumps`. Keys are the public interface documented in docs/json-schema.md: add,
never rename. Nothing else in effprof builds or reads these dictionaries; code passes the typed
objects around and asks them.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from fractions import Fraction
from functools import singledispatch
from typing import Any, Sequence

from .advise import AdviceReport
from .advise.findings import Cost, Finding, ModelTotals
from .aggregate import Layer
from .budgets import BudgetResult, CheckResult, ModelResult
from .compare import Comparison, LayerCell, LayerRow, TotalsRow
from .convtable import ConvRow, ConvTable
from .crosscheck import Crosscheck, Difference, ModuleCheck
from .hardware import HardwareSpec, LatencyModel
from .byop import ByOperator, OpTotals
from .llm import LlmResult
from .measure import Measurement
from .report import Report
from .results import ProfileResult, SpecList, Validation
from .roofline import LayerEstimate, RooflineEstimate, TotalEstimate, ridge_point

__all__ = ["SCHEMA_VERSION", "document", "layer_document", "spec_document"]

SCHEMA_VERSION = 1


@singledispatch
def document(result: Any) -> Any:
    """The JSON form of `result` (any effprof result type, or a list of them)."""
    raise TypeError(f"no JSON form for {type(result).__name__}")


@document.register(list)
@document.register(tuple)
def _sequence(results: Sequence[Any]) -> list[Any]:
    return [document(result) for result in results]


# --------------------------------------------------------------------------------------- reports


@document.register
def report_document(report: Report) -> dict[str, Any]:
    estimate = report.estimate
    t = report.totals
    totals: dict[str, Any] = {
        "params": t.params,
        "buffers": t.buffers,
        "macs": t.macs,
        "flops": t.flops,
        "bytes_read": t.bytes_read,
        "bytes_written": t.bytes_written,
        "intensity": t.intensity,
    }
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "model": report.model,
        "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in report.inputs],
        "inputs_guessed": report.inputs_guessed,
        "dtype": report.dtype,
        "device": report.device,
        "totals": totals,
        "layers": [
            layer_document(layer, estimate.layer(layer.name) if estimate is not None else None)
            for layer in report.layers
        ],
        "unsupported_ops": dict(report.unsupported_ops),
        "notes": list(report.notes),
    }
    if estimate is not None:
        totals.update(_total_estimate(estimate.total))
        data["hardware"] = _hardware(estimate)
    return data


def layer_document(layer: Layer, estimate: LayerEstimate | None = None) -> dict[str, Any]:
    """One row of the report: its counts, and its estimate when there is one (also CSV's columns)."""
    data: dict[str, Any] = {
        "name": layer.name,
        "type": layer.type,
        "conv_kind": layer.conv_kind.value if layer.conv_kind is not None else None,
        "output_shape": list(layer.output_shape) if layer.output_shape is not None else None,
        "params": layer.params,
        "macs": layer.macs,
        "flops": layer.flops,
        "bytes_read": layer.bytes_read,
        "bytes_written": layer.bytes_written,
        "intensity": layer.intensity,
    }
    if estimate is not None:
        data.update({
            "latency_s": estimate.latency_s,
            "latency_share": estimate.share,
            "bound": estimate.bound.value if estimate.bound is not None else None,
            "compute_time_s": estimate.compute_s,
            "memory_time_s": estimate.memory_s,
            "launch_time_s": estimate.launch_s,
            "launches": estimate.launches,
            "intensity_vs_ridge": estimate.intensity_vs_ridge,
            "fused_into": estimate.fused_into,
        })
    return data


def _total_estimate(total: TotalEstimate) -> dict[str, Any]:
    return {
        "latency_s": total.latency_s,
        "throughput_per_s": total.throughput_per_s,
        "memory_bound_fraction": total.memory_bound_fraction,
        "compute_bound_fraction": total.compute_bound_fraction,
        "overhead_fraction": total.overhead_fraction,
        "batch": total.batch,
        "launches": total.launches,
        "fused": total.fused,
    }


def _hardware(estimate: RooflineEstimate) -> dict[str, Any]:
    return {**spec_document(estimate.spec), "peak_unit": estimate.primary.label, "ridge_point": estimate.ridge_point}


@document.register
def spec_document(spec: HardwareSpec) -> dict[str, Any]:
    """A spec as plain data: bandwidth, peaks and ridge points per unit and dtype, sources."""
    bandwidth = spec.memory_bandwidth_gb_per_s.value
    peaks = {unit: {d: p.value for d, p in u.peak_tflop_per_s.items()} for unit, u in spec.units().items()}
    return {
        "name": spec.name,
        "description": spec.description,
        "kind": spec.kind,
        "memory_bandwidth_gb_per_s": bandwidth,
        "memory_capacity_gib": spec.memory_capacity_gib.value if spec.memory_capacity_gib is not None else None,
        "peaks": peaks,
        "ridge_points": {unit: {d: ridge_point(v, bandwidth) for d, v in p.items()} for unit, p in peaks.items()},
        "efficiency": {"compute": spec.compute_efficiency.value, "memory": spec.memory_efficiency.value},
        "launch_overhead_us": spec.launch_overhead_us.value,
        "caches": {c.name: {"size_kib": c.size_kib, "per": c.per} for c in spec.caches},
        **_optional_parts(spec),
        "source": spec.sources(),
        "file": spec.path,
    }


def _optional_parts(spec: HardwareSpec) -> dict[str, Any]:
    """The parts a spec may leave out, under their YAML names, only those it has; sources are in
    the spec's `source`."""
    parts: dict[str, Any] = {}
    if spec.cache_bandwidth:
        parts["cache_bandwidth_gb_per_s"] = [{"working_set_kib": tier.working_set_kib, "gb_per_s": tier.gb_per_s}
                                             for tier in spec.cache_bandwidth]
    if spec.kernel_families:
        parts["kernel_families"] = {
            key: {"efficiency": family.efficiency, "overhead_us": family.overhead_us,
                  "points": [list(point) for point in family.points],
                  "gemm_points": [list(point) for point in family.gemm_points]}
            for key, family in spec.kernel_families.items()
        }
    if spec.channel_alignment:
        parts["channel_alignment"] = {dtype: {"input": a.input, "output": a.output}
                                      for dtype, a in spec.channel_alignment.items()}
    if spec.latency_model is not None:
        parts["latency_model"] = _latency_model(spec.latency_model)
    if spec.cold_weights_gb_per_s is not None:
        parts["cold_weights_gb_per_s"] = spec.cold_weights_gb_per_s.value
    if spec.fresh_pages is not None:
        parts["fresh_pages"] = {"min_kib": spec.fresh_pages.min_kib, "gb_per_s": spec.fresh_pages.gb_per_s}
    return parts


def _latency_model(model: LatencyModel) -> dict[str, Any]:
    """The spec's `latency_model` block as its YAML has it, values without their sources (those are
    in the spec's `source` under `latency_model.KEY`)."""
    return {
        "runtime": model.runtime,
        "units": model.units,
        "gemm_tiles": [list(tile) for tile in model.gemm_tiles],
        "k_step": model.k_step,
        "tile_overhead_k": model.tile_overhead_k,
        "winograd_tiles": list(model.winograd_tiles),
        "memory_overlap": model.memory_overlap,
        "eager_per_op_us": model.eager_per_op_us,
        "fused_per_op_us": model.fused_per_op_us,
        "horizontal_fusion": model.horizontal_fusion,
        "concat_elimination": model.concat_elimination,
    }


@document.register
def _profile_result(result: ProfileResult) -> dict[str, Any]:
    """The report with `--measure`'s per-layer fields and `measurement` summary, and `--by-op`'s
    `by_op`, added."""
    data = report_document(result.report)
    if result.measurement is not None:
        by_name = {row.name: row for row in result.measurement.layers}
        for layer, row in zip(result.report.layers, data["layers"]):
            found = by_name.get(layer.name)
            if found is not None:
                row.update({"measured_latency_s": found.measured_s, "predicted_latency_s": found.predicted_s,
                            "latency_ratio": found.ratio})
        data["measurement"] = _measurement(result.measurement)
    if result.by_op is not None:
        data["by_op"] = _by_operator(result.by_op)
    return data


@document.register
def _validation(validation: Validation) -> dict[str, Any]:
    return {
        "hardware": validation.hardware,
        "tolerance_percent": validation.tolerance_percent,
        "within": validation.within,
        "runs": [{"model": run.target, "batch": run.batch, **_measurement(run.measurement)} for run in validation.runs],
    }


@document.register
def _spec_list(specs: SpecList) -> list[dict[str, Any]]:
    return [spec_document(spec) for spec in specs.specs]


@document.register
def _by_operator(by_op: ByOperator) -> dict[str, Any]:
    return {
        "ops": [_op_totals(row) for row in by_op.ops],
        "module_ops": [{**_op_totals(row), "module_calls": by_op.module_calls.get(row.module or "", 0)}
                       for row in by_op.module_ops],
    }


def _op_totals(row: OpTotals) -> dict[str, Any]:
    data: dict[str, Any] = {"op": row.op}
    if row.module is not None:
        data["module"] = row.module
    data.update(calls=row.calls, macs=row.macs, flops=row.flops, bytes_read=row.bytes_read,
                bytes_written=row.bytes_written)
    return data


def _measurement(m: Measurement) -> dict[str, Any]:
    return {
        "device": m.device,
        "device_name": m.device_name,
        "threads": m.threads,
        "warmup": m.warmup,
        "repeats": m.repeats,
        "predicted_latency_s": m.predicted_total_s,
        "measured_latency_s": m.measured_total_s,
        "hooked_latency_s": m.hooked_total_s,
        "latency_ratio": m.ratio,
        "error_percent": m.error_percent,
        "spearman": m.spearman,
        "notes": list(m.notes),
        "device_matches_spec": m.device_matches_spec,
        "inputs_guessed": m.guessed_input is not None,
    }


# ----------------------------------------------------------------------------------- comparisons


@document.register
def _comparison(comparison: Comparison) -> dict[str, Any]:
    return {
        "entries": [_totals_row(row) for row in comparison.totals],
        "aligned": comparison.aligned,
        "shared_layers": comparison.shared_layers,
        "layers": [_layer_row(row) for row in comparison.matched],
        "top": [[_cell(cell) for cell in cells] for cells in comparison.top],
        "top_by": comparison.top_by,
        "notes": list(comparison.notes),
    }


def _totals_row(row: TotalsRow) -> dict[str, Any]:
    return {
        "label": row.label, "model": row.model, "hardware": row.hardware, "dtype": row.dtype,
        "params": row.params, "macs": row.macs, "flops": row.flops,
        "bytes_read": row.bytes_read, "bytes_written": row.bytes_written, "intensity": row.intensity,
        "latency_s": row.latency_s, "throughput_per_s": row.throughput_per_s,
        "memory_bound_fraction": row.memory_bound_fraction, "compute_bound_fraction": row.compute_bound_fraction,
        "overhead_fraction": row.overhead_fraction, "ratios": asdict(row.ratios),
        "inputs_guessed": row.inputs_guessed,
    }


def _cell(cell: LayerCell) -> dict[str, Any]:
    return asdict(cell)


def _layer_row(row: LayerRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "cells": [_cell(cell) if cell is not None else None for cell in row.cells],
        "ratio_macs": [row.ratio("macs", i) for i in range(len(row.cells))],
        "ratio_latency": [row.ratio("latency_s", i) for i in range(len(row.cells))],
    }


@document.register
def _conv_table(table: ConvTable) -> dict[str, Any]:
    return {
        "spec": {**asdict(table.spec), "padding": table.spec.pad, "out_size": table.spec.out_size},
        "dtype": table.dtype,
        "hardware": table.hardware,
        "rows": [_conv_row(row) for row in table.rows],
    }


def _conv_row(row: ConvRow) -> dict[str, Any]:
    data = asdict(row)
    data["conv_kinds"] = list(row.conv_kinds)
    for key in ("ratio_macs", "ratio_params", "closed_form_value"):
        data[key] = float(getattr(row, key))
    # exact fractions as text, so a reader can check "73/576" without float noise
    data["ratio_macs_exact"] = _fraction_text(row.ratio_macs)
    data["closed_form_exact"] = _fraction_text(row.closed_form_value)
    return data


def _fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@document.register
def _crosscheck(check: Crosscheck) -> dict[str, Any]:
    return {
        "model": check.model,
        "inputs": [list(shape) for shape in check.inputs],
        "units": "MACs (fvcore's 'flop' as it is; FlopCounterMode's flops / 2)",
        "total": _module_check(check.total),
        "modules": [_module_check(row) for row in check.rows],
        "summary": [_difference(d) for d in check.summary],
        "fvcore_unsupported": dict(check.fvcore_unsupported),
        "notes": list(check.notes),
    }


def _module_check(row: ModuleCheck) -> dict[str, Any]:
    return {
        "module": row.module,
        "type": row.type,
        "effprof_macs": row.effprof_macs,
        "fvcore_macs": row.fvcore_macs,
        "flop_counter_macs": row.flop_counter_macs,
        "differences": [_difference(d) for d in row.differences],
    }


def _difference(diff: Difference) -> dict[str, Any]:
    return {"tool": diff.tool, "category": diff.category, "cause": diff.cause, "macs": diff.macs,
            "modules": diff.modules, "text": diff.text}


# --------------------------------------------------------------------------------------- budgets


@document.register
def _check(result: CheckResult) -> dict[str, Any]:
    return {
        "budget_file": str(result.path),
        "ok": result.ok,
        "summary": result.summary(),
        "models_checked": len(result.models),
        "budgets": result.budget_count,
        "over": result.over,
        "baseline": result.baseline,
        "tolerance": result.tolerance,
        "regressed": result.regressed,
        "models": [_model_result(m) for m in result.models],
    }


def _model_result(model: ModelResult) -> dict[str, Any]:
    return {
        "name": model.name,
        "model": model.target,
        "hw": model.hw,
        "dtype": model.dtype,
        "budgets": [_budget_result(r) for r in model.results],
        "notes": list(model.notes),
        "inputs_guessed": model.inputs_guessed,
    }


def _budget_result(result: BudgetResult) -> dict[str, Any]:
    return {
        "metric": result.budget.metric,
        "layers": result.pattern,
        "limit": result.budget.limit,
        "kind": "min" if result.metric.higher_is_better else "max",
        "status": "over" if result.over else "within",
        "regressed": result.regressed,
        "values": [
            {
                "layer": v.layer,
                "actual": v.actual,
                "headroom": result.headroom(v),
                "over": v.over,
                "baseline": v.baseline,
                "change": _json_number(v.change),
                "regressed": v.regressed,
            }
            for v in result.values
        ],
    }


def _json_number(value: float | None) -> float | str | None:
    # JSON has no infinity; a growth from zero is written as a string rather than a bare Infinity
    if value is not None and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


# ---------------------------------------------------------------------------------------- advice


@document.register
def _advice(report: AdviceReport) -> dict[str, Any]:
    """docs/advise.md"""
    return {
        "model": report.model,
        "hardware": report.hardware,
        "totals": _model_totals(report.totals),
        "findings": [_finding(finding) for finding in report.findings],
        "notes": list(report.notes),
    }


def _cost(cost: Cost) -> dict[str, Any]:
    return {"latency_s": cost.latency_s, "bytes": cost.bytes}


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "layers": list(finding.layers),
        "message": finding.message,
        "evidence": dict(finding.evidence),
        "before": _cost(finding.before),
        "after": _cost(finding.after),
        "saving_s": finding.saving_s,
        "saving_fraction": finding.saving_fraction,
    }


def _model_totals(totals: ModelTotals) -> dict[str, Any]:
    return {
        **_cost(totals.cost),
        "params": totals.params,
        "macs": totals.macs,
        "flops": totals.flops,
        "launches": totals.launches,
        "dtype": totals.dtype,
        "batch": totals.batch,
    }


# ------------------------------------------------------------------------------------------ llm


@document.register
def _llm(result: LlmResult) -> dict[str, Any]:
    """The JSON document (docs/llm.md, JSON); keys are added, never renamed."""
    p, d, g, m = result.prefill, result.decode, result.generation, result.memory
    return {
        "model": result.model,
        "hardware": result.hardware,
        "precision": {
            "weights": result.precision.weights,
            "activations": result.precision.activations,
            "kv_cache": result.precision.kv_cache,
            "group_size": result.precision.group_size,
            "zero_points": result.precision.zero_points,
        },
        "batch": result.batch,
        "prefill": {"tokens": p.tokens, "macs": p.macs, "flops": p.flops, "bytes": p.bytes, "latency_s": p.latency_s, "bound": p.bound,
                    "compute_bound_from_batch": p.compute_bound_from_batch},
        "decode": {
            "context_start": d.context_start,
            "context_end": d.context_end,
            "steps": d.steps,
            "latency_s_per_token": {"first": d.first_s, "last": d.last_s, "mean": d.mean_s},
            "tokens_per_s": d.tokens_per_s,
            "tokens_per_s_total": d.tokens_per_s_total,
            "bound": d.bound,
            "compute_bound_from_batch": d.compute_bound_from_batch,
            "macs_per_token": {"first": d.macs_first, "last": d.macs_last},
            "bytes_per_token": {"first": d.bytes_first, "last": d.bytes_last},
            "integration": d.integration,
            "eager_dynamic_cache": {
                "latency_s_per_token": {"first": d.eager_cache_first_s, "last": d.eager_cache_last_s,
                                        "mean": d.eager_cache_total_s / d.steps if d.steps else None},
                "total_s": d.eager_cache_total_s,
            },
        },
        "generation": {"time_to_first_token_s": g.time_to_first_token_s, "total_s": g.total_s, "tokens_per_s": g.tokens_per_s},
        "memory": {
            "weights_bytes": m.weights_bytes,
            "kv_cache_bytes": m.kv_cache_bytes,
            "activations_peak_bytes": m.activations_peak_bytes,
            "total_bytes": m.total_bytes,
            "device_bytes": m.device_bytes,
            "fits": m.fits,
            "max_batch": m.max_batch,
        },
        "batches": [
            {
                "batch": r.batch,
                "time_to_first_token_s": r.time_to_first_token_s,
                "decode_latency_s_per_token": r.decode_mean_s,
                "tokens_per_s": r.tokens_per_s,
                "tokens_per_s_total": r.tokens_per_s_total,
                "memory_bytes": r.memory_bytes,
                "fits": r.fits,
                "prefill_bound": r.prefill_bound,
                "decode_bound": r.decode_bound,
            }
            for r in result.batches
        ],
        "launch_overhead": "eager" if result.eager_launches else "none (CUDA graphs)",
        "notes": list(result.notes),
    }
