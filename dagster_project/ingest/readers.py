"""Readers: turn one landing file into a DuckDB table of text cells, one column per header.

Every reader produces the same shape — the temporary table `raw_rows` with the file's headers as
VARCHAR columns plus `source_row`, the line a person sees in a spreadsheet (the record number in
JSON), and `source_sheet` (XLSX only) — so that mapping and
typing are written once, in SQL, for all formats.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import python_calamine

from dagster_project.ingest.errors import IngestError
from dagster_project.sources import SourceConfig

RAW_TABLE = "raw_rows"
_LINEAGE_COLUMNS = frozenset({"source_row", "source_sheet"})
_CHUNK = 1 << 24
_UTF8_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class RawFile:
    """What a reader leaves in the connection: the headers found and the totals rows dropped."""

    headers: tuple[str, ...]
    footer_rows: int


def read_raw(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path, workdir: Path
) -> RawFile:
    """Load `path` into the temporary table `raw_rows` of `con`."""
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: the file is empty (0 bytes); ask the sender to re-export it")
    if config.format == "csv":
        _load_csv(con, config, path, workdir)
    elif config.format == "xlsx":
        _load_xlsx(con, config, path)
    else:
        _load_json(con, config, path)
    headers = tuple(
        name for (name, *_) in con.execute(f"DESCRIBE {RAW_TABLE}").fetchall()
        if name not in _LINEAGE_COLUMNS
    )
    footer_rows = _drop_footer(con, config, headers)
    return RawFile(headers=headers, footer_rows=footer_rows)


def drop_raw(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP VIEW {RAW_TABLE}")
    con.execute(f"DROP TABLE {RAW_TABLE}_read")


def detect_encoding(path: Path, declared: str) -> str:
    """The encoding to decode `path` with: the declared one, or the first of UTF-8 (with or
    without BOM) and GB18030 (a superset of GBK) that decodes the whole file."""
    if declared != "auto":
        return declared
    with path.open("rb") as handle:
        if handle.read(len(_UTF8_BOM)) == _UTF8_BOM:
            return "utf-8-sig"
    try:
        _decode_all(path, "utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        _decode_all(path, "gb18030")
    except UnicodeDecodeError as exc:
        _refuse_mixed_encodings(path, "undecodable", exc.start)
        raise IngestError(
            f"{path}: not readable as UTF-8, UTF-8 with BOM, GBK or GB18030 "
            f"(invalid bytes at offset {exc.start}); re-export the file as UTF-8 or set "
            "'encoding' in the source configuration"
        ) from exc
    return "gb18030"


def _decode_all(path: Path, encoding: str, sink: codecs.StreamWriter | None = None) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise UnicodeDecodeError(
                    exc.encoding, exc.object, offset + exc.start, offset + exc.end, exc.reason
                ) from exc
            if sink is not None:
                sink.write(text)
            offset += len(chunk)
        tail = decoder.decode(b"", final=True)
        if sink is not None:
            sink.write(tail)


def _transcode_to_utf8(path: Path, encoding: str, workdir: Path) -> Path:
    """Stream a GBK/GB18030 file into UTF-8: DuckDB's CSV reader only reads UTF-8 offline."""
    target = workdir / "transcoded.csv"
    try:
        with target.open("w", encoding="utf-8", newline="") as out:
            _decode_all(path, encoding, sink=out)  # type: ignore[arg-type]
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{path}: not valid {encoding} at byte offset {exc.start} ({exc.reason}); "
            "check the 'encoding' of the source configuration or ask the sender to re-export"
        ) from exc
    _refuse_mixed_encodings(path, encoding)
    return target


def _refuse_mixed_encodings(path: Path, encoding: str, offset: int | None = None) -> None:
    if (line := _first_utf8_line(path)) is not None:
        where = f" (first invalid byte at offset {offset})" if offset is not None else ""
        raise IngestError(
            f"{path}: mixed encodings: line {line} is UTF-8 Chinese while the rest is "
            f"{encoding}{where}; decoding it as one encoding would garble text. Ask the sender "
            "to re-export the whole file in one encoding"
        )


