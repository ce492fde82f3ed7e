"""LLM inference on a device: prefill, decode with a KV cache written in place, memory and fit.

The model is built from its `transformers` config on the meta device (no weights) and its real
forward is traced: once for the prefill of the prompt, and at a few cache lengths for a decode
step, each step feeding one token per sequence into a static cache (preallocated buffers written
in place with `index_copy_`, as serving engines do). Costs are re-priced per role by
`precision.py` and put on the roofline of a hardware spec.

Decode is integrated over every generated token. A decode step's shapes are affine in the cache
length (the projections and MLP do not change; attention and the cache read grow by one row per
token), so each kernel's FLOPs and bytes are too: costs traced at the first and the last step are
interpolated exactly in between, which a third trace at the midpoint checks. Each step's latency
(a sum over kernels of max(compute, memory), not affine) is then summed step by step. Where the
midpoint disagrees (e.g. sliding-window attention that stops growing), more contexts are traced
and costs interpolated piecewise-linearly between them; the result says which was used.
docs/llm.md gives the method, its conventions and its limits.
"""

from __future__ import annotations

import inspect
import math
import warnings
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .aggregate import Kernel, aggregate, cost_of
from .errors import MetaUnsupportedError, ModelLoadError, UsageError, on_command_line, option
from .events import OpEvent, TensorMeta, tensor_args
from .hardware import HardwareSpec, load_spec
from .liveness import peak_live_bytes
from .loading import InputSpec, load_model
from .precision import (
    FLOAT_FORMATS,
    Precision,
    PricedCost,
    Roles,
    is_matrix_weight,
    reduction_length,
    reprice,
)
from .roofline import choose_unit, compute_time_s, memory_time_s
from .tracing import ModelInputs, trace_model
from .vocabulary import KernelFamily

__all__ = [
    "BatchRow",
    "CausalLM",
    "DecodeResult",
    "GenerationResult",
    "LlmResult",
    "LlmRun",
    "LlmTraces",
    "MemoryResult",
    "PrefillResult",
    "load_causal_lm",
    "parse_batches",
    "price_llm",
    "profile_llm",
    "trace_llm",
]

