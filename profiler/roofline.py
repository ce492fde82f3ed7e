"""Roofline latency estimates: costed kernels + a hardware spec -> time and bound per layer.

Per kernel (CONVENTIONS.md, Roofline):
    t = max(flops / (peak[unit][dtype] · eff_compute), bytes / (bandwidth · eff_memory)) + launch
`unit` is the matrix engine for convolutions, matmuls and attention in a dtype it supports, else
the vector units; depthwise and small-group convolutions always run on the vector units (cuDNN
and oneDNN do not map them onto tensor cores or AMX tiles). A dtype the vector units do not list
is widened to fp32 in registers, as PyTorch's elementwise kernels do. Views (engine "none") cost
nothing and launch nothing. `bound` is memory when the bytes term is the larger one.
A layer's latency is the sum of its kernels', the model's the sum of its layers'.

The functions at the top are the model; `estimate()` applies them to a profile and returns a
`RooflineEstimate`, which `Report` keeps in `report.estimate` and which renders its own cells.
docs/roofline.md derives the numbers and lists the model's limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from . import latency_model
from .aggregate import Kernel, Layer
from .dtypes import PROFILE_DTYPES, peak_key
from .errors import UsageError
from .fusion import KernelGroup, eager_groups, fuse_kernels
from .hardware import HardwareSpec, bundled_specs
from .units import format_seconds

__all__ = [
    "SMALL_GROUP_CHANNELS",
    "UnitChoice",
    "KernelEstimate",
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


def spec_fields(spec: HardwareSpec) -> dict[str, Any]:
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
        "source": spec.sources(),
        "file": spec.path,
    }


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


def _channels_per_group(kernel: Kernel) -> int | None:
    event = kernel.event
    try:
        weight, transposed, groups = event.args[1], bool(event.args[6]), int(event.args[8])
        return weight.shape[0] // groups if transposed else weight.shape[1]
    except (IndexError, AttributeError, TypeError, ValueError, ZeroDivisionError):
        return None


def runs_on_vector_units(kernel: Kernel) -> bool:
    """Depthwise and thin-group convolutions, whatever their engine says."""
    kind = kernel.cost.conv_kind
    if kind == "depthwise":
        return True
    if kind == "group":
        per_group = _channels_per_group(kernel)
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
    exposed_s: float = 0.0  # memory (or compute) time not hidden by overlap: kernel-aware specs only
    algorithm: str = ""  # the kernel the runtime picks (implicit_gemm, winograd_f2, ...): kernel-aware specs only

    @property
    def latency_s(self) -> float:
        return kernel_time_s(self.compute_s, self.memory_s, self.launch_s, self.exposed_s)

    @property
    def bound(self) -> str:
        return "memory" if self.memory_s > self.compute_s else "compute"


def family_keys(kernel: Kernel) -> tuple[str, ...]:
    """Keys a spec's `kernel_families` may calibrate this kernel under, most specific first."""
    family = kernel.cost.family
    kind = (f"{family}.{kernel.cost.conv_kind}",) if kernel.cost.conv_kind else ()
    return (*kind, f"{family}.{kernel.event.name}", family)


def estimate_group(group: KernelGroup, spec: HardwareSpec, dtype: str, fused: bool = False) -> KernelEstimate | None:
    choice = choose_unit(group.head, spec, dtype)
    if choice is None:
        return None
    if spec.latency_model is not None:
        return _kernel_aware(group, spec, dtype, choice, fused)
    # calibrated specs only (docs/accuracy.md): bandwidth of the cache the kernel's bytes fit in,
    # and the head's kernel family's measured fixed cost and efficiency, the share of the peak FLOP
    # rate the family reaches (of the bandwidth, for families that do no arithmetic: copies,
    # gathers); plain specs are unaffected
    family = spec.kernel_family(family_keys(group.head))
    scale = family.efficiency if family is not None else 1.0
    compute_scale, memory_scale = (scale, 1.0) if group.flops else (1.0, scale)
    return KernelEstimate(
        module=group.module,
        ops=tuple(k.event.op for k in group.kernels),
        members=group.members,
        choice=choice,
        flops=group.flops,
        bytes=group.bytes_total,
        compute_s=compute_time_s(group.flops, choice.peak_tflop_per_s, spec.compute_efficiency.value * compute_scale),
        memory_s=memory_time_s(group.bytes_total, spec.bandwidth_gb_per_s_for(group.bytes_total),
                               spec.memory_efficiency.value * memory_scale),
        launch_s=family.overhead_us * 1e-6 if family is not None else spec.launch_overhead_s,
    )


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


