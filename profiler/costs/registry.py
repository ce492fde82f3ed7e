"""The one table from aten op name to cost formula.

A formula is a pure function `OpEvent -> OpCost`. Registering a name twice is an error, so two
families can never silently disagree about the same op. Ops with no entry are *unsupported* and
are reported by the aggregation, never counted as zero in silence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from ..events import OpEvent, TensorMeta, tensor_args

__all__ = ["OpCost", "Formula", "register", "formula_for", "registered_ops", "io_bytes"]

Engine = Literal["matrix", "vector", "none"]


@dataclass(frozen=True, slots=True)
class OpCost:
    """Cost of one kernel. `engine` says which units would run it (roofline picks peaks by it)."""

    macs: int = 0
    flops: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    family: str = "elementwise"
    engine: Engine = "vector"
    conv_kind: str | None = None

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written


Formula = Callable[[OpEvent], OpCost]

_FORMULAS: dict[str, Formula] = {}


def register(*names: str) -> Callable[[Formula], Formula]:
    """Register `formula` for aten op packet names (without the `aten.` prefix)."""

    def decorate(formula: Formula) -> Formula:
        for name in names:
            if name in _FORMULAS:
                raise ValueError(f"cost formula for aten.{name} registered twice")
            _FORMULAS[name] = formula
        return formula

    return decorate


def formula_for(op: str) -> Formula | None:
    """The formula for `op`; an in-place variant (`relu_`) uses its out-of-place formula."""
    found = _FORMULAS.get(op)
    if found is None and op.endswith("_") and not op.endswith("__"):
        found = _FORMULAS.get(op[:-1])
    return found


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
    raise ValueError(f"aten.{event.op} called without a tensor argument")
