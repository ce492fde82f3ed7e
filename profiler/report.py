"""The one result object of a profile: counts per layer and, with hardware, the latency estimate.

`Report` is frozen; its JSON form (docs/json-schema.md) is built by `document.document()`, the one
place that turns typed results into dictionaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from .aggregate import Kernel, Layer, Totals, module_depth
from .errors import UsageError, did_you_mean, option
from .roofline import RooflineEstimate
from .vocabulary import ConvKind

__all__ = ["Report", "InputInfo", "SORT_KEYS", "LATENCY_SORT", "fold_layers", "top_layers"]

# sorts by the roofline estimate's latency (needs hardware), apart from SORT_KEYS' plain counts
LATENCY_SORT = "latency"

SORT_KEYS = {
    "macs": lambda layer: layer.macs,
    "flops": lambda layer: layer.flops,
    "params": lambda layer: layer.params,
    "bytes": lambda layer: layer.bytes_total,
}


@dataclass(frozen=True)
class InputInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class Report:
    model: str
    inputs: tuple[InputInfo, ...]
    dtype: str
    device: str
    layers: tuple[Layer, ...]
    totals: Totals
    unsupported_ops: Mapping[str, int]
    unsupported_by_module: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    kernels: tuple[Kernel, ...] = field(default=(), repr=False)
    module_types: Mapping[str, str] = field(default_factory=dict, repr=False)
    output_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    # the roofline latency estimate; None when no hardware was given
    estimate: RooflineEstimate | None = None
    # the input shape was guessed from the model's first layer, not given (docs/cli.md, "Inputs")
    inputs_guessed: bool = False

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def rows(self, depth: int | None = None, sort: str | None = None, top: int | None = None) -> list[Layer]:
        """Table rows: layers folded to `depth`, sorted by `sort`, cut to `top`.

        `top` keeps the K heaviest rows: without `sort`, heaviest by latency when there is an
        estimate, else by MACs."""
        layers = list(self.layers) if depth is None else fold_layers(self.layers, depth, self.module_types, self.output_shapes)
        if top is not None and sort is None:
            sort = LATENCY_SORT if self.estimate is not None else "macs"
        if sort == LATENCY_SORT:
            estimate = self.estimate
            if estimate is None:
                raise UsageError(option("sort", LATENCY_SORT), " needs a latency estimate: add ", option("hardware"), ", e.g. ",
                                 option("hardware", "a4000"))
            latency = {layer.name: estimate.for_row(layer).latency_s for layer in layers}
            layers = sorted(layers, key=lambda layer: latency[layer.name], reverse=True)
            sort = None
        return top_layers(layers, sort, top)

    def with_notes(self, before: Sequence[str] = (), after: Sequence[str] = ()) -> Report:
        """The same report with notes added before and after its own (each note once)."""
        return replace(self, notes=tuple(dict.fromkeys((*before, *self.notes, *after))))

    def __str__(self) -> str:
        """The table, as `effprof` prints it (rich renders it 120 columns wide)."""
        from .render import report_text  # the renderers sit downstream of every result type

        return report_text(self)

    def __rich__(self) -> Any:
        from .render import render_report

        return render_report(self, list(self.layers))

    def to_dict(self) -> dict[str, Any]:
        """The JSON interface. Keys documented in docs/json-schema.md; add, never rename."""
        from .document import document  # the one JSON builder sits downstream of every result type

        data: dict[str, Any] = document(self)
        return data


def _ancestor(name: str, depth: int) -> str:
    return ".".join(name.split(".")[:depth]) if name else ""


def fold_layers(
    layers: Sequence[Layer], depth: int, module_types: Mapping[str, str], output_shapes: Mapping[str, tuple[int, ...]]
) -> list[Layer]:
    """Rows no deeper than `depth`: each deeper layer is added into its ancestor at `depth`."""
    if depth < 0:
        raise UsageError(option("depth"), f" must be 0 or more, got {depth}")
    folded: dict[str, Layer] = {}
    kinds: dict[str, set[ConvKind]] = {}
    for layer in layers:
        target = layer.name if module_depth(layer.name) <= depth else _ancestor(layer.name, depth)
        previous = folded.get(target)
        group_kinds = kinds.setdefault(target, set())
        if layer.conv_kind is not None:
            group_kinds.add(layer.conv_kind)
        if previous is None:
            folded[target] = replace(
                layer,
                name=target,
                type=module_types.get(target, layer.type),
                # a container shows its own output, or none when it is never called itself (a
                # ModuleList): never the shape of the first child folded into it
                output_shape=layer.output_shape if target == layer.name else output_shapes.get(target),
            )
            continue
        folded[target] = replace(
            previous,
            conv_kind=next(iter(group_kinds)) if len(group_kinds) == 1 else None,
            params=previous.params + layer.params,
            buffers=previous.buffers + layer.buffers,
            macs=previous.macs + layer.macs,
            flops=previous.flops + layer.flops,
            bytes_read=previous.bytes_read + layer.bytes_read,
            bytes_written=previous.bytes_written + layer.bytes_written,
        )
    return list(folded.values())


def top_layers(layers: Sequence[Layer], sort: str | None, top: int | None) -> list[Layer]:
    """Layers sorted by `sort` (heaviest first), cut to `top` rows; execution order otherwise."""
    rows = list(layers)
    if sort is not None:
        if sort not in SORT_KEYS:
            raise UsageError(f"unknown sort key '{sort}'{did_you_mean(sort, SORT_KEYS)}; use one of {', '.join(SORT_KEYS)}")
        rows.sort(key=SORT_KEYS[sort], reverse=True)
    if top is not None:
        if top < 1:
            raise UsageError(option("top"), f" must be 1 or more, got {top}")
        rows = rows[:top]
    return rows
