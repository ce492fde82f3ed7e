"""The one Markdown table builder: every renderer's tables go through it, so every cell is escaped.

tests/test_markdown.py fails when a module elsewhere in the package writes a table row by hand.
"""

from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["escape", "markdown_table"]


def escape(cell: object) -> str:
    """A cell's text that cannot break its row: `|` escaped, line breaks as spaces."""
    return str(cell).replace("|", "\\|").replace("\n", " ")


def _row(cells: Sequence[object]) -> str:
    return "|" + "|".join(" " if cell is None else f" {escape(cell)} " for cell in cells) + "|"


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]], *, align: Sequence[str] | None = None,
                   spaced_rule: bool = False) -> list[str]:
    """Lines of a GitHub-flavoured Markdown table. `align` gives each column's rule ('---', '---:');
    `spaced_rule` writes it `| --- |` rather than `|---|`. A cell is its `str()`, escaped; None is a
    blank cell written `| |` (an empty string keeps both spaces, `|  |`)."""
    rules = list(align) if align is not None else ["---"] * len(header)
    rule = "|" + "".join(f" {r} |" for r in rules) if spaced_rule else "|" + "".join(f"{r}|" for r in rules)
    return [_row(header), rule, *(_row(row) for row in rows)]
