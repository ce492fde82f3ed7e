"""Roofline latency estimates: costed kernels + a hardware spec -> time and bound per layer.

Per kernel (CONVENTIONS.md, Roofline):
    t = max(flops / (peak[unit][dtype] · eff_compute), bytes / (bandwidth · eff_memory)) + launch
`unit` is the matrix engine for convolutions, matmuls and attention in a dtype it supports, else
the vector units; depthwise and small-group convolutions always run on the vector units (cuDNN
and oneDNN do not map them onto tensor cores or AMX tiles). A dtype the vector units do not list
is widened to fp32 in registers, as PyTorch's elementwise kernels do. Views (engine "none") cost
nothing and launch nothing. `bound` is the largest of the three terms: overhead when the fixed
per-kernel cost exceeds both others, else memory when the bytes term is the larger one, else compute.
A layer's latency is the sum of its kernels', the model's the sum of its layers'.

The functions at the top are the model; `estimate()` applies them to a profile and returns a
`RooflineEstimate`: frozen, typed results (`KernelEstimate` per kernel, `LayerEstimate` per table
row, `TotalEstimate` for the model) that `Report` keeps in `report.estimate`. Turning them into
JSON, tables or prose is `document`'s and `render`'s business, not this module's.
docs/roofline.md derives the numbers and lists the model's limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from . import in_model, latency_model
from .aggregate import Kernel, Layer
from .dtypes import PROFILE_DTYPES, peak_key
from .errors import UsageError, option
from .fusion import KernelGroup, eager_groups, fuse_kernels
from .hardware import HardwareSpec, bundled_specs
from .vocabulary import Bound, ConvKind

__all__ = [
    "SMALL_GROUP_CHANNELS",
    "UnitChoice",
    "KernelEstimate",
    "LayerEstimate",
    "TotalEstimate",
    "RooflineEstimate",
    "compute_time_s",
    "memory_time_s",
    "kernel_time_s",
    "ridge_point",
    "choose_unit",
    "family_keys",
    "estimate",
]

# Grouped convolutions with fewer input channels per group than this run on the vector units:
# a tensor-core MMA needs K >= 8-16 per instruction, and cuDNN's grouped kernels for thin groups
# (ResNeXt's 4 channels per group) are CUDA-core kernels.
SMALL_GROUP_CHANNELS = 16


# ------------------------------------------------------------------------------------- the model


def compute_time_s(flops: float, peak_tflop_per_s: float, efficiency: float) -> float:
    """Seconds to execute `flops` at `efficiency` × the peak."""
    return flops / (peak_tflop_per_s * 1e12 * efficiency)


def memory_time_s(nbytes: float, bandwidth_gb_per_s: float, efficiency: float) -> float:
    """Seconds to move `nbytes` to or from DRAM at `efficiency` × the bandwidth."""
    return nbytes / (bandwidth_gb_per_s * 1e9 * efficiency)


def kernel_time_s(compute_s: float, memory_s: float, launch_s: float, exposed_s: float = 0.0) -> float:
    """One kernel: compute and memory traffic overlap, the launch does not; `exposed_s` is the part
    of the shorter term that does not overlap (the kernel-aware model's, profiler/latency_model.py)."""
    return max(compute_s, memory_s) + exposed_s + launch_s


def ridge_point(peak_tflop_per_s: float, bandwidth_gb_per_s: float) -> float:
    """FLOP per byte above which a kernel is compute-bound at the raw peaks."""
    return peak_tflop_per_s * 1e12 / (bandwidth_gb_per_s * 1e9)


@dataclass(frozen=True, slots=True)
class UnitChoice:
    unit: str  # "matrix" | "vector"
    dtype: str  # the key of the peak used (fp32 when a narrow dtype is widened)
    peak_tflop_per_s: float
    name: str  # the spec's name for the unit, e.g. "CUDA cores (6144)"

    @property
    def label(self) -> str:
        return f"{self.unit}:{self.dtype}"


def runs_on_vector_units(kernel: Kernel) -> bool:
    """Depthwise and thin-group convolutions, whatever their engine says."""
    kind = kernel.cost.conv_kind
    if kind is ConvKind.DEPTHWISE:
        return True
    if kind is ConvKind.GROUP:
        per_group = kernel.cost.channels_per_group
        return per_group is not None and per_group < SMALL_GROUP_CHANNELS
    return False


def choose_unit(kernel: Kernel, spec: HardwareSpec, dtype: str) -> UnitChoice | None:
    """Which units run `kernel` in `dtype`, at what peak; None for views (no kernel at all)."""
    engine = kernel.cost.engine
    if engine == "none":
        return None
    matrix = spec.matrix_engine
    if engine == "matrix" and matrix is not None and not runs_on_vector_units(kernel):
        peak = matrix.peak(dtype)
        if peak is not None:
            return UnitChoice("matrix", dtype, peak.value, matrix.name)
    return _vector_choice(spec, dtype)


def _vector_choice(spec: HardwareSpec, dtype: str) -> UnitChoice:
    """The vector units in `dtype`, or at their fp32 rate when they list no peak for it."""
    vector = spec.vector_units
    key = dtype if vector.peak(dtype) is not None else "fp32"
    peak = vector.peak(key)
    assert peak is not None  # parse_spec requires an fp32 vector peak
    return UnitChoice("vector", key, peak.value, vector.name)


# ------------------------------------------------------------------------------------- estimates


@dataclass(frozen=True, slots=True)
class KernelEstimate:
    """One launched kernel (one op, or one fused chain) on the roofline."""

    module: str  # the layer its time lands on (a fused chain's head)
    ops: tuple[str, ...]
    members: tuple[str, ...]  # modules whose ops it ran
    choice: UnitChoice
    flops: int
    bytes: int
    compute_s: float
    memory_s: float
    launch_s: float
    # memory (or compute) time not hidden by overlap: the kernel-aware model's, or on a calibrated
    # CPU what the kernel pays inside a model (cold weights, fresh pages: in_model.py)
    exposed_s: float = 0.0
    algorithm: str = ""  # the kernel the runtime picks (implicit_gemm, winograd_f2, ...): kernel-aware specs only

    @property
    def latency_s(self) -> float:
        return kernel_time_s(self.compute_s, self.memory_s, self.launch_s, self.exposed_s)

    @property
    def bound(self) -> Bound:
        """The larger of the three terms: a tiny kernel's fixed cost can outweigh both its FLOPs and
        its bytes, and calling it memory-bound would send the reader after bytes that cost nothing."""
        if self.launch_s > max(self.compute_s, self.memory_s + self.exposed_s):
            return Bound.OVERHEAD
        # exposed time is memory traffic no arithmetic hides (a weight stream, page faults)
        return Bound.MEMORY if self.memory_s + self.exposed_s > self.compute_s else Bound.COMPUTE


def family_keys(kernel: Kernel) -> tuple[str, ...]:
    """Keys a spec's `kernel_families` may calibrate this kernel under, most specific first."""
    family = kernel.cost.family.value
    kind = (f"{family}.{kernel.cost.conv_kind.value}",) if kernel.cost.conv_kind is not None else ()
    return (*kind, f"{family}.{kernel.event.name}", family)


def estimate_group(group: KernelGroup, spec: HardwareSpec, dtype: str, fused: bool = False,
                   weights_cold: bool = False) -> KernelEstimate | None:
    """`weights_cold`: the model's weights outgrow the last-level cache (in_model.weights_are_cold)."""
    choice = choose_unit(group.head, spec, dtype)
    if choice is None:
        return None
    if spec.latency_model is not None:
        return _with_dequant(_kernel_aware(group, spec, dtype, choice, fused), group, spec, dtype)
    # calibrated specs only (docs/accuracy.md): bandwidth of the cache the kernel's bytes fit in,
    # and the head's kernel family's measured fixed cost and efficiency, the share of the peak FLOP
    # rate the family reaches (of the bandwidth, for families that do no arithmetic: copies,
    # gathers); plain specs are unaffected
    family = spec.kernel_family(family_keys(group.head))
    bandwidth = spec.bandwidth_gb_per_s_for(group.bytes_total)
    # a family calibrated with per-size points is priced at the efficiency probes of this much work reached
    work_s = (compute_time_s(group.flops, choice.peak_tflop_per_s, spec.compute_efficiency.value) if group.flops
              else memory_time_s(group.bytes_total, bandwidth, spec.memory_efficiency.value))
    # a GEMM-shaped family calibrated per shape is priced at the efficiency of the probe nearest its shape
    shape = latency_model.gemm_shape(group.head) if family is not None and family.gemm_points else None
    rows, reduction = (shape.m, shape.k) if shape is not None else (None, None)
    scale = family.efficiency_at(work_s, rows, reduction) if family is not None else 1.0
    compute_scale, memory_scale = (scale, 1.0) if group.flops else (1.0, scale)
    return _with_dequant(KernelEstimate(
        module=group.module,
        ops=tuple(k.event.op for k in group.kernels),
        members=group.members,
        choice=choice,
        flops=group.flops,
        bytes=group.bytes_total,
        compute_s=compute_time_s(group.flops, choice.peak_tflop_per_s, spec.compute_efficiency.value * compute_scale),
        memory_s=memory_time_s(group.bytes_total, bandwidth, spec.memory_efficiency.value * memory_scale),
        launch_s=family.overhead_us * 1e-6 if family is not None else spec.launch_overhead_s,
        exposed_s=in_model.in_model_s(group, spec, weights_cold),
    ), group, spec, dtype)


def _with_dequant(kernel: KernelEstimate, group: KernelGroup, spec: HardwareSpec, dtype: str) -> KernelEstimate:
    """Quantized operands unpacked in registers (precision per role) on the vector units: their
    operations add to the kernel's compute time, as `effprof llm` prices them."""
    ops = sum(k.cost.dequant_ops for k in group.kernels)
    if not ops:
        return kernel
    seconds = compute_time_s(ops, _vector_choice(spec, dtype).peak_tflop_per_s, spec.compute_efficiency.value)
    return replace(kernel, compute_s=kernel.compute_s + seconds)


# ---- kernel-aware latency (specs with a `latency_model`): the pricing lives in latency_model.py ----


def _kernel_aware(group: KernelGroup, spec: HardwareSpec, dtype: str, choice: UnitChoice, fused: bool) -> KernelEstimate:
    model = spec.latency_model
    assert model is not None
    vector = _vector_choice(spec, dtype)  # where element-wise work (epilogues, transforms) runs
    if choice.unit == "matrix" and not latency_model.matrix_aligned(group.head, spec.alignment(dtype)):
        choice = vector
    timed = latency_model.kernel_time(group, spec, choice.peak_tflop_per_s, vector.peak_tflop_per_s, fused)
    return KernelEstimate(
        module=group.module, ops=tuple(k.event.op for k in group.kernels), members=group.members, choice=choice,
        flops=group.flops, bytes=group.bytes_total, compute_s=timed.compute_s, memory_s=timed.memory_s,
        launch_s=timed.fixed_s, exposed_s=timed.exposed_s, algorithm=timed.algorithm,
    )


# ---- end of the kernel-aware hook ----


# a row whose time splits evenly is called memory-bound first: the conservative reading
_TIE_ORDER = (Bound.MEMORY, Bound.COMPUTE, Bound.OVERHEAD)


@dataclass(frozen=True)
class LayerEstimate:
    """The kernels of one table row added up: a layer's own, or (folded) its whole subtree's."""

    name: str
    latency_s: float = 0.0
    share: float = 0.0  # of the model's estimated latency
    compute_s: float = 0.0
    memory_s: float = 0.0
    launch_s: float = 0.0
    launches: int = 0
    flops: int = 0
    bytes: int = 0
    # latency of the row's kernels, by what bounds each kernel
    time_by_bound: Mapping[Bound, float] = field(default_factory=dict)
    ridge: float | None = None  # of the unit that spends the most time in the row
    fused_into: str | None = None  # the layer whose fused kernel ran this row's ops (--fuse)

    @property
    def bound(self) -> Bound | None:
        """What bounds most of the row's time; None for a row that launches nothing."""
        if not self.launches:
            return None
        return max(_TIE_ORDER, key=lambda b: self.time_by_bound.get(b, 0.0))

    @property
    def intensity(self) -> float | None:
        return self.flops / self.bytes if self.bytes else None

    @property
    def intensity_vs_ridge(self) -> float | None:
        intensity = self.intensity
        return intensity / self.ridge if intensity is not None and self.ridge else None


@dataclass(frozen=True)
class TotalEstimate:
    """The whole model on the device."""

    latency_s: float
    throughput_per_s: float | None  # inferences per second at `batch`; None for a zero estimate
    batch: int
    launches: int
    fused: bool
    flops: int
    bytes: int
    # share of the latency in layers bound by each (what the summary and JSON report)
    fraction_by_bound: Mapping[Bound, float] = field(default_factory=dict)

    @property
    def memory_bound_fraction(self) -> float:
        return self.fraction_by_bound.get(Bound.MEMORY, 0.0)

    @property
    def compute_bound_fraction(self) -> float:
        return self.fraction_by_bound.get(Bound.COMPUTE, 0.0)

    @property
    def overhead_fraction(self) -> float:
        return self.fraction_by_bound.get(Bound.OVERHEAD, 0.0)

    @property
    def intensity(self) -> float | None:
        return self.flops / self.bytes if self.bytes else None


def sum_kernels(name: str, kernels: Iterable[KernelEstimate], bandwidth_gb_per_s: float, model_latency_s: float,
                fused_into: str | None = None) -> LayerEstimate:
    kernels = list(kernels)
    if not kernels:
        return LayerEstimate(name, fused_into=fused_into)
    by_unit: dict[float, float] = {}
    by_bound: dict[Bound, float] = {}
    for k in kernels:
        by_unit[k.choice.peak_tflop_per_s] = by_unit.get(k.choice.peak_tflop_per_s, 0.0) + k.latency_s
        by_bound[k.bound] = by_bound.get(k.bound, 0.0) + k.latency_s
    peak = max(by_unit, key=by_unit.__getitem__)
    latency = sum(k.latency_s for k in kernels)
    return LayerEstimate(
        name=name,
        latency_s=latency,
        share=latency / model_latency_s if model_latency_s else 0.0,
        compute_s=sum(k.compute_s for k in kernels),
        memory_s=sum(k.memory_s for k in kernels),
        launch_s=sum(k.launch_s for k in kernels),
        launches=len(kernels),
        flops=sum(k.flops for k in kernels),
        bytes=sum(k.bytes for k in kernels),
        time_by_bound=by_bound,
        ridge=ridge_point(peak, bandwidth_gb_per_s),
    )


@dataclass(frozen=True)
class RooflineEstimate:
    """Latency estimates of one profile on one device: per kernel, per layer and in total."""

    spec: HardwareSpec
    dtype: str
    batch: int
    fused: bool
    kernels: tuple[KernelEstimate, ...]
    layers: tuple[LayerEstimate, ...]  # one per profiled layer, in the report's order
    total: TotalEstimate
    primary: UnitChoice  # the unit a GEMM runs on in this dtype: what the model's ridge point refers to
    fused_into: Mapping[str, str] = field(default_factory=dict)  # a fused member's module -> its chain's head
    notes: tuple[str, ...] = ()
    _own_layers: frozenset[Layer] = field(default=frozenset(), repr=False, compare=False)

    @property
    def latency_s(self) -> float:
        return self.total.latency_s

    @property
    def launches(self) -> int:
        return self.total.launches

    @property
    def memory_bound_fraction(self) -> float:
        return self.total.memory_bound_fraction

    @property
    def ridge_point(self) -> float:
        return ridge_point(self.primary.peak_tflop_per_s, self.spec.memory_bandwidth_gb_per_s.value)

    def primary_unit(self) -> UnitChoice:
        return self.primary

    def layer(self, name: str) -> LayerEstimate:
        """The estimate of the profiled layer `name` (its own kernels)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def subtree(self, name: str) -> LayerEstimate:
        """Every kernel of `name`'s subtree added up: the estimate of a folded row (`--depth`)."""
        prefix = name + "."
        kernels = (k for k in self.kernels if not name or k.module == name or k.module.startswith(prefix))
        return sum_kernels(name, kernels, self.spec.memory_bandwidth_gb_per_s.value, self.latency_s,
                           self.fused_into.get(name))

    def for_row(self, row: Layer) -> LayerEstimate:
        """The estimate of a table row: the layer's own when it is one of the profile's layers, else
        (a row folded by `Report.rows(depth=...)`) its subtree's."""
        return self.layer(row.name) if row in self._own_layers else self.subtree(row.name)

    def layer_sums(self) -> dict[str, LayerEstimate]:
        return {layer.name: layer for layer in self.layers}


def _check_dtype(dtype: str, spec: HardwareSpec) -> str:
    key = peak_key(dtype)
    if key == "fp8" and not any(unit.peak("fp8") for unit in spec.units().values()):
        with_fp8 = [s.name for s in bundled_specs() if any(u.peak("fp8") for u in s.units().values())]
        raise UsageError(
            f"{spec.name} has no fp8 peak (fp8 tensor cores came with NVIDIA Ada and Hopper): pick a device "
            f"that has one ({', '.join(with_fp8)}), or ", option("dtype"), " fp16, bf16 or int8",
        )
    if key not in PROFILE_DTYPES:
        raise UsageError(
            f"no roofline peaks for dtype '{dtype}': hardware specs give {', '.join(PROFILE_DTYPES)}; "
            "pass ", option("dtype"), " with one of them",
        )
    return key


def _notes(spec: HardwareSpec, dtype: str, kernels: Sequence[KernelEstimate], groups: Sequence[KernelGroup], fused: bool) -> list[str]:
    notes = []
    matrix = spec.matrix_engine
    wants_matrix = any(g.head.cost.engine == "matrix" and not runs_on_vector_units(g.head) for g in groups)
    if wants_matrix and matrix is not None and matrix.peak(dtype) is None:
        notes.append(
            f"{spec.name}: the {matrix.name} have no {dtype} peak, so convolutions and matmuls are priced on "
            f"the {spec.vector_units.name}"
            + (" (--dtype tf32 models PyTorch's default TF32 convolutions on Ampere and later)" if dtype == "fp32" and matrix.peak("tf32") else "")
        )
    if any(k.choice.unit == "vector" and k.choice.dtype != dtype for k in kernels) and dtype != "tf32":
        notes.append(f"{spec.name}: the {spec.vector_units.name} list no {dtype} peak; {dtype} work on them is priced at their fp32 rate")
    if fused:
        chains = sum(1 for g in groups if g.fused)
        notes.append(f"--fuse: {chains} conv/linear chains fused (BN folded, intermediates kept on chip)")
    return notes


def estimate(
    kernels: Sequence[Kernel],
    layers: Sequence[Layer],
    spec: HardwareSpec,
    *,
    dtype: str,
    batch: int,
    fuse: bool = False,
    activation_bytes: int = 0,
) -> RooflineEstimate:
    """Roofline estimate of costed `kernels` (from `aggregate`) on `spec` in `dtype` at `batch`.
    `activation_bytes`: the most the forward's own tensors hold at once (liveness.peak_live_bytes),
    which share the last-level cache with the weights (in_model.weights_are_cold)."""
    key = _check_dtype(dtype, spec)
    groups = fuse_kernels(list(kernels)) if fuse else eager_groups(list(kernels))
    graph_notes: list[str] = []
    if fuse and spec.latency_model is not None:  # the runtime's graph-level fusions (latency_model.regroup)
        groups, eliminated, merged = latency_model.regroup(groups, spec.latency_model)
        if eliminated or merged:
            graph_notes.append(f"--fuse on {spec.name}: {eliminated} concatenations written in place, "
                               f"{merged} parallel 1x1 convolutions merged into wider ones")
    cold = in_model.weights_are_cold(kernels, spec, activation_bytes)
    estimates = tuple(e for e in (estimate_group(g, spec, key, fuse, cold) for g in groups) if e is not None)
    fused_into = {
        member: group.module for group in groups if group.fused for member in group.members[1:]
    }
    bandwidth = spec.memory_bandwidth_gb_per_s.value
    latency = sum(k.latency_s for k in estimates)
    by_module: dict[str, list[KernelEstimate]] = {}
    for k in estimates:
        by_module.setdefault(k.module, []).append(k)
    layer_estimates = tuple(
        sum_kernels(layer.name, by_module.get(layer.name, []), bandwidth, latency, fused_into.get(layer.name))
        for layer in layers
    )
    by_bound: dict[Bound, float] = {}
    for row in layer_estimates:
        if row.bound is not None:
            by_bound[row.bound] = by_bound.get(row.bound, 0.0) + row.latency_s
    total = TotalEstimate(
        latency_s=latency,
        throughput_per_s=batch / latency if latency else None,
        batch=batch,
        launches=len(estimates),
        fused=fuse,
        flops=sum(k.flops for k in estimates),
        bytes=sum(k.bytes for k in estimates),
        fraction_by_bound={bound: by_bound.get(bound, 0.0) / latency if latency else 0.0 for bound in Bound},
    )
    return RooflineEstimate(
        spec=spec,
        dtype=key,
        batch=batch,
        fused=fuse,
        kernels=estimates,
        layers=layer_estimates,
        total=total,
        primary=_primary_unit(spec, key),
        fused_into=fused_into,
        notes=tuple(_notes(spec, key, estimates, groups, fuse)) + tuple(graph_notes)
        + tuple(in_model.notes(groups, kernels, spec, activation_bytes, cold)),
        _own_layers=frozenset(layers),
    )


def _primary_unit(spec: HardwareSpec, dtype: str) -> UnitChoice:
    """The unit a GEMM runs on in `dtype`: what the model-level ridge point refers to."""
    matrix = spec.matrix_engine
    if matrix is not None:
        peak = matrix.peak(dtype)
        if peak is not None:
            return UnitChoice("matrix", dtype, peak.value, matrix.name)
    return _vector_choice(spec, dtype)
