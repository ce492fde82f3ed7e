"""effprof llm against decode speeds measured on real hardware and published (a script, not a test).

    python benchmarks/llm_published.py

Prints, per case, the published per-token decode latency next to effprof's mean decode step for
the same model, device, lengths, batch and formats. The cases, their sources and the differences
are discussed in docs/llm.md; the figures there are this script's output as it came.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LLAMA_8B = ROOT / "tests" / "data" / "llm" / "llama-3-8b.json"  # Llama-3.1-8B computes the same shapes
CODELLAMA_7B = ROOT / "benchmarks" / "configs" / "codellama-7b.json"
SPECS = ROOT / "benchmarks" / "specs"


@dataclass(frozen=True)
class Case:
    label: str
    engine: str
    config: Path
    hardware: str
    prompt: int
    generate: int
    batch: int
    weights: str
    group_size: int | None
    measured_ms: float  # published time per output token at this batch
    source: str


CASES = [
    Case("Llama-3.1-8B fp16, H100 SXM, 1 request", "vLLM 0.21", LLAMA_8B, "h100", 128, 128, 1, "fp16", None, 6.48,
         "InferenceBench concurrency sweep, tpot_p50 at conc 1 (yobitelcomm.github.io/bench/recipes/concurrency-sweep)"),
    Case("Llama-3.1-8B fp16, H100 SXM, 4 requests", "vLLM 0.21", LLAMA_8B, "h100", 128, 128, 4, "fp16", None, 6.59,
         "same sweep, tpot_p50 at conc 4"),
    Case("Llama-3.1-8B bf16, A100 40GB SXM, 1 request", "vLLM 0.23", LLAMA_8B, str(SPECS / "a100-40gb.yaml"), 1024, 128, 1,
         "bf16", None, 1000 / 75, "johnmusgrave.com/p/vllm-throughput-latency-sweep-on: about 75 tokens/s at one request, 1024 in / 128 out"),
    Case("CodeLlama-7B F16, RTX 4090, tg128", "llama.cpp", CODELLAMA_7B, str(SPECS / "rtx-4090.yaml"), 1, 128, 1,
         "fp16", None, 1000 / 61.03, "github.com/ggml-org/llama.cpp/pull/4766 (llama-bench, 2024-01-10): tg 128 61.03 t/s"),
    Case("CodeLlama-7B Q8_0, RTX 4090, tg128", "llama.cpp", CODELLAMA_7B, str(SPECS / "rtx-4090.yaml"), 1, 128, 1,
         "int8", 32, 1000 / 98.13, "same run: Q8_0 (int8, fp16 scale per 32 weights) tg 128 98.13 t/s"),
]


def main() -> int:
    warnings.filterwarnings("ignore")
    from profiler.llm import load_causal_lm, profile_llm
    from profiler.precision import parse_precision

    print("| case | engine | published ms/token | effprof ms/token | effprof / published |")
    print("| --- | --- | ---: | ---: | ---: |")
    models = {}
    for case in CASES:
        lm = models.setdefault(case.config, load_causal_lm(str(case.config)))
        precision = parse_precision(case.weights, case.weights if case.weights in ("fp16", "bf16") else "fp16", None, case.group_size)
        result = profile_llm(lm, case.hardware, prompt=case.prompt, generate=case.generate, batches=[case.batch], precision=precision)
        ours = result.decode.mean_s * 1000
        print(f"| {case.label} | {case.engine} | {case.measured_ms:.2f} | {ours:.2f} | {ours / case.measured_ms:.2f} |")
    print()
    for case in CASES:
        print(f"- {case.label}: {case.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
