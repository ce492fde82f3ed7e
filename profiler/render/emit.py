"""`emit(result, format, output)`: the one way every command shows its result.

Each result type's renderers live in its own module and register themselves with
`@renders(ResultType, Format.X)` (`registry.py`): a rich table for the terminal, Markdown, CSV;
JSON comes from `document()` for every type. A command picks the format (`choose_format`), builds
its typed result and calls `emit`; it never formats on its own.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from ..document import document
from ..errors import UsageError, option
from ..report import Report
from ..results import ProfileResult
# importing a render module registers its renderers
from . import advise, budget, compare, conv, crosscheck, hardware, llm, measure, profile  # noqa: F401
from .formats import Format
from .registry import registered_types, table_renderer, text_formats, text_renderer

__all__ = ["emit", "formats_of", "render_text", "renderables", "write_text", "FILE_WIDTH"]

FILE_WIDTH = 200  # a table written to a file is not cut to a terminal


def _kind(result: Any) -> type:
    if isinstance(result, Report):
        return ProfileResult
    for kind in registered_types():
        if isinstance(result, kind):
            return kind
    raise TypeError(f"no renderer for {type(result).__name__}")


def _as_registered(result: Any) -> Any:
    return ProfileResult(result) if isinstance(result, Report) else result


def formats_of(kind: type) -> tuple[Format, ...]:
    """The formats a result type can be shown in: table and JSON always, and its text formats."""
    return (Format.TABLE, Format.JSON, *text_formats(kind))


def renderables(result: Any) -> tuple[RenderableType, ...]:
    """The rich renderables of `result`'s table form."""
    return (table_renderer(_kind(result))(_as_registered(result)),)


def render_text(result: Any, fmt: Format) -> str:
    """`result` as JSON, Markdown or CSV text (a table is drawn by `emit`)."""
    if fmt is Format.JSON:
        return json.dumps(document(_as_registered(result)), indent=2)
    text = text_renderer(_kind(result), fmt)
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
        buffer = io.StringIO()
        Console(file=buffer, width=FILE_WIDTH, highlight=False).print(*parts)
        text = buffer.getvalue()
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
        raise UsageError("cannot write ", option("output"), f" '{output}': {error.strerror}") from error

