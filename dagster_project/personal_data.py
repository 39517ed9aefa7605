"""Personal data written the way people write it: one detector for ingestion's masking, the
personal-data quality suite and the tests.

What it finds, in free text:
- mainland mobile numbers: 11 digits from 13x to 19x, with any of `-`, space, `.` between
  digits and a `+86`, `0086` or `86` prefix (`137-1234-0002`, `+86 137 1234 0003`);
- landlines with their area code, in brackets or not, with an extension
  (`0898-66123456`, `(0898)66123457`, `010 6512 3456转123`), judged by `phonenumbers`
  (Google's libphonenumber metadata for region CN);
- resident ID numbers: 18 digits (the last may be X) with a plausible region and birth date, or
  a valid ISO 7064 check digit, and 15-digit ones of the first generation, with or without
  spaces or hyphens between the groups;
- bank card numbers: 16 to 19 digits of a card scheme's range that pass the Luhn check;
- e-mail addresses.

Full-width digits and signs count as their ASCII forms. The work is split so that no row pays
for Python unless it may hold something: `CANDIDATE_PATTERN` (RE2 and Python `re` alike) marks
text that may, and only such text goes to `find_personal_data`; among it, a value written like
an id (`BJ201800090899`, `SH-2019-0067608`) needs the detector only if its digits could be a
number (`RISKY_ID_PATTERN`). In SQL, `masked_sql` masks the plain forms with regular
expressions and hands what still looks like a candidate to the detector, registered on a
connection by `register`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import duckdb
import phonenumbers
import pyarrow as pa

from dagster_project.sql import sql_literal

# Separators people put between the digits of a number, ASCII and full-width.
_SEPARATORS = " \t\\-‐‑–—－.．()（）/"
# Text that may hold personal data: 7 or more digits with at most two separators between
# neighbours (a landline without its area code has 7 or 8), or an @ between word characters.
# Written for both RE2 (DuckDB) and Python.
CANDIDATE_PATTERN: Final = (
    f"[0-9０-９](?:[{_SEPARATORS}]{{0,2}}[0-9０-９]){{6,}}"
    "|[A-Za-z0-9._%+\\-Ａ-Ｚａ-ｚ０-９．][@＠][A-Za-z0-9\\-Ａ-Ｚａ-ｚ０-９]"
)
_CANDIDATE = re.compile(CANDIDATE_PATTERN)
# A value written like an id (ASCII letters, digits and hyphens: BJ201800090899,
# SH-2019-0067608) needs the detector only if it has one of:
# - a run of digits and hyphens (between letters or the ends) that starts with 0, 1 or 8 and
#   holds seven digits or more: `phonenumbers` reads such a run whole, from its first digit
#   (a plain hyphen does not split it), and a number it keeps starts with a trunk 0, a 00 or
#   86 prefix, or a mobile's 1;
# - a group of digits starting like a mobile number, with or without its country code (1[3-9],
#   86, 0086), where the mobile pattern may start;
# - fifteen digits joined by nothing but hyphens: the length of an ID or card number.
# Any other value goes to the detector whenever it is a candidate.
ID_ALPHABET_PATTERN: Final = "[A-Za-z0-9-]*"  # the whole value
RISKY_ID_PATTERN: Final = ("(?:^|[A-Za-z])-*[018](?:-*[0-9]){6}"
                           "|(?:^|[^0-9])(?:1[3-9]|86|0086)"
                           "|[0-9](?:-*[0-9]){14}")
_ID_ALPHABET = re.compile(ID_ALPHABET_PATTERN)
_RISKY_ID = re.compile(RISKY_ID_PATTERN)

MASKS: Final[dict[str, str]] = {
    "mobile": "[手机号]",
    "landline": "[电话]",
    "id_card": "[身份证号]",
    "bank_card": "[银行卡号]",
    "email": "[邮箱]",
}

# The plain forms, masked in SQL at no Python cost: an ID number or a mobile number standing
# alone (a boundary character on either side is captured and put back).
_SQL_PLAIN_FORMS: Final = (
    ("(^|[^0-9])[0-9]{17}[0-9Xx]($|[^0-9Xx])", MASKS["id_card"]),
    ("(^|[^0-9])1[3-9][0-9]{9}($|[^0-9])", MASKS["mobile"]),
)
UDF_NAME: Final = "hotline_mask_personal_data"

_FULL_WIDTH: Final = str.maketrans(
    {chr(c + 0xFEE0): chr(c) for c in range(0x21, 0x7F)} | {"\u3000": " "})
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_MOBILE = re.compile(
    r"(?<![0-9])(?:(?:\+|00)?86[ \-.]?|\(\+?86\)[ ]?)?1[3-9][0-9](?:[ \-.]?[0-9]){8}(?![0-9])")
_LONG_NUMBER = re.compile(r"(?<![0-9])[0-9](?:[ \-]?[0-9]){13,18}(?:[ \-]?[Xx])?(?![0-9Xx])")
# How a landline's written form starts: the trunk 0 of its area code, or the country code.
_DIALLED = re.compile(r"[(（]?(?:0|\+|86)")
_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|x|-)\s*[0-9]{1,6}(?![0-9])", re.IGNORECASE)
# First two digits of resident ID numbers: the provinces' codes.
_ID_REGIONS: Final = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50,
     51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82})
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
# Issuer ranges of the card schemes seen in China: UnionPay, Visa, Mastercard, JCB.
_CARD_PREFIX = re.compile(r"62|4|5[1-5]|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)|35")


@dataclass(frozen=True)
class Finding:
    """Personal data at text[start:end]."""

    start: int
    end: int
    kind: str


def find_personal_data(text: str) -> list[Finding]:
    """Every piece of personal data in the text, in order, without overlaps (where two
    detections overlap, the one starting first, then the longer, wins)."""
    return _search(text) if may_hold_personal_data(text) else []


def _search(text: str) -> list[Finding]:
    """`find_personal_data` without the gate that spares most text."""
    plain = text.translate(_FULL_WIDTH)  # one character for one: positions hold
    found = [Finding(m.start(), m.end(), "email") for m in _EMAIL.finditer(plain)]
    for match in _LONG_NUMBER.finditer(plain):
        if kind := _long_number_kind(re.sub(r"[ \-]", "", match.group()).upper()):
            found.append(Finding(match.start(), match.end(), kind))
    found += [Finding(m.start(), _with_extension(plain, m.end()), "mobile")
              for m in _MOBILE.finditer(plain)]
    for match in phonenumbers.PhoneNumberMatcher(plain, "CN",
                                                 leniency=phonenumbers.Leniency.VALID):
        kind = ("mobile" if phonenumbers.number_type(match.number)
                == phonenumbers.PhoneNumberType.MOBILE else "landline")
        if kind == "landline" and not _DIALLED.match(match.raw_string):
            continue  # without its trunk 0 or country code, a run of digits is not dialled
        found.append(Finding(match.start, _with_extension(plain, match.end), kind))
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -f.end)):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


def may_hold_personal_data(text: str) -> bool:
    """False only for text in which the detector cannot find anything (`candidate_sql` in
    Python)."""
    return bool(_CANDIDATE.search(text)) and (
        not _ID_ALPHABET.fullmatch(text) or bool(_RISKY_ID.search(text)))


def mask_personal_data(text: str) -> str:
    """The text with each piece of personal data replaced by its mask (`MASKS`)."""
    findings = find_personal_data(text)
    for finding in reversed(findings):
        text = text[:finding.start] + MASKS[finding.kind] + text[finding.end:]
    return text


def _with_extension(text: str, end: int) -> int:
    match = _EXTENSION.match(text, end)
    return match.end() if match else end


def _long_number_kind(digits: str) -> str | None:
    if _is_id_card(digits):
        return "id_card"
    if 16 <= len(digits) <= 19 and digits.isdigit() and _CARD_PREFIX.match(digits) \
            and _luhn_valid(digits):
        return "bank_card"
    return None


def _is_id_card(digits: str) -> bool:
    if len(digits) == 18 and digits[:17].isdigit() and digits[17] in "0123456789X":
        if int(digits[:2]) in _ID_REGIONS and _plausible_birth(digits[6:14]):
            return True
        total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
        return _ID_CHECK[total % 11] == digits[17]
    if len(digits) == 15 and digits.isdigit():
        return int(digits[:2]) in _ID_REGIONS and _plausible_birth("19" + digits[6:12])
    return False


def _plausible_birth(yyyymmdd: str) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return dt.date(1890, 1, 1) <= born <= dt.date.today()


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def masked_sql(expression: str) -> str:
    """A DuckDB expression: the text of `expression` with personal data masked. The plain
    forms are masked by regular expressions; text in which a candidate remains goes to the
    detector (`register` must have run on the connection)."""
    masked = expression
    for pattern, mask in _SQL_PLAIN_FORMS:
        replacement = "\\1" + mask + "\\2"  # the boundary characters captured, put back
        masked = (f"regexp_replace({masked}, {sql_literal(pattern)}, "
                  f"{sql_literal(replacement)}, 'g')")
    return f"CASE WHEN {candidate_sql(masked)} THEN {UDF_NAME}({masked}) ELSE {masked} END"


def candidate_sql(expression: str) -> str:
    """A DuckDB condition: the text may hold personal data (only such text needs the
    detector)."""
    return (f"(regexp_matches({expression}, {sql_literal(CANDIDATE_PATTERN)}) AND ("
            f"NOT regexp_full_match({expression}, {sql_literal(ID_ALPHABET_PATTERN)}) "
            f"OR regexp_matches({expression}, {sql_literal(RISKY_ID_PATTERN)})))")


def _mask_batch(texts: pa.Array) -> pa.Array:
    return pa.array([None if t is None else mask_personal_data(t) for t in texts.to_pylist()],
                    pa.string())


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make the detector callable from SQL on this connection, as `UDF_NAME`."""
    con.create_function(UDF_NAME, _mask_batch, [duckdb.sqltype("VARCHAR")],
                        duckdb.sqltype("VARCHAR"), type="arrow", side_effects=False)


def findings_in(values: Iterable[str | None]) -> list[tuple[str, list[Finding]]]:
    """The values holding personal data, each with what was found in it."""
    return [(v, f) for v in values if v is not None and (f := find_personal_data(v))]
