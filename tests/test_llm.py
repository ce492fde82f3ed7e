"""effprof llm: prefill, decode with an in-place KV cache, precision per role, memory and fit.

Llama-3-8B's config (tests/data/llm/llama-3-8b.json: 32 layers, width 4096, 32 query heads and
8 KV heads of 128, MLP 14336, vocabulary 128256, untied LM head) gives the exact numbers. Per
layer, in elements (= MACs per token):
    q 4096*4096 = 16,777,216    k, v 4096*1024 = 4,194,304 each    o 16,777,216
    gate, up, down 4096*14336 = 58,720,256 each -> 176,160,768
    projections + MLP: 218,103,808; x 32 layers = 6,979,321,856
    LM head 4096*128256 = 525,336,576      embedding 128256*4096 = 525,336,576 (a gather)
    RMSNorm scales: 2 per layer + 1 final = 65 * 4096 = 266,240
Attention, per layer and token, over L keys: 32 heads * L * (128 + 128) MACs (QK^T and PV).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from profiler.aggregate import aggregate
from profiler.cli import main
from profiler.errors import ModelLoadError
from profiler.hardware import load_spec
from profiler.llm import load_causal_lm, price_llm, profile_llm, trace_llm
from profiler.precision import Precision, parse_precision, reprice
from profiler.tracing import ModelInputs, trace_model

DATA = Path(__file__).parent / "data" / "llm"
LLAMA_8B = DATA / "llama-3-8b.json"
SPECS = Path(__file__).resolve().parents[1] / "configs" / "hardware"

PROMPT, GENERATE = 1024, 128  # KV cache for P + G = 1152 tokens

GEMM_WEIGHTS = 6_979_321_856 + 525_336_576  # every Linear weight, LM head included: 7,504,658,432


@pytest.fixture(scope="module")
def llama8b():
    lm = load_causal_lm(str(LLAMA_8B))
    traces = trace_llm(lm, 1, PROMPT, GENERATE)
    spec = load_spec(SPECS / "h100.yaml")
    fp16, _ = price_llm(lm, traces, spec, Precision())
    int4, _ = price_llm(lm, traces, spec, parse_precision("int4"))
    return fp16, int4, spec


def test_llama3_8b_fp16_weights_and_kv_cache_bytes(llama8b):
    fp16, _, _ = llama8b
    # params: 2 * 525,336,576 + 6,979,321,856 + 266,240 = 8,030,261,248; x 2 bytes
    assert fp16.memory.weights_bytes == 16_060_522_496
    # K and V x 32 layers x 8 heads x 128 x 1152 tokens x 2 bytes = 150,994,944
    assert fp16.memory.kv_cache_bytes == 150_994_944


def test_llama3_8b_prefill_and_decode_macs_are_the_closed_form(llama8b):
    fp16, _, _ = llama8b
    # prefill of 1024 tokens: 6,979,321,856 * 1024 = 7,146,825,580,544 (projections, MLP)
    #   + attention 32 layers * 32 heads * 1024 * 1024 * 256 = 274,877,906,944 (dense, as counted)
    #   + LM head for the last position only: 525,336,576
    assert fp16.prefill.macs == 7_146_825_580_544 + 274_877_906_944 + 525_336_576
    # first decode step: one token against 1024 cached + itself = 1025 keys:
    #   6,979,321,856 + 525,336,576 + 32 * 32 * 1025 * 256 (= 268,697,600) = 7,773,356,032
    assert fp16.decode.macs_first == 7_773_356_032
    assert (fp16.decode.context_start, fp16.decode.context_end, fp16.decode.steps) == (1025, 1151, 127)
    # last step (token 128) attends 1151 keys: 32 * 32 * 1151 * 256 = 301,727,744
    assert fp16.decode.macs_last == 6_979_321_856 + 525_336_576 + 301_727_744
    assert fp16.decode.integration.startswith("exact")


def test_decode_at_batch_1_is_memory_bound_and_never_beats_the_bandwidth(llama8b):
    fp16, _, spec = llama8b
    assert fp16.decode.bound == "memory"
    assert fp16.prefill.bound == "compute"
    # a step reads every weight and the cache: (16,060,522,496 + 1025 * 131,072) / 3.35e12 B/s
    floor = (16_060_522_496 + 1025 * 131_072) / (spec.memory_bandwidth_gb_per_s.value * 1e9)
    assert fp16.decode.first_s >= floor
    assert fp16.decode.first_s <= fp16.decode.mean_s <= fp16.decode.last_s


def test_where_the_bound_flips_as_the_batch_grows(llama8b):
    fp16, int4, _ = llama8b
    # prefill of 1024 tokens: every GEMM already has 1024 rows, far above the h100 ridge point
    # (989.4e12 * 0.7 / (3.35e12 * 0.85) = 243 FLOP/B): compute-bound from batch 1
    assert fp16.prefill.compute_bound_from_batch == 1
    # decode at context 1025 never turns compute-bound: per sequence the cache read,
    # 1025 * 131,072 B / (3.35e12 * 0.85 B/s) = 47 us, outweighs the GEMMs' compute,
    # 2 * 7,504,658,432 / (989.4e12 * 0.7) = 21.7 us, however many sequences share the weights
    assert fp16.decode.compute_bound_from_batch is None
    # int4 weights change neither side per sequence: dequantizing them (2 ops per weight on the
    # vector units) happens once per GEMM whatever the batch, so it must not grow with it
    assert int4.decode.compute_bound_from_batch is None


def test_int4_weights_cut_the_decode_step_by_the_byte_ratio(llama8b):
    fp16, int4, _ = llama8b
    # int4 in groups of 128 with fp16 scales: 0.5 + 2/128 = 0.515625 B per weight instead of 2:
    # 7,504,658,432 * (2 - 0.515625) = 7,504,658,432 * 95 / 64 = 11,139,727,360 bytes saved
    assert fp16.decode.bytes_first - int4.decode.bytes_first == 11_139_727_360
    ratio = int4.decode.bytes_first / fp16.decode.bytes_first
    assert int4.decode.first_s / fp16.decode.first_s == pytest.approx(ratio, rel=1e-9)
    # weights: GEMMs 7,504,658,432 * 0.515625 = 3,869,589,504; embedding and norms stay fp16:
    # (525,336,576 + 266,240) * 2 = 1,051,205,632
    assert int4.memory.weights_bytes == 3_869_589_504 + 1_051_205_632
    # the prefill reads each weight once too, and counts the same MACs
    assert fp16.prefill.bytes - int4.prefill.bytes == 11_139_727_360
    assert int4.prefill.macs == fp16.prefill.macs


def test_generation_adds_up(llama8b):
    fp16, _, _ = llama8b
    g, d = fp16.generation, fp16.decode
    assert g.time_to_first_token_s == fp16.prefill.latency_s
    assert g.total_s == pytest.approx(fp16.prefill.latency_s + d.mean_s * 127, rel=1e-12)
    assert g.tokens_per_s == pytest.approx(GENERATE / g.total_s)
    assert d.eager_cache_total_s > d.total_s  # the concatenating cache only adds traffic


# ------------------------------------------------------------------------------------ tiny models


def tiny_config(folder: Path, **overrides) -> Path:
    from transformers import LlamaConfig

    settings = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 2, "vocab_size": 256, "max_position_embeddings": 512}
    LlamaConfig(**{**settings, **overrides}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_config(tmp_path_factory.mktemp("tiny"))


def test_decode_total_is_the_exact_sum_of_every_step(tiny):
    # an oracle that does not interpolate: trace and price every one of the 7 decode steps
    lm = load_causal_lm(str(tiny))
    spec = load_spec(SPECS / "a4000.yaml")
    result = profile_llm(lm, spec, prompt=5, generate=8)
    step_by_step = sum(
        profile_llm(lm, spec, prompt=5 + k, generate=2).decode.first_s for k in range(7)
    )
    assert result.decode.steps == 7
    assert result.decode.total_s == pytest.approx(step_by_step, rel=1e-12)


def test_sliding_window_is_not_affine_and_is_traced_at_more_contexts(tmp_path):
    from transformers import MistralConfig

    # attention over at most 8 keys: the decode cost grows for 4 steps, then stays flat
    MistralConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=256, sliding_window=8).save_pretrained(tmp_path)
    lm = load_causal_lm(str(tmp_path))
    spec = load_spec(SPECS / "a4000.yaml")
    result = profile_llm(lm, spec, prompt=4, generate=14)
    assert result.decode.integration.startswith("piecewise-linear between 9 traced contexts")
    oracle = [profile_llm(lm, spec, prompt=4 + k, generate=2).decode for k in range(13)]
    # 2 layers x 4 heads x keys x (16 + 16) MACs of attention: 5 keys -> 8 keys, then 8 for good
    assert [o.macs_first - oracle[0].macs_first for o in oracle[:5]] == [0, 256, 512, 768, 768]
    # the traced contexts (4, 6, 7, 8, 10, 12, 13, 14, 16) hold the kink, so interpolating between
    # them is exact here; in general it is exact only on the straight pieces between traced contexts
    assert result.decode.total_s == pytest.approx(sum(o.first_s for o in oracle), rel=1e-12)


@pytest.mark.parametrize("name, kv_bytes", [
    # Falcon's multi-query attention: 1 KV head of 16, 2 layers, K and V, 36 tokens, 2 B:
    # 2 * 1 * 16 * 36 * 2 * 2 = 4,608 (its config names no num_key_value_heads: the layout is probed)
    ("falcon", 4_608),
    # Gemma-2 alternates a sliding layer (8-row ring buffer) and a global one (36 rows), 2 KV heads of 16:
    # global 2 * 2 * 16 * 36 * 2 = 4,608 + sliding 2 * 2 * 16 * 8 * 2 = 1,024 -> 5,632
    ("gemma2", 5_632),
    # Mixtral (MoE, grouped GEMMs on meta in bf16): 2 layers * 2 * 2 heads * 16 * 36 * 2 = 9,216
    ("mixtral", 9_216),
])
def test_other_architectures_and_their_kv_cache(tmp_path, name, kv_bytes):
    import transformers

    small = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 256}
    config = {
        "falcon": lambda: transformers.FalconConfig(**small),
        "gemma2": lambda: transformers.Gemma2Config(**small, intermediate_size=128, num_key_value_heads=2, head_dim=16, sliding_window=8),
        "mixtral": lambda: transformers.MixtralConfig(**small, intermediate_size=128, num_key_value_heads=2,
                                                      num_local_experts=4, num_experts_per_tok=2),
    }[name]()
    config.save_pretrained(tmp_path)
    result = profile_llm(str(tmp_path), "h100", prompt=16, generate=20)
    assert result.memory.kv_cache_bytes == kv_bytes
    assert result.decode.steps == 19 and result.decode.mean_s > 0


def test_eager_cache_costs_what_a_real_dynamic_cache_does(tiny):
    from transformers import DynamicCache

    lm = load_causal_lm(str(tiny))
    cached = 20
    step = trace_llm(lm, 1, cached, 2).decode[0]
    in_place = sum(reprice(k, step.roles, Precision()).bytes_total for k in step.kernels)
    eager = sum(reprice(k, step.roles, Precision(), eager_cache=True).bytes_total for k in step.kernels)
    writes = sum(k.cost.bytes_total for k in step.kernels if k.event.name == "index_copy_")
    # the oracle: HF's own DynamicCache holding the same 20 tokens, traced
    cache = DynamicCache(config=lm.config)
    for layer in range(2):
        past = torch.empty(1, 2, cached, 16, dtype=torch.bfloat16, device="meta")  # the model is built in bf16
        cache.update(past, past, layer)
    trace = trace_model(lm.model, ModelInputs((), {
        "input_ids": torch.empty(1, 1, dtype=torch.int64, device="meta"), "cache": cache, "use_cache": True,
        "logits_to_keep": 1,
    }), allow_real=False)
    kernels = aggregate(trace, lm.model).kernels
    concatenations = [k for k in kernels if k.event.name == "cat" and k.event.args[0][0].shape[-2] == cached]
    assert len(concatenations) == 4  # K and V in each of 2 layers
    # each reads 20 + 1 rows and writes 21: 2 * 21 * (2 heads * 16 * 2 B) = 2,688 B
    assert all(k.cost.bytes_total == 2_688 for k in concatenations)
    assert eager - in_place == sum(k.cost.bytes_total for k in concatenations) - writes


def test_memory_fit_and_largest_batch(tiny, tmp_path):
    spec = load_spec(SPECS / "a4000.yaml")
    result = profile_llm(str(tiny), spec, prompt=64, generate=64, batches=[2, 4])
    m = result.memory
    assert m.device_bytes == 16 * 2**30 and m.fits
    # per sequence: KV 2 layers * K,V * 2 heads * 16 * 2 B = 256 B per token * 128 tokens = 32,768 B
    assert m.kv_cache_bytes == 2 * 32_768
    assert m.total_bytes == m.weights_bytes + m.kv_cache_bytes + m.activations_peak_bytes
    per_sequence = (m.kv_cache_bytes + m.activations_peak_bytes) / 2
    assert m.weights_bytes + m.max_batch * per_sequence <= m.device_bytes < m.weights_bytes + (m.max_batch + 1) * per_sequence
    assert [r.batch for r in result.batches] == [2, 4]
    assert result.batches[1].memory_bytes > result.batches[0].memory_bytes


def test_w8a8_prefill_runs_on_int8_tensor_cores(llama8b):
    # T4: fp16 tensor cores 65 TFLOPS, int8 130 TOPS: a compute-bound prefill halves (nearly)
    spec = load_spec(SPECS / "t4.yaml")
    assert spec.matrix_engine.peak("int8").value == 2 * spec.matrix_engine.peak("fp16").value


# ------------------------------------------------------------------------------------ loading and CLI


def test_targets_a_config_file_a_directory_and_a_model_file(tiny, write_model):
    assert load_causal_lm(str(tiny)).config.hidden_size == 64
    assert load_causal_lm(str(tiny / "config.json")).config.num_hidden_layers == 2
    path = write_model(
        "from transformers import LlamaConfig, LlamaForCausalLM\n"
        "def build_model():\n"
        "    return LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=1,\n"
        "        num_attention_heads=4, num_key_value_heads=2, vocab_size=256))\n",
        "causal.py",
    )
    lm = load_causal_lm(str(path))
    assert next(lm.model.parameters()).is_meta
    assert profile_llm(lm, "a4000", prompt=4, generate=3).decode.steps == 2


def test_bad_targets_are_one_line_errors(tmp_path, write_model, monkeypatch):
    with pytest.raises(ModelLoadError, match="holds no config.json"):
        load_causal_lm(str(tmp_path))
    with pytest.raises(ModelLoadError, match="not found"):
        load_causal_lm(str(tmp_path / "missing.json"))
    plain = write_model("import torch\ndef build_model():\n    return torch.nn.Linear(4, 4)\n", "plain.py")
    with pytest.raises(ModelLoadError, match="needs a transformers causal LM"):
        load_causal_lm(str(plain))

    import transformers

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the cached files.")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", offline)
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE=1.*local cache"):
        load_causal_lm("someorg/some-model")


def test_cli_json_has_the_documented_keys(tiny, tmp_path, capsys):
    out = tmp_path / "llm.json"
    code = main(["llm", str(tiny), "--hw", "a4000", "--prompt", "16", "--generate", "8", "--batch", "1,4",
                 "--weights", "int8", "--kv-cache", "fp8", "--format", "json", "--output", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert {"model", "hardware", "precision", "prefill", "decode", "generation", "memory"} <= set(data)
    assert data["precision"]["weights"] == "int8" and data["precision"]["kv_cache"] == "fp8"
    assert {"tokens", "macs", "bytes", "latency_s", "bound"} <= set(data["prefill"])
    assert {"context_start", "context_end", "latency_s_per_token", "tokens_per_s", "bound"} <= set(data["decode"])
    assert set(data["decode"]["latency_s_per_token"]) == {"first", "last", "mean"}
    assert set(data["generation"]) == {"time_to_first_token_s", "total_s", "tokens_per_s"}
    assert {"weights_bytes", "kv_cache_bytes", "activations_peak_bytes", "total_bytes", "device_bytes", "fits",
            "max_batch"} <= set(data["memory"])
    assert [row["batch"] for row in data["batches"]] == [1, 4]


def test_two_tokens_make_one_decode_step(tiny):
    result = profile_llm(str(tiny), "t4", prompt=8, generate=2)
    d = result.decode
    assert (d.steps, d.context_start, d.context_end) == (1, 9, 9)
    assert d.total_s == d.mean_s == d.first_s == d.last_s > 0


@pytest.mark.parametrize("fmt, marker", [("table", "Time to first token"), ("markdown", "| Time to first token |")])
def test_cli_table_and_markdown(tiny, capsys, fmt, marker):
    code = main(["llm", str(tiny), "--hw", "t4", "-p", "8", "-g", "4", "-b", "1,2", "--format", fmt])
    out = capsys.readouterr().out
    assert code == 0
    assert marker in out and "Tokens/s total" in out


@pytest.mark.parametrize("args, message", [
    (["--weights", "int3"], "unknown --weights 'int3'"),
    (["--generate", "1"], "--generate must be 2 or more"),
    (["--batch", "1,x"], "bad --batch '1,x'"),
    (["--group-size", "64"], "--group-size applies to int8 or int4"),
])
def test_cli_bad_options_exit_2_in_one_line(tiny, capsys, args, message):
    code = main(["llm", str(tiny), "--hw", "t4", "-p", "8", "-g", "4", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