def _first_utf8_line(path: Path) -> int | None:
    """The first line of a GBK/GB18030 file that is valid UTF-8 with Chinese in it: such a line
    was appended in another encoding. A real GBK line with several Chinese characters is
    practically never valid UTF-8, so this does not fire on clean files."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.isascii():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= 2:
                return number
    return None


def _load_csv(con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path, workdir: Path):
    encoding = detect_encoding(path, config.encoding)
    csv_path = path if encoding in ("utf-8", "utf-8-sig") else _transcode_to_utf8(
        path, encoding, workdir
    )
    # Literal arguments: a prepared read_csv plans (and reads) noticeably slower.
    read = (
        f"CREATE TEMP TABLE {RAW_TABLE}_read AS SELECT * FROM read_csv("
        f"{sql_literal(str(csv_path))}, header = true, skip = {config.skip_rows:d}, "
        "all_varchar = true, normalize_names = false, max_line_size = 67108864{options})"
    )
    try:
        try:
            con.execute(read.format(options=""))
        except duckdb.InvalidInputException:
            # Ragged rows (a short 合计 line, say) need null padding, which turns off DuckDB's
            # parallel reader: pay for it only when the file needs it.
            con.execute(read.format(options=", null_padding = true"))
    except duckdb.Error as exc:
        raise IngestError(
            f"{path}: cannot be read as CSV ({_first_line(exc)}); check the file or the "
            "source configuration's 'encoding' and 'skip_rows'"
        ) from exc
    _number_rows(con, first_line=config.skip_rows + 2)


def _load_xlsx(con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path) -> None:
    """Read the configured sheets; each must carry the same header after the title rows."""
    _refuse_oversized_workbook(path, config.max_expanded_mb)
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
        wanted = names[:1] if config.sheets == "first" else (
            names if config.sheets == "all" else list(config.sheets))
        missing = [n for n in wanted if n not in names]
        if missing:
            raise IngestError(f"{path}: sheet(s) {missing} not found; the workbook has {names}. "
                              "Fix 'sheets' in the source configuration")
        sheets = [(name, workbook.get_sheet_by_name(name).to_python(skip_empty_area=False))
                  for name in wanted]
    except python_calamine.CalamineError as exc:
        raise IngestError(
            f"{path}: not a readable XLSX workbook ({exc}); ask the sender to re-export it"
        ) from exc
    header: list[str] | None = None
    body: list[list[object]] = []
    line_numbers: list[int] = []
    sheet_names: list[str] = []
    for name, rows in sheets:
        if len(rows) <= config.skip_rows:
            continue  # an empty sheet
        this_header = _unique_headers([_cell_text(c) or "" for c in rows[config.skip_rows]])
        if header is None:
            header = this_header
        elif this_header != header:
            raise IngestError(
                f"{path}: sheet '{name}' has header {this_header}, unlike the first sheet's "
                f"{header}; list the sheets to read in 'sheets' of the source configuration"
            )
        width = len(header)
        first_line = config.skip_rows + 2
        for offset, row in enumerate(rows[config.skip_rows + 1:]):
            cells = row[:width]
            if cells.count("") + cells.count(None) == len(cells):
                continue  # formatted but empty rows
            cells.extend([None] * (width - len(cells)))
            body.append(cells)
            line_numbers.append(first_line + offset)
            sheet_names.append(name)
    if header is None:
        raise IngestError(f"{path}: no sheet has a header row after {config.skip_rows} title "
                          "rows; check 'skip_rows' and 'sheets' in the source configuration")
    columns = zip(*body, strict=True) if body else ([] for _ in header)
    table = pa.table(
        {"source_row": pa.array(line_numbers, pa.int64()),
         "source_sheet": pa.array(sheet_names, pa.string())}
        | {name: _text_array(cells) for name, cells in zip(header, columns, strict=True)}
    )
    con.register("xlsx_arrow", table)
    con.execute(f"CREATE TEMP TABLE {RAW_TABLE}_read AS SELECT * FROM xlsx_arrow")
    con.unregister("xlsx_arrow")
    _number_rows(con, first_line=None)


def _refuse_oversized_workbook(path: Path, limit_mb: int) -> None:
    """An XLSX is a zip: refuse one that would expand far beyond the limit (a zip bomb) before
    anything is decompressed, from the sizes its directory declares."""
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise IngestError(
            f"{path}: not a readable XLSX workbook ({exc}); ask the sender to re-export it"
        ) from exc
    if expanded > limit_mb * 1_000_000:
        raise IngestError(
            f"{path}: the workbook expands to {expanded / 1e6:,.0f} MB, beyond the limit of "
            f"{limit_mb:,} MB (max_expanded_mb in the source configuration); refused unopened"
        )


def _load_json(con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path) -> None:
    """JSON arrays, objects holding a record list, JSON Lines, and Open311 GeoReport v2.

    Records are read as raw JSON objects and every value taken as text: DuckDB's type detection
    would turn times with offsets into UTC and guess differently from file to file."""
    json_format = "newline_delimited" if config.format == "jsonl" else "auto"
    records = f"SELECT json AS record FROM read_json_objects(?, format = '{json_format}')"
    if config.records_key:
        records = (
            f"SELECT unnest(from_json(json_extract(json, {sql_literal('$.' + config.records_key)})"
            f", '[\"json\"]')) AS record FROM read_json_objects(?, format = 'auto')"
        )
    try:
        con.execute(f"CREATE TEMP TABLE json_records AS {records}", [str(path)])
        con.execute(
            "CREATE TEMP TABLE json_keys AS SELECT key, min(rowid * 100000 + position) AS first "
            "FROM (SELECT rowid, unnest(json_keys(record)) AS key, "
            "generate_subscripts(json_keys(record), 1) AS position FROM json_records) "
            "GROUP BY key ORDER BY first"
        )
        names = [k for (k,) in con.execute("SELECT key FROM json_keys ORDER BY first").fetchall()]
    except duckdb.Error as exc:
        raise IngestError(
            f"{path}: cannot be read as {config.format.upper()} ({_first_line(exc)}); check "
            "the file or 'format' / 'records_key' in the source configuration"
        ) from exc
    if not names:
        raise IngestError(f"{path}: no JSON records found; check 'records_key' in the source "
                          "configuration or ask the sender for the export")
    # One parse per record into a struct of text fields; `->>` per key would parse each time.
    structure = sql_literal(json.dumps({name: "VARCHAR" for name in names}))
    as_text = [f"fields[{sql_literal(n)}] AS {quote_identifier(n)}" for n in names]
    if config.format == "open311" and {"status", "updated_datetime"} <= set(names):
        # GeoReport v2 has no close time: a closed request was closed when last updated.
        as_text.append(
            "CASE WHEN lower(fields['status']) = 'closed' "
            "THEN fields['updated_datetime'] END AS closed_datetime"
        )
    con.execute(f"CREATE TEMP TABLE {RAW_TABLE}_read AS SELECT {', '.join(as_text)} FROM "
                f"(SELECT rowid, json_transform(record, {structure}) AS fields FROM json_records)"
                " ORDER BY rowid")
    con.execute("DROP TABLE json_records")
    _number_rows(con, first_line=1)


def sql_literal(value: str) -> str:
    """A SQL string literal of `value`."""
    return "'" + value.replace("'", "''") + "'"


def _number_rows(con: duckdb.DuckDBPyConnection, first_line: int | None) -> None:
    """Number rows by their line (CSV) or record (JSON): rowid of a freshly filled table is its
    insertion order, i.e. the order of the file. A view, so the rows are not copied; XLSX
    readers bring their own line numbers and sheet names (first_line None)."""
    lineage = "" if first_line is None else (
        f"rowid + {first_line} AS source_row, CAST(NULL AS VARCHAR) AS source_sheet, ")
    con.execute(
        f"CREATE TEMP VIEW {RAW_TABLE} AS SELECT {lineage}* "
        f"FROM {RAW_TABLE}_read"
    )


def _drop_footer(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, headers: tuple[str, ...]
) -> int:
    if not config.footer_prefix or not headers:
        return 0
    first = quote_identifier(headers[0])
    (count,) = con.execute(
        f"SELECT count(*) FROM {RAW_TABLE}_read WHERE trim({first}) LIKE ? || '%'",
        [config.footer_prefix],
    ).fetchone() or (0,)
    if count:
        con.execute(
            f"DELETE FROM {RAW_TABLE}_read WHERE trim({first}) LIKE ? || '%'",
            [config.footer_prefix],
        )
    return int(count)


def _text_array(cells: Sequence[object]) -> pa.Array:
    """One column of cells as text, empty cells NULL, as `_cell_text` would give it: strings
    pass whole and date-times are formatted by Arrow, so only the rare other values (numbers,
    dates) are converted one by one in Python."""
    kinds = set(map(type, cells))
    if kinds <= {str, type(None)}:
        text = pa.array(cells, pa.string())
    else:
        text = pa.array(
            [c if type(c) is str else None if type(c) is dt.datetime else _cell_text(c)
             for c in cells],
            pa.string(),
        )
    if dt.datetime in kinds:
        stamps = pa.array([c if type(c) is dt.datetime else None for c in cells],
                          pa.timestamp("us"))
        # Whole seconds, floored, as strftime's %S gives them.
        seconds = pc.cast(pc.floor_temporal(stamps, unit="second"), pa.timestamp("s"))
        text = pc.coalesce(text, pc.strftime(seconds, "%Y-%m-%d %H:%M:%S"))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _cell_text(cell: object) -> str | None:
    if cell is None or cell == "":
        return None
    if isinstance(cell, dt.datetime):
        return cell.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(cell, dt.date):
        return cell.strftime("%Y-%m-%d")
    if isinstance(cell, dt.time):
        return cell.strftime("%H:%M:%S")
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)


def _unique_headers(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        name = name.strip()
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(name if count == 0 else f"{name}_{count}")
    return unique


def quote_identifier(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


