"""Export warehouse tables as CSV for people who open them in spreadsheet programs.

Text from exports can begin with '=', '+', '-' or '@', which Excel and LibreOffice run as a
formula (=HYPERLINK(...), +cmd|...). Such cells are written with a leading apostrophe, the
spreadsheet convention for "this is text" (OWASP's advice on CSV injection); the rest of the
value is kept as it was.

A trigger counts wherever it is the first visible character: after leading spaces (Unicode
spaces such as U+00A0 and U+3000 included), line breaks, control characters and invisible
format characters (zero-width space, byte-order mark, direction marks), and also in its
full-width or other compatibility forms (＝, ＋, －, ＠, ﹦, ...), which spreadsheets may read as
the ASCII sign. Tab and carriage return at the start are triggers themselves.

Only text is neutralised: a column of numbers, booleans, dates or times is written as DuckDB
writes it, so a negative number stays a number. Every other column is text to a spreadsheet
(VARCHAR, ENUM, JSON, lists, intervals, ...), and a text cell that begins with a trigger gets
the apostrophe even when it would be harmless on its own ('-', '-12' in a text column): the
spreadsheet then shows the text as it was sent.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from dagster_project.sql import quote_identifier

# What a spreadsheet may skip before the first character of a cell: spaces, separators,
# control and format characters (\p{Z}, \p{Cc}, \p{Cf}), and the other default-ignorable code
# points (combining grapheme joiner, Hangul fillers, variation selectors, tags).
LEADING_INVISIBLE = (
    r"\p{Z}\p{Cc}\p{Cf}\x{034F}\x{115F}\x{1160}\x{17B4}\x{17B5}\x{180B}-\x{180F}"
    r"\x{2060}-\x{206F}\x{3164}\x{FE00}-\x{FE0F}\x{FFA0}\x{E0000}-\x{E0FFF}"
)
# The triggers, and every character whose compatibility form (NFKC) is one of = + - @.
FORMULA_TRIGGERS = "=+-@\t\r" + "".join(map(chr, (
    0xFF1D, 0xFF0B, 0xFF0D, 0xFF20,  # full-width = + - @
    0xFE66, 0xFE62, 0xFE63, 0xFE6B,  # small = + - @
    0x207C, 0x207A, 0x208C, 0x208A,  # superscript and subscript = +
    0xFB29,  # Hebrew alternative plus sign
)))
# RE2, as DuckDB's regexp_matches reads it: the first visible character is a trigger.
FORMULA_START = (
    f"^[{LEADING_INVISIBLE}]*["
    + "".join(f"\\x{{{ord(ch):04X}}}" for ch in FORMULA_TRIGGERS) + "]"
)
# Columns written as they are: numbers, booleans, dates and times. Their text begins with a
# trigger only for the sign of a negative number, which must stay a number.
KEPT_TYPES = re.compile(
    r"TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT"
    r"|BIGNUM|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\)|BOOLEAN|DATE|TIME|TIME_NS|TIME WITH TIME ZONE"
    r"|TIMESTAMP|TIMESTAMP WITH TIME ZONE|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS"
)


def neutralised(name: str, kind: str) -> str:
    """The select expression of a column of DuckDB type `kind`: a text cell whose first
    visible character is a formula trigger gets a leading apostrophe."""
    column = quote_identifier(name)
    if KEPT_TYPES.fullmatch(kind):
        return column
    text = column if kind == "VARCHAR" else f"CAST({column} AS VARCHAR)"
    return (f"CASE WHEN regexp_matches({text}, '{FORMULA_START}') THEN '''' || {text} "
            f"ELSE {text} END AS {column}")


def export_csv(warehouse: Path, table: str, target: Path) -> int:
    """Write `table` to `target` (UTF-8 with BOM so Excel detects it); returns the row count."""
    staged = target.with_name(f".{target.name}.tmp")
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position", [table]).fetchall()
            if not columns:
                raise ValueError(f"{warehouse}: no table named {table!r}")
            select = ", ".join(neutralised(name, kind) for name, kind in columns)
            target.parent.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY (SELECT {select} FROM {quote_identifier(table)}) TO "
                f"'{str(staged).replace(chr(39), chr(39) * 2)}' (FORMAT csv, HEADER true)")
            (count,) = con.execute(
                f"SELECT count(*) FROM {quote_identifier(table)}").fetchone() or (0,)
        with staged.open("rb") as source, target.open("wb") as out:
            out.write(b"\xef\xbb\xbf")
            while chunk := source.read(1 << 20):
                out.write(chunk)
    finally:
        staged.unlink(missing_ok=True)  # also when the COPY or the copy into `target` fails
    return int(count)
