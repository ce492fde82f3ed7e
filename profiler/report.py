"""The one result object of a profile, and its stable dictionary form (docs/json-schema.md)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .aggregate import Kernel, Layer, Totals, module_depth
from .errors import UsageError, did_you_mean

__all__ = ["Report", "InputInfo", "SCHEMA_VERSION", "SORT_KEYS", "LATENCY_SORT", "fold_layers", "top_layers"]

SCHEMA_VERSION = 1

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


@dataclass
class Report:
    model: str
    inputs: list[InputInfo]
    dtype: str
    device: str
    layers: list[Layer]
    totals: Totals
    unsupported_ops: dict[str, int]
    unsupported_by_module: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kernels: list[Kernel] = field(default_factory=list, repr=False)
    module_types: dict[str, str] = field(default_factory=dict, repr=False)
    output_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    # set by roofline.estimate(); None when no hardware was given
    estimate: Any = None
    # the input shape was guessed from the model's first layer, not given (docs/cli.md, "Inputs")
    inputs_guessed: bool = False

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def rows(self, depth: int | None = None, sort: str | None = None, top: int | None = None) -> list[Layer]:
        """Table rows: layers folded to `depth`, sorted by `sort`, cut to `top`."""
        layers = self.layers if depth is None else fold_layers(self.layers, depth, self.module_types, self.output_shapes)
        if sort == LATENCY_SORT:
            if self.estimate is None:
                raise UsageError("--sort latency needs a latency estimate: add --hw, e.g. --hw a4000")
            latency = self.estimate.layer_fields(layers)
            layers = sorted(layers, key=lambda layer: latency[layer.name]["latency_s"], reverse=True)
            sort = None
        return top_layers(layers, sort, top)

    def to_dict(self) -> dict[str, Any]:
        """The JSON interface. Keys documented in docs/json-schema.md; add, never rename."""
        layer_extras = self.estimate.layer_fields() if self.estimate is not None else {}
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in self.inputs],
            "inputs_guessed": self.inputs_guessed,
            "dtype": self.dtype,
            "device": self.device,
            "totals": {
                "params": self.totals.params,
                "buffers": self.totals.buffers,
                "macs": self.totals.macs,
                "flops": self.totals.flops,
                "bytes_read": self.totals.bytes_read,
                "bytes_written": self.totals.bytes_written,
                "intensity": self.totals.intensity,
            },
            "layers": [
                {**layer_to_dict(layer), **layer_extras.get(layer.name, {})} for layer in self.layers
            ],
            "unsupported_ops": dict(self.unsupported_ops),
            "notes": list(self.notes),
        }
        if self.estimate is not None:
            data["totals"].update(self.estimate.total_fields())
            data["hardware"] = self.estimate.hardware_fields()
        return data


def layer_to_dict(layer: Layer) -> dict[str, Any]:
    return {
        "name": layer.name,
        "type": layer.type,
        "conv_kind": layer.conv_kind,
        "output_shape": list(layer.output_shape) if layer.output_shape is not None else None,
        "params": layer.params,
        "macs": layer.macs,
        "flops": layer.flops,
        "bytes_read": layer.bytes_read,
        "bytes_written": layer.bytes_written,
        "intensity": layer.intensity,
    }


def _ancestor(name: str, depth: int) -> str:
    return ".".join(name.split(".")[:depth]) if name else ""


def fold_layers(
    layers: list[Layer], depth: int, module_types: dict[str, str], output_shapes: dict[str, tuple[int, ...]]
) -> list[Layer]:
    """Rows no deeper than `depth`: each deeper layer is added into its ancestor at `depth`."""
    if depth < 0:
        raise UsageError(f"--depth must be 0 or more, got {depth}")
    folded: dict[str, Layer] = {}
    kinds: dict[str, set[str]] = {}
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
                output_shape=output_shapes.get(target, layer.output_shape),
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


def top_layers(layers: list[Layer], sort: str | None, top: int | None) -> list[Layer]:
    """Layers sorted by `sort` (heaviest first), cut to `top` rows; execution order otherwise."""
    rows = list(layers)
    if sort is not None:
        if sort not in SORT_KEYS:
            raise UsageError(f"unknown sort key '{sort}'{did_you_mean(sort, SORT_KEYS)}; use one of {', '.join(SORT_KEYS)}")
        rows.sort(key=SORT_KEYS[sort], reverse=True)
    if top is not None:
        if top < 1:
            raise UsageError(f"--top must be 1 or more, got {top}")
        rows = rows[:top]
    return rows
