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


def recorded_fingerprint(warehouse: Path) -> str | None:
    """The fingerprint the live warehouse was built with; None when there is no warehouse, it
    predates fingerprints, or it cannot be opened (a process outside the project holds it
    read-write): the build then starts from an empty file, which needs no reading of it."""
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
        row = con.execute(f"SELECT fingerprint FROM {TABLE}").fetchone()
    return str(row[0]) if row else None


def record_fingerprint(building: Path, fingerprint: str) -> None:
    """Write the fingerprint into a finished build, before it is published."""
    with duckdb.connect(str(building)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} (fingerprint VARCHAR NOT NULL, "
                    "built_at_utc TIMESTAMP NOT NULL)")
        con.execute(f"INSERT INTO {TABLE} VALUES (?, ?)",
                    [fingerprint, dt.datetime.now(dt.UTC).replace(tzinfo=None)])


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
