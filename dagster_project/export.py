"""Export warehouse tables as CSV for people who open them in spreadsheet programs.

Text from exports can begin with '=', '+', '-' or '@', which Excel and LibreOffice run as a
formula (=HYPERLINK(...), +cmd|...). Such cells are written with a leading apostrophe, the
spreadsheet convention for "this is text" (OWASP's advice on CSV injection).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.ingest.readers import quote_identifier

FORMULA_START = "^[=+\\-@\\t\\r]"


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
            select = ", ".join(
                f"CASE WHEN regexp_matches({quote_identifier(name)}, '{FORMULA_START}') "
                f"THEN '''' || {quote_identifier(name)} ELSE {quote_identifier(name)} END "
                f"AS {quote_identifier(name)}" if kind == "VARCHAR" else quote_identifier(name)
                for name, kind in columns
            )
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
