"""Run a suite against the lake or the warehouse (read-only), in bounded pieces, and keep the
results as Parquet in the lake (`lake/quality/`), where the report and analysts read them."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dagster_project import progress
from dagster_project.ingest.lake import Lake, write_and_publish
from dagster_project.locks import warehouse_read_lock
from dagster_project.personal_data import candidate_sql, findings_in, mask_personal_data
from dagster_project.quality import pushdown
from dagster_project.quality.filecache import FileOutcomes
from dagster_project.quality.partitioncache import (
    PartitionOutcomes,
    PartitionState,
    partition_states,
    selecting,
)
from dagster_project.quality.pushdown import plan
from dagster_project.quality.suites import (
    LakeData,
    QueryData,
    Suite,
    TableData,
    TextColumnsData,
)
from dagster_project.quality.validate import (
    MAX_EXAMPLES,
    ExpectationOutcome,
    FrameValidator,
)
from dagster_project.settings import DataPaths, sources_dir
from dagster_project.sources import SourceConfigError, load_source_config
from dagster_project.sql import quote_identifier, sql_literal
from dagster_project.warehouse.build_state import built_by_current_code, recorded_data_version

RESULT_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("checked_at", pa.timestamp("us")),
    ("suite", pa.string()),
    ("asset", pa.string()),
    ("severity", pa.string()),
    ("expectation", pa.string()),
    ("column_name", pa.string()),
    ("partition", pa.string()),
    ("success", pa.bool_()),
    ("unexpected_count", pa.int64()),
    ("unexpected_examples", pa.string()),
    ("observed_value", pa.string()),
    ("rows_validated", pa.int64()),
    # The live warehouse's data version a suite of the warehouse read (build_state); null for
    # suites of the lake alone, and for warehouses that do not know theirs.
    ("data_version", pa.string()),
])


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    asset: str
    severity: str
    rows_validated: int
    expectations: list[ExpectationOutcome]
    data_version: str | None = None

    @property
    def success(self) -> bool:
        return all(e.success for e in self.expectations)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]


log = logging.getLogger(__name__)

PUSHDOWN_MIN_ROWS = 100_000  # below this GE validates the whole frames


class _Validator:
    """GE's validator for a suite, created on first use (importing GE is slow:
    BENCHMARKS.md, "What limits each stage")."""

    def __init__(self, suite: Suite) -> None:
        self._suite = suite
        self._validator: FrameValidator | None = None

    def __call__(self, frame: pd.DataFrame, only: tuple[int, ...] | None = None,
                 label_column: str | None = None) -> list[ExpectationOutcome]:
        if self._validator is None:
            self._validator = FrameValidator(self._suite.name, self._suite.expectations)
        return self._validator.validate(frame, only, label_column)


def run_suite(suite: Suite, paths: DataPaths,
              build_fingerprint: str | None = None) -> SuiteOutcome:
    """Validate the suite's data piece by piece and merge the outcomes. `build_fingerprint`:
    the live warehouse's, when it was built in full by the current code; a suite over the
    warehouse then keeps the outcomes of cities whose rows did not change (partitioncache)."""
    data = suite.meta.data
    cache = (PartitionOutcomes(suite, paths.warehouse.parent / "validated", build_fingerprint)
             if build_fingerprint and not isinstance(data, LakeData) else None)
    if isinstance(data, TextColumnsData):
        outcomes, rows = _run_text_columns(suite, data, paths, cache)
        return SuiteOutcome(suite.name, suite.meta.asset, suite.meta.severity, rows, outcomes)
    if isinstance(data, LakeData):
        pieces = _run_lake(suite, data, paths)
    elif isinstance(data, QueryData):
        pieces = _run_query(suite, data, paths)
    else:
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            pieces = _run_warehouse(suite, data, con, cache)
    rows = sum(n for _, n, _ in pieces)
    return SuiteOutcome(suite.name, suite.meta.asset, suite.meta.severity, rows,
                        _merge([[replace(o, partition=label) for o in outcomes]
                                for label, _, outcomes in pieces]))


def check_suite(
    suite: Suite, paths: DataPaths, on_wait: Callable[[str], None] | None = None
) -> SuiteOutcome:
    """Run a suite as the checks run it: one reading the warehouse holds the shared readers
    lock meanwhile, so that a new build is never published between two of its queries, and
    keeps the outcomes of unchanged cities when the current code built the warehouse."""
    reads_warehouse = not isinstance(suite.meta.data, LakeData)
    with (warehouse_read_lock(paths.warehouse, on_wait=on_wait) if reads_warehouse
          else contextlib.nullcontext()):
        outcome = run_suite(suite, paths, built_by_current_code(paths) if reads_warehouse
                            else None)
        if suite.reads_warehouse:
            outcome = replace(outcome, data_version=recorded_data_version(paths.warehouse))
    progress.advance("checks", detail=suite.name)
    return outcome


Piece = tuple[str | None, int, list[ExpectationOutcome]]  # partition label, rows, outcomes


def _column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {name: kind for name, kind, *_ in con.sql(f"DESCRIBE SELECT * FROM {relation}")
            .fetchall()}


SOURCES_RELATION = "configured_sources"


def _run_query(suite: Suite, data: QueryData, paths: DataPaths) -> list[Piece]:
    """The suite on the frame its SQL computes over the warehouse (unless the suite checks
    the lake alone), the source configurations and the lake files it names."""
    sql = data.sql
    for name, pattern in data.lake_files.items():
        files = sorted(paths.lake.glob(pattern))
        if not files:
            return [(None, 0, _clean(suite, None, ""))]
        sql = sql.replace("{" + name + "}",
                          f"[{', '.join(pushdown.literal(str(f)) for f in files)}]")
    database = str(paths.warehouse) if data.reads_warehouse else ":memory:"
    with duckdb.connect(database, read_only=data.reads_warehouse) as con:
        con.register(SOURCES_RELATION, _configured_sources())
        frame = con.sql(sql).df()
    if data.label_column is not None:
        frame[data.label_column] = frame[data.label_column].astype(str)
    return [(None, len(frame), _Validator(suite)(frame, None, data.label_column))]


def _configured_sources() -> pa.Table:
    """The sources as configured now; a configuration that cannot be loaded is left out (the
    ingestion reports it)."""
    rows = []
    for path in sorted(sources_dir().glob("*.yaml")):
        try:
            config = load_source_config(path)
        except SourceConfigError:
            continue
        rows.append({"source_id": config.source_id, "name": config.name,
                     "entity": str(config.entity), "city_code": config.city_code,
                     "delivery_every_days": config.delivery_every_days})
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("source_id", pa.string()), ("name", pa.string()), ("entity", pa.string()),
        ("city_code", pa.string()), ("delivery_every_days", pa.int64())]))


def _run_warehouse(suite: Suite, data: TableData, con: duckdb.DuckDBPyConnection,
                   cache: PartitionOutcomes | None = None) -> list[Piece]:
    validate = _Validator(suite)
    if data.partition_by is None:
        rows, outcomes = _validate_table(suite, data, con, validate, "")
        return [(None, rows[value], outcomes[value]) for value in rows]
    states = (partition_states(con, data.table, data.partition_by, data.partition_fingerprint)
              if cache is not None and data.partition_fingerprint else {})
    known = {value: (state.rows, outcomes) for value, state in states.items()
             if state and cache and (outcomes := cache.load(value, state)) is not None}
    todo = [value for value in states if value not in known]
    if known and not todo:  # every city as it was validated: nothing to read
        rows, outcomes = {}, {}
    else:
        where = selecting(data.partition_by, todo) if known else ""
        rows, outcomes = _validate_table(suite, data, con, validate, where)
    for value, (count, cached) in known.items():
        rows[value], outcomes[value] = count, cached
    if cache is not None:  # a failing city is validated afresh each time
        for value, state in states.items():
            if (state and value not in known and state.rows == rows.get(value)
                    and all(o.success for o in outcomes[value])):
                cache.keep(value, state, outcomes[value])
        cache.save()
    if not rows:  # an empty table: its expectations hold or fail on no rows, not skipped
        columns = ", ".join(quote_identifier(c) for c in suite.columns) or "*"
        empty = con.sql(f"SELECT {columns} FROM {quote_identifier(data.table)} LIMIT 0").df()
        return [(None, 0, validate(empty))]
    return [(f"{data.partition_by}={value}", rows[value], outcomes[value])
            for value in sorted(rows, key=lambda v: (v is None, v))]


def _validate_table(
    suite: Suite, data: TableData, con: duckdb.DuckDBPyConnection, validate: _Validator,
    where: str,
) -> tuple[dict[Any, int], dict[Any, list[ExpectationOutcome]]]:
    """Rows and outcomes per partition value (one partition, None, without `partition_by`)
    of the table's rows that `where` selects."""
    table = quote_identifier(data.table)
    (count,) = con.execute(f"SELECT count(*) FROM {table}{where}").fetchone() or (0,)
    if not count and where:
        return {}, {}
    rules = (plan(suite.expectations, _column_types(con, table))
             if count > PUSHDOWN_MIN_ROWS else None)
    key = quote_identifier(data.partition_by) if data.partition_by else None
    if rules is not None:
        (kind,) = con.execute("SELECT any_value(table_type) FROM information_schema.tables "
                              "WHERE table_name = ?", [data.table]).fetchone() or (None,)
        position = "rowid" if kind == "BASE TABLE" else "0"
        relation = (f"(SELECT *, {position} AS __position FROM {table}{where})" if where
                    else table)
        source = pushdown.Source(relation, key or "0", "__position" if where else position)
        try:
            return pushdown.run(con, source, suite.columns, rules, validate)
        except duckdb.Error as exc:  # a translation DuckDB cannot run: GE on whole frames
            log.warning("%s: pushdown failed (%s); validating whole frames", suite.name, exc)
    columns = ", ".join(quote_identifier(c) for c in suite.columns) or "*"
    if key is None:
        frame = con.sql(f"SELECT {columns} FROM {table}").df()
        return {None: len(frame)}, {None: validate(frame)}
    rows, outcomes = {}, {}
    for (value,) in con.execute(f"SELECT DISTINCT {key} FROM {table}{where} ORDER BY 1"
                                ).fetchall():
        frame = con.execute(f"SELECT {columns} FROM {table} WHERE {key} IS NOT DISTINCT FROM ?",
                            [value]).df()
        rows[value], outcomes[value] = len(frame), validate(frame)
    return rows, outcomes