@dataclass(frozen=True)
class RowSum:
    """Kernels added up for one table row (a layer, or a folded subtree)."""

    latency_s: float = 0.0
    compute_s: float = 0.0
    memory_s: float = 0.0
    launch_s: float = 0.0
    launches: int = 0
    flops: int = 0
    bytes: int = 0
    memory_bound_s: float = 0.0
    compute_bound_s: float = 0.0
    ridge: float | None = None  # of the unit that spends the most time in the row

    @property
    def bound(self) -> str | None:
        if not self.launches:
            return None
        return "memory" if self.memory_bound_s >= self.compute_bound_s else "compute"

    @property
    def intensity(self) -> float | None:
        return self.flops / self.bytes if self.bytes else None

    @property
    def intensity_vs_ridge(self) -> float | None:
        intensity = self.intensity
        return intensity / self.ridge if intensity is not None and self.ridge else None


def sum_kernels(kernels: Iterable[KernelEstimate], bandwidth_gb_per_s: float) -> RowSum:
    kernels = list(kernels)
    if not kernels:
        return RowSum()
    by_unit: dict[float, float] = {}
    for k in kernels:
        by_unit[k.choice.peak_tflop_per_s] = by_unit.get(k.choice.peak_tflop_per_s, 0.0) + k.latency_s
    peak = max(by_unit, key=by_unit.__getitem__)
    return RowSum(
        latency_s=sum(k.latency_s for k in kernels),
        compute_s=sum(k.compute_s for k in kernels),
        memory_s=sum(k.memory_s for k in kernels),
        launch_s=sum(k.launch_s for k in kernels),
        launches=len(kernels),
        flops=sum(k.flops for k in kernels),
        bytes=sum(k.bytes for k in kernels),
        memory_bound_s=sum(k.latency_s for k in kernels if k.bound == "memory"),
        compute_bound_s=sum(k.latency_s for k in kernels if k.bound == "compute"),
        ridge=ridge_point(peak, bandwidth_gb_per_s),
    )


def _bound_style(bound: str | None, share: float) -> str | None:
    if bound == "memory":
        return "red" if share >= 0.05 else "yellow"
    if bound == "compute":
        return "green"
    return "dim"


