"""What a warehouse was built from, so that an incremental build knows what it may keep.

`fct_tickets` is incremental per city: a build replaces the rows of the cities whose lake
files changed and keeps the others. That is right only while the code that wrote the kept rows
is the code of this build. A build therefore records a fingerprint of everything the models
read besides the lake: the dbt project (SQL, YAML, macros, seeds, vars in dbt_project.yml),
the profile, the data root's reference files, the engine (HOTLINE_ENGINE) and the versions of
dbt and the engine's packages. When the
live warehouse carries another fingerprint (or none), the next build starts from an empty file
and every model is built from scratch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import duckdb

from dagster_project.settings import DataPaths
from dagster_project.warehouse.dbt_files import DBT_PROJECT_DIR, project_files
from dagster_project.warehouse.engines import (
    Engine,
    configured_engine,
    dbt_executable,
    installed_versions,
)

SCHEMA = "hotline_meta"
TABLE = f"{SCHEMA}.build"
VERSIONED = ("dbt-core", "dbt-duckdb", "duckdb")
SPARK_VERSIONED = ("dbt-spark", "pyspark")


def project_fingerprint(project_dir: Path, reference_dir: Path) -> str:
    """SHA-256 over the dbt project's files, the profile, the reference files of the data
    root, the engine and the versions of dbt, DuckDB and (on Spark) dbt-spark and PySpark."""
    digest = hashlib.sha256()
    files = [(f"dbt/{f.relative_to(project_dir)}", f) for f in project_files(project_dir)]
    files.append(("dbt/profiles.yml", project_dir / "profiles.yml"))
    if reference_dir.is_dir():
        files += [(f"reference/{f.relative_to(reference_dir)}", f)
                  for f in reference_dir.rglob("*") if f.is_file()]
    for name, path in sorted(files):
        digest.update(f"{name}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    engine = configured_engine()
    digest.update(f"engine={engine.value}\0".encode())
    versions = {package: metadata.version(package) for package in VERSIONED}
    if engine is Engine.SPARK:  # Spark's dbt has an environment of its own
        versions |= installed_versions(dbt_executable(engine), SPARK_VERSIONED)
    for package, version in versions.items():
        digest.update(f"{package}=={version}\0".encode())
    return digest.hexdigest()


def _recorded_build(warehouse: Path) -> dict[str, str | None] | None:
    """The build record of the live warehouse by column; None when there is no warehouse, it
    predates the record, or it cannot be opened (a process outside the project holds it
    read-write)."""
    if not warehouse.exists():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException:
        return None
    with con:
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'build'",
            [SCHEMA],
        ).fetchone()
        if not found or not found[0]:
            return None
        relation = con.sql(f"SELECT * FROM {TABLE}")
        row = relation.fetchone()
        if row is None:
            return None
        return {name: None if value is None else str(value)
                for name, value in zip(relation.columns, row, strict=True)}


def recorded_fingerprint(warehouse: Path) -> str | None:
    """The fingerprint the live warehouse was built with; None when there is no warehouse, it
    predates fingerprints, or it cannot be opened: the build then starts from an empty file,
    which needs no reading of it."""
    record = _recorded_build(warehouse)
    return record.get("fingerprint") if record else None


def recorded_data_version(warehouse: Path) -> str | None:
    """What the live warehouse's tables were built from (`data_version`); None when that is
    not known: no warehouse, one built before data versions, by a partial run, or while the
    lake changed under the build."""
    record = _recorded_build(warehouse)
    return record.get("data_version") if record else None


# The lake folders whose files the warehouse's tables are built from. The quality results are
# read by a view, at query time, and change with every check.
LAKE_TABLE_FOLDERS = ("raw", "rejects", "manifest")


def lake_digest(lake: Path) -> str:
    """SHA-256 over the path, size and modification time of every file the warehouse's tables
    are built from. Lake files are written once under new names (a delivery that supersedes
    another moves the old file), so a listing identifies their contents."""
    digest = hashlib.sha256()
    for folder in LAKE_TABLE_FOLDERS:
        for file in sorted((lake / folder).rglob("*.parquet")):
            stat = file.stat()
            digest.update(f"{file.relative_to(lake)}\0{stat.st_size}\0{stat.st_mtime_ns}\0"
                          .encode())
    return digest.hexdigest()


def data_version(fingerprint: str, lake_before: str, lake_after: str) -> str | None:
    """The version of a complete build's data: its code and reference data (`fingerprint`) and
    the lake it read, when the lake was the same when dbt started and when it ended (a file
    ingested meanwhile may or may not have been read: then no version)."""
    if lake_before != lake_after:
        return None
    return hashlib.sha256(f"{fingerprint}\0{lake_before}".encode()).hexdigest()


def record_fingerprint(building: Path, fingerprint: str,
                       data_version: str | None = None) -> None:
    """Write the fingerprint and data version into a finished build, before it is published."""
    with duckdb.connect(str(building)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} (fingerprint VARCHAR NOT NULL, "
                    "built_at_utc TIMESTAMP NOT NULL, data_version VARCHAR)")
        con.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?)",
                    [fingerprint, dt.datetime.now(dt.UTC).replace(tzinfo=None), data_version])


def forget_data_version(building: Path) -> None:
    """A partial build keeps the previous build's record (its fingerprint says which code built
    the models it did not run) but not its data version: its tables are no longer that data."""
    with duckdb.connect(str(building)) as con:
        (has_column,) = con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE schema_name = ? "
            "AND table_name = 'build' AND column_name = 'data_version'", [SCHEMA]).fetchone() \
            or (0,)
        if has_column:
            con.execute(f"UPDATE {TABLE} SET data_version = NULL")


@dataclass(frozen=True)
class PublishedBuild:
    """Which live warehouse a reader saw. A build publishes a new file (os.replace), so its
    size and modification time identify it; the fingerprint says which code built it."""

    mtime_ns: int
    size: int
    fingerprint: str | None

    def as_metadata(self) -> dict[str, object]:
        return {"mtime_ns": self.mtime_ns, "size": self.size, "fingerprint": self.fingerprint}

    @classmethod
    def from_metadata(cls, value: object) -> PublishedBuild | None:
        if not isinstance(value, dict):
            return None
        try:
            return cls(int(value["mtime_ns"]), int(value["size"]), value.get("fingerprint"))
        except (KeyError, TypeError, ValueError):
            return None

    def same_file(self, other: PublishedBuild) -> bool:
        return (self.mtime_ns, self.size) == (other.mtime_ns, other.size)


def published_build(warehouse: Path) -> PublishedBuild | None:
    """The live warehouse as it is now; None when there is none. Read it under the readers'
    lock to know the build a report reads (a build replaces the file only under that lock)."""
    try:
        stat = warehouse.stat()
    except FileNotFoundError:
        return None
    return PublishedBuild(stat.st_mtime_ns, stat.st_size, recorded_fingerprint(warehouse))


def built_by_current_code(paths: DataPaths) -> str | None:
    """The live warehouse's build fingerprint when the current code and reference data built
    it in full, else None: only then may a check keep the outcomes of unchanged cities."""
    recorded = recorded_fingerprint(paths.warehouse)
    if recorded is None or recorded != project_fingerprint(DBT_PROJECT_DIR, paths.reference):
        return None
    return recorded