# Contexts traced per piece when a decode step's costs are not affine in the cache length.
REFINED_POINTS = 9
_CHUNK_ELEMENTS = 1 << 21  # steps x kernels evaluated at once while summing (about 16 MB)
_FLOAT_BYTES = {"fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}


# ------------------------------------------------------------------------------------ loading


@dataclass(frozen=True)
class CausalLM:
    """A causal LM built on meta, and the config its KV cache is shaped from."""

    model: nn.Module
    config: Any
    name: str


def load_causal_lm(target: str) -> CausalLM:
    """A model file (`build_model()` returning a causal LM), a `config.json` or a directory
    holding one, or a hub id resolved to its config only (no weights are ever read)."""
    try:
        from transformers import StaticCache
    except ImportError:
        raise ModelLoadError("effprof llm builds models with transformers: pip install transformers") from None
    if not hasattr(StaticCache, "early_initialization"):
        raise ModelLoadError("effprof llm needs a newer transformers (StaticCache.early_initialization; tested with 5.24): pip install -U transformers")
    path = Path(target.rpartition(":")[0] if ".py:" in target else target)
    if path.suffix == ".py":
        loaded = load_model(target, [InputSpec((1, 1), torch.int64)])
        config = getattr(loaded.model, "config", None)
        if config is None:
            raise ModelLoadError(
                f"'{loaded.name}' has no `config`: effprof llm needs a transformers causal LM "
                "(e.g. AutoModelForCausalLM.from_config(...)); profile other models with `effprof MODEL.py`"
            )
        return CausalLM(loaded.model, config, loaded.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"directory '{target}' holds no config.json: pass a config file or a model directory")
        config = _config_from(str(path), target)
    elif path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise ModelLoadError(f"config file '{target}' not found")
        config = _config_from(str(path), target)
    else:
        config = _config_from(target, target, hub=True)
    return CausalLM(_build(config, target), config, _display_name(target, config))


def _config_from(source: str, target: str, hub: bool = False) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source)
    except (OSError, ValueError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if hub:
            raise ModelLoadError(
                f"cannot resolve '{target}' to a transformers config ({first}); offline (HF_HUB_OFFLINE=1) "
                "it must already be in the local cache: pass a config.json path or a model directory instead"
            ) from None
        raise ModelLoadError(f"'{target}' is not a transformers config: {first}") from None


def _build(config: Any, target: str) -> nn.Module:
    from transformers import AutoModelForCausalLM

    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # bf16: the dtype every meta kernel accepts (aten::_grouped_mm of MoE layers wants it);
            # the formats are chosen later, per role
            model: nn.Module = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
            return model
    except Exception as error:  # noqa: BLE001 - the model's own constructor: one line, not a traceback
        first = str(error).strip().splitlines()[0]
        raise ModelLoadError(f"'{target}' does not build a causal LM with transformers: {first}") from None


def _display_name(target: str, config: Any) -> str:
    architectures = getattr(config, "architectures", None) or [type(config).__name__]
    return f"{Path(target).name or target} ({architectures[0]})"


# ------------------------------------------------------------------------------------ tracing


@dataclass(frozen=True)
class _Step:
    """One traced forward: `new_tokens` per sequence fed to a cache already holding `cached`."""

    batch: int
    new_tokens: int
    cached: int
    kernels: tuple[Kernel, ...]
    roles: Roles
    events: tuple[OpEvent, ...]
    kv_elements: int  # elements of the cache's K and V buffers that grow with the context (batch x rows)
    kv_fixed_elements: int  # ... and of those that do not (a sliding window's ring buffer)
    unsupported: dict[str, int]


def _text_config(config: Any) -> Any:
    getter = getattr(config, "get_text_config", None)
    return getter() if callable(getter) else config


def _kv_layout(config: Any) -> tuple[int, int]:
    text = _text_config(config)
    heads = getattr(text, "num_attention_heads", None)
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or (text.hidden_size // heads if heads else None)
    if not kv_heads or not head_dim:
        raise ModelLoadError("the model's config gives no attention heads: effprof llm needs a transformer decoder")
    return int(kv_heads), int(head_dim)


def _cache_keyword(model: nn.Module) -> str:
    names = inspect.signature(model.forward).parameters
    if "cache" in names:
        return "cache"
    if "past_key_values" in names:
        return "past_key_values"
    raise ModelLoadError(f"{type(model).__name__}.forward takes no KV cache: effprof llm needs a causal LM that does")


# (KV heads, head size): the config's, one for every layer; or each layer's, as a forward wrote them
_KvLayout = tuple[int, int] | tuple[list[int], list[int]]

# per model: the K/V layout its forward really writes, when the config's attributes misled us
_PROBED: weakref.WeakKeyDictionary[nn.Module, _KvLayout] = weakref.WeakKeyDictionary()


def _probe_layout(lm: CausalLM) -> tuple[list[int], list[int]]:
    """Heads and head size of every layer's cache, from an untraced one-token forward that lets the
    cache size itself (some configs name their KV heads their own way: Falcon's multi-query)."""
    from transformers import StaticCache

    cache = StaticCache(config=lm.config, max_cache_len=2)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm.model(input_ids=torch.zeros((1, 1), dtype=torch.int64, device="meta"), **{_cache_keyword(lm.model): cache}, use_cache=True)
    layers: list[Any] = list(cache.layers)
    return [int(layer.keys.shape[1]) for layer in layers], [int(layer.keys.shape[-1]) for layer in layers]


def _trace_step(lm: CausalLM, batch: int, new_tokens: int, cached: int) -> _Step:
    try:
        return _trace_step_with(lm, batch, new_tokens, cached, _PROBED.get(lm.model) or _kv_layout(lm.config))
    except MetaUnsupportedError:
        if lm.model in _PROBED:
            raise
        try:
            _PROBED[lm.model] = _probe_layout(lm)
        except Exception:
            _PROBED[lm.model] = _kv_layout(lm.config)
            raise
        return _trace_step_with(lm, batch, new_tokens, cached, _PROBED[lm.model])


def _trace_step_with(lm: CausalLM, batch: int, new_tokens: int, cached: int, layout: _KvLayout) -> _Step:
    from transformers import StaticCache

    kv_heads, head_dim = layout
    cache = StaticCache(config=lm.config, max_cache_len=cached + new_tokens)
    # the cache in the model's own dtype (what its K and V come out in); formats are re-priced later
    dtype = next((p.dtype for p in lm.model.parameters() if p.is_floating_point()), torch.float16)
    cache.early_initialization(batch_size=batch, num_heads=kv_heads, head_dim=head_dim, dtype=dtype, device=torch.device("meta"))
    layers: list[Any] = list(cache.layers)
    odd = [type(layer).__name__ for layer in layers if not isinstance(getattr(layer, "keys", None), torch.Tensor)]
    if odd:
        raise ModelLoadError(f"the model's cache has {odd[0]} layers, not K/V buffers: effprof llm prices attention KV caches only")
    buffers: list[torch.Tensor] = [t for layer in layers for t in (layer.keys, layer.values)]
    for layer in layers:
        layer.cumulative_length = torch.tensor(cached)  # the prompt (and earlier tokens) already written
    kwargs: dict[str, Any] = {
        "input_ids": torch.empty((batch, new_tokens), dtype=torch.int64, device="meta"),
        _cache_keyword(lm.model): cache,
        "use_cache": True,
    }
    if "logits_to_keep" in inspect.signature(lm.model.forward).parameters:
        kwargs["logits_to_keep"] = 1  # logits of the last position only, as generate() and servers do
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trace = trace_model(lm.model, ModelInputs((), kwargs), allow_real=False, tag={"kv_cache": buffers})
    result = aggregate(trace, lm.model)
    return _Step(
        batch=batch,
        new_tokens=new_tokens,
        cached=cached,
        kernels=tuple(result.kernels),
        roles=Roles.from_trace(trace),
        events=tuple(trace.events),
        kv_elements=sum(t.numel() for t in buffers if t.shape[-2] == cached + new_tokens),
        kv_fixed_elements=sum(t.numel() for t in buffers if t.shape[-2] != cached + new_tokens),
        unsupported=result.unsupported_ops,
    )


# ------------------------------------------------------------------------------------ pricing


@dataclass(frozen=True)
class _Priced:
    """One traced step on the roofline: per-kernel times, and its totals in the chosen formats."""

    compute_s: tuple[float, ...]
    memory_s: tuple[float, ...]
    launch_s: tuple[float, ...]
    macs: int
    flops: int
    bytes: int
    parameter_memory_s: tuple[float, ...] = ()  # the part of memory_s spent reading parameters
    parameter_compute_s: tuple[float, ...] = ()  # the part of compute_s spent dequantizing them

    @property
    def latency_s(self) -> float:
        return sum(max(c, m) + l for c, m, l in zip(self.compute_s, self.memory_s, self.launch_s))

    @property
    def bound(self) -> str:
        return _bound(self.compute_s, self.memory_s)

    def compute_bound_from_batch(self, batch: int, limit: int = 1 << 20) -> int | None:
        """The smallest batch at which this step would be compute-bound, extrapolated from its
        kernels at `batch`: parameters are read (and dequantized) once whatever the batch; FLOPs and
        every other byte (activations, the KV cache) grow in proportion to it. None when not even at
        `limit`."""

        def compute_bound(b: int) -> bool:
            scale = b / batch
            memory = [p + (m - p) * scale for m, p in zip(self.memory_s, self.parameter_memory_s)]
            compute = [p + (c - p) * scale for c, p in zip(self.compute_s, self.parameter_compute_s)]
            return _bound(compute, memory) == "compute"

        if not compute_bound(limit):
            return None
        low, high = 0, limit  # compute-bound at high; not at low (or low is 0)
        while high - low > 1:
            middle = (low + high) // 2
            if compute_bound(middle):
                high = middle
            else:
                low = middle
        return high


def _bound(compute: Sequence[float], memory: Sequence[float]) -> str:
    memory_bound = sum(m for c, m in zip(compute, memory) if m > c)
    compute_bound = sum(c for c, m in zip(compute, memory) if m <= c)
    return "memory" if memory_bound >= compute_bound else "compute"


@dataclass(frozen=True, slots=True)
class _KernelPrice:
    compute_s: float
    memory_s: float
    eager_memory_s: float
    parameter_memory_s: float
    parameter_compute_s: float
    macs: int
    flops: int
    bytes: int
    eager_bytes: int


def _signature(kernel: Kernel, roles: Roles) -> tuple[Hashable, ...] | None:
    """What a kernel's price depends on: its op, cost kind, every argument with tensors replaced
    by (shape, dtype, role); None when an argument cannot be part of a key."""

    def part(value: Any) -> Any:
        if isinstance(value, TensorMeta):
            return (value.shape, value.dtype, roles.is_parameter(value), roles.is_kv(value))
        if isinstance(value, (list, tuple)):
            return tuple(part(v) for v in value)
        if isinstance(value, dict):
            return tuple((k, part(v)) for k, v in value.items())
        return value

    event, cost = kernel.event, kernel.cost
    key = (event.op, event.inplace, cost.family, cost.engine, cost.conv_kind,
           part(event.args), part(event.kwargs), part(event.outputs))
    try:
        hash(key)
    except TypeError:
        return None
    return key


class _Pricer:
    """Roofline times of re-priced kernels on one spec (DRAM bandwidth: weights and the KV cache
    stream from device memory; no per-kernel launch cost unless `eager`)."""

    def __init__(self, spec: HardwareSpec, precision: Precision, eager: bool) -> None:
        self.spec, self.precision, self.eager = spec, precision, eager
        self.notes: list[str] = []
        self._memo: dict[tuple[Hashable, ...], _KernelPrice | None] = {}
        vector = spec.vector_units
        peak = vector.peak(precision.float_format) or vector.peak("fp32")
        assert peak is not None  # specs must list fp32 for their vector units (hardware.parse_spec)
        self.dequant_peak = peak.value

    def _dtype(self, priced: PricedCost, kernel: Kernel) -> str:
        dtype = priced.compute_dtype
        matrix = self.spec.matrix_engine
        if kernel.cost.engine == "matrix" and dtype not in FLOAT_FORMATS:
            has_matrix = matrix is not None and matrix.peak(dtype) is not None
            has_vector = self.spec.vector_units.peak(dtype) is not None
            if not has_matrix and not (matrix is None and has_vector):
                fallback = self.precision.float_format
                note = f"{self.spec.name} lists no {dtype} matrix peak: {dtype} GEMMs priced at the {fallback} rate (operands dequantized)"
                if note not in self.notes:
                    self.notes.append(note)
                return fallback
        return dtype

    def _kernel(self, kernel: Kernel, roles: Roles) -> _KernelPrice | None:
        """One kernel's times and counts; None for a view (no kernel at all)."""
        priced = reprice(kernel, roles, self.precision)
        choice = choose_unit(kernel, self.spec, self._dtype(priced, kernel))
        if choice is None:
            return None
        efficiency = self.spec.compute_efficiency.value
        bandwidth, memory_efficiency = self.spec.memory_bandwidth_gb_per_s.value, self.spec.memory_efficiency.value
        seconds = compute_time_s(priced.flops, choice.peak_tflop_per_s, efficiency)
        dequant_s = compute_time_s(priced.dequant_ops, self.dequant_peak, efficiency) if priced.dequant_ops else 0.0
        seconds += dequant_s
        eager = priced
        if kernel.event.name in ("index_copy_", "index_put_"):
            eager = reprice(kernel, roles, self.precision, eager_cache=True)
        return _KernelPrice(
            compute_s=seconds,
            memory_s=memory_time_s(priced.bytes_total, bandwidth, memory_efficiency),
            eager_memory_s=memory_time_s(eager.bytes_total, bandwidth, memory_efficiency),
            parameter_memory_s=memory_time_s(priced.parameter_bytes, bandwidth, memory_efficiency),
            # dequantizing weights is done once per GEMM whatever the batch; a KV cache's grows with it
            parameter_compute_s=dequant_s if kernel.cost.family in (KernelFamily.MATMUL, KernelFamily.CONV) else 0.0,
            macs=priced.macs,
            flops=priced.flops,
            bytes=priced.bytes_total,
            eager_bytes=eager.bytes_total,
        )

    def price(self, step: _Step) -> tuple[_Priced, _Priced]:
        """`step` on the roofline with its KV cache written in place, and as HF's eager
        DynamicCache would run it (only the cache writes differ). Kernels alike in everything
        the price depends on (every decoder layer's, mostly) are priced once."""
        launch = self.spec.launch_overhead_s if self.eager else 0.0
        compute, memory, eager_memory, parameter_memory, parameter_compute = [], [], [], [], []
        macs = flops = nbytes = eager_bytes = 0
        for kernel in step.kernels:
            key = _signature(kernel, step.roles)
            if key is None or key not in self._memo:
                found = self._kernel(kernel, step.roles)
                if key is not None:
                    self._memo[key] = found
            else:
                found = self._memo[key]
            if found is None:
                continue
            compute.append(found.compute_s)
            memory.append(found.memory_s)
            eager_memory.append(found.eager_memory_s)
            parameter_memory.append(found.parameter_memory_s)
            parameter_compute.append(found.parameter_compute_s)
            macs += found.macs
            flops += found.flops
            nbytes += found.bytes
            eager_bytes += found.eager_bytes
        launches = (launch,) * len(compute)
        in_place = _Priced(tuple(compute), tuple(memory), launches, macs, flops, nbytes, tuple(parameter_memory),
                           tuple(parameter_compute))
        concatenating = _Priced(tuple(compute), tuple(eager_memory), launches, macs, flops, eager_bytes)
        return in_place, concatenating


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class PrefillResult:
    tokens: int
    macs: int
    flops: int
    bytes: int
    latency_s: float
    bound: str
    compute_bound_from_batch: int | None = None  # extrapolated (_Priced.compute_bound_from_batch)


@dataclass(frozen=True)
class DecodeResult:
    """`steps` decode steps; context = tokens in the cache after a step's write (what it attends)."""

    context_start: int
    context_end: int
    steps: int
    first_s: float
    last_s: float
    mean_s: float
    total_s: float
    tokens_per_s: float  # per sequence
    tokens_per_s_total: float  # the whole batch
    bound: str
    macs_first: int
    macs_last: int
    bytes_first: int
    bytes_last: int
    integration: str
    eager_cache_first_s: float
    eager_cache_last_s: float
    eager_cache_total_s: float
    compute_bound_from_batch: int | None = None  # of the first step, extrapolated


@dataclass(frozen=True)
class GenerationResult:
    time_to_first_token_s: float
    total_s: float
    tokens_per_s: float  # generated tokens of the whole batch over the whole run


@dataclass(frozen=True)
class MemoryResult:
    weights_bytes: int
    kv_cache_bytes: int
    activations_peak_bytes: int
    device_bytes: int | None
    max_batch: int | None

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.activations_peak_bytes

    @property
    def fits(self) -> bool | None:
        return None if self.device_bytes is None else self.total_bytes <= self.device_bytes


@dataclass(frozen=True)
class BatchRow:
    batch: int
    time_to_first_token_s: float
    decode_mean_s: float
    tokens_per_s: float
    tokens_per_s_total: float
    memory_bytes: int
    fits: bool | None
    prefill_bound: str
    decode_bound: str


@dataclass(frozen=True)
class LlmResult:
    model: str
    hardware: str
    precision: Precision
    batch: int
    prompt: int
    generate: int
    eager_launches: bool
    prefill: PrefillResult
    decode: DecodeResult
    generation: GenerationResult
    memory: MemoryResult
    batches: tuple[BatchRow, ...]
    notes: tuple[str, ...] = ()

    @property
    def decode_flip_batch(self) -> tuple[int, int] | None:
        """(last memory-bound batch, first compute-bound batch) in the table, if decode flips there."""
        rows = sorted(self.batches, key=lambda r: r.batch)
        for before, after in pairwise(rows):
            if before.decode_bound == "memory" and after.decode_bound == "compute":
                return before.batch, after.batch
        return None



# ------------------------------------------------------------------------------------ running


@dataclass
class LlmRun:
    """Everything priced for one batch size."""

    prefill: PrefillResult
    decode: DecodeResult
    generation: GenerationResult
    memory: MemoryResult
    unsupported: dict[str, int] = field(default_factory=dict)


def parse_batches(text: str) -> list[int]:
    """'1,8,32,128' -> [1, 8, 32, 128]."""
    try:
        batches = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise UsageError("bad ", option("batches"), f" '{text}': expected a batch size or a comma-separated list, e.g. 1,8,32,128") from None
    if not batches or any(b < 1 for b in batches):
        raise UsageError("bad ", option("batches"), f" '{text}': every batch size must be 1 or more")
    return list(dict.fromkeys(batches))


def _sum_steps(points: Sequence[tuple[int, _Priced]], contexts: range) -> tuple[float, float, float]:
    """Total latency over every step in `contexts`, and the part spent in memory-bound kernels
    and in compute-bound ones; each kernel's times interpolated linearly between traced points."""
    import numpy as np

    total = memory_bound = compute_bound = 0.0
    if len(points) == 1:  # one step: the traced one
        points = [points[0], points[0]]
    for (c0, a), (c1, b) in pairwise(points):
        last_piece = c1 == points[-1][0]
        steps = np.arange(c0, c1 + 1 if last_piece else c1, dtype=np.float64)
        steps = steps[(steps >= contexts.start) & (steps < contexts.stop)]
        if not len(steps):
            continue
        comp0, mem0 = np.asarray(a.compute_s), np.asarray(a.memory_s)
        dcomp, dmem = np.asarray(b.compute_s) - comp0, np.asarray(b.memory_s) - mem0
        launch = float(np.sum(a.launch_s))
        chunk = max(1, _CHUNK_ELEMENTS // max(len(comp0), 1))
        for start in range(0, len(steps), chunk):
            weight = ((steps[start:start + chunk] - c0) / (c1 - c0 if c1 != c0 else 1))[:, None]
            comp = comp0 + weight * dcomp
            mem = mem0 + weight * dmem
            is_memory = mem > comp
            kernel_s = np.where(is_memory, mem, comp)
            total += float(kernel_s.sum()) + launch * len(weight)
            memory_bound += float(kernel_s[is_memory].sum())
            compute_bound += float(kernel_s[~is_memory].sum())
    return total, memory_bound, compute_bound


class _NotAffine(Exception):
    pass


def _blend(first: Any, last: Any, delta: int, offset: int) -> Any:
    """An argument of a decode step `offset` tokens after `first`'s, when every dimension that
    differs between `first` and `last` (`delta` tokens apart) grew by exactly `delta`, one per token,
    and no tensor has two such dimensions; _NotAffine otherwise."""
    if isinstance(first, TensorMeta):
        if not isinstance(last, TensorMeta) or len(first.shape) != len(last.shape) or first.dtype != last.dtype:
            raise _NotAffine
        grown = [i for i, (a, b) in enumerate(zip(first.shape, last.shape)) if a != b]
        if len(grown) > 1 or any(last.shape[i] - first.shape[i] != delta for i in grown):
            raise _NotAffine
        return TensorMeta(tuple(d + offset if i in grown else d for i, d in enumerate(first.shape)), first.dtype, first.token)
    if type(first) in (list, tuple):
        if type(last) is not type(first) or len(last) != len(first):
            raise _NotAffine
        return type(first)(_blend(a, b, delta, offset) for a, b in zip(first, last))
    if first == last:
        return first
    if type(first) is int and type(last) is int and last - first == delta:
        return first + offset  # arange(length) and the like
    raise _NotAffine


def _affine_between(a: _Step, b: _Step) -> bool:
    """Are a decode step's kernel costs affine in the context between two traced steps? The shapes
    must grow by one row per token (no tensor growing in two dimensions, none growing by less, as a
    sliding window does), and each cost formula, evaluated on the shapes of the step halfway
    between, must land exactly on the line through the two traced costs (integers, no tolerance):
    this catches a formula that multiplies two growing dimensions."""
    delta, offset = b.cached - a.cached, (b.cached - a.cached) // 2
    if len(a.kernels) != len(b.kernels):
        return False
    for ka, kb in zip(a.kernels, b.kernels):
        if ka.event.op != kb.event.op or ka.event.kwargs.keys() != kb.event.kwargs.keys():
            return False
        try:
            middle = replace(
                ka.event,
                args=_blend(ka.event.args, kb.event.args, delta, offset),
                kwargs={k: _blend(v, kb.event.kwargs[k], delta, offset) for k, v in ka.event.kwargs.items()},
                outputs=_blend(ka.event.outputs, kb.event.outputs, delta, offset),
            )
            cost = cost_of(middle)
        except (_NotAffine, IndexError, AttributeError, TypeError, ValueError):
            return False
        if cost is None:
            return False
        for x, m, y in ((ka.cost.flops, cost.flops, kb.cost.flops), (ka.cost.bytes_total, cost.bytes_total, kb.cost.bytes_total)):
            if (m - x) * delta != (y - x) * offset:
                return False
    return True


@dataclass(frozen=True)
class LlmTraces:
    """The traced forwards of one batch size: the prefill, and decode steps at `decode[i].cached`."""

    batch: int
    prompt: int
    generate: int
    prefill: _Step
    decode: tuple[_Step, ...]
    integration: str


def trace_llm(lm: CausalLM, batch: int, prompt: int, generate: int) -> LlmTraces:
    """Decode steps 1..G-1 (the prefill produced token 1): step k feeds one token per sequence to a
    cache holding P+k-1 tokens. The first and the last steps are traced, and more when the costs
    between them are not affine in the context (`_affine_between`)."""
    first, last = prompt, prompt + generate - 2
    prefill = _trace_step(lm, batch, prompt, 0)
    traced: dict[int, _Step] = {}

    def at(cached: int) -> _Step:
        if cached not in traced:
            traced[cached] = _trace_step(lm, batch, 1, cached)
        return traced[cached]

    picks = sorted({first, last})
    integration = "exact: per-kernel costs affine in the context (shapes grow one row per token; checked halfway)"
    if len(picks) == 2 and last - first > 1 and not _affine_between(at(first), at(last)):
        picks = sorted({first + round(i * (last - first) / (REFINED_POINTS - 1)) for i in range(REFINED_POINTS)})
        integration = f"piecewise-linear between {len(picks)} traced contexts (costs not affine in the context)"
    steps = tuple(at(c) for c in picks)
    if len({len(s.kernels) for s in steps}) > 1:
        raise UsageError("the decode step runs different kernels at different context lengths: effprof llm cannot integrate it")
    return LlmTraces(batch, prompt, generate, prefill, steps, integration)


def _decode(traces: LlmTraces, pricer: _Pricer) -> DecodeResult:
    batch = traces.batch
    first, last = traces.prompt, traces.prompt + traces.generate - 2
    contexts = range(first, last + 1)
    both = [(step.cached, pricer.price(step)) for step in traces.decode]
    total, memory_bound, compute_bound = _sum_steps([(c, p[0]) for c, p in both], contexts)
    eager_total, _, _ = _sum_steps([(c, p[1]) for c, p in both], contexts)
    steps = len(contexts)
    mean = total / steps
    a, z = both[0][1][0], both[-1][1][0]
    return DecodeResult(
        context_start=first + 1,
        context_end=last + 1,
        steps=steps,
        first_s=a.latency_s,
        last_s=z.latency_s,
        mean_s=mean,
        total_s=total,
        tokens_per_s=1 / mean if mean else math.inf,
        tokens_per_s_total=batch / mean if mean else math.inf,
        bound="memory" if memory_bound >= compute_bound else "compute",
        macs_first=a.macs,
        macs_last=z.macs,
        bytes_first=a.bytes,
        bytes_last=z.bytes,
        integration=traces.integration,
        eager_cache_first_s=both[0][1][1].latency_s,
        eager_cache_last_s=both[-1][1][1].latency_s,
        eager_cache_total_s=eager_total,
        compute_bound_from_batch=a.compute_bound_from_batch(batch),
    )


def _weights_bytes(lm: CausalLM, step: _Step, precision: Precision) -> int:
    """Every parameter once: GEMM weights in the weight format with their scales, the rest in the
    float format."""
    float_bytes = _FLOAT_BYTES[precision.float_format]
    total = sum(p.numel() for p in lm.model.parameters()) * float_bytes
    seen: set[int] = set()
    for kernel in step.kernels:
        for tensor in tensor_args((kernel.event.args, kernel.event.kwargs)):
            if not (tensor.is_floating and is_matrix_weight(kernel, tensor, step.roles)):
                continue
            base = step.roles.base(tensor)
            if base in seen:
                continue
            seen.add(base)
            total += precision.weight_bytes(tensor.numel, reduction_length(kernel.event, tensor)) - tensor.numel * float_bytes
    return total


def _activation_bytes(precision: Precision) -> Callable[[TensorMeta], int]:
    stored = _FLOAT_BYTES[precision.activations]

    def size(tensor: TensorMeta) -> int:
        return tensor.numel * stored if tensor.is_floating else tensor.nbytes

    return size


def _activations_peak(steps: Sequence[_Step], precision: Precision) -> int:
    return max(
        peak_live_bytes(s.events, s.roles.view_of, s.roles.parameters | s.roles.kv_cache, _activation_bytes(precision))
        for s in steps
    )


def price_llm(lm: CausalLM, traces: LlmTraces, spec: HardwareSpec, precision: Precision, eager: bool = False) -> tuple[LlmRun, list[str]]:
    """One batch size's traces on `spec` in `precision`: prefill, decode, generation, memory."""
    batch, prompt, generate = traces.batch, traces.prompt, traces.generate
    pricer = _Pricer(spec, precision, eager)
    priced, _ = pricer.price(traces.prefill)
    prefill = PrefillResult(prompt, priced.macs, priced.flops, priced.bytes, priced.latency_s, priced.bound,
                            priced.compute_bound_from_batch(batch))
    decode = _decode(traces, pricer)
    total = prefill.latency_s + decode.total_s
    generation = GenerationResult(prefill.latency_s, total, batch * generate / total if total else math.inf)
    end = traces.decode[-1]
    # the cache holds P+G tokens once the last token is written (serving engines reserve them all)
    rows = end.kv_elements // (end.cached + 1) * (prompt + generate)  # a window's buffer stays as it is
    kv_bytes = (rows + end.kv_fixed_elements) * _FLOAT_BYTES[precision.kv_cache]
    weights = _weights_bytes(lm, traces.prefill, precision)
    activations = _activations_peak([traces.prefill, end], precision)
    device = spec.memory_capacity_bytes
    max_batch = None
    if device is not None:
        # KV cache and activations grow with the batch (activations a little less: this bound is safe)
        per_sequence = (kv_bytes + activations) / batch
        max_batch = max(0, math.floor((device - weights) / per_sequence)) if per_sequence else None
    memory = MemoryResult(weights, kv_bytes, activations, device, max_batch)
    unsupported: dict[str, int] = {}
    for step in [traces.prefill, *traces.decode]:
        for op, count in step.unsupported.items():
            unsupported[op] = max(unsupported.get(op, 0), count)
    return LlmRun(prefill, decode, generation, memory, unsupported), pricer.notes


def profile_llm(
    target: str | CausalLM,
    hardware: str | Path | HardwareSpec,
    *,
    prompt: int,
    generate: int,
    batches: Sequence[int] = (1,),
    precision: Precision | None = None,
    eager: bool = False,
) -> LlmResult:
    """Prefill, decode, memory and fit of a causal LM on a device, for each batch size in
    `batches` (the first one is reported in full, every one in the batch table)."""
    if prompt < 1:
        raise UsageError(option("prompt"), f" must be 1 or more tokens, got {prompt}")
    if generate < 2:
        raise UsageError(option("generate"), f" must be 2 or more tokens (the first comes from the prefill), got {generate}")
    if not batches or any(b < 1 for b in batches):
        raise UsageError(on_command_line((option("batches"), " sizes"), python=("every batch size in ", option("batches"))),
                         " must be 1 or more")
    spec = load_spec(hardware)
    precision = precision or Precision()
    lm = target if isinstance(target, CausalLM) else load_causal_lm(target)
    runs: dict[int, LlmRun] = {}
    notes: list[str] = []
    for batch in batches:
        run, run_notes = price_llm(lm, trace_llm(lm, batch, prompt, generate), spec, precision, eager)
        runs[batch] = run
        notes.extend(n for n in run_notes if n not in notes)
    main = runs[batches[0]]
    if main.unsupported:
        listed = ", ".join(f"{op} x{n}" for op, n in main.unsupported.items())
        notes.append(f"ops with no cost formula, not counted: {listed}")
    if spec.memory_capacity_gib is None:
        notes.append(f"{spec.name} gives no memory_capacity_gib: whether the model fits is unknown (add it to the spec)")
    rows = tuple(
        BatchRow(
            batch=b,
            time_to_first_token_s=r.prefill.latency_s,
            decode_mean_s=r.decode.mean_s,
            tokens_per_s=r.decode.tokens_per_s,
            tokens_per_s_total=r.decode.tokens_per_s_total,
            memory_bytes=r.memory.total_bytes,
            fits=r.memory.fits,
            prefill_bound=r.prefill.bound,
            decode_bound=r.decode.bound,
        )
        for b, r in runs.items()
    )
    return LlmResult(
        model=lm.name,
        hardware=spec.name,
        precision=precision,
        batch=batches[0],
        prompt=prompt,
        generate=generate,
        eager_launches=eager,
        prefill=main.prefill,
        decode=main.decode,
        generation=main.generation,
        memory=main.memory,
        batches=rows,
        notes=tuple(notes),
    )
