"""`effprof conv`: one convolution in its standard, group, depthwise, pointwise and separable forms.

Each form is built as a real `nn.Conv2d` (separable = depthwise then pointwise in an
`nn.Sequential`) on the meta device and profiled with `profiler.api.profile`, so the table is
counted by the same engine as a model profile, never by a second set of formulas. The closed
forms from the MobileNet paper (separable / standard = 1/N + 1/K^2) are printed beside the
measured ratios, so users see that the engine and the algebra agree.

Shapes follow MobileNet's blocks: padding K // 2 unless given ("same" for odd K), no bias (a BN follows
each conv; `bias=True` adds it). `depthwise` keeps the channels (C_out = C_in, multiplier 1) and
carries the stride; `pointwise` is the 1x1 half of `separable`, run at the depthwise output's
resolution, so that depthwise + pointwise = separable in every column.

Closed forms, relative to standard, for MACs (and params when there is no bias), with N = C_out
and K the kernel side: group 1/g, depthwise 1/N, pointwise 1/K^2, separable 1/N + 1/K^2.
They are exact whatever the stride and padding: every form shares the output resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import nn

from .api import profile
from .errors import UsageError, option
from .report import Report

__all__ = ["ConvSpec", "ConvRow", "ConvTable", "conv_table", "KINDS"]

KINDS = ("standard", "group", "depthwise", "pointwise", "separable")

# the closed form of each kind's MACs relative to standard, as text (N = C_out, K = kernel side)
_CLOSED_FORM_TEXT = {
    "standard": "1",
    "group": "1/g",
    "depthwise": "1/N",
    "pointwise": "1/K^2",
    "separable": "1/N + 1/K^2",
}


@dataclass(frozen=True)
class ConvSpec:
    """The layer the table is about: a K x K conv from C_in to C_out on a size x size input."""

    in_channels: int
    out_channels: int
    kernel: int
    size: int
    stride: int = 1
    groups: int = 1
    bias: bool = False
    batch: int = 1
    padding: int | None = None  # None: K // 2, "same" for odd K at stride 1

    @property
    def pad(self) -> int:
        return self.kernel // 2 if self.padding is None else self.padding

    @property
    def out_size(self) -> int:
        # PyTorch's output size with dilation 1
        return (self.size + 2 * self.pad - self.kernel) // self.stride + 1

    def validate(self) -> None:
        """Raise UsageError, one line with the fix, for a layer PyTorch could not build or run."""
        for keyword in ("in_channels", "out_channels", "kernel", "size", "stride", "groups", "batch"):
            value = getattr(self, keyword)
            if value < 1:
                raise UsageError(option(keyword), f" must be 1 or more, got {value}")
        if self.pad < 0:
            raise UsageError(option("padding"), f" must be 0 or more, got {self.pad}")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            common = [d for d in range(1, min(self.in_channels, self.out_channels) + 1)
                      if self.in_channels % d == 0 and self.out_channels % d == 0]
            shown = ", ".join(str(d) for d in common[:8]) + (", ..." if len(common) > 8 else "")
            raise UsageError(
                option("groups", self.groups), " must divide both ", option("in_channels", self.in_channels), " and ",
                option("out_channels", self.out_channels), f"; use one of {shown}",
            )
        if self.out_size < 1:
            raise UsageError(
                option("kernel", self.kernel), f" does not fit a {self.size}x{self.size} input with padding "
                f"{self.pad} (size + 2 * padding = {self.size + 2 * self.pad} < kernel), so the output "
                "would be empty; use ", option("size", self.kernel - 2 * self.pad), " or more, more ", option("padding"),
                ", or a smaller ", option("kernel"),
            )

    def closed_form(self, kind: str) -> Fraction:
        """The paper's ratio of `kind`'s MACs to standard's (N = C_out, K = kernel side)."""
        n, k2 = self.out_channels, self.kernel * self.kernel
        return {
            "standard": Fraction(1),
            "group": Fraction(1, self.groups),
            "depthwise": Fraction(1, n),
            "pointwise": Fraction(1, k2),
            "separable": Fraction(1, n) + Fraction(1, k2),
        }[kind]


@dataclass(frozen=True)
class ConvRow:
    """One form of the layer, as profiled. Ratios are to the standard row, measured."""

    kind: str
    conv_kinds: tuple[str, ...]  # what the engine classified each conv as, in order
    params: int
    macs: int
    flops: int
    bytes_read: int
    bytes_written: int
    intensity: float | None
    latency_s: float | None
    bound: str | None
    ratio_macs: Fraction
    ratio_params: Fraction
    closed_form: str
    closed_form_value: Fraction

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written


