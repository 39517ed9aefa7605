"""Readers: turn one landing file into a DuckDB table of text cells, one column per header.

Every reader produces the same shape — the temporary table `raw_rows` with the file's headers as
VARCHAR columns plus `source_row`, the line a person sees in a spreadsheet (the record number in
JSON), and `source_sheet` (XLSX only) — so that mapping and
typing are written once, in SQL, for all formats.

Bad input costs what it spoils: a CSV line that is not a record of the header's columns (ragged,
an unclosed quote) goes to `raw_malformed` and the rest of the file is read; an XLSX formula
without a cached value goes to `raw_formulas`; `add_reader_rejects` makes both rejects. A file
beyond the configured limits (columns, line length, expanded size) is refused before it is read.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import mmap
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import python_calamine

from dagster_project.ingest.errors import IngestError
from dagster_project.sources import SourceConfig
from dagster_project.sql import quote_identifier, sql_literal

RAW_TABLE = "raw_rows"
# Lines of a CSV that are not records of the header's columns: (source_row, line).
MALFORMED_TABLE = "raw_malformed"
# XLSX cells holding a formula without a cached value: (source_sheet, source_row, position,
# header, formula).
FORMULA_TABLE = "raw_formulas"
# A malformed line is kept in the rejects up to this many characters.
RAW_LINE_CHARS = 1000
_LINEAGE_COLUMNS = frozenset({"source_row", "source_sheet"})
_CHUNK = 1 << 24
_UTF8_BOM = codecs.BOM_UTF8
# Delimiters told apart on the header line; the first wins a tie.
_DELIMITERS = (",", "\t", ";", "|")
# When this many lines below the header are malformed before any is a record, the header line
# is not the header (title rows, say): the file is refused instead of rejected line by line.
_LEADING_MALFORMED = 100
_CONTROL = re.compile("[\x00-\x1f\x7f]")
# The longest record (its cells' line breaks included) read from a CSV whose lines are within
# `max_line_mb`: DuckDB's max_line_size, and where a cell's quote left open stops being followed
# over lines. DuckDB reads faster with it than with a limit of a few MB.
_MAX_RECORD_BYTES = 1 << 26
# Names the recovered copy of a CSV gives the row number; no header is called so.
_ROW_COLUMN = "__hotline_source_row"


@dataclass(frozen=True)
class RawFile:
    """What a reader leaves in the connection: the headers found and the totals rows dropped;
    the malformed lines (CSV) and formula cells without a value (XLSX) it set aside; and the
    header cells that may hide a configured column."""

    headers: tuple[str, ...]
    footer_rows: int
    malformed_rows: int = 0
    formula_cells: int = 0
    # The line of the header row (CSV, XLSX).
    header_line: int | None = None
    # (1-based position, column name) of blank header cells whose column holds data.
    blank_headers: tuple[tuple[int, str], ...] = ()
    # (1-based position, column name, the cell without its control characters) of header
    # cells holding control characters; the name shows them as \xNN.
    damaged_headers: tuple[tuple[int, str, str], ...] = ()


@dataclass(frozen=True)
class _Notes:
    """What a format's reader tells `read_raw` besides the table."""

    header_line: int | None = None
    blank: tuple[tuple[int, str], ...] = ()
    damaged: tuple[tuple[int, str, str], ...] = ()
    malformed_rows: int = 0
    malformed_footers: int = 0
    formula_cells: int = 0


def read_raw(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path, workdir: Path
) -> RawFile:
    """Load `path` into the temporary table `raw_rows` of `con`."""
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: the file is empty (0 bytes); ask the sender to re-export it")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {MALFORMED_TABLE} "
                "(source_row BIGINT, line VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {FORMULA_TABLE} (source_sheet VARCHAR, "
                "source_row BIGINT, position INTEGER, header VARCHAR, formula VARCHAR)")
    if config.format == "csv":
        notes = _load_csv(con, config, path, workdir)
    elif config.format == "xlsx":
        notes = _load_xlsx(con, config, path)
    else:
        notes = _load_json(con, config, path)
    headers = tuple(
        name for (name, *_) in con.execute(f"DESCRIBE {RAW_TABLE}").fetchall()
        if name not in _LINEAGE_COLUMNS
    )
    footer_rows = _drop_footer(con, config, headers) + notes.malformed_footers
    return RawFile(
        headers=headers, footer_rows=footer_rows, malformed_rows=notes.malformed_rows,
        formula_cells=notes.formula_cells, header_line=notes.header_line,
        blank_headers=_holding_data(con, notes.blank), damaged_headers=notes.damaged)


