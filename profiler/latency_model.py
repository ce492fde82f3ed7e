"""Kernel-aware latency: one kernel (an op, or a fused chain) + a spec's `latency_model` -> seconds.

The plain roofline, max(FLOPs / peak, bytes / bandwidth) + launch, ranks kernels of equal FLOPs by
FLOPs once they are compute-bound: every byte hides behind the arithmetic. Real kernels differ in
four ways this module prices from the spec's datasheet numbers and first principles (never from a
benchmark table; docs/roofline.md derives each rule, docs/accuracy.md sources each number):

1. Kernel selection. A convolution runs as an implicit GEMM (rows: output pixels, columns: output
   channels per group, reduction: input channels per group x kernel taps) tiled into output tiles
   the runtime has; a 3x3 stride-1 convolution may instead run Winograd F(m x m, 3 x 3), which
   needs (m+2)^2 / (9 m^2) of the multiplies plus input/output transforms; the runtime takes the
   fastest candidate (cuDNN's benchmark mode, NEON libraries' heuristics). Depthwise convolutions
   and everything else stream on the vector units.
2. Tile quantisation. A GEMM computes whole tiles: rows and columns padded up to the tile, the
   reduction padded to the k-step and charged a fixed prologue/epilogue per tile, tiles dealt to
   the units in waves. Thin GEMMs (few channels) waste padded lanes and pay the per-tile cost over
   a short reduction; small tiles have low arithmetic intensity and are fed at the bandwidth of
   the tier the data sits in.
3. Memory that is not hidden. Traffic moves at the bandwidth of the smallest cache tier the
   kernel's bytes fit in. With one wave, loads, math and stores run in sequence; with W waves the
   device overlaps them except for the first and last wave: exposed = min(c, m) * (1 - overlap *
   (1 - 1/W)). A single CPU core (overlap 0) adds them.
4. Real fixed and epilogue costs. Each kernel pays the runtime's per-op cost (eager or fused).
   A fused element-wise op costs one vector instruction per output element in the epilogue; BN
   folded into the weights costs nothing.

`regroup` applies the runtime's graph-level fusions under `--fuse`: concatenations written in
place by their producers (no copy, no launch) and parallel 1x1 convolutions of one input merged
into one (horizontal fusion), each only when the spec's runtime does it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .aggregate import Kernel
from .events import TensorMeta
from .fusion import KernelGroup
from .hardware import ChannelAlignment, HardwareSpec, LatencyModel
from .vocabulary import ConvKind, KernelFamily

__all__ = [
    "GemmShape", "KernelTime", "MergedGroup", "epilogue_ops", "exposed_memory_s", "gemm_shape", "kernel_time",
    "matrix_aligned", "regroup", "tiled_gemm_s", "winograd_shape",
]

WINOGRAD_KERNEL = 3  # F(m x m, 3 x 3): the runtimes (cuDNN, NNPACK, Arm Compute Library) transform 3x3 filters
FUSED_WINOGRAD_MAX_TILE = 2  # F(2x2, 3x3) keeps its transforms in registers; larger tiles stage them in memory


@dataclass(frozen=True, slots=True)
class GemmShape:
    """`groups` independent (M x K) . (K x N) products: M output pixels (or rows), N output channels per group."""

    groups: int
    m: int
    n: int
    k: int

    @property
    def flops(self) -> int:
        return 2 * self.groups * self.m * self.n * self.k


@dataclass(frozen=True, slots=True)
class KernelTime:
    """Where one kernel's time goes. latency = max(compute, memory) + exposed + fixed."""

    algorithm: str  # implicit_gemm | winograd_f2 | winograd_f4 | ... | gemm | direct | stream
    compute_s: float  # tiles (padding included) at the units' rate, plus transforms and epilogue
    memory_s: float  # traffic at the bandwidth of the tier it sits in
    exposed_s: float  # the part of the shorter term that does not overlap the longer
    fixed_s: float  # the runtime's per-op cost
    waves: int

    @property
    def latency_s(self) -> float:
        return max(self.compute_s, self.memory_s) + self.exposed_s + self.fixed_s


@dataclass(frozen=True)
class MergedGroup(KernelGroup):
    """Parallel 1x1 convolutions of one input run as one convolution (horizontal fusion).
    `heads` of the kernels are convolutions; the input is read once, the outputs written once."""

    heads: int = 1


