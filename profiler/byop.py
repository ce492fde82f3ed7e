"""Per-operator totals (`--by-op`): what each op costs over the whole model, and in each module.

The layer table says where the work is; this says what it is. Work done in a model's own
`forward` (a U-Net's `cat`, `interpolate` and residual adds) lands in one root row of the layer
table; here it is split by op: `aten::cat` 3 calls, 24 MB. Like fvcore's `by_operator`, but with
MACs, FLOPs and bytes, and per (module, op) as well. Pure data from the costed kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .aggregate import Kernel, _Traffic

__all__ = ["OpTotals", "ByOperator", "by_operator"]


@dataclass(frozen=True)
class OpTotals(_Traffic):
    """One op's calls and costs: over the whole model (`module` None) or within one module."""

    op: str
    module: str | None
    calls: int
    macs: int
    flops: int
    bytes_read: int
    bytes_written: int



@dataclass(frozen=True)
class ByOperator:
    """`ops`: one row per op, heaviest first (FLOPs, then bytes). `module_ops`: one row per (module,
    op), modules in execution order and ops in the order they first ran. `module_calls`: how many
    times each module's forward ran (a shared block called twice counts 2)."""

    ops: tuple[OpTotals, ...]
    module_ops: tuple[OpTotals, ...]
    module_calls: Mapping[str, int]



def _add(rows: dict[tuple[str, str | None], tuple[int, ...]], key: tuple[str, str | None], kernel: Kernel) -> None:
    cost = kernel.cost
    calls, macs, flops, read, written = rows.get(key, (0, 0, 0, 0, 0))
    rows[key] = (calls + 1, macs + cost.macs, flops + cost.flops, read + cost.bytes_read, written + cost.bytes_written)


def by_operator(kernels: Iterable[Kernel], module_calls: Mapping[str, int] | None = None) -> ByOperator:
    """Totals per op and per (module, op) of costed `kernels` (`Report.kernels`)."""
    kernels = list(kernels)
    whole: dict[tuple[str, str | None], tuple[int, ...]] = {}
    per_module: dict[tuple[str, str | None], tuple[int, ...]] = {}
    for kernel in kernels:
        _add(whole, (kernel.event.op, None), kernel)
        _add(per_module, (kernel.event.op, kernel.module), kernel)

    def rows(table: dict[tuple[str, str | None], tuple[int, ...]]) -> list[OpTotals]:
        return [OpTotals(op, module, *numbers) for (op, module), numbers in table.items()]

    ops = sorted(rows(whole), key=lambda r: (r.flops, r.bytes_total), reverse=True)
    order = {name: index for index, name in enumerate(dict.fromkeys(k.module for k in kernels))}
    module_ops = sorted(rows(per_module), key=lambda r: order[r.module or ""])  # stable: ops keep first-run order
    return ByOperator(tuple(ops), tuple(module_ops), dict(module_calls or {}))
