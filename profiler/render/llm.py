"""`effprof llm` results as a terminal table, Markdown or JSON. Reads the typed result only."""

from __future__ import annotations

import json

from rich.console import Group, RenderableType
from rich.table import Table

from ..document import document
from ..llm import LlmResult
from ..units import format_bytes, format_seconds, si
from .formats import Format
from .markdown import markdown_table
from .registry import renders

__all__ = ["LLM_FORMATS", "llm_batch_rows", "llm_json", "llm_markdown", "llm_summary_rows", "render_llm"]

LLM_FORMATS = ("table", "json", "markdown")
BATCH_COLUMNS = ("Batch", "TTFT", "Decode/token", "Tokens/s/seq", "Tokens/s total", "Memory", "Fits", "Prefill", "Decode")


def _fits(fits: bool | None) -> str:
    return "unknown" if fits is None else ("yes" if fits else "no")


def _from_batch(batch: int | None) -> str:
    if batch is None:
        return "memory-bound at any batch"
    return "compute-bound at any batch" if batch == 1 else f"memory-bound below batch {batch:,}, compute-bound from it"


def llm_summary_rows(result: LlmResult) -> list[tuple[str, str]]:
    p, d, g, m = result.prefill, result.decode, result.generation, result.memory
    eager_mean = d.eager_cache_total_s / d.steps
    rows = [
        ("Model", result.model),
        ("Hardware", result.hardware),
        ("Precision", result.precision.label),
        ("Run", f"batch {result.batch}, prompt {result.prompt} tokens, generate {result.generate} tokens"),
        ("Time to first token", (f"{format_seconds(p.latency_s)}  (prefill of {p.tokens} tokens: {si(p.macs)}MACs, "
                                 f"{format_bytes(p.bytes)} moved, {p.bound}-bound)")),
        ("Decode per token", (f"first {format_seconds(d.first_s)}, last {format_seconds(d.last_s)}, "
                              f"mean {format_seconds(d.mean_s)}  ({d.bound}-bound; context {d.context_start}..{d.context_end})")),
        ("Tokens/s", f"{d.tokens_per_s:,.1f} per sequence, {d.tokens_per_s_total:,.1f} in total (decode)"),
        ("Generation", (f"{format_seconds(g.total_s)} for {result.generate} tokens per sequence, "
                        f"{g.tokens_per_s:,.1f} tokens/s in total including the prefill")),
        ("Eager HF cache", (f"mean {format_seconds(eager_mean)} per token "
                            f"({(eager_mean / d.mean_s - 1) * 100:+.1f}%): DynamicCache rewrites the whole cache every step")),
        ("Memory", (f"weights {format_bytes(m.weights_bytes)} + KV cache {format_bytes(m.kv_cache_bytes)} "
                    f"({result.prompt + result.generate} tokens) + activations {format_bytes(m.activations_peak_bytes)} "
                    f"= {format_bytes(m.total_bytes)}")),
    ]
    if m.device_bytes is not None:
        verdict = "fits" if m.fits else "does NOT fit"
        rows.append(("Device memory", f"{format_bytes(m.device_bytes)}: {verdict}; largest batch that fits: {m.max_batch}"))
    rows.append(("Bound by batch", (f"prefill {_from_batch(p.compute_bound_from_batch)}; decode (first step) "
                                    f"{_from_batch(d.compute_bound_from_batch)} (extrapolated from batch {result.batch})")))
    flip = result.decode_flip_batch
    if len(result.batches) > 1:
        first, last = min(r.batch for r in result.batches), max(r.batch for r in result.batches)
        rows.append(("Decode bound", f"turns compute-bound between batch {flip[0]} and {flip[1]}" if flip
                     else f"{result.batches[-1].decode_bound}-bound over batches {first}..{last}"))
    rows.append(("Integration", d.integration))
    rows.append(("Launch overhead", "per op (eager)" if result.eager_launches else "none: one CUDA graph per step, as serving engines run decode"))
    return rows


def llm_batch_rows(result: LlmResult) -> list[tuple[str, ...]]:
    return [
        (
            str(r.batch), format_seconds(r.time_to_first_token_s), format_seconds(r.decode_mean_s),
            f"{r.tokens_per_s:,.1f}", f"{r.tokens_per_s_total:,.1f}", format_bytes(r.memory_bytes),
            _fits(r.fits), r.prefill_bound, r.decode_bound,
        )
        for r in result.batches
    ]


@renders(LlmResult, Format.TABLE)
def render_llm(result: LlmResult) -> Group:
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    for label, value in llm_summary_rows(result):
        summary.add_row(label, value)
    parts: list[RenderableType] = [summary]
    if len(result.batches) > 1:
        batches = Table(title="Batch size against throughput and memory", title_justify="left")
        for title in BATCH_COLUMNS:
            batches.add_column(title, justify="left" if title in ("Fits", "Prefill", "Decode") else "right")
        for row in llm_batch_rows(result):
            batches.add_row(*row)
        parts.append(batches)
    if result.notes:
        parts.append("\n".join(f"note: {n}" for n in result.notes))
    return Group(*parts)


@renders(LlmResult, Format.MARKDOWN)
def llm_markdown(result: LlmResult) -> str:
    lines = markdown_table([None, None], llm_summary_rows(result), spaced_rule=True)
    if len(result.batches) > 1:
        lines += ["", *markdown_table(BATCH_COLUMNS, llm_batch_rows(result), spaced_rule=True)]
    lines += [f"\nnote: {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def llm_json(result: LlmResult) -> str:
    return json.dumps(document(result), indent=2) + "\n"
