"""The shared words of effprof: what bounds a kernel, which family a kernel belongs to, and what kind
of convolution it runs.

Each is a `str` enum, so its value is what the JSON, the tables and the hardware YAML spell
(`"memory"`, `"conv"`), while the code compares members instead of repeating string literals.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Bound", "ConvKind", "KernelFamily", "out_of_place"]


class _Word(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class Bound(_Word):
    """What limits a kernel's (or a layer's) time on the roofline."""

    COMPUTE = "compute"  # the FLOPs term is the larger one
    MEMORY = "memory"  # the bytes term is the larger one
    OVERHEAD = "overhead"  # the fixed per-kernel cost (launch, dispatch) exceeds both


class KernelFamily(_Word):
    """What kind of kernel an op runs: cost formulas set it, roofline, fusion and calibration read it.

    A hardware spec's `kernel_families` keys start with these names ('conv.depthwise', 'pool').
    """

    CONV = "conv"
    MATMUL = "matmul"
    ATTENTION = "attention"
    NORM = "norm"
    SOFTMAX = "softmax"
    ELEMENTWISE = "elementwise"
    REDUCTION = "reduction"
    POOL = "pool"
    UPSAMPLE = "upsample"
    COPY = "copy"
    GATHER = "gather"
    NUMERIC = "numeric"  # triangular solves, FFTs, searches in sorted tensors
    VIEW = "view"  # an alias of its input: no kernel, no time


class ConvKind(_Word):
    """What kind of convolution a conv kernel runs, as CONVENTIONS.md defines them: the conv cost
    formula sets it, roofline and the latency model read it; a layer's `conv_kind` in the JSON, and
    a hardware spec's `kernel_families` key after `conv.` ('conv.depthwise'), spell its value."""

    STANDARD = "standard"  # one group, a kernel larger than 1x1
    POINTWISE = "pointwise"  # one group, 1x1 (or 1x1x1) kernel
    DEPTHWISE = "depthwise"  # one group per input channel
    GROUP = "group"  # any other grouping


def out_of_place(op: str) -> str:
    """`relu_` -> `relu`: the one rule for an in-place op's out-of-place name (dunders kept)."""
    return op[:-1] if op.endswith("_") and not op.endswith("__") else op
