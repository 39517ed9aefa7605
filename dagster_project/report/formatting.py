"""Numbers formatted for readers; the only place the report decides how a figure looks.

Templates use these as Jinja2 filters (FILTERS) and the charts call them for their value labels,
so a figure reads the same in a table, in a chart and in the PDF.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from dagster_project.personal_data import mask_personal_data

MISSING = "—"
# The marts keep scores to six decimals; the report publishes two. Both sides round half away
# from zero from the six-decimal value (dbt macro published_score does it in the marts), so a
# change the marts compute from published scores is the difference of the figures printed.
MART_DECIMALS = 6
SCORE_DECIMALS = 2

# Personal data that free text from the exports could carry (the warehouse masks it already;
# the report masks again whatever it prints from file names, labels and check examples).


def _is_missing(value: float | int | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def published(value: float | int, digits: int = SCORE_DECIMALS) -> Decimal:
    """`value` as printed: rounded half away from zero to `digits` decimals from its
    six-decimal value (80.525 -> 80.53, 2.675 -> 2.68, −0.125 -> −0.13), as the marts round."""
    exact = Decimal(str(value))  # str of a float is its shortest round-trip decimal
    kept = exact.quantize(Decimal(1).scaleb(-MART_DECIMALS), rounding=ROUND_HALF_UP)
    return kept.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def difference(minuend: float | None, subtrahend: float | None) -> float | None:
    """The difference of two scores as printed (80.52 − 75.77 = 4.75 whatever the third
    decimals were); None when either is unknown."""
    if _is_missing(minuend) or _is_missing(subtrahend):
        return None
    assert minuend is not None and subtrahend is not None
    return float(published(minuend) - published(subtrahend))


def score(value: float | None, digits: int = SCORE_DECIMALS) -> str:
    """A 0–100 score: 83.49."""
    return MISSING if _is_missing(value) else f"{published(value, digits):,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A ratio in [0, 1] as a percentage: 0.6697 -> 67.0%."""
    return MISSING if _is_missing(value) else f"{100 * value:,.{digits}f}%"


def count(value: int | float | None) -> str:
    """A whole number with thousands separators: 11,040,000."""
    return MISSING if _is_missing(value) else f"{round(value):,}"


def number(value: float | None, digits: int = 1) -> str:
    """A measure with one decimal and thousands separators: 1,234.5."""
    return MISSING if _is_missing(value) else f"{value:,.{digits}f}"


def signed(value: float | int | None, digits: int = SCORE_DECIMALS) -> str:
    """A change with its sign: +3.18, −1.20, 0.00 (rounded as `published`)."""
    if _is_missing(value):
        return MISSING
    assert value is not None
    shown = published(value, digits)
    text = f"{abs(shown):,.{digits}f}"
    if shown > 0:
        return "+" + text
    if shown < 0:
        return "−" + text
    return text


def signed_percent(value: float | None, digits: int = 1) -> str:
    """A growth rate with its sign: 0.123 -> +12.3%."""
    return MISSING if _is_missing(value) else signed(100 * value, digits) + "%"


def points(value: float | None, digits: int = 1) -> str:
    """A change of a ratio in percentage points with its sign: 0.012 -> +1.2."""
    return MISSING if _is_missing(value) else signed(100 * value, digits)


def rule_number(value: float | int | None) -> str:
    """A number of the rules as the configuration writes it: 3, 0.25 (a whole number without
    decimals)."""
    return MISSING if _is_missing(value) else f"{value:g}"


def mask_personal(text: object) -> str:
    """Free text with personal data masked (`personal_data`). None prints as an empty string."""
    return "" if text is None else mask_personal_data(str(text))


FILTERS = {
    "score": score,
    "percent": percent,
    "thousands": count,
    "number": number,
    "signed": signed,
    "signed_percent": signed_percent,
    "points": points,
    "rule_number": rule_number,
    "mask": mask_personal,
}
