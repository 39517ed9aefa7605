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

from dagster_project.settings import DataPaths

ENGINE_ENV = "HOTLINE_ENGINE"
SPARK_WAREHOUSE_ENV = "HOTLINE_SPARK_WAREHOUSE"
# The schema (Spark database) of the spark target in dbt/profiles.yml.
SPARK_SCHEMA = "hotline"
LAKE_SOURCES_FILE = Path("models") / "staging" / "lake" / "_lake__sources.yml"


class Engine(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"

    @property
    def dbt_target(self) -> str:
        """The output of dbt/profiles.yml that builds on this engine."""
        return {Engine.DUCKDB: "local", Engine.SPARK: "spark"}[self]


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
    """Spark needs Java and the project's Spark extra; say which is missing and how to get it."""
    if shutil.which("java") is None:
        raise EngineSettingError(
            "the Spark engine needs Java 17 or later, and `java` is not on PATH: install the "
            "Debian package openjdk-17-jre-headless (make test does) or set HOTLINE_ENGINE=duckdb")
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise EngineSettingError(
            f"the Spark engine needs the project's Spark extra ({exc.name} is missing): "
            "install it with `.venv/bin/pip install -r requirements-spark.lock`") from exc


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
