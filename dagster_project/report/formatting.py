"""Numbers formatted for readers; the only place the report decides how a figure looks."""

from __future__ import annotations

import math

MISSING = "—"


def _is_missing(value: float | int | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def score(value: float | None, digits: int = 2) -> str:
    """A 0–100 score: 83.49."""
    return MISSING if _is_missing(value) else f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A ratio in [0, 1] as a percentage: 0.6697 -> 67.0%."""
    return MISSING if _is_missing(value) else f"{100 * value:.{digits}f}%"


def count(value: int | float | None) -> str:
    """A whole number with thousands separators: 11,040,000."""
    return MISSING if _is_missing(value) else f"{round(value):,}"


def number(value: float | None, digits: int = 1) -> str:
    return MISSING if _is_missing(value) else f"{value:,.{digits}f}"


def signed(value: float | int | None, digits: int = 2) -> str:
    """A change with its sign: +3.18, −1.20, 0.00."""
    if _is_missing(value):
        return MISSING
    text = f"{abs(value):,.{digits}f}" if digits else f"{abs(round(value)):,}"
    if round(value, digits) > 0:
        return "+" + text
    if round(value, digits) < 0:
        return "−" + text
    return text


FILTERS = {
    "score": score,
    "percent": percent,
    "thousands": count,
    "number": number,
    "signed": signed,
}