def _lake_label(file: Path) -> str:
    return f"{file.parent.name}/{file.stem[:12]}"


def _run_lake(suite: Suite, data: LakeData, paths: DataPaths) -> list[Piece]:
    """Every lake file of the entity; a file validated before by this suite, unchanged since,
    keeps its outcome (see `filecache`)."""
    files = sorted((paths.lake / "raw" / data.entity).glob("*/*.parquet"))
    cache = FileOutcomes(suite, paths.lake)
    known = {file: cache.load(file) for file in files}
    todo = [file for file in files if known[file] is None]
    if todo:
        identities = {file: FileOutcomes.identity(file) for file in todo}
        for file, (rows, outcomes) in _validate_lake_files(suite, todo).items():
            cache.store(file, rows, outcomes, identities[file])
            known[file] = (rows, outcomes)
    cache.prune(files)
    return [(_lake_label(file), *known[file]) for file in files]  # type: ignore[misc]


def _validate_lake_files(
    suite: Suite, files: list[Path]
) -> dict[Path, tuple[int, list[ExpectationOutcome]]]:
    validate = _Validator(suite)
    rows = sum(pq.ParquetFile(file).metadata.num_rows for file in files)
    relation = (f"read_parquet([{', '.join(pushdown.literal(str(f)) for f in files)}], "
                "filename = true, file_row_number = true, union_by_name = true)")
    with duckdb.connect() as con:
        rules = (plan(suite.expectations, _column_types(con, relation))
                 if rows > PUSHDOWN_MIN_ROWS else None)
        if rules is not None:
            source = pushdown.Source(relation, "filename", "file_row_number")
            try:
                counts, outcomes = pushdown.run(con, source, suite.columns, rules, validate,
                                                partitions=[str(f) for f in files])
            except duckdb.Error as exc:
                log.warning("%s: pushdown failed (%s); validating whole files", suite.name, exc)
            else:
                return {f: (counts[str(f)], outcomes[str(f)]) for f in files}
        columns = ", ".join(quote_identifier(c) for c in suite.columns) or "*"
        done = {}
        for file in files:
            frame = con.sql(f"SELECT {columns} FROM read_parquet("
                            f"{pushdown.literal(str(file))})").df()
            done[file] = (len(frame), validate(frame))
        return done


