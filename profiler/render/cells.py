"""Cell texts shared by several renderers."""

from __future__ import annotations

from fractions import Fraction

__all__ = ["intensity_text", "times_text", "fraction_text", "percent_text"]


def intensity_text(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def times_text(value: float | None) -> str:
    return f"×{value:.3g}" if value is not None else "-"


def fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def percent_text(value: float | None) -> str:
    return f"{value * 100:.0f}%" if value is not None else "-"
