"""The engines that build the warehouse from the lake: DuckDB (the default, one file) and Apache
Spark (Parquet tables, docs/scale-out.md). One dbt project serves both; its dialect differences
are dispatched macros in dbt/macros/engines/.

On Spark, dbt cannot list files, so a build passes it the lake tables and reference files the
data root holds (`spark_file_vars`); DuckDB reads the Spark build's Parquet tables
(`spark_table_relation`)."""

from __future__ import annotations

import glob
import os
import re
import shutil
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from dagster_project.settings import PROJECT_ROOT, DataPaths
from dagster_project.warehouse.dbt_files import DBT_EXECUTABLE

ENGINE_ENV = "HOTLINE_ENGINE"
SPARK_WAREHOUSE_ENV = "HOTLINE_SPARK_WAREHOUSE"
# Spark's dbt runs in an environment of its own (make spark-env): with PySpark installed beside
# Great Expectations, its import of PySpark ends a Dagster step process (pyspark's check for
# doctests calls sys.exit when the main module has no file).
SPARK_DBT_ENV = "HOTLINE_SPARK_DBT"
# The output of dbt/profiles.yml a Spark build uses: the local session by default, or one a
# deployment adds (a Thrift Server: docs/scale-out.md).
SPARK_TARGET_ENV = "HOTLINE_SPARK_TARGET"
SPARK_VENV = PROJECT_ROOT / ".venv-spark"
# The schema (Spark database) of the spark target in dbt/profiles.yml.
SPARK_SCHEMA = "hotline"
LAKE_SOURCES_FILE = Path("models") / "staging" / "lake" / "_lake__sources.yml"


class Engine(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"

    @property
    def dbt_target(self) -> str:
        """The output of dbt/profiles.yml that builds on this engine."""
        if self is Engine.SPARK:
            return os.environ.get(SPARK_TARGET_ENV) or "spark"
        return "local"


def dbt_executable(engine: Engine) -> Path:
    """The dbt that builds on `engine`: this environment's for DuckDB; for Spark, that of
    .venv-spark (HOTLINE_SPARK_DBT elsewhere)."""
    if engine is Engine.DUCKDB:
        return DBT_EXECUTABLE
    configured = os.environ.get(SPARK_DBT_ENV)
    return Path(configured) if configured else SPARK_VENV / "bin" / "dbt"


def installed_versions(executable: Path, packages: tuple[str, ...]) -> dict[str, str]:
    """The versions of `packages` in the virtual environment of `executable` (a dbt in its
    bin/), read from the environment's package metadata without starting its Python; a
    package not found there is "unknown"."""
    found = {package: "unknown" for package in packages}
    for site in executable.resolve().parent.parent.glob("lib/python*/site-packages"):
        for package in packages:
            prefix = package.replace("-", "_") + "-"
            for info in site.glob(f"{prefix}*.dist-info"):
                found[package] = info.name[len(prefix):-len(".dist-info")]
    return found


class EngineSettingError(ValueError):
    """HOTLINE_ENGINE names no engine, or the engine cannot run here."""


def configured_engine() -> Engine:
    """The engine HOTLINE_ENGINE names (DuckDB when unset)."""
    value = os.environ.get(ENGINE_ENV, "").strip().lower() or Engine.DUCKDB.value
    try:
        return Engine(value)
    except ValueError:
        raise EngineSettingError(
            f"{ENGINE_ENV}={os.environ[ENGINE_ENV]!r} names no engine; set it to one of "
            f"{', '.join(e.value for e in Engine)} (or leave it unset for duckdb)") from None


def check_spark_can_run() -> None:
    """Spark needs Java and its dbt environment; say which is missing and how to get it."""
    if shutil.which("java") is None:
        raise EngineSettingError(
            "the Spark engine needs Java 17 or later, and `java` is not on PATH: install the "
            "Debian package openjdk-17-jre-headless (make test does) or set HOTLINE_ENGINE=duckdb")
    executable = dbt_executable(Engine.SPARK)
    if not executable.exists():
        raise EngineSettingError(
            f"the Spark engine's dbt is not at {executable}: create its environment with "
            f"`make spark-env` (or point {SPARK_DBT_ENV} at a dbt with dbt-spark)")


def spark_warehouse_dir(paths: DataPaths) -> Path:
    """Where a Spark build keeps its Parquet tables (tables/) and its catalog (metastore/), as
    dbt/profiles.yml reads it: HOTLINE_SPARK_WAREHOUSE, else warehouse/spark/ in the root."""
    configured = os.environ.get(SPARK_WAREHOUSE_ENV)
    return Path(configured) if configured else paths.root / "warehouse" / "spark"


def spark_table_dir(warehouse_dir: Path, table: str) -> Path:
    """The folder of one table of a Spark build (a managed table of the schema `hotline`)."""
    return warehouse_dir / "tables" / f"{SPARK_SCHEMA}.db" / table


def spark_table_relation(table_dir: Path) -> str:
    """DuckDB SQL reading a Spark table's Parquet files. A table partitioned by city keeps
    city_code in its folder names (city_code=110000/), read back as text."""
    pattern = str(table_dir / "**" / "*.parquet").replace("'", "''")
    return (f"read_parquet('{pattern}', hive_partitioning = true, "
            "hive_types_autocast = false)")


def lake_source_globs(paths: DataPaths, project_dir: Path) -> dict[str, str]:
    """Each lake table's file pattern, as dbt/models/staging/lake/_lake__sources.yml declares
    it (the glob of its read_parquet), for this data root."""
    declared = yaml.safe_load((project_dir / LAKE_SOURCES_FILE).read_text(encoding="utf-8"))
    (lake,) = (s for s in declared["sources"] if s["name"] == "lake")
    default = lake["meta"]["external_location"]
    globs: dict[str, str] = {}
    for table in lake["tables"]:
        location = re.sub(r"\{\{\s*env_var\('HOTLINE_DATA_ROOT'\)\s*\}\}",
                          lambda _: str(paths.root),
                          table.get("meta", {}).get("external_location", default))
        found = re.search(r"read_parquet\('([^']+)'", location)
        if found is None:
            raise ValueError(f"{project_dir / LAKE_SOURCES_FILE}: lake table {table['name']} "
                             "is not read with read_parquet('<glob>', ...)")
        globs[table["name"]] = found.group(1).replace("{name}", table["name"])
    return globs


def spark_file_vars(paths: DataPaths, project_dir: Path) -> dict[str, Any]:
    """The dbt vars a Spark build needs, as Spark SQL cannot list files: the lake tables that
    hold files (macro spark__lake_files_exist) and the data root's reference files (macro
    spark__reference_file_exists)."""
    with_files = sorted(
        name for name, pattern in lake_source_globs(paths, project_dir).items()
        if next(iter(glob.iglob(pattern, recursive=True)), None) is not None)
    reference = sorted(p.name for p in paths.reference.glob("*") if p.is_file()) \
        if paths.reference.is_dir() else []
    return {"lake_tables_with_files": with_files, "reference_files": reference}
