"""The one Markdown table builder: every renderer's tables go through it, so every cell is escaped."""

from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["escape", "markdown_table"]


def escape(cell: object) -> str:
    """A cell's text that cannot break its row: `|` escaped, line breaks as spaces."""
    return str(cell).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], *, align: Sequence[str] | None = None,
                   spaced_rule: bool = False) -> list[str]:
    """Lines of a GitHub-flavoured Markdown table. `align` gives each column's rule ('---', '---:');
    `spaced_rule` writes it `| --- |` rather than `|---|`."""
    rules = list(align) if align is not None else ["---"] * len(header)
    rule = "|" + "".join(f" {r} |" for r in rules) if spaced_rule else "|" + "".join(f"{r}|" for r in rules)
    lines = ["| " + " | ".join(escape(h) for h in header) + " |", rule]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return lines
