"""Outcomes of a warehouse suite per partition (per city), kept while the city's rows are
those that were validated.

The tables built from the tickets are rebuilt city by city (the incremental models of the
dbt project). A city's rows are a function of the code and reference data the warehouse was
built with (its fingerprint in `hotline_meta.build`) and of the city's lake files (the
`lake_files_fingerprint` on each of its rows). So while both are unchanged, so is a suite's
outcome on the city: after a delivery that changed one city, only that city is validated
again. The caller passes the build fingerprint only when the live warehouse was built in full
by the current code; otherwise nothing is cached. An entry also holds the city's row count,
which must match too.

Entries of one suite are one JSON file beside the warehouse (`warehouse/validated/`), holding
the cities of the last run, rewritten whole and atomically. It is only a shortcut: an
unreadable file means validating everything again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.ingest.lake import write_and_publish
from dagster_project.quality.filecache import fingerprint
from dagster_project.quality.suites import Suite
from dagster_project.quality.validate import ExpectationOutcome
from dagster_project.sql import quote_identifier, sql_literal


@dataclass(frozen=True)
class PartitionState:
    """What a partition's rows were built from, and how many there are."""

    fingerprint: str
    rows: int


def partition_states(
    con: duckdb.DuckDBPyConnection, table: str, key: str, fingerprint_column: str
) -> dict[Any, PartitionState | None]:
    """Every partition value of `table` (None included), with its state when it can be
    cached: a text value whose rows all carry one fingerprint."""
    found = con.execute(
        f"SELECT {quote_identifier(key)}, min({quote_identifier(fingerprint_column)}), "
        f"max({quote_identifier(fingerprint_column)}), count(*) FROM {quote_identifier(table)} "
        "GROUP BY ALL").fetchall()
    return {value: PartitionState(low, int(rows))
            if isinstance(value, str) and low is not None and low == high else None
            for value, low, high, rows in found}


class PartitionOutcomes:
    """The cached outcomes of one suite, one entry per partition (a city, or a table and
    city for a suite over several tables)."""

    def __init__(self, suite: Suite, directory: Path, build_fingerprint: str) -> None:
        self._path = directory / f"{suite.name}.json"
        self._key = hashlib.sha256(
            f"{fingerprint(suite)}\0{build_fingerprint}".encode()).hexdigest()
        self._known = self._read()
        self._current: dict[str, dict[str, object]] = {}

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("key") != self._key:
            return {}
        return data.get("partitions") or {}

    def load(self, partition: str, state: PartitionState) -> list[ExpectationOutcome] | None:
        """The partition's outcomes if it was validated with its rows as they are now; then
        they are also kept for the next run."""
        entry = self._known.get(partition)
        if not entry or entry.get("state") != asdict(state):
            return None
        outcomes = [ExpectationOutcome(**o) for o in entry["outcomes"]]  # type: ignore[union-attr]
        self.keep(partition, state, outcomes)
        return outcomes

    def keep(self, partition: str, state: PartitionState,
             outcomes: list[ExpectationOutcome]) -> None:
        """Remember the partition's outcomes for the next run (`save` writes them)."""
        self._current[partition] = {"state": asdict(state),
                                    "outcomes": [asdict(o) for o in outcomes]}

    def save(self) -> None:
        """Write the partitions loaded or kept in this run, and only those."""
        text = json.dumps({"key": self._key, "partitions": self._current},
                          ensure_ascii=False, default=str)
        staged = self._path.with_name(f".{self._path.name}.{os.getpid()}")
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            self._path.parent.mkdir(parents=True, exist_ok=True)
            write_and_publish(staged, self._path,
                              lambda path: path.write_text(text, encoding="utf-8"))


def selecting(key: str, values: Collection[Any]) -> str:
    """A WHERE clause selecting the rows whose `key` is one of `values` (None: null). An
    equality or an IN list, not a NOT IN: DuckDB skips the row groups it rules out."""
    column = quote_identifier(key)
    texts = [sql_literal(str(v)) for v in values if v is not None]
    parts = ([f"{column} = {texts[0]}"] if len(texts) == 1 else
             [f"{column} IN ({', '.join(texts)})"] if texts else [])
    if None in values:
        parts.append(f"{column} IS NULL")
    return " WHERE " + (" OR ".join(parts) or "false")