# ------------------------------------------------------------------------------------------- shapes


def _op(kernel: Kernel) -> str:
    """The aten op's base name, with or without namespace and overload ('aten.cat.default' -> 'cat')."""
    parts = [p for p in kernel.event.op.replace("::", ".").split(".") if p]
    if len(parts) > 1 and parts[0] in ("aten", "prims", "torch"):
        parts = parts[1:]
    return parts[0] if parts else kernel.event.op


def _conv_params(kernel: Kernel) -> tuple[TensorMeta, TensorMeta, tuple[int, ...], tuple[int, ...], bool, int] | None:
    args = kernel.event.args
    try:
        x, weight = args[0], args[1]
        stride, dilation, transposed, groups = tuple(args[3]), tuple(args[5]), bool(args[6]), int(args[8])
    except (IndexError, TypeError, ValueError):
        return None
    if not isinstance(x, TensorMeta) or not isinstance(weight, TensorMeta):
        return None
    return x, weight, stride, dilation, transposed, groups


def gemm_shape(kernel: Kernel) -> GemmShape | None:
    """The GEMM a convolution or matmul kernel computes; None for anything else (and depthwise)."""
    cost = kernel.cost
    out = kernel.event.outputs[0] if kernel.event.outputs else None
    if out is None or not out.numel or not cost.macs:
        return None
    per_output = cost.macs // out.numel  # MACs per output element = the reduction length
    if cost.family is KernelFamily.CONV and cost.conv_kind is not ConvKind.DEPTHWISE:
        params = _conv_params(kernel)
        if params is None or params[4]:
            return None  # transposed convolutions: priced as streams
        groups = params[5]
        channels = out.shape[1]
        pixels = out.numel // channels
        return GemmShape(groups, pixels, channels // groups, per_output)
    if cost.family is KernelFamily.MATMUL and len(out.shape) >= 2:
        batch = math.prod(out.shape[:-2]) if len(out.shape) > 2 else 1
        return GemmShape(batch, out.shape[-2], out.shape[-1], per_output)
    return None


def winograd_shape(kernel: Kernel, tile: int) -> tuple[GemmShape, int] | None:
    """F(tile x tile, 3x3) of a 3x3 stride-1 undilated ungrouped convolution: the (tile+2)^2 batched
    GEMMs over spatial tiles, and the number of spatial tiles; None when Winograd does not apply."""
    params = _conv_params(kernel)
    if params is None or kernel.cost.family is not KernelFamily.CONV:
        return None
    _, weight, stride, dilation, transposed, groups = params
    if transposed or groups != 1 or len(weight.shape) != 4 or tuple(weight.shape[2:]) != (WINOGRAD_KERNEL,) * 2:
        return None
    if any(s != 1 for s in stride) or any(d != 1 for d in dilation):
        return None
    out = kernel.event.outputs[0]
    batch, c_out, height, width = out.shape
    tiles = batch * math.ceil(height / tile) * math.ceil(width / tile)
    return GemmShape((tile + 2) ** 2, tiles, c_out, weight.shape[1]), tiles


# ------------------------------------------------------------------------------------------- pricing


def tiled_gemm_s(shape: GemmShape, model: LatencyModel, peak_flop_per_s: float, feed_bytes_per_s: float,
                 element_bytes: int) -> tuple[float, int, tuple[int, int]]:
    """(seconds, waves, tile) of the fastest of the runtime's tiles for `shape`.

    Per tile: 2 * tm * tn * (K padded to the k-step, plus the tile's fixed k-steps) FLOPs at one
    unit's share of the peak, derated when the tile's operand intensity, 2*tm*tn / ((tm+tn) * bytes)
    FLOP per byte, cannot be fed at the unit's share of `feed_bytes_per_s`. Tiles run in waves of
    `units`.
    """
    units = model.units
    per_unit = peak_flop_per_s / units
    feed_per_unit = feed_bytes_per_s / units
    k_steps = math.ceil(shape.k / model.k_step) + model.tile_overhead_k
    best: tuple[float, int, tuple[int, int]] | None = None
    for tm, tn in model.gemm_tiles:
        tiles = shape.groups * math.ceil(shape.m / tm) * math.ceil(shape.n / tn)
        waves = math.ceil(tiles / units)
        intensity = 2 * tm * tn / ((tm + tn) * element_bytes)
        efficiency = min(1.0, intensity * feed_per_unit / per_unit)
        seconds = waves * 2 * tm * tn * k_steps * model.k_step / (per_unit * efficiency)
        if best is None or seconds < best[0]:
            best = (seconds, waves, (tm, tn))
    assert best is not None  # the spec parser requires at least one tile
    return best


def exposed_memory_s(compute_s: float, memory_s: float, waves: int, overlap: float) -> float:
    """The shorter of compute and memory time that does not hide under the longer.

    One wave: loads, math and stores of the only tile wave run in sequence (all exposed). W waves:
    the device overlaps one wave's loads with another's math, except the first wave's loads and the
    last one's stores: a share 1/W stays exposed; `overlap` is how much of the rest the device hides.
    """
    hidden = overlap * (1.0 - 1.0 / max(waves, 1))
    return min(compute_s, memory_s) * (1.0 - hidden)


def epilogue_ops(group: KernelGroup) -> int:
    """Vector instructions' worth of element-wise work fused behind the head(s): one per output
    element of every fused op but batch norm (folded into the weights)."""
    heads = group.heads if isinstance(group, MergedGroup) else 1
    count = 0
    for kernel in group.kernels[heads:]:
        if kernel.cost.family is KernelFamily.NORM or not kernel.event.outputs:
            continue
        count += kernel.event.outputs[0].numel
    return count


def _element_bytes(kernel: Kernel) -> int:
    out = kernel.event.outputs[0] if kernel.event.outputs else None
    return max(out.nbytes // out.numel, 1) if out is not None and out.numel else 4


def _merged_shape(group: KernelGroup) -> GemmShape | None:
    heads = group.heads if isinstance(group, MergedGroup) else 1
    shapes = [gemm_shape(k) for k in group.kernels[:heads]]
    if any(s is None for s in shapes):
        return None
    first = shapes[0]
    assert first is not None
    return GemmShape(first.groups, first.m, sum(s.n for s in shapes if s is not None), first.k)


def kernel_time(group: KernelGroup, spec: HardwareSpec, peak_tflop_per_s: float, vector_tflop_per_s: float,
                fused: bool) -> KernelTime:
    """Time of one kernel group on `spec` (which must have a latency_model), the head's units
    running at `peak_tflop_per_s` and element-wise work at `vector_tflop_per_s`."""
    model = spec.latency_model
    assert model is not None
    efficiency = spec.compute_efficiency.value
    peak = peak_tflop_per_s * 1e12 * efficiency
    vector = vector_tflop_per_s * 1e12 * efficiency
    fixed = (model.fused_per_op_us if fused else model.eager_per_op_us) * 1e-6
    nbytes = group.bytes_total

    def bandwidth(total_bytes: float) -> float:
        return spec.bandwidth_gb_per_s_for(total_bytes) * 1e9 * spec.memory_efficiency.value

    epilogue_s = 2 * epilogue_ops(group) / vector  # one instruction = one FMA slot = 2 FLOP of the peak
    memory_s = nbytes / bandwidth(nbytes)
    head = group.head
    shape = _merged_shape(group)
    if shape is None:
        # streaming kernels (element-wise, norms, pools, copies, depthwise) run many waves
        algorithm = "direct" if head.cost.conv_kind is ConvKind.DEPTHWISE else "stream"
        compute_s = group.flops / peak + epilogue_s
        exposed = min(compute_s, memory_s) * (1.0 - model.memory_overlap)  # many small waves: only the overlap matters
        return KernelTime(algorithm, compute_s, memory_s, exposed, fixed, 0)
    element = _element_bytes(head)
    feed = bandwidth(nbytes)
    candidates: list[KernelTime] = []
    seconds, waves, _ = tiled_gemm_s(shape, model, peak, feed, element)
    compute_s = seconds + epilogue_s
    candidates.append(KernelTime("implicit_gemm" if head.cost.family is KernelFamily.CONV else "gemm", compute_s, memory_s,
                                 exposed_memory_s(compute_s, memory_s, waves, model.memory_overlap), fixed, waves))
    if not isinstance(group, MergedGroup) or group.heads == 1:
        for tile in model.winograd_tiles:
            found = winograd_shape(head, tile)
            if found is None:
                continue
            batched, spatial_tiles = found
            seconds, waves, _ = tiled_gemm_s(batched, model, peak, feed, element)
            side = tile + 2
            # B^T d B on each (m+2)^2 input tile and A^T M A on each product: two dense passes each
            transform_flops = spatial_tiles * (batched.k * 4 * side**3 + batched.n * 2 * (tile * side**2 + tile**2 * side))
            staged = 0
            if tile > FUSED_WINOGRAD_MAX_TILE:
                # transformed input and output written to memory and read back (non-fused Winograd)
                staged = 2 * side**2 * spatial_tiles * (batched.k + batched.n) * element
            w_compute = seconds + transform_flops / vector + epilogue_s
            w_memory = (nbytes + staged) / bandwidth(nbytes + staged)
            candidates.append(KernelTime(f"winograd_f{tile}", w_compute, w_memory,
                                         exposed_memory_s(w_compute, w_memory, waves, model.memory_overlap), fixed, waves))
    return min(candidates, key=lambda t: t.latency_s)


def matrix_aligned(kernel: Kernel, alignment: ChannelAlignment | None) -> bool:
    """Whether a GEMM's input and output channels per group are multiples of what the matrix engine
    wants (`HardwareSpec.alignment`: tensor-core MMA shapes, 16 bytes of channels on NVIDIA GPUs).
    Unaligned GEMMs run on the vector units, as cuDNN/cuBLAS fall back to CUDA-core kernels."""
    shape = gemm_shape(kernel)
    if shape is None or alignment is None:
        return True
    params = _conv_params(kernel) if kernel.cost.family is KernelFamily.CONV else None
    in_channels = params[1].shape[1] if params is not None else shape.k
    return in_channels % alignment.input == 0 and shape.n % alignment.output == 0


# ------------------------------------------------------------------------------------------- graph


def _tokens(value: object) -> list[int]:
    if isinstance(value, TensorMeta):
        return [value.token]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tokens(item)]
    return []


def _is_pointwise_head(group: KernelGroup) -> bool:
    head = group.head
    return (head.cost.family is KernelFamily.CONV and head.cost.conv_kind is ConvKind.POINTWISE and _conv_params(head) is not None
            and not group.fused)


def regroup(groups: list[KernelGroup], model: LatencyModel) -> tuple[list[KernelGroup], int, int]:
    """Graph-level fusions of the runtime: (groups, concatenations eliminated, convolutions merged).

    - concat elimination: a `cat` is written in place by its producers: no copy, no launch.
    - horizontal fusion: unfused 1x1 convolutions with the same input tensor, stride and dtype run
      as one convolution with their output channels side by side (the input read once).
    """
    eliminated = merged = 0
    found: list[KernelGroup] = []
    if model.concat_elimination:
        for group in groups:
            if len(group.kernels) == 1 and _op(group.head) == "cat":
                eliminated += 1
                continue
            found.append(group)
    else:
        found = list(groups)
    if not model.horizontal_fusion:
        return found, eliminated, merged
    by_input: dict[tuple[int, tuple[int, ...], torch.dtype], list[int]] = {}  # (input token, stride, dtype)
    for index, group in enumerate(found):
        if _is_pointwise_head(group):
            params = _conv_params(group.head)
            assert params is not None
            key = (_tokens(params[0])[0], params[2], group.head.event.outputs[0].dtype)
            by_input.setdefault(key, []).append(index)
    replace: dict[int, KernelGroup | None] = {}
    for indices in by_input.values():
        if len(indices) < 2:
            continue
        members = [found[i] for i in indices]
        first = members[0]
        weights = sum(k.cost.bytes_read for k in (g.head for g in members[1:]))
        first_params = _conv_params(first.head)
        assert first_params is not None  # a pointwise head (checked above)
        input_bytes = first_params[0].nbytes
        replace[indices[0]] = MergedGroup(
            kernels=tuple(g.head for g in members),
            flops=sum(g.flops for g in members),
            bytes_read=first.bytes_read + weights - input_bytes * (len(members) - 1),
            bytes_written=sum(g.bytes_written for g in members),
            heads=len(members),
        )
        for i in indices[1:]:
            replace[i] = None
        merged += len(members) - 1
    result = [replace.get(i, g) for i, g in enumerate(found)] if replace else found
    return [g for g in result if g is not None], eliminated, merged
