"""`effprof conv`: one convolution as standard, group, depthwise, pointwise and separable."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..convtable import ConvSpec, ConvTable, conv_table
from ..render import choose_format, emit, formats_of
from .app import app, stdout

FORMATS = formats_of(ConvTable)


@app.command("conv")
def conv_command(
    in_channels: int = typer.Option(..., "--in-channels", help="Input channels C_in."),
    out_channels: int = typer.Option(..., "--out-channels", help="Output channels C_out (N in 1/N + 1/K^2)."),
    kernel: int = typer.Option(3, "--kernel", "-k", help="Kernel side K (padding K // 2)."),
    size: int = typer.Option(..., "--size", help="Input height and width."),
    stride: int = typer.Option(1, "--stride", help="Stride of the K×K convs."),
    padding: Optional[int] = typer.Option(None, "--padding", help="Padding of the K×K convs (default K // 2)."),
    groups: int = typer.Option(1, "--groups", "-g", help="Adds a group-conv row with g groups."),
    bias: bool = typer.Option(False, "--bias", help="Give every conv a bias (default off: a BN follows)."),
    batch: int = typer.Option(1, "--batch", "-b", help="Batch size."),
    hw: Optional[str] = typer.Option(None, "--hw", help="Hardware spec (name or YAML path): adds latency and bound."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Price tensors as fp32|fp16|bf16|int8 (default fp32)."),
    fmt_text: Optional[str] = typer.Option(None, "--format", "-f", help=f"Output format: {'|'.join(FORMATS)} (default: from --output's suffix, else table)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output to FILE instead of the terminal (FILE.json or .md picks the format)."),
) -> None:
    """One convolution as standard, group, depthwise, pointwise and separable, side by side."""
    fmt = choose_format(fmt_text, output, FORMATS)
    spec = ConvSpec(in_channels, out_channels, kernel, size, stride=stride, groups=groups, bias=bias, batch=batch,
                    padding=padding)
    table = conv_table(spec, dtype=dtype, hardware=hw)
    emit(table, fmt, output, stdout)
