"""`effprof crosscheck`: effprof against fvcore and FlopCounterMode, per module."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..crosscheck import Crosscheck
from .formats import Format
from .markdown import markdown_table
from .registry import renders

__all__ = ["crosscheck_renderable", "crosscheck_markdown"]


def _count(value: int | None) -> str:
    return f"{value:,}" if value is not None else "n/a"


@renders(Crosscheck, Format.TABLE)
def crosscheck_renderable(check: Crosscheck) -> Group:
    inputs = ", ".join("×".join(str(d) for d in shape) for shape in check.inputs)
    table = Table(title=f"{check.model}  ·  inputs {inputs}  ·  MACs per module (self)", header_style="bold", pad_edge=False)
    table.add_column("Module", no_wrap=True, overflow="ellipsis", max_width=44)
    table.add_column("Type", no_wrap=True, overflow="ellipsis", max_width=20)
    table.add_column("effprof", justify="right", no_wrap=True)
    table.add_column("fvcore", justify="right", no_wrap=True)
    table.add_column("FlopCounterMode/2", justify="right", no_wrap=True)
    table.add_column("Why they differ", overflow="fold", min_width=30)
    for row in [*check.rows, check.total]:
        why = "\n".join(d.text for d in row.differences) if row is not check.total else ""
        style = "bold" if row is check.total else ""
        table.add_row(row.module or "(root)", row.type, _count(row.effprof_macs), _count(row.fvcore_macs),
                      _count(row.flop_counter_macs), why, style=style)
    parts: list[Any] = [table]
    if check.summary:
        parts.append(Text("Differences, summed over modules:", style="bold"))
        for diff in check.summary:
            parts.append(Text(f"  {diff.tool}: {diff.text}", style="red" if diff.category == "unexplained" else ""))
    else:
        parts.append(Text("All three tools agree on every module.", style="green"))
    if check.fvcore_unsupported:
        ops = ", ".join(f"{op} ×{n}" for op, n in check.fvcore_unsupported.items())
        parts.append(Text(f"fvcore's unsupported ops (it counts them as 0): {ops}", style="dim"))
    parts += [Text(f"note: {note}", style="dim") for note in check.notes]
    return Group(*parts)


@renders(Crosscheck, Format.MARKDOWN)
def crosscheck_markdown(check: Crosscheck) -> str:
    rows: list[list[str | None]] = [
        [f"`{row.module or '(root)'}`", row.type, _count(row.effprof_macs), _count(row.fvcore_macs),
         _count(row.flop_counter_macs), "<br>".join(d.text for d in row.differences)]
        for row in check.rows
    ]
    t = check.total
    rows.append(["**total**", t.type, _count(t.effprof_macs), _count(t.fvcore_macs), _count(t.flop_counter_macs), None])
    header = ["Module", "Type", "effprof MACs", "fvcore", "FlopCounterMode/2", "Why they differ"]
    lines = [*markdown_table(header, rows), ""]
    lines += [f"- {d.tool}: {d.text}" for d in check.summary] or ["All three tools agree on every module."]
    lines += [f"- note: {note}" for note in check.notes]
    return "\n".join(lines) + "\n"
