"""Plain data recorded by the tracer and read by the cost formulas.

Nothing here knows about modules, costs or hardware: an `OpEvent` is one op call (aten, prims,
or a custom op of any other namespace) with its tensors replaced by `TensorMeta` (shape, dtype,
identity token), so formulas stay pure functions of shapes and dtypes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch

__all__ = ["TensorMeta", "OpEvent", "tensor_args"]


@dataclass(frozen=True, slots=True)
class TensorMeta:
    """Shape and dtype of one tensor seen by the tracer.

    `token` identifies the tensor object within one trace, so that a later pass can tell that an
    op consumes exactly what the previous op produced (needed for fusion). -1 means unknown.
    A jagged nested tensor (sequences of different lengths in one batch) has `lengths`, the
    length of each sequence along dimension `ragged_dim`; its `shape` holds the longest there,
    and `numel` counts only the elements the sequences have.
    """

    shape: tuple[int, ...]
    dtype: torch.dtype
    token: int = -1
    lengths: tuple[int, ...] | None = None
    ragged_dim: int | None = None

    @property
    def numel(self) -> int:
        if self.lengths is None or self.ragged_dim is None:
            return math.prod(self.shape)
        # one sequence per batch entry (dimension 0): every other dimension is dense
        dense = math.prod(d for i, d in enumerate(self.shape) if i not in (0, self.ragged_dim))
        return dense * sum(self.lengths)

    def sequence_lengths(self, dim: int) -> tuple[int, ...]:
        """The extent of dimension `dim` for each batch entry (dimension 0)."""
        dim = dim % len(self.shape)
        if self.lengths is not None and dim == self.ragged_dim:
            return self.lengths
        return (self.shape[dim],) * self.shape[0]

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize

    @property
    def is_floating(self) -> bool:
        return self.dtype.is_floating_point or self.dtype.is_complex

    def with_dtype(self, dtype: torch.dtype) -> TensorMeta:
        return replace(self, dtype=dtype)


@dataclass(frozen=True, slots=True)
class OpEvent:
    """One op call, attributed to the innermost running module (`module` is its path, '' = root)."""

    op: str  # the op's full name with its namespace, as PyTorch spells it: "aten::convolution", "mylib::mm"
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outputs: tuple[TensorMeta, ...]
    module: str
    inplace: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        """'aten', 'prims', or a library's own namespace ('mylib' for a torch.library op)."""
        return self.op.partition("::")[0] if "::" in self.op else ""

    @property
    def name(self) -> str:
        """The op's name within its namespace: 'convolution' for 'aten::convolution'."""
        return self.op.rpartition("::")[2]

    def remap_dtype(self, dtype: torch.dtype) -> OpEvent:
        """The same call as if every floating tensor were `dtype` (integer indices keep theirs)."""
        return self.map_tensors(lambda t: t.with_dtype(dtype) if t.is_floating else t)

    def map_tensors(self, fn: Callable[[TensorMeta], TensorMeta]) -> OpEvent:
        """The same call with `fn` applied to every tensor of its arguments and outputs."""

        def convert(value: Any) -> Any:
            if isinstance(value, TensorMeta):
                return fn(value)
            if isinstance(value, (list, tuple)):
                return type(value)(convert(v) for v in value)
            return value

        return replace(
            self,
            args=convert(self.args),
            kwargs={k: convert(v) for k, v in self.kwargs.items()},
            outputs=convert(self.outputs),
        )


def tensor_args(values: Any) -> list[TensorMeta]:
    """Every TensorMeta in a nested structure of args, in order."""
    found: list[TensorMeta] = []

    def walk(value: Any) -> None:
        if isinstance(value, TensorMeta):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(values)
    return found
