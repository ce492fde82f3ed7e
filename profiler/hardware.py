"""Hardware specs: YAML files validated into typed, frozen dataclasses at the edge.

A spec holds what the roofline needs (memory bandwidth, peak throughput per dtype for the matrix
engine and for the vector units, achievable efficiencies, launch overhead) and cache sizes for
the reader, each number with the source it came from. Units live in the key names and numbers
are human-sized (`448`, not `448e9`: PyYAML reads `448e9` as a string). Specs ship inside the
package as `profiler._configs/hardware/*.yaml` (the top-level `configs/` directory of the source
tree); `load_spec` takes one of those names or a path to a user's file. docs/roofline.md shows a
fully annotated spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import yaml

from .dtypes import PROFILE_DTYPES
from .errors import SpecError, did_you_mean
from .yamlfile import load_yaml

if TYPE_CHECKING:
    from importlib.abc import Traversable

__all__ = [
    "Sourced",
    "Unit",
    "Cache",
    "BandwidthTier",
    "FamilyCalibration",
    "KernelFamily",
    "FreshPages",
    "ChannelAlignment",
    "LatencyModel",
    "HardwareSpec",
    "DEVICE_KINDS",
    "CACHE_SCOPES",
    "load_spec",
    "looks_like_path",
    "parse_spec",
    "bundled_specs",
    "bundled_names",
]

DEVICE_KINDS = ("gpu", "cpu")
CACHE_SCOPES = ("core", "sm", "cluster", "device")

_TOP_FIELDS = {
    "name", "description", "kind", "memory_bandwidth_gb_per_s", "matrix_engine", "vector_units",
    "efficiency", "launch_overhead_us", "caches",
    # optional refinements, written by `effprof calibrate` (docs/accuracy.md)
    "cache_bandwidth_gb_per_s", "kernel_families",
    # optional: channel multiples the matrix engine wants per dtype (docs/advise.md, alignment)
    "channel_alignment",
    # optional: what `effprof llm` checks weights + KV cache + activations against (docs/llm.md)
    "memory_capacity_gib",
    # optional: the kernel-aware latency model (profiler/latency_model.py, docs/roofline.md)
    "latency_model",
    # optional, written by `effprof calibrate` on a CPU: what a kernel pays inside a model on top of
    # its own roofline, weights coming from DRAM and fresh pages for big buffers (docs/roofline.md)
    "cold_weights_gb_per_s", "fresh_pages",
}
_REQUIRED_TOP = ("description", "kind", "memory_bandwidth_gb_per_s", "vector_units", "efficiency", "launch_overhead_us")


@dataclass(frozen=True, slots=True)
class Sourced:
    """One number and where it came from (datasheet, whitepaper, derivation or measurement)."""

    value: float
    source: str


@dataclass(frozen=True)
class Unit:
    """A group of execution units (tensor cores, AMX, CUDA cores, NEON) and its dense peaks.

    `peak_tflop_per_s` maps a dtype (fp32, tf32, fp16, bf16, int8) to tera-operations per second;
    for int8 that is TOPS (one multiply-accumulate = 2 ops, as FLOPs count it). A dtype the unit
    cannot compute is absent.
    """

    name: str
    peak_tflop_per_s: Mapping[str, Sourced]

    def peak(self, dtype: str) -> Sourced | None:
        return self.peak_tflop_per_s.get(dtype)


@dataclass(frozen=True, slots=True)
class Cache:
    name: str  # l1, l2, l3, ...
    size_kib: float
    per: str  # one of CACHE_SCOPES: the unit that owns one copy
    source: str


@dataclass(frozen=True, slots=True)
class BandwidthTier:
    """Bandwidth for kernels whose bytes (read + written) fit in `working_set_kib`: data a cache holds."""

    working_set_kib: float
    gb_per_s: float
    source: str


@dataclass(frozen=True, slots=True)
class FreshPages:
    """Buffers of `min_kib` or more come from the operating system as new pages on every
    allocation (glibc hands them out by mmap and unmaps them on free), and each page's first touch
    costs a fault and zeroing: `gb_per_s` of the buffer's bytes, on top of the kernel's own time."""

    min_kib: float
    gb_per_s: float
    source: str


@dataclass(frozen=True, slots=True)
class FamilyCalibration:
    """How one kind of kernel fares against the roofline on this device, measured on probe kernels:
    its roofline time is divided by `efficiency` and `overhead_us` replaces the launch overhead.
    Keys: a cost family ('pool'), 'family.conv_kind' ('conv.depthwise') or 'family.aten_op'."""

    key: str
    efficiency: float
    overhead_us: float
    source: str
    # optional (work_us, efficiency) per probe: the plain roofline's time of the probe's work (its
    # compute term, or memory term for families without arithmetic) and the efficiency it reached
    points: tuple[tuple[float, float], ...] = ()
    # optional (rows, reduction, efficiency) per probe of a GEMM-shaped family (convolutions as
    # implicit GEMMs, matmuls): the probe's GEMM rows M (output pixels, or tokens) and reduction K
    # (input channels per group x kernel taps, or input features)
    gemm_points: tuple[tuple[int, int, float], ...] = ()

    def efficiency_at(self, work_s: float, rows: int | None = None, reduction: int | None = None) -> float:
        """The efficiency of a kernel: by its GEMM shape where the family has `gemm_points` and the
        kernel is a GEMM, else by its plain-roofline work (`efficiency_for`).

        A GEMM's speed follows its shape, not its size: each weight is reused once per row (a
        late-stage convolution on a 7x7 map reuses it 49 times, an early one thousands of times)
        and a short reduction (a stem convolution's 3 input channels x 9 taps) leaves the vector
        lanes and the accumulators idle. Probes of equal FLOPs differ up to 2x in both. The probe
        nearest in (log2 rows, log2 reduction) prices the kernel; probes tied for nearest count
        as their mean."""
        if not self.gemm_points or rows is None or reduction is None or rows <= 0 or reduction <= 0:
            return self.efficiency_for(work_s)
        def distance(m: int, k: int) -> float:
            return math.hypot(math.log2(rows / m), math.log2(reduction / k))
        by_distance = [(distance(m, k), efficiency) for m, k, efficiency in self.gemm_points]
        nearest = min(d for d, _ in by_distance)
        tied = [efficiency for d, efficiency in by_distance if d <= nearest + 1e-9]
        return sum(tied) / len(tied)

    def efficiency_for(self, work_s: float) -> float:
        """The efficiency at a kernel's plain-roofline work time: interpolated in log(work) between
        the probes that bracket it (the nearest probe's outside them); `efficiency` without points.
        Where several probes share a size (batch 1 and 8 of different shapes), their mean counts."""
        if not self.points or work_s <= 0:
            return self.efficiency
        by_size: dict[float, list[float]] = {}
        for work_us, efficiency in self.points:
            by_size.setdefault(work_us, []).append(efficiency)
        curve = sorted((math.log(w), sum(e) / len(e)) for w, e in by_size.items())
        x = math.log(work_s * 1e6)
        if x <= curve[0][0]:
            return curve[0][1]
        if x >= curve[-1][0]:
            return curve[-1][1]
        for (x0, e0), (x1, e1) in zip(curve, curve[1:]):
            if x0 <= x <= x1:
                return e0 + (e1 - e0) * (x - x0) / (x1 - x0)
        return self.efficiency  # unreachable: the curve is sorted and brackets x


# effprof 0.1's name for it, kept for code that imports it; `vocabulary.KernelFamily` is the enum
# of the family words themselves
KernelFamily = FamilyCalibration


@dataclass(frozen=True, slots=True)
class ChannelAlignment:
    """Channel multiples the matrix engine wants in one dtype: input channels (the GEMM's K) and
    output channels (its N). NPUs may differ per side (HiSilicon NNIE: 4 in, 16 out)."""

    input: int
    output: int
    source: str


# Bytes per element by dtype, for the default alignment: NVIDIA tensor cores want the GEMM's K and
# N in multiples of 16 bytes (cuDNN / cuBLAS performance guides: 8 fp16 channels, 16 int8, 4 tf32).
_TENSOR_CORE_ALIGNMENT_BYTES = 16
_ELEMENT_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}


@dataclass(frozen=True)
class LatencyModel:
    """How kernels run on the device, for the kernel-aware latency model (profiler/latency_model.py).

    units: SMs (GPU) or cores the runtime uses; gemm_tiles: (rows, cols) output tiles of the GEMM
    kernels the runtime can pick from (CTA tiles on a GPU, register tiles on a CPU); k_step: the
    reduction is consumed in steps of this many (K is padded up to it); tile_overhead_k: fixed cost
    of one tile (prologue and accumulator store) in k-steps; winograd_tiles: output tiles m of the
    F(m x m, 3 x 3) Winograd kernels the runtime has (empty: none); memory_overlap: share of the
    shorter of compute and memory time hidden under the longer once a kernel runs many waves;
    per-op fixed costs of the runtime, eager and fused; whether its
    fusion merges parallel 1x1 convolutions (horizontal) and writes concatenations in place.
    `source` names the source of each field.
    """

    units: int
    gemm_tiles: tuple[tuple[int, int], ...]
    k_step: int
    tile_overhead_k: float
    winograd_tiles: tuple[int, ...]
    memory_overlap: float
    eager_per_op_us: float
    fused_per_op_us: float
    horizontal_fusion: bool
    concat_elimination: bool
    runtime: str
    source: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HardwareSpec:
    name: str
    description: str
    kind: str
    memory_bandwidth_gb_per_s: Sourced
    vector_units: Unit
    compute_efficiency: Sourced
    memory_efficiency: Sourced
    launch_overhead_us: Sourced
    matrix_engine: Unit | None = None
    caches: tuple[Cache, ...] = ()
    cache_bandwidth: tuple[BandwidthTier, ...] = ()  # ascending working sets, non-increasing bandwidth
    kernel_families: Mapping[str, FamilyCalibration] = field(default_factory=dict)
    channel_alignment: Mapping[str, ChannelAlignment] = field(default_factory=dict)
    latency_model: LatencyModel | None = None
    path: str = field(default="", compare=False)
    memory_capacity_gib: Sourced | None = None  # device memory (GiB, 2**30 bytes); system RAM for a CPU
    # how fast one core reads weights that are not in any cache, not overlapped with its arithmetic
    cold_weights_gb_per_s: Sourced | None = None
    fresh_pages: FreshPages | None = None

    @property
    def memory_capacity_bytes(self) -> int | None:
        return round(self.memory_capacity_gib.value * 2**30) if self.memory_capacity_gib is not None else None

    @property
    def last_level_cache_bytes(self) -> int | None:
        return round(max(c.size_kib for c in self.caches) * 1024) if self.caches else None

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.memory_bandwidth_gb_per_s.value * 1e9

    @property
    def launch_overhead_s(self) -> float:
        return self.launch_overhead_us.value * 1e-6

    def bandwidth_gb_per_s_for(self, nbytes: float) -> float:
        """The bandwidth a kernel moving `nbytes` sees: the first cache tier it fits in, else memory's."""
        for tier in self.cache_bandwidth:
            if nbytes <= tier.working_set_kib * 1024:
                return tier.gb_per_s
        return self.memory_bandwidth_gb_per_s.value

    def kernel_family(self, keys: tuple[str, ...]) -> FamilyCalibration | None:
        """The first of `keys` (most specific first) that the spec calibrated, if any."""
        for key in keys:
            if key in self.kernel_families:
                return self.kernel_families[key]
        return None

    def alignment(self, dtype: str) -> ChannelAlignment | None:
        """Channel multiples the matrix engine wants in `dtype`: the spec's `channel_alignment`,
        else, for a GPU whose matrix engine runs `dtype`, NVIDIA tensor cores' 16-byte rule."""
        if dtype in self.channel_alignment:
            return self.channel_alignment[dtype]
        if (self.kind != "gpu" or self.matrix_engine is None or self.matrix_engine.peak(dtype) is None
                or dtype not in _ELEMENT_BYTES):
            return None
        multiple = _TENSOR_CORE_ALIGNMENT_BYTES // _ELEMENT_BYTES[dtype]
        return ChannelAlignment(multiple, multiple, f"default for GPU tensor cores: channel counts in multiples of "
                                                    f"{_TENSOR_CORE_ALIGNMENT_BYTES} bytes ({multiple} {dtype} values), "
                                                    "NVIDIA cuDNN/cuBLAS performance guides")

    def units(self) -> dict[str, Unit]:
        """{'matrix': ..., 'vector': ...}, the matrix engine only when the device has one."""
        found = {"vector": self.vector_units}
        if self.matrix_engine is not None:
            found = {"matrix": self.matrix_engine, **found}
        return found

    def sources(self) -> dict[str, str]:
        """Every number's source, keyed by its dotted field path."""
        found = {
            "memory_bandwidth_gb_per_s": self.memory_bandwidth_gb_per_s.source,
            "efficiency.compute": self.compute_efficiency.source,
            "efficiency.memory": self.memory_efficiency.source,
            "launch_overhead_us": self.launch_overhead_us.source,
        }
        if self.memory_capacity_gib is not None:
            found["memory_capacity_gib"] = self.memory_capacity_gib.source
        if self.cold_weights_gb_per_s is not None:
            found["cold_weights_gb_per_s"] = self.cold_weights_gb_per_s.source
        if self.fresh_pages is not None:
            found["fresh_pages"] = self.fresh_pages.source
        for key, unit in (("matrix_engine", self.matrix_engine), ("vector_units", self.vector_units)):
            if unit is not None:
                for dtype, peak in unit.peak_tflop_per_s.items():
                    found[f"{key}.peak_tflop_per_s.{dtype}"] = peak.source
        for cache in self.caches:
            found[f"caches.{cache.name}"] = cache.source
        for tier in self.cache_bandwidth:
            found[f"cache_bandwidth_gb_per_s.{tier.working_set_kib:g}"] = tier.source
        for key, family in self.kernel_families.items():
            found[f"kernel_families.{key}"] = family.source
        for dtype, alignment in self.channel_alignment.items():
            found[f"channel_alignment.{dtype}"] = alignment.source
        if self.latency_model is not None:
            for key, source in self.latency_model.source.items():
                found[f"latency_model.{key}"] = source
        return found


# ---------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Magnitude:
    """What real hardware can be, for one field: a number outside [low, high] is a unit mistake
    (bytes/s in a GB/s field, GFLOP/s in a TFLOP/s field), reported with the likely fix."""

    low: float
    high: float
    reach: str  # what the fastest (or slowest) real devices reach, in the field's unit
    scale: float = 1.0  # the factor from the likely mistaken unit to the field's unit (1e-9: bytes/s -> GB/s)
    scale_name: str = ""  # the mistaken unit, e.g. "bytes/s"


# Bounds with wide margins over today's extremes (HBM3e ~8 TB/s; dense fp16 ~2.5 PFLOP/s on one
# accelerator; 1.1 GiB of L3 on one CPU package): generous enough for the next generations.
_MAGNITUDES = {
    "bandwidth": Magnitude(0.05, 100_000, "the fastest memories deliver about 8000 GB/s", 1e-9, "bytes/s"),
    "cache_bandwidth": Magnitude(0.05, 1_000_000, "on-chip caches deliver at most a few 10000 GB/s", 1e-9, "bytes/s"),
    "peak.fp32": Magnitude(0, 1_000, "the largest dense fp32 peaks are about 160 TFLOP/s", 1e-3, "GFLOP/s"),
    "peak.tf32": Magnitude(0, 5_000, "the largest dense tf32 peaks are about 1100 TFLOP/s", 1e-3, "GFLOP/s"),
    "peak.fp16": Magnitude(0, 10_000, "the largest dense fp16 peaks are about 2500 TFLOP/s", 1e-3, "GFLOP/s"),
    "peak.fp8": Magnitude(0, 20_000, "the largest dense fp8 peaks are about 5000 TFLOP/s", 1e-3, "GFLOP/s"),
    "cache_kib": Magnitude(0, 16 * 2**20, "the largest caches hold about 1 GiB (1048576 KiB)", 1 / 1024, "bytes"),
    "overhead_us": Magnitude(1e-3, 100_000, "kernel launches cost about 1 to 100 µs", 1e6, "seconds"),
}
# a calibrated family's fixed cost may be fitted near zero: only the ceiling applies to it
# a Raspberry Pi has 0.5 GiB, a large server 24 TiB; bytes or MiB written in the GiB field are far outside
_MAGNITUDES["capacity_gib"] = Magnitude(0.01, 65_536, "devices hold 0.5 GiB to a few 10000 GiB", 2**-30, "bytes")
_MAGNITUDES["family_overhead_us"] = Magnitude(0, 100_000, "kernel launches cost about 1 to 100 µs", 1e6, "seconds")
_MAGNITUDES["peak.bf16"] = _MAGNITUDES["peak.fp16"]
_MAGNITUDES["peak.int8"] = _MAGNITUDES["peak.fp8"]


class _Checker:
    """Validates one parsed YAML document; every error names the file and the dotted field."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, expected: str, got: Any = None, *, show_got: bool = True) -> SpecError:
        got_text = f", got {_describe(got)}" if show_got else ""
        return SpecError(f"{self.origin}: field '{where}': expected {expected}{got_text}")

    def mapping(self, value: Any, where: str, allowed: set[str] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "a mapping of fields", value)
        for key in value:
            if not isinstance(key, str):
                raise self.fail(where, "field names that are strings", key)
            if allowed is not None and key not in allowed:
                hint = did_you_mean(key, allowed) or f" (known fields: {', '.join(sorted(allowed))})"
                raise SpecError(f"{self.origin}: unknown field '{_join(where, key)}'{hint}")
        for key in required:
            if key not in value or value[key] is None:
                raise SpecError(f"{self.origin}: missing field '{_join(where, key)}'")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "a non-empty string", value)
        return value.strip()

    def number(
        self, value: Any, where: str, unit: str, *, positive: bool = True, at_most: float | None = None,
        magnitude: str | None = None,
    ) -> float:
        if isinstance(value, str):
            hint = " (write plain numbers in the unit of the field, e.g. 448 for 448 GB/s: PyYAML reads 448e9 as text)"
            raise SpecError(f"{self.origin}: field '{where}': expected a number in {unit}, got the string {value!r}{hint}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, f"a number in {unit}", value)
        if positive and value <= 0:
            raise self.fail(where, f"a positive number in {unit}", value)
        if not positive and value < 0:
            raise self.fail(where, f"a number >= 0 in {unit}", value)
        if at_most is not None and value > at_most:
            raise self.fail(where, f"a number in {unit} of at most {at_most:g}", value)
        if magnitude is not None:
            self.plausible(float(value), where, unit, _MAGNITUDES[magnitude])
        return float(value)

    def plausible(self, value: float, where: str, unit: str, bounds: Magnitude) -> None:
        """Refuse a number no hardware can have: almost always a value written in another unit."""
        if value == 0 or bounds.low <= value <= bounds.high:
            return
        side = "more" if value > bounds.high else "less"
        fix = ""
        if bounds.scale_name and bounds.low <= value * bounds.scale <= bounds.high:
            fix = f"; if {value:g} is in {bounds.scale_name}, write {value * bounds.scale:g}"
        raise SpecError(
            f"{self.origin}: field '{where}': expected a number in {unit}, got {value:g}, {side} than any "
            f"hardware ({bounds.reach}){fix}"
        )

    def sourced(
        self, value: Any, where: str, unit: str, *, positive: bool = True, at_most: float | None = None,
        magnitude: str | None = None,
    ) -> Sourced:
        if not isinstance(value, dict):
            raise self.fail(where, f"{{value: <number in {unit}>, source: \"...\"}}", value)
        self.mapping(value, where, {"value", "source"}, ("value", "source"))
        number = self.number(value["value"], f"{where}.value", unit, positive=positive, at_most=at_most, magnitude=magnitude)
        return Sourced(number, self.text(value["source"], f"{where}.source"))

    def unit(self, value: Any, where: str) -> Unit:
        self.mapping(value, where, {"name", "peak_tflop_per_s"}, ("name", "peak_tflop_per_s"))
        peaks_where = f"{where}.peak_tflop_per_s"
        peaks = self.mapping(value["peak_tflop_per_s"], peaks_where, set(PROFILE_DTYPES))
        if not peaks:
            raise self.fail(peaks_where, f"at least one of {', '.join(PROFILE_DTYPES)}", show_got=False)
        return Unit(
            name=self.text(value["name"], f"{where}.name"),
            peak_tflop_per_s={
                dtype: self.sourced(peaks[dtype], f"{peaks_where}.{dtype}", "TFLOP/s (TOPS for int8)", magnitude=f"peak.{dtype}")
                for dtype in PROFILE_DTYPES
                if dtype in peaks
            },
        )

    def cache(self, name: str, value: Any, where: str) -> Cache:
        self.mapping(value, where, {"size_kib", "per", "source"}, ("size_kib", "per", "source"))
        per = value["per"]
        if per not in CACHE_SCOPES:
            raise self.fail(f"{where}.per", f"one of {', '.join(CACHE_SCOPES)}", per)
        return Cache(
            name=name,
            size_kib=self.number(value["size_kib"], f"{where}.size_kib", "KiB", magnitude="cache_kib"),
            per=per,
            source=self.text(value["source"], f"{where}.source"),
        )


    def fresh_pages(self, value: Any, where: str) -> FreshPages:
        self.mapping(value, where, {"min_kib", "gb_per_s", "source"}, ("min_kib", "gb_per_s", "source"))
        return FreshPages(
            min_kib=self.number(value["min_kib"], f"{where}.min_kib", "KiB", magnitude="cache_kib"),
            gb_per_s=self.number(value["gb_per_s"], f"{where}.gb_per_s", "GB/s", magnitude="bandwidth"),
            source=self.text(value["source"], f"{where}.source"),
        )

    def tiers(self, value: Any, where: str) -> tuple[BandwidthTier, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "a list of {working_set_kib: <KiB>, value: <GB/s>, source: \"...\"}", value)
        tiers = []
        for index, item in enumerate(value):
            at = f"{where}[{index}]"
            self.mapping(item, at, {"working_set_kib", "value", "source"}, ("working_set_kib", "value", "source"))
            tiers.append(BandwidthTier(
                working_set_kib=self.number(item["working_set_kib"], f"{at}.working_set_kib", "KiB"),
                gb_per_s=self.number(item["value"], f"{at}.value", "GB/s", magnitude="cache_bandwidth"),
                source=self.text(item["source"], f"{at}.source"),
            ))
        for before, after in zip(tiers, tiers[1:]):
            # a larger working set may never be faster: the latency of a kernel must grow with its bytes
            if after.working_set_kib <= before.working_set_kib or after.gb_per_s > before.gb_per_s:
                raise self.fail(where, "tiers in ascending working_set_kib with non-increasing value", show_got=False)
        return tuple(tiers)

    def families(self, value: Any, where: str) -> dict[str, FamilyCalibration]:
        found = {}
        for key, item in self.mapping(value, where).items():
            at = f"{where}.{key}"
            self.mapping(item, at, {"efficiency", "overhead_us", "source", "points", "gemm_points"},
                         ("efficiency", "overhead_us", "source"))
            found[key] = FamilyCalibration(
                key=key,
                efficiency=self.number(item["efficiency"], f"{at}.efficiency", "a fraction of the peak", at_most=10.0),
                overhead_us=self.number(item["overhead_us"], f"{at}.overhead_us", "µs", positive=False, magnitude="family_overhead_us"),
                source=self.text(item["source"], f"{at}.source"),
                points=self.points(item.get("points"), f"{at}.points"),
                gemm_points=self.gemm_points(item.get("gemm_points"), f"{at}.gemm_points"),
            )
        return found

    def gemm_points(self, value: Any, where: str) -> tuple[tuple[int, int, float], ...]:
        if value is None:
            return ()
        def whole(number: Any) -> bool:
            return isinstance(number, int) and not isinstance(number, bool) and number >= 1
        if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 3 and whole(p[0]) and whole(p[1])
                                                  for p in value):
            raise self.fail(where, "a list of [rows, reduction, efficiency] triples (rows and reduction whole numbers, 1 or more)",
                            value)
        return tuple((m, k, self.number(e, f"{where}[{i}][2]", "a fraction of the peak", at_most=10.0))
                     for i, (m, k, e) in enumerate(value))

    def points(self, value: Any, where: str) -> tuple[tuple[float, float], ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
            raise self.fail(where, "a list of [work_us, efficiency] pairs", value)
        return tuple((self.number(w, f"{where}[{i}][0]", "µs"), self.number(e, f"{where}[{i}][1]", "a fraction of the peak",
                                                                       at_most=10.0))
                     for i, (w, e) in enumerate(value))

    def alignments(self, value: Any, where: str) -> dict[str, ChannelAlignment]:
        found = {}
        for dtype, item in self.mapping(value, where, set(PROFILE_DTYPES)).items():
            at = f"{where}.{dtype}"
            self.mapping(item, at, {"input", "output", "source"}, ("input", "output", "source"))
            sides = {}
            for side in ("input", "output"):
                number = item[side]
                if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                    raise self.fail(f"{at}.{side}", "a whole number of channels, 1 or more", number)
                sides[side] = number
            found[dtype] = ChannelAlignment(sides["input"], sides["output"], self.text(item["source"], f"{at}.source"))
        return found


    def latency_model(self, value: Any, where: str) -> LatencyModel:
        numbers = ("units", "gemm_tiles", "k_step", "tile_overhead_k", "winograd_tiles", "memory_overlap",
                   "eager_per_op_us", "fused_per_op_us", "horizontal_fusion", "concat_elimination")
        top = self.mapping(value, where, {"runtime", *numbers}, ("runtime", *numbers))
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for key in numbers:
            at = f"{where}.{key}"
            item = self.mapping(top[key], at, {"value", "source"}, ("value", "source"))
            sources[key] = self.text(item["source"], f"{at}.source")
            values[key] = item["value"]
        tiles = values["gemm_tiles"]
        if (not isinstance(tiles, list) or not tiles
                or not all(isinstance(t, list) and len(t) == 2 and all(_positive_int(v) for v in t) for t in tiles)):
            raise self.fail(f"{where}.gemm_tiles.value", "a list of [rows, cols] pairs of positive integers", tiles)
        winograd = values["winograd_tiles"]
        if not isinstance(winograd, list) or not all(_positive_int(v) for v in winograd):
            raise self.fail(f"{where}.winograd_tiles.value", "a list of positive integers (output tile sizes; [] for none)",
                            winograd)
        for key in ("units", "k_step"):
            if not _positive_int(values[key]):
                raise self.fail(f"{where}.{key}.value", "a positive integer", values[key])
        for key in ("horizontal_fusion", "concat_elimination"):
            if not isinstance(values[key], bool):
                raise self.fail(f"{where}.{key}.value", "true or false", values[key])
        return LatencyModel(
            units=values["units"],
            gemm_tiles=tuple((int(a), int(b)) for a, b in tiles),
            k_step=values["k_step"],
            tile_overhead_k=self.number(values["tile_overhead_k"], f"{where}.tile_overhead_k.value", "k-steps", positive=False),
            winograd_tiles=tuple(int(v) for v in winograd),
            memory_overlap=self.number(values["memory_overlap"], f"{where}.memory_overlap.value", "a fraction",
                                       positive=False, at_most=1.0),
            eager_per_op_us=self.number(values["eager_per_op_us"], f"{where}.eager_per_op_us.value", "µs", positive=False),
            fused_per_op_us=self.number(values["fused_per_op_us"], f"{where}.fused_per_op_us.value", "µs", positive=False),
            horizontal_fusion=values["horizontal_fusion"],
            concat_elimination=values["concat_elimination"],
            runtime=self.text(top["runtime"], f"{where}.runtime"),
            source=sources,
        )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return repr(value)


def parse_spec(data: Any, origin: str, default_name: str = "") -> HardwareSpec:
    """Validate one parsed YAML document (`origin` names it in errors) into a HardwareSpec."""
    check = _Checker(origin)
    if data is None:
        raise SpecError(f"{origin}: the file is empty; expected a hardware spec (see docs/roofline.md)")
    top = check.mapping(data, "", _TOP_FIELDS, _REQUIRED_TOP)
    name = check.text(top["name"], "name") if "name" in top else default_name
    if not name:
        raise SpecError(f"{origin}: missing field 'name'")
    kind = top["kind"]
    if kind not in DEVICE_KINDS:
        raise check.fail("kind", f"one of {', '.join(DEVICE_KINDS)}", kind)
    efficiency = check.mapping(top["efficiency"], "efficiency", {"compute", "memory"}, ("compute", "memory"))
    vector = check.unit(top["vector_units"], "vector_units")
    if "fp32" not in vector.peak_tflop_per_s:
        # fp32 is the vector units' fallback for any dtype they do not list (widened in registers)
        raise SpecError(f"{origin}: missing field 'vector_units.peak_tflop_per_s.fp32'")
    matrix = top.get("matrix_engine")
    caches = top.get("caches") or {}
    check.mapping(caches, "caches")
    return HardwareSpec(
        name=name,
        description=check.text(top["description"], "description"),
        kind=kind,
        memory_bandwidth_gb_per_s=check.sourced(top["memory_bandwidth_gb_per_s"], "memory_bandwidth_gb_per_s", "GB/s", magnitude="bandwidth"),
        vector_units=vector,
        matrix_engine=check.unit(matrix, "matrix_engine") if matrix is not None else None,
        compute_efficiency=check.sourced(efficiency["compute"], "efficiency.compute", "a fraction of peak", at_most=1.0),
        memory_efficiency=check.sourced(efficiency["memory"], "efficiency.memory", "a fraction of peak", at_most=1.0),
        launch_overhead_us=check.sourced(top["launch_overhead_us"], "launch_overhead_us", "µs", positive=False, magnitude="overhead_us"),
        caches=tuple(check.cache(str(key), value, f"caches.{key}") for key, value in caches.items()),
        cache_bandwidth=check.tiers(top["cache_bandwidth_gb_per_s"], "cache_bandwidth_gb_per_s")
        if top.get("cache_bandwidth_gb_per_s") is not None else (),
        kernel_families=check.families(top["kernel_families"], "kernel_families")
        if top.get("kernel_families") is not None else {},
        channel_alignment=check.alignments(top["channel_alignment"], "channel_alignment")
        if top.get("channel_alignment") is not None else {},
        latency_model=check.latency_model(top["latency_model"], "latency_model")
        if top.get("latency_model") is not None else None,
        path=origin,
        memory_capacity_gib=check.sourced(top["memory_capacity_gib"], "memory_capacity_gib", "GiB", magnitude="capacity_gib")
        if top.get("memory_capacity_gib") is not None else None,
        cold_weights_gb_per_s=check.sourced(top["cold_weights_gb_per_s"], "cold_weights_gb_per_s", "GB/s", magnitude="bandwidth")
        if top.get("cold_weights_gb_per_s") is not None else None,
        fresh_pages=check.fresh_pages(top["fresh_pages"], "fresh_pages") if top.get("fresh_pages") is not None else None,
    )


def _parse_text(text: str, origin: str, default_name: str) -> HardwareSpec:
    try:
        data = load_yaml(text, origin)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(f"{origin}: not valid YAML{where}: {problem}") from None
    return parse_spec(data, origin, default_name)


def _read_file(path: Path, origin: str, default_name: str) -> HardwareSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"hardware spec file '{origin}' not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"cannot read hardware spec file '{origin}': {error}") from None
    return _parse_text(text, origin, default_name)


# ---------------------------------------------------------------------------------------- bundled


def _bundled_dir() -> Traversable:
    """The directory holding the bundled YAML files, installed or in a source checkout."""
    from importlib.resources import files

    checkout = Path(__file__).resolve().parent.parent / "configs" / "hardware"
    if checkout.is_dir():  # a source tree's own files, even when another tree was installed editable
        return checkout
    try:
        return files("profiler._configs").joinpath("hardware")
    except ModuleNotFoundError:
        # an editable install made before configs/ was mapped into the package
        return Path(__file__).resolve().parent.parent / "configs" / "hardware"


def _bundled_files() -> dict[str, Traversable]:
    folder = _bundled_dir()
    found: dict[str, Traversable] = {}
    for entry in folder.iterdir():
        if entry.name.endswith((".yaml", ".yml")) and entry.is_file():
            found[entry.name.rsplit(".", 1)[0]] = entry
    return dict(sorted(found.items()))


def bundled_names() -> list[str]:
    return list(_bundled_files())


def bundled_specs() -> list[HardwareSpec]:
    """Every spec shipped with effprof, sorted by name."""
    return [_load_bundled(name, entry) for name, entry in _bundled_files().items()]


def _load_bundled(name: str, entry: Traversable) -> HardwareSpec:
    return _parse_text(entry.read_text(encoding="utf-8"), f"configs/hardware/{entry.name}", name)


def looks_like_path(text: str) -> bool:
    """Whether a `hardware` argument names a spec file rather than a bundled spec: it ends in
    .yaml/.yml or holds a path separator. Budget files apply the same rule before they take a
    relative path against their own folder."""
    return text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text


def load_spec(name_or_path: str | Path | HardwareSpec) -> HardwareSpec:
    """A bundled spec by name (`a4000`), a user's YAML file by path, or a spec object as is."""
    if isinstance(name_or_path, HardwareSpec):
        return name_or_path
    if isinstance(name_or_path, Path) or looks_like_path(str(name_or_path)):
        path = Path(name_or_path).expanduser()  # '~/specs/gpu.yaml' quoted or from a YAML file
        return _read_file(path, str(name_or_path), path.stem)
    key = str(name_or_path).strip().lower()
    files = _bundled_files()
    if key in files:
        return _load_bundled(key, files[key])
    if Path(key).is_file():  # a file in the current directory named without an extension
        return _read_file(Path(key), key, Path(key).stem)
    raise SpecError(
        f"unknown hardware '{name_or_path}'{did_you_mean(key, files)}; bundled specs: {', '.join(files)}; "
        "or pass a path to a YAML spec (see docs/roofline.md)"
    )
