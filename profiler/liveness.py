"""Peak memory of the tensors one traced forward creates, from their liveness.

A tensor is live from the op that creates it to the last op that reads it (inclusive); a view
shares its base's storage and only extends the base's life; an in-place op creates nothing.
The peak is the largest sum of live bytes at any op. What the caller excludes (parameters, a KV
cache: counted on their own) is never counted, nor are tensors that exist before the forward
(its inputs), which the caller knows. Not modelled: the allocator's rounding and caching,
kernels' scratch workspaces, and the framework's own buffers (docs/llm.md, Limitations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .events import OpEvent, TensorMeta, tensor_args

__all__ = ["peak_live_bytes"]


def peak_live_bytes(
    events: Iterable[OpEvent],
    view_of: dict[int, int],
    exclude: frozenset[int] = frozenset(),
    nbytes: Callable[[TensorMeta], int] = lambda t: t.nbytes,
) -> int:
    """The most bytes of forward-created tensors alive at once. `nbytes` sizes a tensor (e.g. in
    the activations' storage format); `exclude` holds base tokens never to count."""
    created: dict[int, int] = {}  # base token -> index of the op that created it
    size: dict[int, int] = {}
    last_use: dict[int, int] = {}
    seen: set[int] = set()
    index = -1
    for index, event in enumerate(events):
        read = {view_of.get(t.token, t.token) for t in tensor_args((event.args, event.kwargs))}
        for tensor in event.outputs:
            base = view_of.get(tensor.token, tensor.token)
            # a new base tensor; an in-place op returns its argument, a view its base's storage
            if base == tensor.token and base not in seen and base not in read and base not in exclude:
                created[base] = index
                size[base] = nbytes(tensor)
            read.add(base)
        for base in read:
            last_use[base] = index
        seen |= read
    deltas = [0] * (index + 2)
    for base, start in created.items():
        deltas[start] += size[base]
        deltas[last_use[base] + 1] -= size[base]
    peak = live = 0
    for delta in deltas:
        live += delta
        peak = max(peak, live)
    return peak
