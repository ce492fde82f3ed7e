"""Every way effprof shows a result: one module per result type, one Markdown table builder, one
`Format` enum and one `emit(result, format, output)` that every command uses.

The only package besides `cli` that imports rich. To show a new result type, add its module here,
decorate its renderers with `@renders(ResultType, Format.X)` (`registry.py`) and import the module
in `emit.py`; its JSON comes from `document.py`.
"""

from .emit import emit, formats_of, render_text, renderables, write_text
from .formats import Format, choose_format
from .markdown import escape, markdown_table
from .report import (
    ESTIMATE_COLUMNS,
    ReportTable,
    by_op_tables,
    estimate_cells,
    notes_text,
    ROOT_NAME,
    render_report,
    report_table,
    report_text,
    summary_rows,
    totals_table,
    unsupported_text,
)

__all__ = [
    "emit", "formats_of", "render_text", "renderables", "write_text", "Format", "choose_format", "escape",
    "markdown_table", "ESTIMATE_COLUMNS", "ReportTable", "by_op_tables", "estimate_cells", "notes_text",
    "ROOT_NAME", "render_report", "report_table", "report_text", "summary_rows", "totals_table", "unsupported_text",
]
