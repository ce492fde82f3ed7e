"""Which function shows which result type in which format. Each render module registers its own
renderers with `@renders(ResultType, Format.X)`, so giving a result a new format is one function in
one file; `emit` looks them up here. JSON needs no renderer: `document()` builds it for every type.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from rich.console import RenderableType

from .formats import Format

__all__ = ["renders", "table_renderer", "text_renderer", "text_formats", "registered_types"]

TableRenderer = Callable[[Any], RenderableType]
TextRenderer = Callable[[Any], str]
R = TypeVar("R", bound=Callable[..., Any])

_TABLES: dict[type, TableRenderer] = {}
_TEXT: dict[type, dict[Format, TextRenderer]] = {}


def renders(kind: type, fmt: Format) -> Callable[[R], R]:
    """Register the decorated function as `kind`'s form in `fmt`: for Format.TABLE it returns a rich
    renderable, for Markdown and CSV a string. A second renderer for the same pair is refused."""

    def register(render: R) -> R:
        if fmt is Format.JSON:
            raise ValueError(f"{render.__name__}: JSON is built by document(), not by a renderer")
        taken = kind in _TABLES if fmt is Format.TABLE else fmt in _TEXT.get(kind, {})
        if taken:
            raise ValueError(f"{kind.__name__} already has a {fmt.value} renderer")
        if fmt is Format.TABLE:
            _TABLES[kind] = render
        else:
            _TEXT.setdefault(kind, {})[fmt] = render
        return render

    return register


def registered_types() -> tuple[type, ...]:
    """Every result type with a table form, in registration order."""
    return tuple(_TABLES)


def table_renderer(kind: type) -> TableRenderer:
    return _TABLES[kind]


def text_renderer(kind: type, fmt: Format) -> TextRenderer | None:
    return _TEXT.get(kind, {}).get(fmt)


def text_formats(kind: type) -> tuple[Format, ...]:
    return tuple(_TEXT.get(kind, {}))
