"""The output formats every command speaks, and how a command picks one."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Sequence

from ..errors import UsageError, did_you_mean, option

__all__ = ["Format", "choose_format", "FORMAT_OF_SUFFIX"]


class Format(str, Enum):
    TABLE = "table"  # rich, for a terminal (a file gets it 200 columns wide)
    JSON = "json"  # the stable machine interface (docs/json-schema.md)
    MARKDOWN = "markdown"  # a PR comment or $GITHUB_STEP_SUMMARY
    CSV = "csv"  # one row per table row, for a spreadsheet

    def __str__(self) -> str:
        return str(self.value)


# `-o report.json` without `-f` means JSON: the file's name says what it holds
FORMAT_OF_SUFFIX = {".json": Format.JSON, ".md": Format.MARKDOWN, ".markdown": Format.MARKDOWN, ".csv": Format.CSV}


def choose_format(text: str | None, output: Path | None, allowed: Sequence[Format]) -> Format:
    """The format `--format TEXT` names; without it, the one `--output`'s suffix names, else a table.

    Raises UsageError, with the formats this command has, for an unknown or unfitting format.
    """
    names = [f.value for f in allowed]
    if text is None:
        implied = FORMAT_OF_SUFFIX.get(output.suffix.lower()) if output is not None else None
        return implied if implied is not None and implied in allowed else Format.TABLE
    key = text.strip().lower()
    if key not in names:
        raise UsageError("unknown ", option("format"), f" '{text}'{did_you_mean(text, names)}; use one of {', '.join(names)}")
    return Format(key)
