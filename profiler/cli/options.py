"""Option values several commands share, parsed one way everywhere."""

from __future__ import annotations

from ..errors import UsageError
from ..units import parse_percent

__all__ = ["parse_tolerance"]


def parse_tolerance(text: str, option: str = "--tolerance") -> float:
    """A tolerance in percent as a fraction: '2' and '2%' are both 0.02 (a command-line tolerance
    is always a percentage, so the sign may be left out)."""
    value = text.strip()
    try:
        return parse_percent(value if value.endswith("%") else value + "%")
    except UsageError:
        raise UsageError(f"bad {option} '{text}': expected a percentage such as 2 or 2%") from None
