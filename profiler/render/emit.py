"""`emit(result, format, output)`: the one way every command shows its result.

Each result type registers its renderers here, one per format it has: a rich table for the terminal,
Markdown, CSV; JSON comes from `document()` for every type. A command picks the format
(`choose_format`), builds its typed result and calls `emit`; it never formats on its own.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, Callable

from rich.console import Console, RenderableType

from ..advise import AdviceReport
from ..budgets import CheckResult
from ..compare import Comparison
from ..convtable import ConvTable
from ..crosscheck import Crosscheck
from ..document import document
from ..errors import UsageError
from ..hardware import HardwareSpec
from ..llm import LlmResult
from ..report import Report
from ..results import ProfileResult, SpecList, Validation
from .advise import advice_markdown, advice_table
from .budget import budget_markdown, budget_tables
from .compare import compare_markdown, compare_renderable
from .conv import conv_markdown, conv_renderable
from .crosscheck import crosscheck_markdown, crosscheck_renderable
from .export import to_csv, to_markdown
from .formats import Format
from .hardware import hardware_detail, hardware_list_markdown, hardware_list_table, hardware_markdown
from .llm import llm_markdown, render_llm
from .measure import render_measurement, validation_markdown, validation_summary, validation_table
from .report import by_op_tables, render_report

__all__ = ["emit", "formats_of", "render_text", "renderables", "write_text", "FILE_WIDTH"]

FILE_WIDTH = 200  # a table written to a file is not cut to a terminal


def _profile_tables(result: ProfileResult) -> tuple[RenderableType, ...]:
    parts: list[RenderableType] = [render_report(result.report, result.shown_rows)]
    if result.by_op is not None:
        parts.append(by_op_tables(result.by_op, top=result.top))
    if result.measurement is not None:
        parts.append(render_measurement(result.measurement, top=result.top))
    return tuple(parts)


def _profile_text(render: Callable[[Report, list[Any]], str]) -> Callable[[ProfileResult], str]:
    return lambda result: render(result.report, result.shown_rows)


Tables = Callable[[Any], tuple[RenderableType, ...]]
Text = Callable[[Any], str]

# per result type: its tables, and its text formats other than JSON
_TABLES: dict[type, Tables] = {
    ProfileResult: _profile_tables,
    CheckResult: lambda r: (budget_tables(r),),
    Comparison: lambda r: (compare_renderable(r),),
    ConvTable: lambda r: (conv_renderable(r),),
    Crosscheck: lambda r: (crosscheck_renderable(r),),
    AdviceReport: lambda r: (advice_table(r),),
    LlmResult: lambda r: (render_llm(r),),
    SpecList: lambda r: (hardware_list_table(r),),
    HardwareSpec: lambda r: (hardware_detail(r),),
    Validation: lambda r: (validation_table(r), validation_summary(r)),
}
_TEXT: dict[type, dict[Format, Text]] = {
    ProfileResult: {Format.MARKDOWN: _profile_text(to_markdown), Format.CSV: _profile_text(to_csv)},
    CheckResult: {Format.MARKDOWN: budget_markdown},
    Comparison: {Format.MARKDOWN: compare_markdown},
    ConvTable: {Format.MARKDOWN: conv_markdown},
    Crosscheck: {Format.MARKDOWN: crosscheck_markdown},
    AdviceReport: {Format.MARKDOWN: advice_markdown},
    LlmResult: {Format.MARKDOWN: llm_markdown},
    Validation: {Format.MARKDOWN: validation_markdown},
    SpecList: {Format.MARKDOWN: hardware_list_markdown},
    HardwareSpec: {Format.MARKDOWN: hardware_markdown},
}


def _kind(result: Any) -> type:
    if isinstance(result, Report):
        return ProfileResult
    for kind in _TABLES:
        if isinstance(result, kind):
            return kind
    raise TypeError(f"no renderer for {type(result).__name__}")


def _as_registered(result: Any) -> Any:
    return ProfileResult(result) if isinstance(result, Report) else result


def formats_of(kind: type) -> tuple[Format, ...]:
    """The formats a result type can be shown in: table and JSON always, and its text formats."""
    return (Format.TABLE, Format.JSON, *_TEXT.get(kind, {}))


def renderables(result: Any) -> tuple[RenderableType, ...]:
    """The rich renderables of `result`'s table form."""
    return _TABLES[_kind(result)](_as_registered(result))


def render_text(result: Any, fmt: Format) -> str:
    """`result` as JSON, Markdown or CSV text (a table is drawn by `emit`)."""
    if fmt is Format.JSON:
        return json.dumps(document(_as_registered(result)), indent=2)
    text = _TEXT.get(_kind(result), {}).get(fmt)
    if text is None:
        raise UsageError(f"{type(result).__name__} has no {fmt.value} form; use one of "
                         f"{', '.join(f.value for f in formats_of(_kind(result)))}")
    return text(_as_registered(result))


def emit(result: Any, fmt: Format, output: Path | None = None, console: Console | None = None) -> None:
    """Show `result` in `fmt`: on `console` (the terminal) or written to the file `output`."""
    if fmt is Format.TABLE:
        parts = renderables(result)
        if output is None:
            (console or Console(highlight=False)).print(*parts)
            return
        file_console = Console(file=io.StringIO(), width=FILE_WIDTH, highlight=False)
        file_console.print(*parts)
        text = file_console.file.getvalue()  # type: ignore[attr-defined]
    else:
        text = render_text(result, fmt)
    write_text(text, output)


def write_text(text: str, output: Path | None) -> None:
    """`text` to stdout (ending in one newline) or to the file `output`, as it is."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text)
    except OSError as error:
        raise UsageError(f"cannot write --output '{output}': {error.strerror}") from error