@dataclass(frozen=True)
class ConvTable:
    spec: ConvSpec
    dtype: str
    hardware: str | None
    rows: tuple[ConvRow, ...]

    def row(self, kind: str) -> ConvRow:
        for row in self.rows:
            if row.kind == kind:
                return row
        raise KeyError(kind)


def _conv(spec: ConvSpec, in_channels: int, out_channels: int, groups: int) -> nn.Conv2d:
    """A K x K conv of `spec` (stride and padding included)."""
    return nn.Conv2d(in_channels, out_channels, spec.kernel, stride=spec.stride, padding=spec.pad,
                     groups=groups, bias=spec.bias)


def _pointwise(spec: ConvSpec) -> nn.Conv2d:
    """The 1x1 half of separable: no padding, stride 1 (the depthwise conv already strode)."""
    return nn.Conv2d(spec.in_channels, spec.out_channels, 1, bias=spec.bias)


def _layers(spec: ConvSpec) -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    """Each kind's module and its input shape, built on meta (no weights allocated)."""
    c_in, c_out = spec.in_channels, spec.out_channels
    full = (spec.batch, c_in, spec.size, spec.size)
    reduced = (spec.batch, c_in, spec.out_size, spec.out_size)  # what the depthwise conv hands on
    with torch.device("meta"):
        layers: dict[str, tuple[nn.Module, tuple[int, ...]]] = {"standard": (_conv(spec, c_in, c_out, 1), full)}
        if spec.groups > 1:
            layers["group"] = (_conv(spec, c_in, c_out, spec.groups), full)
        layers["depthwise"] = (_conv(spec, c_in, c_in, c_in), full)
        layers["pointwise"] = (_pointwise(spec), reduced)
        layers["separable"] = (nn.Sequential(_conv(spec, c_in, c_in, c_in), _pointwise(spec)), full)
    return layers


def _profile(module: nn.Module, shape: tuple[int, ...], kind: str, dtype: str | None, hardware: str | None) -> Report:
    # eager kernels, one per conv (fuse=False): the table compares the layers as they are
    return profile(module, torch.empty(shape, device="meta"), dtype=dtype, name=f"{kind} conv",
                   hardware=hardware, fuse=False)


def _latency_and_bound(report: Report) -> tuple[float | None, str | None]:
    estimate = report.estimate
    if estimate is None:
        return None, None
    bounds = {layer.bound.value for layer in estimate.layers if layer.bound is not None}
    # separable's two kernels may disagree (depthwise memory-bound, pointwise compute-bound)
    bound = bounds.pop() if len(bounds) == 1 else ("mixed" if bounds else None)
    return estimate.latency_s, bound


def conv_table(spec: ConvSpec, *, dtype: str | None = None, hardware: str | None = None) -> ConvTable:
    """Profile every form of `spec`'s layer; with `hardware`, add roofline latency and bound.

    Raises UsageError for an invalid layer; SpecError for an unknown or invalid `hardware`.
    """
    spec.validate()
    reports = {kind: _profile(module, shape, kind, dtype, hardware) for kind, (module, shape) in _layers(spec).items()}
    standard = reports["standard"].totals
    rows = []
    for kind, report in reports.items():
        t = report.totals
        latency, bound = _latency_and_bound(report)
        rows.append(
            ConvRow(
                kind=kind,
                conv_kinds=tuple(layer.conv_kind.value if layer.conv_kind is not None else "?" for layer in report.layers if layer.macs),
                params=t.params,
                macs=t.macs,
                flops=t.flops,
                bytes_read=t.bytes_read,
                bytes_written=t.bytes_written,
                intensity=t.intensity,
                latency_s=latency,
                bound=bound,
                ratio_macs=Fraction(t.macs, standard.macs),
                ratio_params=Fraction(t.params, standard.params),
                closed_form=_CLOSED_FORM_TEXT[kind],
                closed_form_value=spec.closed_form(kind),
            )
        )
    standard_estimate = reports["standard"].estimate
    hardware_name = standard_estimate.spec.name if standard_estimate is not None else None
    return ConvTable(spec=spec, dtype=reports["standard"].dtype, hardware=hardware_name, rows=tuple(rows))
