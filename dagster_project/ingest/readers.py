"""Readers: turn one landing file into a DuckDB table of text cells, one column per header.

Every reader produces the same shape — the temporary table `raw_rows` with the file's headers as
VARCHAR columns plus `source_row`, the line a person sees in a spreadsheet — so that mapping and
typing are written once, in SQL, for all formats.
"""

from __future__ import annotations

import codecs
import datetime as dt
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from dagster_project.ingest.errors import IngestError
from dagster_project.sources import SourceConfig

RAW_TABLE = "raw_rows"
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
    if config.format == "csv":
        _load_csv(con, config, path, workdir)
    else:
        _load_xlsx(con, config, path)
    headers = tuple(
        name
        for (name,) in con.execute(
            "SELECT column_name FROM duckdb_columns() "
            "WHERE table_name = ? AND column_name <> 'source_row' ORDER BY column_index",
            [RAW_TABLE],
        ).fetchall()
    )
    footer_rows = _drop_footer(con, config, headers)
    return RawFile(headers=headers, footer_rows=footer_rows)


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
    return target


def _load_csv(con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path, workdir: Path):
    encoding = detect_encoding(path, config.encoding)
    csv_path = path if encoding in ("utf-8", "utf-8-sig") else _transcode_to_utf8(
        path, encoding, workdir
    )
    try:
        con.execute(
            f"CREATE TEMP TABLE {RAW_TABLE}_read AS SELECT * FROM read_csv(?, header = true, "
            "skip = ?, all_varchar = true, null_padding = true, normalize_names = false)",
            [str(csv_path), config.skip_rows],
        )
    except duckdb.Error as exc:
        raise IngestError(
            f"{path}: cannot be read as CSV ({_first_line(exc)}); check the file or the "
            "source configuration's 'encoding' and 'skip_rows'"
        ) from exc
    _number_rows(con, config)


def _load_xlsx(con: duckdb.DuckDBPyConnection, config: SourceConfig, path: Path) -> None:
    import openpyxl  # imported here: only XLSX sources pay for it

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise IngestError(
            f"{path}: not a readable XLSX workbook ({exc}); ask the sender to re-export it"
        ) from exc
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        for _ in range(config.skip_rows):
            next(rows, None)
        header = next(rows, None)
        if header is None:
            raise IngestError(f"{path}: the sheet has no header row after {config.skip_rows} "
                              "title rows; check 'skip_rows' in the source configuration")
        names = _unique_headers([_cell_text(cell) or "" for cell in header])
        columns: list[list[str | None]] = [[] for _ in names]
        for row in rows:
            cells = [_cell_text(cell) for cell in row[: len(names)]]
            if all(cell is None for cell in cells):
                continue  # openpyxl reports formatted but empty rows
            cells.extend([None] * (len(names) - len(cells)))
            for column, cell in zip(columns, cells, strict=True):
                column.append(cell)
    finally:
        workbook.close()
    table = pa.table({name: pa.array(values, pa.string()) for name, values in zip(
        names, columns, strict=True)})
    con.register("xlsx_arrow", table)
    con.execute(f"CREATE TEMP TABLE {RAW_TABLE}_read AS SELECT * FROM xlsx_arrow")
    con.unregister("xlsx_arrow")
    _number_rows(con, config)


def _number_rows(con: duckdb.DuckDBPyConnection, config: SourceConfig) -> None:
    # rowid of a freshly filled table is its insertion order, i.e. the order of the file.
    first_data_line = config.skip_rows + 2
    con.execute(
        f"CREATE TEMP TABLE {RAW_TABLE} AS SELECT rowid + {first_data_line} AS source_row, * "
        f"FROM {RAW_TABLE}_read"
    )
    con.execute(f"DROP TABLE {RAW_TABLE}_read")


def _drop_footer(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, headers: tuple[str, ...]
) -> int:
    if not config.footer_prefix or not headers:
        return 0
    first = quote_identifier(headers[0])
    (count,) = con.execute(
        f"SELECT count(*) FROM {RAW_TABLE} WHERE trim({first}) LIKE ? || '%'",
        [config.footer_prefix],
    ).fetchone() or (0,)
    if count:
        con.execute(
            f"DELETE FROM {RAW_TABLE} WHERE trim({first}) LIKE ? || '%'", [config.footer_prefix]
        )
    return int(count)


def _cell_text(cell: object) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, dt.datetime):
        return cell.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(cell, dt.date):
        return cell.strftime("%Y-%m-%d")
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


