"""`effprof llm TARGET --hw DEVICE --prompt P --generate G`: LLM inference on a device."""

from __future__ import annotations

from pathlib import Path

import typer

from ..hardware import load_spec
from ..llm import load_causal_lm, parse_batches, profile_llm
from ..precision import parse_precision
from ..llm import LlmResult
from ..render import choose_format, emit, formats_of
from .app import app, progress, stdout

LLM_FORMATS = formats_of(LlmResult)


@app.command("llm")
def llm_command(
    target: str = typer.Argument(..., metavar="TARGET", help="A model file (build_model() returning a causal LM), a transformers config.json or a directory holding one, or a hub id (its config only)."),
    hw: str = typer.Option(..., "--hw", help="Device: a bundled spec (see `effprof hw list`) or a YAML path."),
    prompt: int = typer.Option(..., "--prompt", "-p", help="Prompt length in tokens (the prefill)."),
    generate: int = typer.Option(..., "--generate", "-g", help="Tokens generated per sequence (2 or more; the first comes from the prefill)."),
    batch: str = typer.Option("1", "--batch", "-b", help="Batch size, or a list such as 1,8,32,128 for a table (the first is reported in full)."),
    weights: str = typer.Option("fp16", "--weights", help="Weight format: fp16|bf16|fp8|int8|int4."),
    group_size: int | None = typer.Option(None, "--group-size", help="int8/int4 weights: one scale per this many weights (int4 default 128; int8 default per channel)."),
    zero_points: bool = typer.Option(False, "--zero-points", help="int8/int4 weights: asymmetric, with a zero point per scale."),
    activations: str = typer.Option("fp16", "--activations", help="Activation format: fp16|bf16|fp8|int8."),
    kv_cache: str = typer.Option("fp16", "--kv-cache", help="KV cache format: fp16|bf16|fp8|int8."),
    eager: bool = typer.Option(False, "--eager", help="Add the spec's per-op launch overhead (default: none, as with CUDA graphs)."),
    fmt_text: str | None = typer.Option(None, "--format", "-f", help=f"Output format: {'|'.join(LLM_FORMATS)} (default: from --output's suffix, else table)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal."),
) -> None:
    """Time to first token, per-token decode latency, tokens/s and memory fit of a causal LM."""
    fmt = choose_format(fmt_text, output, LLM_FORMATS)
    precision = parse_precision(weights, activations, kv_cache, group_size, zero_points)
    batches = parse_batches(batch)
    spec = load_spec(hw)  # a bad --hw fails before the slow build
    with progress(f"Building {target} on the meta device…"):
        lm = load_causal_lm(target)
    with progress(f"Tracing prefill and decode of {lm.name}…"):
        result = profile_llm(lm, spec, prompt=prompt, generate=generate, batches=batches, precision=precision, eager=eager)
    emit(result, fmt, output, stdout)
