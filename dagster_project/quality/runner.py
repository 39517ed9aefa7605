"""Run a suite against the lake or the warehouse (read-only), in bounded pieces, and keep the
results as Parquet in the lake (`lake/quality/`), where the report and analysts read them."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dagster_project.ingest.lake import Lake, publish
from dagster_project.ingest.readers import quote_identifier
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
    validate_frame,
)
from dagster_project.settings import DataPaths

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
])


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    asset: str
    severity: str
    rows_validated: int
    expectations: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(e.success for e in self.expectations)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]


def run_suite(suite: Suite, paths: DataPaths) -> SuiteOutcome:
    """Validate the suite's data piece by piece and merge the outcomes."""
    data = suite.meta.data
    if isinstance(data, TextColumnsData):
        outcomes, rows = _run_text_columns(suite, data, paths)
        return SuiteOutcome(suite.name, suite.meta.asset, suite.meta.severity, rows, outcomes)
    pieces: list[list[ExpectationOutcome]] = []
    rows = 0
    validator = FrameValidator(suite.name, suite.expectations)
    for label, frame in _frames(suite, paths):
        rows += len(frame)
        pieces.append([replace(o, partition=label) for o in validator.validate(frame)])
    return SuiteOutcome(suite.name, suite.meta.asset, suite.meta.severity, rows,
                        _merge(pieces))


def _frames(suite: Suite, paths: DataPaths) -> Iterator[tuple[str | None, pd.DataFrame]]:
    data = suite.meta.data
    columns = ", ".join(quote_identifier(c) for c in suite.columns) or "*"
    if isinstance(data, LakeData):
        for file in sorted((paths.lake / "raw" / data.entity).glob("*/*.parquet")):
            label = f"{file.parent.name}/{file.stem[:12]}"
            yield label, duckdb.sql(f"SELECT {columns} FROM read_parquet('{file}')").df()
        return
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        if isinstance(data, QueryData):
            yield None, con.sql(data.sql).df()
        elif isinstance(data, TableData) and data.partition_by:
            key = quote_identifier(data.partition_by)
            values = [v for (v,) in con.execute(
                f"SELECT DISTINCT {key} FROM {quote_identifier(data.table)} ORDER BY 1"
            ).fetchall()]
            for value in values:
                frame = con.execute(
                    f"SELECT {columns} FROM {quote_identifier(data.table)} WHERE {key} = ?",
                    [value]).df()
                yield f"{data.partition_by}={value}", frame
        elif isinstance(data, TableData):
            yield None, con.sql(f"SELECT {columns} FROM {quote_identifier(data.table)}").df()


def _run_text_columns(
    suite: Suite, data: TextColumnsData, paths: DataPaths
) -> tuple[list[ExpectationOutcome], int]:
    """Each '*' expectation on every VARCHAR column of every listed table. DuckDB selects the
    candidate rows with the expectation's own regexes; GE judges them. Rows that no regex
    matches cannot fail a not-match expectation, so counts are exact and memory stays small."""
    outcomes: list[ExpectationOutcome] = []
    rows = 0
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        tables = data.tables or [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "ORDER BY table_name").fetchall()]
        for table in tables:
            (count,) = con.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone() \
                or (0,)
            rows += count
            text_columns = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND data_type = 'VARCHAR' ORDER BY ordinal_position", [table]).fetchall()
                if c not in data.exclude_columns]
            for expectation in suite.expectations:
                regexes = expectation["kwargs"].get("regex_list") or [
                    expectation["kwargs"]["regex"]]
                for column in text_columns:
                    name = quote_identifier(column)
                    where = " OR ".join(f"regexp_matches({name}, ?)" for _ in regexes)
                    candidates = con.execute(
                        f"SELECT {name} FROM {quote_identifier(table)} WHERE {where}", regexes
                    ).df()
                    concrete = {**expectation,
                                "kwargs": {**expectation["kwargs"], "column": column}}
                    if candidates.empty:
                        outcomes.append(ExpectationOutcome(
                            expectation["type"], column, True, None, 0, [], table))
                        continue
                    [outcome] = validate_frame(candidates, suite.name, [concrete])
                    outcomes.append(replace(outcome, partition=table))
    return outcomes, rows


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
        "rows_validated": outcome.rows_validated,
    } for e in outcome.expectations]
    lake = Lake(lake_root)
    target = (lake_root / "quality" / f"suite={outcome.suite}"
              / f"{checked_at:%Y%m%dT%H%M%S%f}-{run_id[:8]}.parquet")
    staged = lake.staging_dir() / f"quality-{outcome.suite}-{run_id}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=RESULT_SCHEMA), staged)
    publish(staged, target)
    return target


def ensure_results_schema(lake_root: Path) -> Path:
    """An empty results file with the schema, so that the warehouse's view over the results
    (`stg_lake__quality_results`) can be created before any check has run."""
    target = lake_root / "quality" / "_schema.parquet"
    if not target.exists():
        staged = Lake(lake_root).staging_dir() / f"quality-schema-{os.getpid()}.parquet"
        pq.write_table(RESULT_SCHEMA.empty_table(), staged)
        publish(staged, target)
    return target


def latest_results(lake_root: Path) -> list[dict[str, Any]]:
    """The most recent run of every suite (each row one expectation), failures first."""
    files = list((lake_root / "quality").glob("*/*.parquet"))
    if not files:
        return []
    relation = duckdb.sql(
        f"SELECT * FROM read_parquet({[str(f) for f in files]}, union_by_name = true, "
        "hive_partitioning = false) "
        "QUALIFY checked_at = max(checked_at) OVER (PARTITION BY suite) "
        "ORDER BY success, severity, suite, expectation, column_name"
    )
    names = relation.columns
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