FOUND_COLUMN = "personal_data_found"


def _run_text_columns(
    suite: Suite, data: TextColumnsData, paths: DataPaths,
    cache: PartitionOutcomes | None = None,
) -> tuple[list[ExpectationOutcome], int]:
    """The suite's expectations on the personal-data detector's verdicts for every text column
    of every listed table (by default every table and view of the schema `main`, where dbt
    builds) and of every lake file under `data.lake_folders`. DuckDB selects each column's
    distinct values that may hold personal data (`personal_data.candidate_sql`: one regular
    expression per value, whatever the rows); the detector judges those, and GE the verdicts.
    With a cache, the cities of a table found clean before, with their rows unchanged, are not
    scanned again; a lake file found clean is not scanned again while it is unchanged."""
    outcomes: list[ExpectationOutcome] = []
    rows = 0
    validate = _Validator(suite)
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        relations = [(t, "BASE TABLE") for t in data.tables] if data.tables else [
            (t, kind) for t, kind in con.execute(
                "SELECT table_name, table_type FROM information_schema.tables "
                "WHERE table_schema = 'main' ORDER BY table_name").fetchall()
            if not (kind == "VIEW" and t.startswith(tuple(data.views_from_lake)))]
        for table, _ in relations:
            name = quote_identifier(table)
            (count,) = con.execute(f"SELECT count(*) FROM {name}").fetchone() or (0,)
            rows += count
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
                [table]).fetchall()
            states, clean = _clean_partitions(con, data, table, {c for c, _ in columns}, cache)
            todo = [value for value in states if value not in clean]
            scan = bool(todo) or not clean  # else every city is clean as it was
            where = selecting(data.partition_by, todo) if clean and data.partition_by else ""
            mine = [o for column in _text_columns(columns, data)
                    for o in (_judge_text_column(con, suite, validate, name, column, where, table)
                              if scan else _clean(suite, column, table))]
            outcomes += mine
            if cache is not None and all(o.success for o in mine):  # every city is clean
                for value, state in states.items():
                    if state:
                        cache.keep(f"{table}/{value}", state, [])
    if cache is not None:
        cache.save()
    lake_outcomes, lake_rows = _scan_lake_files(suite, data, paths.lake, validate)
    return outcomes + lake_outcomes, rows + lake_rows


