"""The analysts' connection to the warehouse: it reads the warehouse and the files its views
read, and nothing else.

`analyst_connection` opens the live warehouse read-only and then closes DuckDB around it:

- `enable_external_access = false`: no file, network address or extension outside the
  allowed folders can be read or written (`read_csv('/etc/passwd')`, `ATTACH`, `INSTALL`,
  `COPY … TO` anywhere else), except the database's own files (below);
- `allowed_directories`: only the folders the warehouse's views read at query time, found in
  the views' own SQL and kept only when they lie in the lake, the reference or the text folder
  of the data root (`lake/raw/tickets/`, `lake/manifest/`, …; `reference/` when the deployment
  has reference files; `text/`, the text stage's results): never the data root itself,
  `secrets/`, `landing/`, `models/` (the classifier, which is loaded as code) or the warehouse
  folder;
- `temp_directory = ''`: DuckDB never spills to disk (by default it would spill to
  `warehouse.duckdb.tmp/` beside the warehouse, and DuckDB adds the temp directory to the
  allowed directories when external access is off);
- `lock_configuration = true`: no `SET` or `RESET` can change any of it again on the
  connection, except the resource settings of `ADJUSTABLE_SETTINGS`.

What DuckDB cannot do: its allowed paths grant every kind of access. DuckDB checks a path
against `allowed_directories` and `allowed_paths` without asking whether it is opened for
reading or for writing, so on this connection:

- `COPY … TO` and `EXPORT DATABASE` into a folder the views read still write there (a Parquet
  file copied into `lake/raw/tickets/source=x/` appears in `stg_lake__tickets` at once);
- when external access is switched off, DuckDB adds the database file and its WAL files
  (`warehouse.duckdb`, `.wal`, `.wal.checkpoint`, `.wal.recovery`) to `allowed_paths` by
  itself, and they cannot be taken out again: `COPY … TO '<warehouse>.wal'` writes, and
  `COPY … TO '<warehouse>' (USE_TMP_FILE false)` overwrites the warehouse file, read-only
  connection or not.

No public setting of DuckDB separates reading from writing. Two things do: the file
permissions of the data root (analysts read it through a group and write nothing in it:
docs/analysts.md), and, for SQL run through `hotline sql`, `check_read_only`, which lets
queries through and nothing else.

DuckDB shares one open database among the connections of a process to the same file, and the
settings belong to that database: while an analyst connection is open, every other connection
of the same process to the warehouse has the same restrictions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import duckdb

from dagster_project.settings import DataPaths
from dagster_project.sql import sql_literal

# Resource settings an analyst may still change on a locked connection: neither reaches a file.
ADJUSTABLE_SETTINGS = ("threads", "memory_limit")

# A quoted SQL string literal ('' is a quote inside it).
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_GLOB_CHARACTERS = re.compile(r"[*?\[{]")
_EXPLAIN = re.compile(r"^\s*explain\s+(?:analy[sz]e\s+)?(?P<inner>.*)$", re.IGNORECASE | re.DOTALL)


class AnalystAccessError(RuntimeError):
    """The warehouse cannot be opened for an analyst, or a statement is not a query."""


def _folder_of(pattern: str) -> PurePosixPath:
    """The folder a file path or glob pattern reads from: the part before its first glob
    character, without the file name."""
    match = _GLOB_CHARACTERS.search(pattern)
    prefix = pattern[: match.start()] if match else pattern
    return PurePosixPath(prefix) if prefix.endswith("/") else PurePosixPath(prefix).parent


def view_folders(con: duckdb.DuckDBPyConnection, paths: DataPaths) -> list[Path]:
    """The folders the warehouse's views read files from at query time, as far as they lie in
    the data root's lake, reference or text folder: every absolute path written as a literal in a
    view's SQL, up to its first glob character. A view reading elsewhere (a warehouse built
    for another data root) gets no folder, and fails with DuckDB's permission error."""
    readable = (paths.lake.resolve(), paths.reference.resolve(), paths.text.resolve())
    folders: set[Path] = set()
    views = con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall()
    for (sql,) in views:
        for literal in _LITERAL.findall(sql or ""):
            text = literal.replace("''", "'")
            if not text.startswith("/"):
                continue
            folder = Path(_folder_of(text))
            if any(folder.is_relative_to(base) for base in readable):
                folders.add(folder)
    # A folder inside another allowed one adds nothing.
    return sorted(f for f in folders if not any(f != o and f.is_relative_to(o) for o in folders))


def _list_literal(values: Iterable[str]) -> str:
    return "[" + ", ".join(sql_literal(v) for v in values) + "]"


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> object:
    # A literal, not a bound parameter: binding one makes DuckDB's Python client import
    # pandas, a third of `hotline sql`'s start.
    row = con.execute(f"SELECT current_setting({sql_literal(name)})").fetchone()
    return row[0] if row else None


def _already_restricted(con: duckdb.DuckDBPyConnection, folders: list[Path]) -> bool:
    """Whether the database this connection shares is already closed as `analyst_connection`
    closes it (another analyst connection of this process is open); an error when it is
    locked or closed otherwise."""
    locked = _setting(con, "lock_configuration") is True
    external = _setting(con, "enable_external_access") is not False
    if not locked and external:
        return False
    allowed = _setting(con, "allowed_directories")
    named = {str(p).rstrip("/") for p in allowed} if isinstance(allowed, list) else set()
    if (locked and not external and _setting(con, "temp_directory") == ""
            and named == {str(f) for f in folders}):
        return True
    raise AnalystAccessError(
        "the warehouse is already open in this process with other settings: close its "
        "connections, then open the analyst connection first")


def analyst_connection(paths: DataPaths) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the live warehouse that reads only the folders its views
    read, writes no file outside them, never spills to disk and cannot be reconfigured (see
    the module's description for what DuckDB cannot prevent). Close it when done."""
    warehouse = paths.warehouse
    if not warehouse.is_file():
        raise AnalystAccessError(f"no warehouse at {warehouse}: it has not been built yet")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        folders = view_folders(con, paths)
        if _already_restricted(con, folders):
            return con
        con.execute("SET temp_directory = ''")
        # Literals rather than bound parameters (see _setting).
        con.execute(f"SET allowed_directories = {_list_literal(f'{f}/' for f in folders)}")
        con.execute("SET enable_external_access = false")
        con.execute(f"SET allowed_configs = {_list_literal(ADJUSTABLE_SETTINGS)}")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _refusal(kind: str) -> AnalystAccessError:
    return AnalystAccessError(
        f"{kind} statements are refused: only queries run here (SELECT, WITH, FROM, VALUES, "
        "DESCRIBE, SHOW, SUMMARIZE, a listing PRAGMA, or EXPLAIN of one of those)")


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise `AnalystAccessError` unless `sql` is exactly one query: DuckDB parses it, and
    only statements of type SELECT (which includes DESCRIBE, SHOW, SUMMARIZE and the listing
    PRAGMAs) pass, or an EXPLAIN of one. COPY, EXPORT, ATTACH, SET, CREATE and every other
    type are refused before anything runs."""
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise AnalystAccessError(
            f"one statement at a time: got {len(statements) or 'no'} statements")
    (statement,) = statements
    if statement.type == duckdb.StatementType.EXPLAIN:
        explained = _EXPLAIN.match(statement.query)
        if explained is None:
            raise _refusal("EXPLAIN")
        inner = con.extract_statements(explained["inner"])
        if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
            raise _refusal("EXPLAIN of anything but a query")
        return
    if statement.type != duckdb.StatementType.SELECT:
        raise _refusal(statement.type.name)
