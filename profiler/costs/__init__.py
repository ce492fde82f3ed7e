"""Per-op cost formulas, one file per op family, all registered in `registry`.

Importing this package fills the registry; `formula_for(op)` and `is_free(op)` are the only
lookups the rest of effprof uses (by full op name, `aten::mm`).
"""

from . import attention, conv, loss, matmul, movement, norm, numeric, pointwise, pooling, softmax  # noqa: F401
from .conv import conv_kind
from .registry import FREE_OPS, OpCost, formula_for, is_free, registered_ops

__all__ = ["FREE_OPS", "OpCost", "conv_kind", "formula_for", "is_free", "registered_ops"]