def _text_columns(columns: list[tuple[str, str]], data: TextColumnsData) -> list[str]:
    return [c for c, kind in columns if kind == "VARCHAR" and c not in data.exclude_columns]


def _clean(suite: Suite, column: str | None, where: str) -> list[ExpectationOutcome]:
    return [ExpectationOutcome(e["type"], column, True, None, 0, [], where)
            for e in suite.expectations]


def _scan_lake_files(suite: Suite, data: TextColumnsData, lake: Path,
                     validate: _Validator) -> tuple[list[ExpectationOutcome], int]:
    """Each Parquet file under the lake folders: failing ones named by their lake path."""
    files = sorted(f for folder in data.lake_folders for f in (lake / folder).rglob("*.parquet")
                   if "_validated" not in f.parts)
    cache = FileOutcomes(suite, lake)
    outcomes: list[ExpectationOutcome] = []
    rows = 0
    with duckdb.connect() as con:
        for file in files:
            known = cache.load(file)
            if known is None:
                identity = FileOutcomes.identity(file)
                relation = f"read_parquet({pushdown.literal(str(file))})"
                label = file.relative_to(lake).as_posix()
                columns = list(_column_types(con, relation).items())
                found = [o for column in _text_columns(columns, data)
                         for o in _judge_text_column(con, suite, validate, relation, column,
                                                     "", label)]
                (count,) = con.execute(f"SELECT count(*) FROM {relation}").fetchone() or (0,)
                known = (int(count), [o for o in found if not o.success])
                if all(o.success for o in found):
                    cache.store(file, *known, identity)
            rows += known[0]
            outcomes += known[1]
    cache.prune(files)
    if not any(not o.success for o in outcomes):
        outcomes = _clean(suite, None, "lake")
    return outcomes, rows


def _clean_partitions(
    con: duckdb.DuckDBPyConnection, data: TextColumnsData, table: str, columns: set[str],
    cache: PartitionOutcomes | None,
) -> tuple[dict[Any, PartitionState | None], set[str]]:
    """The table's partitions with their states, and those found clean before as they are
    now; none without a cache or when the table (its `columns`) lacks the partition columns."""
    key, fingerprint = data.partition_by, data.partition_fingerprint
    if cache is None or key is None or fingerprint is None or not {key, fingerprint} <= columns:
        return {}, set()
    states = partition_states(con, table, key, fingerprint)
    return states, {value for value, state in states.items()
                    if state and cache.load(f"{table}/{value}", state) == []}


def _judge_text_column(con: duckdb.DuckDBPyConnection, suite: Suite, validate: _Validator,
                       relation: str, column: str, where: str,
                       label: str) -> list[ExpectationOutcome]:
    """GE on the detector's verdicts (the kinds found, or NULL) on the column's distinct values
    that may hold personal data; examples are shown masked, counts are of rows."""
    col = quote_identifier(column)
    condition = candidate_sql(col)
    where = f"{where} AND {condition}" if where else f" WHERE {condition}"
    values = [v for (v,) in con.sql(f"SELECT DISTINCT {col} FROM {relation}{where}").fetchall()]
    found = findings_in(values)
    if not found:
        return _clean(suite, column, label)
    con.register("personal_data_values", pa.table({"v": [v for v, _ in found]}))
    try:
        (rows,) = con.sql(f"SELECT count(*) FROM {relation} WHERE {col} IN "
                          "(SELECT v FROM personal_data_values)").fetchone() or (0,)
    finally:
        con.unregister("personal_data_values")
    verdicts = pd.DataFrame({FOUND_COLUMN: [",".join(sorted({f.kind for f in findings}))
                                            for _, findings in found]})
    examples = [mask_personal_data(v) for v, _ in found[:MAX_EXAMPLES]]
    return [replace(o, column=column, partition=label, unexpected_count=int(rows),
                    unexpected_examples=examples) if not o.success
            else replace(o, column=column, partition=label) for o in validate(verdicts)]


