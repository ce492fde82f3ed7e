"""The one table from op name to cost formula.

Ops are keyed by their full name, namespace included (`aten::mm`): only `aten` and `prims` ops
get formulas, so a library's own op that happens to share an aten name (`mylib::mm`) is never
priced as the aten one. A formula is a pure function `OpEvent -> OpCost`. Registering a name
twice is an error, so two families can never silently disagree about the same op. Ops with no
entry are *unsupported* and are reported by the aggregation, never counted as zero in silence;
the few bookkeeping ops in `FREE_OPS` cost nothing by definition and are neither.

Users price their own ops (a `torch.library` custom op, `mylib::fused_gelu`) with `register_op`,
by full name and in any namespace; the built-in formulas stay aten and prims only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from ..events import OpEvent, TensorMeta, tensor_args
from ..vocabulary import ConvKind, KernelFamily, out_of_place

__all__ = ["OpCost", "Formula", "FREE_OPS", "FORMULA_NAMESPACES", "register", "register_op", "unregister_op",
           "formula_for", "is_free", "registered_ops", "io_bytes"]

Engine = Literal["matrix", "vector", "none"]


@dataclass(frozen=True, slots=True)
class OpCost:
    """Cost of one kernel. `engine` says which units would run it (roofline picks peaks by it).

    The formula also records the facts about the call that pricing and fusion need later, so they
    never re-derive them from the numbers: a convolution's input channels per group (thin groups
    run on the vector units), and whether a batch norm computes batch statistics (training mode,
    which cannot be folded into a convolution).
    """

    macs: int = 0
    flops: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    family: KernelFamily = KernelFamily.ELEMENTWISE
    engine: Engine = "vector"
    conv_kind: ConvKind | None = None
    channels_per_group: int | None = None
    training: bool = False
    # vector operations that unpack quantized operands in registers (a W4A16 GEMM's convert and
    # scale per weight element: precision per role); priced as time, never the model's FLOPs
    dequant_ops: int = 0

    def __post_init__(self) -> None:
        if type(self.family) is not KernelFamily:  # a formula of the user's may pass the plain word
            object.__setattr__(self, "family", KernelFamily(self.family))
        if self.conv_kind is not None and type(self.conv_kind) is not ConvKind:  # likewise 'depthwise'
            object.__setattr__(self, "conv_kind", ConvKind(self.conv_kind))

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written


Formula = Callable[[OpEvent], OpCost]

_FORMULAS: dict[str, Formula] = {}
_USER_OPS: set[str] = set()  # registered by register_op: the only ones unregister_op may remove

FORMULA_NAMESPACES = ("aten", "prims")

# Ops that do no work on any tensor and launch no kernel. Free, not unsupported:
# - the markers of `torch.autograd.profiler.record_function` (also opened by nn.DataParallel's
#   forward), which enter and leave a named range;
# - queries of a tensor's metadata that tensor subclasses (nested tensors) dispatch.
FREE_OPS = frozenset({
    "profiler::_record_function_enter",
    "profiler::_record_function_enter_new",
    "profiler::_record_function_exit",
    "prim::layout",
    "prim::device",
    "prim::dtype",
    "aten::dim",
    "aten::sym_size",
    "aten::sym_stride",
    "aten::sym_numel",
    "aten::sym_storage_offset",
    "aten::sym_is_contiguous",
    "aten::is_contiguous",
})


def register(*names: str, namespace: str = "aten") -> Callable[[Formula], Formula]:
    """Register `formula` for op names within `namespace` (`register("mm")` is `aten::mm`)."""
    if namespace not in FORMULA_NAMESPACES:
        raise ValueError(f"formulas are for {' and '.join(FORMULA_NAMESPACES)} ops only, not {namespace}::")

    def decorate(formula: Formula) -> Formula:
        for name in names:
            full = f"{namespace}::{name}"
            if full in _FORMULAS:
                raise ValueError(f"cost formula for {full} registered twice")
            _FORMULAS[full] = formula
        return formula

    return decorate


def register_op(op: str) -> Callable[[Formula], Formula]:
    """Register your own cost formula for the op `op`, named in full with its namespace
    (`"mylib::fused_gelu"`, as `torch.library` defines it). Used as a decorator on a pure function
    `OpEvent -> OpCost`; from then on the op is counted instead of listed as unsupported.

    An op that already has a formula (built-in or yours) is refused: remove yours first with
    `unregister_op`."""
    namespace, separator, name = op.partition("::")
    if not (namespace and separator and name) or "::" in name:
        raise ValueError(f"name the op in full with its namespace, e.g. 'mylib::fused_gelu', not {op!r}")
    if op in FREE_OPS:
        raise ValueError(f"{op} is a bookkeeping op that costs nothing by definition; it takes no formula")

    def decorate(formula: Formula) -> Formula:
        if op in _FORMULAS:
            raise ValueError(f"cost formula for {op} registered twice")
        _FORMULAS[op] = formula
        _USER_OPS.add(op)
        return formula

    return decorate


def unregister_op(op: str) -> None:
    """Remove a formula registered with `register_op`; the op is unsupported again. Built-in
    formulas cannot be removed."""
    if op not in _USER_OPS:
        raise ValueError(f"{op} has no formula registered with register_op")
    _USER_OPS.discard(op)
    del _FORMULAS[op]


def formula_for(op: str) -> Formula | None:
    """The formula for the full op name `op` (`aten::relu`); an in-place variant (`aten::relu_`)
    uses its out-of-place formula. None for an op of another namespace, unless its user
    registered one with `register_op`."""
    found = _FORMULAS.get(op)
    if found is None and out_of_place(op) != op:
        found = _FORMULAS.get(out_of_place(op))
    return found


def is_free(op: str) -> bool:
    """A bookkeeping op (FREE_OPS): no kernel, no cost, not unsupported."""
    return op in FREE_OPS


def registered_ops() -> frozenset[str]:
    return frozenset(_FORMULAS)


def io_bytes(event: OpEvent) -> tuple[int, int]:
    """Convention default: every tensor argument read once, every output written once."""
    read = sum(t.nbytes for t in tensor_args((event.args, event.kwargs)))
    written = sum(t.nbytes for t in event.outputs)
    return read, written


def first_tensor(event: OpEvent) -> TensorMeta:
    for value in tensor_args(event.args):
        return value
    raise ValueError(f"{event.op} called without a tensor argument")
