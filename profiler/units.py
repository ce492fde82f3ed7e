"""Human units: SI formatting for counts, bytes and seconds, and parsing them back (budgets)."""

from __future__ import annotations

import re

from .errors import UsageError

__all__ = ["si", "format_bytes", "format_seconds", "parse_count", "parse_bytes", "parse_seconds"]

_PREFIXES = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")]


def si(value: float | int | None, digits: int = 2) -> str:
    """568740000 -> '568.74 M'. Counts below 1000 print as they are."""
    if value is None:
        return "-"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f} {prefix}"
    return f"{value:.{digits}f}" if isinstance(value, float) and not float(value).is_integer() else f"{int(value)}"


def format_bytes(value: float | int | None) -> str:
    """Decimal units, as bandwidths are quoted: 1 MB = 1e6 bytes."""
    if value is None:
        return "-"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}B".replace("KB", "kB")
    return f"{int(value)} B"


def format_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1:
        return f"{value:.3f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3f} ms"
    return f"{value * 1e6:.2f} µs"


_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_COUNT_SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9, "T": 1e12}
_BYTE_SUFFIX = {
    "B": 1, "": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
    "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
}
_TIME_SUFFIX = {"S": 1, "MS": 1e-3, "US": 1e-6, "µS": 1e-6, "NS": 1e-9}


def _parse(text: str | int | float, suffixes: dict[str, float], what: str, example: str, default_unit: float = 1.0) -> float:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) * default_unit
    match = re.fullmatch(_NUMBER + r"\s*([A-Za-zµ]*)", str(text).strip())
    if match is None or match.group(2).upper() not in suffixes:
        raise UsageError(f"malformed {what} '{text}': expected a number with an optional unit, such as {example}")
    return float(match.group(1)) * suffixes[match.group(2).upper()]


def parse_count(text: str | int | float) -> float:
    """'4.5M' -> 4.5e6; suffixes K, M, G (or B, billions), T."""
    return _parse(text, _COUNT_SUFFIX, "count", "4.5M or 600M")


def parse_bytes(text: str | int | float) -> float:
    """'40MB' -> 4e7, '1.5GiB' -> 1.5 * 2**30; a bare number is bytes."""
    return _parse(text, _BYTE_SUFFIX, "size", "40MB or 1.5GiB")


def parse_seconds(text: str | int | float, default_unit: float = 1.0) -> float:
    """'1.5ms' -> 0.0015; a bare number is in `default_unit` seconds."""
    if isinstance(text, str) and re.fullmatch(_NUMBER, text.strip()):
        return float(text) * default_unit
    return _parse(text, _TIME_SUFFIX, "time", "1.5ms or 800us", default_unit)