@dataclass(frozen=True)
class RooflineEstimate:
    """Latency estimates of one profile on one device; what report/render/export read."""

    spec: HardwareSpec
    dtype: str
    batch: int
    fused: bool
    kernels: tuple[KernelEstimate, ...]
    layer_names: tuple[str, ...]
    layers: frozenset = field(repr=False, default=frozenset())  # the unfolded Layer rows
    fused_into: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    COLUMNS = ("Latency", "Share", "Bound", "I/ridge")

    # ----------------------------------------------------------------------------- sums

    @property
    def latency_s(self) -> float:
        return sum(k.latency_s for k in self.kernels)

    @property
    def launches(self) -> int:
        return len(self.kernels)

    def _by_module(self) -> dict[str, list[KernelEstimate]]:
        found: dict[str, list[KernelEstimate]] = {}
        for k in self.kernels:
            found.setdefault(k.module, []).append(k)
        return found

    def row(self, name: str, folded: bool = False) -> RowSum:
        """A layer's own kernels, or (folded) every kernel of its subtree."""
        bandwidth = self.spec.memory_bandwidth_gb_per_s.value
        if not folded:
            return sum_kernels((k for k in self.kernels if k.module == name), bandwidth)
        prefix = name + "."
        return sum_kernels(
            (k for k in self.kernels if not name or k.module == name or k.module.startswith(prefix)), bandwidth
        )

    def layer_sums(self) -> dict[str, RowSum]:
        bandwidth = self.spec.memory_bandwidth_gb_per_s.value
        by_module = self._by_module()
        return {name: sum_kernels(by_module.get(name, []), bandwidth) for name in self.layer_names}

    @property
    def memory_bound_fraction(self) -> float:
        """Share of the latency spent in layers whose time is mostly memory-bound."""
        total = self.latency_s
        if not total:
            return 0.0
        return sum(r.latency_s for r in self.layer_sums().values() if r.bound == "memory") / total

    def primary_unit(self) -> UnitChoice:
        """The unit a GEMM runs on in this dtype: what the model-level ridge point refers to."""
        matrix = self.spec.matrix_engine
        if matrix is not None and matrix.peak(self.dtype) is not None:
            return UnitChoice("matrix", self.dtype, matrix.peak(self.dtype).value, matrix.name)
        vector = self.spec.vector_units
        key = self.dtype if vector.peak(self.dtype) is not None else "fp32"
        return UnitChoice("vector", key, vector.peak(key).value, vector.name)

    @property
    def ridge_point(self) -> float:
        return ridge_point(self.primary_unit().peak_tflop_per_s, self.spec.memory_bandwidth_gb_per_s.value)

    # ----------------------------------------------------------------------------- report / export

    def _fields(self, name: str, summed: RowSum) -> dict[str, Any]:
        total = self.latency_s
        return {
            "latency_s": summed.latency_s,
            "latency_share": summed.latency_s / total if total else 0.0,
            "bound": summed.bound,
            "compute_time_s": summed.compute_s,
            "memory_time_s": summed.memory_s,
            "launch_time_s": summed.launch_s,
            "launches": summed.launches,
            "intensity_vs_ridge": summed.intensity_vs_ridge,
            "fused_into": self.fused_into.get(name) if not summed.launches else None,
        }

    def layer_fields(self, rows: Sequence[Layer] | None = None) -> dict[str, dict[str, Any]]:
        """{row name: estimate fields}. A row that is not one of the profile's own layers is a
        folded row (`Report.rows(depth=...)`): its latency is that of the whole subtree."""
        if rows is None:
            return {name: self._fields(name, summed) for name, summed in self.layer_sums().items()}
        return {row.name: self._fields(row.name, self.row(row.name, folded=row not in self.layers)) for row in rows}

    def total_fields(self) -> dict[str, Any]:
        latency = self.latency_s
        return {
            "latency_s": latency,
            "throughput_per_s": self.batch / latency if latency else None,
            "memory_bound_fraction": self.memory_bound_fraction,
            "batch": self.batch,
            "launches": self.launches,
            "fused": self.fused,
        }

    def hardware_fields(self) -> dict[str, Any]:
        return {**spec_fields(self.spec), "peak_unit": self.primary_unit().label, "ridge_point": self.ridge_point}

    # ----------------------------------------------------------------------------- table cells

    def row_cells(self, name: str, rows_are_folded: bool) -> list[tuple[str, str | None]]:
        """(text, style) for the Latency, Share, Bound and I/ridge columns of one table row."""
        summed = self.row(name, folded=rows_are_folded)
        total = self.latency_s
        share = summed.latency_s / total if total else 0.0
        bound = summed.bound
        if bound is None:
            text = "fused" if name in self.fused_into and not rows_are_folded else "-"
            return [("-" if not summed.latency_s else format_seconds(summed.latency_s), None), ("", None), (text, "dim"), ("", None)]
        ratio = summed.intensity_vs_ridge
        return [
            (format_seconds(summed.latency_s), None),
            (f"{share * 100:.1f}%", None),
            (bound, _bound_style(bound, share)),
            (f"{ratio:.2f}×" if ratio is not None else "-", None),
        ]

    def summary_rows(self, top: int = 3) -> list[tuple[str, str]]:
        total = self.latency_s
        unit = self.primary_unit()
        rows = [
            ("Hardware", f"{self.spec.name}: {self.spec.description}"),
            ("Run", f"{self.dtype}, batch {self.batch}, {'fused (--fuse)' if self.fused else 'eager, one kernel per op'}, "
                         f"{self.launches} launches"),
            ("Est. latency", format_seconds(total)),
            ("Throughput", f"{self.batch / total:,.1f} inferences/s at batch {self.batch}" if total else "-"),
            ("Memory-bound", f"{self.memory_bound_fraction * 100:.1f}% of latency"),
        ]
        memory_layers = sorted(
            ((name, r) for name, r in self.layer_sums().items() if r.bound == "memory"),
            key=lambda item: item[1].latency_s,
            reverse=True,
        )[:top]
        if memory_layers:
            rows.append(("Top memory-bound", ", ".join(
                f"{name or '(root)'} {format_seconds(r.latency_s)}" for name, r in memory_layers
            )))
        flops = sum(k.flops for k in self.kernels)
        nbytes = sum(k.bytes for k in self.kernels)
        if nbytes:
            intensity = flops / nbytes
            side = "below" if intensity < self.ridge_point else "above"
            fused = " as fused" if self.fused else ""
            rows.append(("Intensity", f"{intensity:.2f} FLOP/B{fused}, {side} the ridge point "
                                      f"{self.ridge_point:.1f} FLOP/B ({unit.name}, {unit.dtype})"))
        return rows