def _merge(pieces: list[list[ExpectationOutcome]]) -> list[ExpectationOutcome]:
    """One outcome per expectation over all pieces: failing pieces named in `partition`."""
    if not pieces:
        return []
    merged = []
    for index in range(len(pieces[0])):
        results = [piece[index] for piece in pieces]
        failing = [r for r in results if not r.success]
        examples = [e for r in failing for e in r.unexpected_examples][:MAX_EXAMPLES]
        counts = [r.unexpected_count for r in results if r.unexpected_count is not None]
        labels = [r.partition for r in failing if r.partition]
        merged.append(ExpectationOutcome(
            expectation=results[0].expectation,
            column=results[0].column,
            success=not failing,
            observed_value=failing[0].observed_value if failing else (
                results[0].observed_value if len(results) == 1 else None),
            unexpected_count=sum(counts) if counts else None,
            unexpected_examples=examples,
            partition=", ".join(labels[:5]) + (f" (+{len(labels) - 5})" if len(labels) > 5
                                               else "") or None,
        ))
    return merged


def write_results(outcome: SuiteOutcome, lake_root: Path, run_id: str,
                  checked_at: dt.datetime) -> Path:
    """Append the outcome to the quality results: one Parquet file per suite and run."""
    rows = [{
        "run_id": run_id, "checked_at": checked_at, "suite": outcome.suite,
        "asset": outcome.asset, "severity": outcome.severity, "expectation": e.expectation,
        "column_name": e.column, "partition": e.partition, "success": e.success,
        "unexpected_count": e.unexpected_count,
        "unexpected_examples": json.dumps(e.unexpected_examples, ensure_ascii=False,
                                          default=str),
        "observed_value": json.dumps(e.observed_value, ensure_ascii=False, default=str),
        "rows_validated": outcome.rows_validated, "data_version": outcome.data_version,
    } for e in outcome.expectations]
    lake = Lake(lake_root)
    target = (lake_root / "quality" / f"suite={outcome.suite}"
              / f"{checked_at:%Y%m%dT%H%M%S%f}-{run_id[:8]}.parquet")
    staged = lake.staging_dir() / f"quality-{outcome.suite}-{run_id}.parquet"
    table = pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)
    write_and_publish(staged, target, lambda path: pq.write_table(table, path))
    return target


def ensure_results_schema(lake_root: Path) -> Path:
    """An empty results file with the schema, so that the warehouse's view over the results
    (`stg_lake__quality_results`) can be created before any check has run."""
    target = lake_root / "quality" / "_schema.parquet"
    # Rewritten when a column was added since it was written.
    if not target.exists() or pq.read_schema(target) != RESULT_SCHEMA:
        staged = Lake(lake_root).staging_dir() / f"quality-schema-{os.getpid()}.parquet"
        write_and_publish(staged, target,
                          lambda path: pq.write_table(RESULT_SCHEMA.empty_table(), path))
    return target


def latest_results(lake_root: Path, data_version: str | None = None) -> list[dict[str, Any]]:
    """The most recent run of every suite (each row one expectation), failures first. Given
    the live warehouse's `data_version`, a suite's most recent run on that very data where
    there is one: a run that built the same data again since does not make it stale."""
    files = [str(f) for f in (lake_root / "quality").glob("*/*.parquet")]
    if not files:
        return []
    results = duckdb.read_parquet(files, union_by_name=True, hive_partitioning=False)
    latest = "max(checked_at) OVER (PARTITION BY suite)"
    if data_version is not None and "data_version" in results.columns:
        latest = (f"coalesce(max(checked_at) FILTER (WHERE data_version = "
                  f"{sql_literal(data_version)}) OVER (PARTITION BY suite), {latest})")
    relation = results.query(
        "results",
        f"SELECT * FROM results QUALIFY checked_at = {latest} "
        "ORDER BY success, severity, suite, expectation, column_name",
    )
    names = relation.columns
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
