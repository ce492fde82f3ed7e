"""Ops that only move or create data: views, copies, factories, gathers. No FLOPs.

Views launch no kernel and touch no memory. Copies read their input and write their output.
Factories (zeros, arange, randn) write their output and read nothing; `empty` allocates without
writing. Gathers (embedding, index_select) read the indices and only the rows they gather, not
the whole table: a 50k-row embedding looked up for 8 tokens moves 8 rows.
"""

from __future__ import annotations

from ..events import OpEvent, tensor_args
from .registry import OpCost, io_bytes, register
from ..vocabulary import KernelFamily

__all__ = ["VIEW_OPS", "COPY_OPS", "FACTORY_OPS", "GATHER_OPS"]

VIEW_OPS = (
    "view", "_unsafe_view", "reshape", "_reshape_alias", "transpose", "permute", "expand",
    "expand_as", "slice", "select", "squeeze", "unsqueeze", "t", "as_strided", "alias",
    "detach", "unbind", "split", "split_with_sizes", "chunk", "tensor_split", "narrow",
    "unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk",
    "unflatten", "flatten", "view_as", "view_as_real", "view_as_complex", "diagonal",
    "lift_fresh", "unfold", "_conj", "_neg_view", "numpy_T", "movedim", "swapaxes", "swapdims",
    "real", "imag", "resolve_conj", "resolve_neg", "_local_scalar_dense", "item",
    "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "set_",
    "resize_", "_assert_tensor_metadata", "_assert_async", "sym_constrain_range_for_size",
    "_functional_sym_constrain_range", "_linalg_check_errors",
)

COPY_OPS = (
    "clone", "contiguous", "cat", "concat", "concatenate", "stack", "hstack", "vstack",
    "constant_pad_nd", "pad", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "_to_copy", "_copy_from",
    "_copy_from_and_resize", "repeat", "repeat_interleave", "tile", "roll", "flip", "tril",
    "triu", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle",
    "slice_scatter", "select_scatter", "diagonal_scatter", "lift_fresh_copy", "masked_select",
    "index_add", "index_fill", "scatter", "scatter_add",
    "scatter_reduce", "masked_scatter", "sort", "topk", "nonzero", "unique_dim",
    "_unique2", "col2im", "im2col", "nonzero_static",
)

FACTORY_OPS = (
    "zeros", "ones", "full", "arange", "linspace", "logspace", "eye", "zeros_like", "ones_like",
    "full_like", "new_zeros", "new_ones", "new_full", "scalar_tensor", "rand", "randn",
    "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal", "uniform",
    "fill", "zero", "tensor",
)

GATHER_OPS = ("embedding", "index_select", "gather", "index", "_unsafe_index", "take")


@register(*VIEW_OPS)
def view_cost(event: OpEvent) -> OpCost:
    return OpCost(family=KernelFamily.VIEW, engine="none")


@register(*COPY_OPS)
def copy_cost(event: OpEvent) -> OpCost:
    read, written = io_bytes(event)
    return OpCost(bytes_read=read, bytes_written=written, family=KernelFamily.COPY)


@register("copy")
def copy_into_cost(event: OpEvent) -> OpCost:
    # copy_(dst, src): the destination is overwritten, not read
    src = event.args[1]
    return OpCost(bytes_read=src.nbytes, bytes_written=event.outputs[0].nbytes, family=KernelFamily.COPY)


@register("index_copy", "index_put")
def write_rows_cost(event: OpEvent) -> OpCost:
    # In place (a KV cache's index_copy_, `cache[:, :, pos] = new`), only the rows written move:
    # the source and the indices are read and as many elements written into the destination,
    # whose other rows are untouched. Out of place, the destination is copied first: every tensor
    # read once and the whole output written.
    if not event.inplace:
        read, written = io_bytes(event)
        return OpCost(bytes_read=read, bytes_written=written, family=KernelFamily.COPY)
    destination = event.args[0]
    source = event.args[3] if event.name.startswith("index_copy") else event.args[2]
    rows = source.numel * destination.itemsize
    read = sum(t.nbytes for t in tensor_args(event.args[1:]))
    accumulate = event.name.startswith("index_put") and len(event.args) > 3 and bool(event.args[3])
    return OpCost(bytes_read=read + (rows if accumulate else 0), bytes_written=rows, family=KernelFamily.COPY)


@register(*FACTORY_OPS)
def factory_cost(event: OpEvent) -> OpCost:
    return OpCost(bytes_written=sum(t.nbytes for t in event.outputs[:1]), family=KernelFamily.COPY)


@register(*GATHER_OPS)
def gather_cost(event: OpEvent) -> OpCost:
    out = event.outputs[0]
    # the table or source is the first argument (embedding(weight, indices) included)
    index_bytes = sum(t.nbytes for t in tensor_args((event.args[1:], event.kwargs)))
    # the rows read equal the output in size (and in dtype: the table's)
    return OpCost(
        bytes_read=index_bytes + out.nbytes,
        bytes_written=out.nbytes,
        family=KernelFamily.GATHER,
    )
