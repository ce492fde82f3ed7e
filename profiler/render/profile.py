"""`effprof profile`: the report's table (with `--by-op`'s and `--measure`'s), Markdown and CSV."""

from __future__ import annotations

from rich.console import Group, RenderableType

from ..results import ProfileResult
from .export import to_csv, to_markdown
from .formats import Format
from .measure import render_measurement
from .registry import renders
from .report import by_op_tables, render_report

__all__ = ["profile_tables", "profile_markdown", "profile_csv"]


@renders(ProfileResult, Format.TABLE)
def profile_tables(result: ProfileResult) -> Group:
    parts: list[RenderableType] = [render_report(result.report, result.shown_rows)]
    if result.by_op is not None:
        parts.append(by_op_tables(result.by_op, top=result.top))
    if result.measurement is not None:
        parts.append(render_measurement(result.measurement, top=result.top))
    return Group(*parts)


@renders(ProfileResult, Format.MARKDOWN)
def profile_markdown(result: ProfileResult) -> str:
    return to_markdown(result.report, result.shown_rows)


@renders(ProfileResult, Format.CSV)
def profile_csv(result: ProfileResult) -> str:
    return to_csv(result.report, result.shown_rows)