def _check_dtype(dtype: str, spec: HardwareSpec) -> str:
    key = peak_key(dtype)
    if key == "fp8" and not any(unit.peak("fp8") for unit in spec.units().values()):
        with_fp8 = [s.name for s in bundled_specs() if any(u.peak("fp8") for u in s.units().values())]
        raise UsageError(
            f"{spec.name} has no fp8 peak (fp8 tensor cores came with NVIDIA Ada and Hopper): pick a device "
            f"that has one ({', '.join(with_fp8)}), or --dtype fp16, bf16 or int8"
        )
    if key not in PROFILE_DTYPES:
        raise UsageError(
            f"no roofline peaks for dtype '{dtype}': hardware specs give {', '.join(PROFILE_DTYPES)}; "
            "pass --dtype with one of them"
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
) -> RooflineEstimate:
    """Roofline estimate of costed `kernels` (from `aggregate`) on `spec` in `dtype` at `batch`."""
    key = _check_dtype(dtype, spec)
    groups = fuse_kernels(list(kernels)) if fuse else eager_groups(list(kernels))
    graph_notes: list[str] = []
    if fuse and spec.latency_model is not None:  # the runtime's graph-level fusions (latency_model.regroup)
        groups, eliminated, merged = latency_model.regroup(groups, spec.latency_model)
        if eliminated or merged:
            graph_notes.append(f"--fuse on {spec.name}: {eliminated} concatenations written in place, "
                               f"{merged} parallel 1x1 convolutions merged into wider ones")
    estimates = tuple(e for e in (estimate_group(g, spec, key, fuse) for g in groups) if e is not None)
    fused_into = {
        member: group.module for group in groups if group.fused for member in group.members[1:]
    }
    return RooflineEstimate(
        spec=spec,
        dtype=key,
        batch=batch,
        fused=fuse,
        kernels=estimates,
        layer_names=tuple(layer.name for layer in layers),
        layers=frozenset(layers),
        fused_into=fused_into,
        notes=tuple(_notes(spec, key, estimates, groups, fuse)) + tuple(graph_notes),
    )