def drop_raw(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP VIEW {RAW_TABLE}")
    con.execute(f"DROP TABLE {RAW_TABLE}_read")
    con.execute(f"DROP TABLE IF EXISTS {MALFORMED_TABLE}")
    con.execute(f"DROP TABLE IF EXISTS {FORMULA_TABLE}")


def add_reader_rejects(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, raw: RawFile, typed: str
) -> None:
    """Add what the reader set aside to the rows of `typed` (before `drop_raw`): each malformed
    line is a row rejected as `malformed_line` (no field; the line as raw value), and a row
    with a formula without a cached value in a mapped column is rejected as
    `formula_without_value`, naming the field of the first such cell, whatever else it has."""
    if raw.formula_cells:
        mapped = [(h, f) for h, f in config.column_map.items() if h in raw.headers]
        if mapped:
            values = ", ".join(f"({sql_literal(h)}, {sql_literal(f)})" for h, f in mapped)
            con.execute(
                f"UPDATE {typed} SET reject_reason = 'formula_without_value', "
                "reject_field = cell.field, reject_value = cell.formula FROM ("
                "SELECT source_sheet, source_row, arg_min(field, position) AS field, "
                f"arg_min(formula, position) AS formula FROM {FORMULA_TABLE} "
                f"JOIN (VALUES {values}) AS mapped(header, field) USING (header) GROUP BY ALL"
                f") AS cell WHERE {typed}.source_sheet = cell.source_sheet "
                f"AND {typed}.source_row = cell.source_row"
            )
    if raw.malformed_rows:
        con.execute(
            f"INSERT INTO {typed} (source_row, reject_reason, reject_value) "
            f"SELECT source_row, 'malformed_line', line FROM {MALFORMED_TABLE}"
        )


def _holding_data(
    con: duckdb.DuckDBPyConnection, blank: tuple[tuple[int, str], ...]
) -> tuple[tuple[int, str], ...]:
    """The blank header cells under which the file has data."""
    if not blank:
        return ()
    counts = con.execute(
        "SELECT " + ", ".join(f"count({quote_identifier(name)})" for _, name in blank)
        + f" FROM {RAW_TABLE}_read"
    ).fetchone() or ()
    return tuple(cell for cell, count in zip(blank, counts, strict=True) if count)


def detect_encoding(path: Path, declared: str) -> str:
    """The encoding to decode `path` with: the declared one, or the first of UTF-8 (with or
    without BOM) and GB18030 (a superset of GBK) that decodes the whole file.

    A file whose lines are UTF-8 (with text beyond ASCII) up to a line that is not, is refused
    at that line: decoding it as one encoding would garble one part or the other."""
    if declared != "auto":
        return declared
    with path.open("rb") as handle:
        if handle.read(len(_UTF8_BOM)) == _UTF8_BOM:
            return "utf-8-sig"
    try:
        _decode_all(path, "utf-8")
    except UnicodeDecodeError as exc:
        line, start = _line_at(path, exc.start)
        # Whole lines of UTF-8 beyond ASCII above it; a few GBK bytes may pass for UTF-8.
        if _ascii_before(path, start):
            return _gb18030_or_refuse(path)
        as_gbk = _line_decodes(path, start, "gb18030")
        raise IngestError(
            f"{path}: line {line} (byte offset {exc.start}) is not UTF-8 while the lines "
            f"above it are: " + (
                "mixed encodings, it reads as GBK/GB18030; decoding the file as one encoding "
                "would garble text. Ask the sender to re-export the whole file in one "
                "encoding (UTF-8)" if as_gbk else
                "its bytes are neither UTF-8 nor GBK (a damaged file?). Ask the sender to "
                "re-export the file as UTF-8")
        ) from exc
    return "utf-8"


def _gb18030_or_refuse(path: Path) -> str:
    try:
        _decode_all(path, "gb18030")
    except UnicodeDecodeError as exc:
        line, _ = _line_at(path, exc.start)
        _refuse_mixed_encodings(path, "GBK/GB18030", exc.start)
        raise IngestError(
            f"{path}: not readable as UTF-8, UTF-8 with BOM, GBK or GB18030 "
            f"(invalid bytes on line {line}, byte offset {exc.start}); re-export the file as "
            "UTF-8 or set 'encoding' in the source configuration"
        ) from exc
    return "gb18030"


def _ascii_before(path: Path, offset: int) -> bool:
    """Whether the first `offset` bytes of the file are ASCII."""
    done = 0
    with path.open("rb") as handle:
        while done < offset and (chunk := handle.read(min(_CHUNK, offset - done))):
            if not chunk.isascii():
                return False
            done += len(chunk)
    return True


def _line_at(path: Path, offset: int) -> tuple[int, int]:
    """The line (from 1, as an editor numbers it) holding byte `offset`, and the byte offset
    where that line starts."""
    newlines, start, done = 0, 0, 0
    with path.open("rb") as handle:
        while done < offset and (chunk := handle.read(min(_CHUNK, offset - done))):
            newlines += chunk.count(b"\n")
            if (last := chunk.rfind(b"\n")) >= 0:
                start = done + last + 1
            done += len(chunk)
    return newlines + 1, start


def _line_decodes(path: Path, start: int, encoding: str) -> bool:
    with path.open("rb") as handle:
        handle.seek(start)
        line = handle.readline(_CHUNK)
    try:
        line.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _encoding_error(path: Path, offset: int, encoding: str, reason: str) -> IngestError:
    line, _ = _line_at(path, offset)
    return IngestError(
        f"{path}: line {line} (byte offset {offset}) is not valid {encoding} ({reason}); "
        "check the 'encoding' of the source configuration, or ask the sender to re-export the "
        "whole file in one encoding"
    )


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
        raise _encoding_error(path, exc.start, encoding, exc.reason) from exc
    _refuse_mixed_encodings(path, encoding)
    return target


def _refuse_mixed_encodings(path: Path, encoding: str, offset: int | None = None) -> None:
    if (line := _first_utf8_line(path)) is not None:
        where = ""
        if offset is not None:
            other = _line_at(path, offset)[0]
            where = (f" (and line {other}, byte offset {offset}, is neither)" if other != line
                     else f" (byte offset {offset})")
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


def _load_csv(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path, workdir: Path
) -> _Notes:
    """The header line is read here, so that no later line can change it; DuckDB reads the
    body with exactly its columns. A file DuckDB reads whole takes that fast path alone; one
    with lines that are not records of the header's columns is read again record by record
    (`_recover_csv`), each such line set aside and the rest kept."""
    encoding = detect_encoding(path, config.encoding)
    _refuse_long_lines(path, config.max_line_bytes, config.max_line_mb)
    csv_path = path if encoding in ("utf-8", "utf-8-sig") else _transcode_to_utf8(
        path, encoding, workdir
    )
    header_line = config.skip_rows + 1
    record_bytes = max(config.max_line_bytes, _MAX_RECORD_BYTES)
    cells, delimiter = _csv_header(path, csv_path, header_line, config.max_line_bytes)
    _refuse_wide(path, len(cells), config.max_columns, f"the header (line {header_line})")
    names, blank, damaged = _header_names(cells)
    notes = _Notes(header_line=header_line, blank=blank, damaged=damaged)
    try:
        _read_csv(con, csv_path, names, delimiter, header_line, record_bytes)
    except duckdb.InvalidInputException:
        pass  # lines that are not records of the header's columns: read record by record
    except duckdb.Error as exc:
        raise _unreadable_csv(path, exc) from exc
    else:
        _number_rows(con, first_line=header_line + 1)
        return notes
    malformed, footers = _recover_csv(con, config, path, csv_path, len(names), delimiter,
                                      record_bytes, workdir / "recovered.csv")
    try:
        _read_csv(con, workdir / "recovered.csv", [_ROW_COLUMN, *names], delimiter, 0,
                  record_bytes + 64, row_column=True)
    except duckdb.Error as exc:
        raise _unreadable_csv(path, exc) from exc
    _number_rows(con, first_line=None)
    return _Notes(header_line=header_line, blank=blank, damaged=damaged,
                  malformed_rows=malformed, malformed_footers=footers)


def _read_csv(
    con: duckdb.DuckDBPyConnection, csv_path: Path, names: list[str], delimiter: str,
    skip: int, max_line_bytes: int, row_column: bool = False,
) -> None:
    """DuckDB's parallel reader, told the dialect and columns (no sniffing): a line that is
    not a record of exactly these columns fails the read. `row_column`: the first column
    holds the row number (a recovered copy)."""
    columns = "{" + ", ".join(f"{sql_literal(n)}: 'VARCHAR'" for n in names) + "}"
    select = "*" if not row_column else (
        f"CAST({quote_identifier(_ROW_COLUMN)} AS BIGINT) AS source_row, "
        f"CAST(NULL AS VARCHAR) AS source_sheet, * EXCLUDE ({quote_identifier(_ROW_COLUMN)})")
    # Literal arguments: a prepared read_csv plans (and reads) noticeably slower.
    con.execute(
        f"CREATE TEMP TABLE {RAW_TABLE}_read AS SELECT {select} FROM read_csv("
        f"{sql_literal(str(csv_path))}, auto_detect = false, header = false, "
        f"skip = {skip:d}, columns = {columns}, delim = {sql_literal(delimiter)}, "
        f"quote = '\"', escape = '\"', max_line_size = {max_line_bytes:d})"
    )


def _unreadable_csv(path: Path, exc: duckdb.Error) -> IngestError:
    return IngestError(
        f"{path}: cannot be read as CSV ({_first_line(exc)}); check the file or the source "
        "configuration's 'encoding' and 'skip_rows'"
    )


def _refuse_long_lines(path: Path, limit: int, limit_mb: int) -> None:
    """Refuse, unread, a file with a line over `limit` bytes. A line that long spans a whole
    aligned block of half the limit, so blocks with a line break in them clear the file: the
    search for one stops at the first, and touches little more of a mapped file than a page
    per block. Only a file with a block without one is read line by line."""
    half = max(1, limit // 2)
    with path.open("rb") as handle:
        if not path.stat().st_size:
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            if all(mapped.find(b"\n", start, start + half) >= 0
                   for start in range(0, len(mapped) - half + 1, half)):
                return
        number = 0
        while line := handle.readline(limit + 2):
            number += 1
            if len(line.rstrip(b"\r\n")) <= limit:
                continue
            length = len(line.rstrip(b"\r\n"))
            while not line.endswith(b"\n") and (line := handle.readline(_CHUNK)):
                length += len(line.rstrip(b"\r\n"))
            raise IngestError(
                f"{path}: line {number} is {length:,} bytes long, beyond the limit of "
                f"{limit_mb:,} MB (max_line_mb in the source configuration); refused unread. "
                "Ask the sender whether the export is damaged, or raise max_line_mb for this "
                "source if its cells are really that long"
            )


def _refuse_wide(path: Path, columns: int, limit: int, what: str) -> None:
    if columns > limit:
        raise IngestError(
            f"{path}: {what}: {columns:,} columns, beyond the limit of {limit:,} "
            "(max_columns in the source configuration); refused unread. Check that this is "
            "the export the source sends, or raise max_columns for this source"
        )


def _csv_header(path: Path, csv_path: Path, line: int, limit: int) -> tuple[list[str], str]:
    """The cells of the header line (after the title rows) and the delimiter it uses: the most
    frequent of comma, tab, semicolon and bar (comma when it has none)."""
    with csv_path.open("rb") as handle:
        offset = 0
        for _ in range(line - 1):
            offset += len(handle.readline())
        raw = handle.readline()
    if not raw:
        raise IngestError(
            f"{path}: no header row: the file ends before line {line}; check 'skip_rows' "
            f"({line - 1}) in the source configuration"
        )
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, offset + exc.start, "UTF-8", exc.reason) from exc
    if not text.strip():
        raise IngestError(
            f"{path}: line {line}, the header row, is blank; check 'skip_rows' "
            f"({line - 1}) in the source configuration"
        )
    delimiter = max(_DELIMITERS, key=lambda d: (text.count(d), -_DELIMITERS.index(d)))
    delimiter = delimiter if text.count(delimiter) else ","
    csv.field_size_limit(max(csv.field_size_limit(), limit))
    try:
        cells = next(csv.reader([text], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise IngestError(
            f"{path}: the header (line {line}) is not a line of CSV ({exc}); ask the sender to "
            "fix the header row, or check 'skip_rows' in the source configuration"
        ) from exc
    return cells, delimiter


def _header_names(
    cells: Sequence[str],
) -> tuple[list[str], tuple[tuple[int, str], ...], tuple[tuple[int, str, str], ...]]:
    """Column names for header cells, trimmed and repeats numbered <name>_1, <name>_2 ...;
    control characters are written as \\xNN (a NUL cannot name a column, and the cell must
    not pass for the header it damages); blank cells are named column<index> (from 0, with as
    many digits as the last index), as DuckDB's CSV sniffer names them. Also the blank cells
    and the cells with control characters."""
    digits = len(str(len(cells) - 1))
    texts: list[str] = []
    blank: list[int] = []
    damaged: list[tuple[int, str]] = []
    for index, cell in enumerate(cells):
        text = cell.strip()
        if _CONTROL.search(text):
            damaged.append((index, _CONTROL.sub("", text).strip()))
            text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
        if not text:
            blank.append(index)
            text = f"column{index:0{digits}d}"
        texts.append(text)
    names = _unique_headers(texts)
    return (names, tuple((i + 1, names[i]) for i in blank),
            tuple((i + 1, names[i], clean) for i, clean in damaged))


class _RecordTooLong(Exception):
    """A record over several lines grew beyond the record limit: an unclosed quote, most
    likely."""


class _Lines:
    """The lines of a CSV body for `csv.reader`, numbered as an editor numbers them. The lines
    of the record being read are kept (`record`), so that those after its first can be read
    again (`push_back`) when it turns out not to be a record of the header's columns."""

    def __init__(self, handle: BinaryIO, path: Path, number: int, offset: int,
                 limit: int) -> None:
        self._handle = handle
        self._path = path
        self._number = number  # of the last line read from the file
        self._offset = offset  # of the next line in the file
        self._limit = limit
        # (line number, text, bytes) of lines read again, and of the current record's lines
        self._pushed: list[tuple[int, str, bytes]] = []
        self.record: list[tuple[int, str, bytes]] = []
        self._record_bytes = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pushed:
            line = self._pushed.pop()
        else:
            raw = self._handle.readline()
            if not raw:
                raise StopIteration
            self._number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _encoding_error(self._path, self._offset + exc.start, "UTF-8",
                                      exc.reason) from exc
            self._offset += len(raw)
            line = (self._number, text, raw)
        self.record.append(line)
        self._record_bytes += len(line[2])
        if self._record_bytes > self._limit and len(self.record) > 1:
            raise _RecordTooLong
        return line[1]

    def start_record(self) -> None:
        self.record = []
        self._record_bytes = 0

    def push_back(self, lines: list[tuple[int, str, bytes]]) -> None:
        self._pushed.extend(reversed(lines))

    def unread(self) -> None:
        """Read the line just read again, as the start of a record."""
        self._pushed.append(self.record.pop())
        self.start_record()


def _recover_csv(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path, csv_path: Path,
    width: int, delimiter: str, record_bytes: int, target: Path,
) -> tuple[int, int]:
    """Copy the records of the header's `width` columns to `target` as they are written, each
    after its row number as a spreadsheet shows it, and put every other line into
    `raw_malformed` with its line number as an editor shows it: a line whose record has
    too few or too many cells, or that cannot be parsed (an unclosed quote). Reading goes on
    at the line after the first line of such a record, so an unclosed quote costs its own line
    and not those it would swallow. Short lines starting with the footer prefix are totals.
    Returns the malformed lines and the totals lines set aside."""
    header_line = config.skip_rows + 1
    csv.field_size_limit(max(csv.field_size_limit(), record_bytes))
    numbers: list[int] = []
    texts: list[str] = []
    footers = good = 0
    row = header_line  # the spreadsheet row of the last record
    separator = delimiter.encode()
    with csv_path.open("rb") as handle, target.open("wb") as out:
        offset = sum(len(handle.readline()) for _ in range(header_line))
        lines = _Lines(handle, path, header_line, offset, record_bytes)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        while True:
            lines.start_record()
            try:
                text = next(lines)
            except StopIteration:
                break
            if '"' in text:  # the csv module reads it, with the lines a quoted cell spans
                lines.unread()
                try:
                    count = len(next(reader))
                except StopIteration:
                    break
                except (csv.Error, _RecordTooLong):
                    count = -1
            else:  # no quote: its cells are what the delimiters separate
                text = text.rstrip("\r\n")
                count = text.count(delimiter) + 1 if text else 0
            if count == 0 or not lines.record:
                continue  # a blank line, skipped as DuckDB skips it
            row += 1
            if count == width:
                record = lines.record[0][2] if len(lines.record) == 1 else b"".join(
                    raw for _, _, raw in lines.record)
                out.write(b"%d%s%s" % (row, separator, record))
                if not record.endswith(b"\n"):
                    out.write(b"\n")
                good += 1
                continue
            (number, text, _), *rest = lines.record
            lines.push_back(rest)
            text = text.rstrip("\r\n")
            if config.footer_prefix and _first_cell(text, delimiter).startswith(
                    config.footer_prefix):
                footers += 1
                continue
            numbers.append(number)
            texts.append(text[:RAW_LINE_CHARS])
            if not good and len(numbers) >= _LEADING_MALFORMED:
                raise IngestError(
                    f"{path}: the header (line {header_line}) has {width} columns, but none of "
                    f"the {len(numbers)} lines below it has as many; is the header on another "
                    f"line? Check 'skip_rows' ({config.skip_rows}) in the source configuration, "
                    "or ask the sender for an export whose lines have the header's columns"
                )
    malformed = pa.table({"source_row": pa.array(numbers, pa.int64()),
                          "line": pa.array(texts, pa.string())})
    con.register("malformed_arrow", malformed)
    con.execute(f"INSERT INTO {MALFORMED_TABLE} SELECT * FROM malformed_arrow")
    con.unregister("malformed_arrow")
    return len(numbers), footers


def _first_cell(line: str, delimiter: str) -> str:
    try:
        cells = next(csv.reader([line], delimiter=delimiter), [""])
    except csv.Error:
        cells = line.split(delimiter)
    return (cells[0] if cells else "").strip()


def _load_xlsx(con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path) -> _Notes:
    """Read the configured sheets; each must carry the same header after the title rows.
    Formula cells without a cached value, which calamine reads as empty, are found in the
    sheets' XML and listed in `raw_formulas`."""
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
    formulas = _formulas_without_values(path, wanted)
    header: list[str] | None = None
    blank: tuple[tuple[int, str], ...] = ()
    damaged: tuple[tuple[int, str, str], ...] = ()
    body: list[list[object]] = []
    line_numbers: list[int] = []
    sheet_names: list[str] = []
    formula_cells: list[tuple[str, int, int, str, str]] = []
    for name, rows in sheets:
        by_row = formulas.get(name, {})
        if by_row:  # calamine leaves out trailing rows whose cells are all such formulas
            rows.extend([] for _ in range(max(by_row) + 1 - len(rows)))
        if len(rows) <= config.skip_rows:
            continue  # an empty sheet
        width = len(rows[config.skip_rows])
        if width > config.max_columns:  # formatting alone widens a sheet: count what is used
            width = _used_width(rows, config.skip_rows, by_row)
        _refuse_wide(path, width, config.max_columns,
                     f"the header of sheet '{name}' (row {config.skip_rows + 1})")
        this_header, this_blank, this_damaged = _header_names(
            [_cell_text(c) or "" for c in rows[config.skip_rows][:width]])
        if header is None:
            header, blank, damaged = this_header, this_blank, this_damaged
        elif this_header != header:
            raise IngestError(
                f"{path}: sheet '{name}' has header {this_header}, unlike the first sheet's "
                f"{header}; list the sheets to read in 'sheets' of the source configuration"
            )
        width = len(header)
        first_line = config.skip_rows + 2
        for offset, row in enumerate(rows[config.skip_rows + 1:]):
            cells = row[:width]
            found = [(c, f) for c, f in by_row.get(first_line + offset - 1, ()) if c < width]
            if not found and cells.count("") + cells.count(None) == len(cells):
                continue  # formatted but empty rows
            cells.extend([None] * (width - len(cells)))
            body.append(cells)
            line_numbers.append(first_line + offset)
            sheet_names.append(name)
            formula_cells.extend(
                (name, first_line + offset, c + 1, header[c], f) for c, f in found)
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
    if formula_cells:
        sheet, row, position, column, formula = zip(*formula_cells, strict=True)
        con.register("formula_arrow", pa.table({
            "source_sheet": pa.array(sheet, pa.string()), "source_row": pa.array(row, pa.int64()),
            "position": pa.array(position, pa.int32()), "header": pa.array(column, pa.string()),
            "formula": pa.array(formula, pa.string())}))
        con.execute(f"INSERT INTO {FORMULA_TABLE} SELECT * FROM formula_arrow")
        con.unregister("formula_arrow")
    _number_rows(con, first_line=None)
    return _Notes(header_line=config.skip_rows + 1, blank=blank, damaged=damaged,
                  formula_cells=len(formula_cells))


def _used_width(
    rows: list[list[object]], header_index: int, formulas: dict[int, list[tuple[int, str]]]
) -> int:
    """Columns up to the last one with a header, a value or a formula."""
    used = max((c + 1 for cells in formulas.values() for c, _ in cells), default=0)
    for row in rows[header_index:]:
        end = len(row)
        while end > used and row[end - 1] in ("", None):
            end -= 1
        used = max(used, end)
    return used


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _formulas_without_values(
    path: Path, sheet_names: list[str]
) -> dict[str, dict[int, list[tuple[int, str]]]]:
    """Formula cells without a cached value, by sheet, row and column (from 0), with their
    formula. A sheet's XML without a formula element is only scanned."""
    found: dict[str, dict[int, list[tuple[int, str]]]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            parts = _sheet_parts(archive)
            for name in sheet_names:
                part = parts.get(name)
                if part is None or not _has_formulas(archive, part):
                    continue
                with archive.open(part) as xml:
                    if cells := _cells_without_values(xml):
                        found[name] = cells
    except (zipfile.BadZipFile, KeyError, OSError, ElementTree.ParseError) as exc:
        raise IngestError(
            f"{path}: not a readable XLSX workbook ({exc}); ask the sender to re-export it"
        ) from exc
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the archive member holding the sheet's XML."""
    targets = {
        rel.get("Id"): rel.get("Target", "")
        for rel in ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels")).iter()
        if _local(rel.tag) == "Relationship"
    }
    parts = {}
    for sheet in ElementTree.fromstring(archive.read("xl/workbook.xml")).iter():
        if _local(sheet.tag) != "sheet":
            continue
        rel = next((v for k, v in sheet.attrib.items() if _local(k) == "id"), None)
        target = targets.get(rel, "")
        if target:
            parts[sheet.get("name", "")] = (
                target.lstrip("/") if target.startswith("/") else f"xl/{target}")
    return parts


def _has_formulas(archive: zipfile.ZipFile, part: str) -> bool:
    tail = b""
    with archive.open(part) as xml:
        while chunk := xml.read(1 << 20):
            if _FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-16:]
    return False


def _cells_without_values(xml: BinaryIO) -> dict[int, list[tuple[int, str]]]:
    """Cells with a formula (`<f>`) and no cached value: no `<v>`, or an empty one in a cell
    that is not of type text (an empty text is a value)."""
    cells: dict[int, list[tuple[int, str]]] = {}
    row = column = -1
    for event, element in ElementTree.iterparse(xml, events=("start", "end")):
        tag = _local(element.tag)
        if event == "start":
            if tag == "row":
                row = int(element.get("r") or row + 2) - 1
                column = -1
            elif tag == "c":
                ref = element.get("r")
                column = _column_index(ref) if ref else column + 1
            continue
        if tag == "c":
            formula = value = None
            for child in element:
                if _local(child.tag) == "f":
                    formula = child
                elif _local(child.tag) == "v":
                    value = child
            if formula is not None and (
                    value is None or (not value.text and element.get("t") != "str")):
                text = f"={formula.text}" if formula.text else "(a shared formula)"
                cells.setdefault(row, []).append((column, text))
            element.clear()
        elif tag == "row":
            element.clear()
    return cells


def _column_index(ref: str) -> int:
    """The column (from 0) of a cell reference such as AB12."""
    index = 0
    for char in ref:
        if not char.isalpha():
            break
        index = index * 26 + ord(char.upper()) - ord("A") + 1
    return index - 1


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


def _load_json(con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path) -> _Notes:
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
    _refuse_wide(path, len(names), config.max_columns, "the records' keys")
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
    return _Notes()


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
    """Names trimmed, repeats numbered <name>_1, <name>_2 ... ; DuckDB's column names ignore
    case, so ID and id are a repeat (as its CSV sniffer names them)."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        name = name.strip()
        count = seen.get(name.lower(), 0)
        seen[name.lower()] = count + 1
        unique.append(name if count == 0 else f"{name}_{count}")
    return unique


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


