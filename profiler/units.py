"""Human units: SI formatting for counts, bytes and seconds, and parsing them back (budgets)."""

from __future__ import annotations

import re
from decimal import Decimal

from .errors import UsageError

__all__ = [
    "si", "format_bytes", "format_kib", "format_seconds", "format_percent", "parse_count", "parse_bytes", "parse_seconds", "parse_percent",
]

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


def format_kib(kib: float) -> str:
    """Binary units, as caches and allocations are sized: 32768 -> '32 MiB', 48 -> '48 KiB'."""
    return f"{kib / 1024:g} MiB" if kib >= 1024 else f"{kib:g} KiB"


def format_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1:
        return f"{value:.3f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3f} ms"
    return f"{value * 1e6:.2f} µs"


def format_percent(fraction: float) -> str:
    """0.6 -> '60%', 0.7359 -> '73.6%': whole percents without a decimal, else one."""
    return f"{fraction * 100:.{0 if float(fraction * 100).is_integer() else 1}f}%"


_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_COUNT_SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9, "T": 1e12}
_BYTE_SUFFIX = {
    "B": 1, "": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
    "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
}
_TIME_SUFFIX = {"S": 1, "MS": 1e-3, "US": 1e-6, "NS": 1e-9}


def _parse(text: str | int | float, suffixes: dict[str, float], what: str, example: str, default_unit: float = 1.0) -> float:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _times(repr(text), default_unit)
    match = re.fullmatch(_NUMBER + r"\s*([A-Za-zµμ]*)", str(text).strip())
    # 'µ'.upper() is the Greek capital mu, not 'µ': spell micro as 'u' before comparing
    suffix = match.group(2).replace("µ", "u").replace("μ", "u").upper() if match else ""
    if match is None or suffix not in suffixes:
        raise UsageError(f"malformed {what} '{text}': expected a number with an optional unit, such as {example}")
    return _times(match.group(1), suffixes[suffix])


def _times(number: str, unit: float) -> float:
    # Decimal, so that '1.5ms' is the float nearest 0.0015 and '0.3ms' the one nearest 0.0003:
    # a float product can land one ulp off, and a budget written at exactly its value must pass.
    return float(Decimal(number) * Decimal(repr(unit)))


def parse_count(text: str | int | float) -> float:
    """'4.5M' -> 4.5e6; suffixes K, M, G (or B, billions), T."""
    return _parse(text, _COUNT_SUFFIX, "count", "4.5M or 600M")


_BITS = re.compile(_NUMBER + r"\s*([kKmMgGtT]?i?)b")
_BIT_NAMES = {"": "bits", "K": "kilobits", "M": "megabits", "G": "gigabits", "T": "terabits",
              "KI": "kibibits", "MI": "mebibits", "GI": "gibibits", "TI": "tebibits"}


def parse_bytes(text: str | int | float) -> float:
    """'40MB' -> 4e7, '1.5GiB' -> 1.5 * 2**30; a bare number is bytes. A lowercase b is a bit
    ('150Mb' is 150 megabits, an eighth of 150MB): refused, since a byte size was meant or it is
    off by 8."""
    if isinstance(text, str) and (bits := _BITS.fullmatch(text.strip())) is not None:
        number, prefix = bits.group(1), bits.group(2)
        as_bytes = f"{Decimal(number) / 8:g}{prefix.upper().replace('I', 'i')}B"
        raise UsageError(
            f"'{text}' is in {_BIT_NAMES[prefix.upper()]} (a lowercase b is a bit, B a byte); sizes are in bytes: "
            f"write {number}{prefix.upper().replace('I', 'i')}B, or {as_bytes} for {text.strip()}"
        )
    return _parse(text, _BYTE_SUFFIX, "size", "40MB or 1.5GiB")


def parse_seconds(text: str | int | float, default_unit: float = 1.0) -> float:
    """'1.5ms' -> 0.0015; a bare number is in `default_unit` seconds."""
    if isinstance(text, str) and re.fullmatch(_NUMBER, text.strip()):
        return _times(text.strip(), default_unit)
    return _parse(text, _TIME_SUFFIX, "time", "1.5ms or 800us", default_unit)


def parse_percent(text: str | int | float) -> float:
    """'2%' -> 0.02, '0.5%' -> 0.005. The '%' is required: a bare 2 could mean 2 or 200 percent."""
    match = re.fullmatch(_NUMBER + r"\s*%", str(text).strip()) if not isinstance(text, bool) else None
    if match is None:
        raise UsageError(f"malformed percentage '{text}': expected a number followed by %, such as 2% or 0.5%")
    return float(Decimal(match.group(1)) / 100)
