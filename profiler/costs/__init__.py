"""Per-op cost formulas, one file per op family, all registered in `registry`.

Importing this package fills the registry; `formula_for(op)` is the only lookup the rest of
effprof uses.
"""

from . import attention, conv, matmul, movement, norm, pointwise, pooling, softmax  # noqa: F401
from .conv import conv_kind
from .registry import OpCost, formula_for, registered_ops

__all__ = ["OpCost", "conv_kind", "formula_for", "registered_ops"]
