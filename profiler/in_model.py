"""What a kernel pays inside a model on a CPU, on top of the roofline of the kernel run alone.

A calibration probe runs one kernel over and over: its weights stay in the caches and its buffers
come back from the allocator already mapped. A forward pass is different in two ways that cost
whole milliseconds on one core, both measured by `effprof calibrate` (docs/roofline.md):

- Cold weights. When the model's parameters and buffers do not fit in the last-level cache, each
  layer's weights were evicted since the previous forward and stream from DRAM. One core does not
  hide that stream behind its arithmetic (a GEMM packs its operands before it computes), so the
  stream's time adds to the kernel's: `cold_weights_gb_per_s`.
- Fresh pages. glibc serves a buffer of 32 MiB or more by mmap and unmaps it on free, so every
  such buffer is new pages whose first touch faults and zeroes them: `fresh_pages`. PyTorch's CPU
  convolution (oneDNN) also copies its input, weights and output into a blocked layout on every
  call (ONEDNN_VERBOSE shows the reorders), and each copy is such a buffer when it is that big.

Specs without these fields (every bundled spec, any GPU) pay nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .aggregate import Kernel
from .events import TensorMeta, tensor_args
from .fusion import KernelGroup
from .hardware import HardwareSpec
from .liveness import peak_live_bytes
from .units import format_bytes, format_kib
from .vocabulary import KernelFamily

__all__ = ["model_state_bytes", "weights_are_cold", "fresh_buffers", "cold_stream_s", "fresh_pages_s", "in_model_s", "live_activation_bytes", "notes"]

# oneDNN's first-layer kernels read an image of a few channels as it is: no blocked copy of it
_PLAIN_INPUT_MAX_CHANNELS = 4


def model_state_bytes(kernels: Iterable[Kernel]) -> int:
    """Bytes of the parameters and buffers the forward reads, each tensor once."""
    seen: dict[int, int] = {}
    for kernel in kernels:
        for tensor in kernel.state:
            seen[tensor.token] = tensor.nbytes
    return sum(seen.values())


def live_activation_bytes(kernels: Sequence[Kernel], view_of: dict[int, int], parameters: frozenset[int],
                          spec: HardwareSpec) -> int:
    """The most bytes the forward's own tensors hold at once, where the spec prices cold weights
    (0 elsewhere: the liveness walk over every op is skipped for specs that have no use for it)."""
    if spec.cold_weights_gb_per_s is None or spec.last_level_cache_bytes is None:
        return 0
    return peak_live_bytes((k.event for k in kernels), view_of, parameters)


def weights_are_cold(kernels: Sequence[Kernel], spec: HardwareSpec, activation_bytes: int = 0) -> bool:
    """Whether each forward finds its weights evicted: they and the most activations alive at once
    outgrow the last-level cache."""
    cache = spec.last_level_cache_bytes
    return (spec.cold_weights_gb_per_s is not None and cache is not None
            and model_state_bytes(kernels) + activation_bytes > cache)


def _conv_copies(kernel: Kernel) -> list[int]:
    """Bytes of the blocked-layout copies oneDNN makes of a convolution's input and weights."""
    tensors = tensor_args(kernel.event.args[:2])
    if len(tensors) < 2:
        return []
    image, weight = tensors
    copies = [weight.nbytes]
    if len(image.shape) > 1 and image.shape[1] > _PLAIN_INPUT_MAX_CHANNELS:
        copies.append(image.nbytes)
    return copies


def _written(kernel: Kernel) -> list[TensorMeta]:
    if kernel.event.inplace or kernel.cost.bytes_written == 0:
        return []  # in place, or a view: nothing new is allocated
    return list(kernel.event.outputs)


def fresh_buffers(group: KernelGroup, spec: HardwareSpec) -> list[int]:
    """Bytes of each buffer the kernel allocates: the outputs it leaves behind, and on a CPU a
    convolution's blocked copies (input, weights, and its output before the copy back)."""
    tail = group.kernels[-1]
    sizes = [t.nbytes for t in _written(tail)]
    head = group.head
    if spec.kind == "cpu" and head.cost.family is KernelFamily.CONV:
        sizes += _conv_copies(head) + [t.nbytes for t in _written(head)]
    return sizes


def cold_stream_s(group: KernelGroup, spec: HardwareSpec) -> float:
    """Seconds to stream the kernel's weights from DRAM (when they are cold)."""
    if spec.cold_weights_gb_per_s is None:
        return 0.0
    # a view of a weight (its transpose) reads nothing: a kernel streams at most what it reads;
    # a lookup's rows are scattered over its table, and its family's probe (ids spread over a
    # table larger than the caches) already prices them from memory
    streamed = sum(min(k.state_bytes, k.cost.bytes_read) for k in group.kernels
                   if k.cost.family is not KernelFamily.GATHER)
    return streamed / (spec.cold_weights_gb_per_s.value * 1e9)


def fresh_pages_s(group: KernelGroup, spec: HardwareSpec) -> tuple[float, int]:
    """Seconds of first touch of the kernel's buffers big enough to come as fresh pages, and how many."""
    pages = spec.fresh_pages
    if pages is None:
        return 0.0, 0
    fresh = [b for b in fresh_buffers(group, spec) if b >= pages.min_kib * 1024]
    return sum(fresh) / (pages.gb_per_s * 1e9), len(fresh)


def in_model_s(group: KernelGroup, spec: HardwareSpec, weights_cold: bool) -> float:
    """Seconds the kernel adds inside a model: its weights from DRAM when they are cold, and the
    first touch of every buffer big enough to come as fresh pages."""
    return (cold_stream_s(group, spec) if weights_cold else 0.0) + fresh_pages_s(group, spec)[0]


def notes(groups: Sequence[KernelGroup], kernels: Sequence[Kernel], spec: HardwareSpec,
          activation_bytes: int, weights_cold: bool) -> list[str]:
    """What the in-model costs added to the estimate, in a reader's words (none: no line)."""
    found = []
    if weights_cold:
        cache = spec.last_level_cache_bytes or 0
        seconds = sum(cold_stream_s(g, spec) for g in groups)
        found.append(f"{spec.name}: the model's {format_bytes(model_state_bytes(kernels))} of weights and "
                     f"{format_bytes(activation_bytes)} of live activations outgrow the "
                     f"{format_kib(cache / 1024)} last-level cache: the weights stream from DRAM on every forward, "
                     f"+{seconds * 1e3:.3g} ms (docs/roofline.md, Inside a model)")
    priced = [fresh_pages_s(g, spec) for g in groups]
    count = sum(n for _, n in priced)
    if count and spec.fresh_pages is not None:
        buffers = "1 buffer" if count == 1 else f"{count} buffers"
        found.append(f"{spec.name}: {buffers} of {format_kib(spec.fresh_pages.min_kib)} or more "
                     f"{'comes' if count == 1 else 'come'} as fresh pages, whose first touch costs "
                     f"+{sum(s for s, _ in priced) * 1e3:.3g} ms (docs/roofline.md, Inside a model)")
    return found
