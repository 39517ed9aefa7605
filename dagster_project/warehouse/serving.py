"""What readers open after a build on Spark: a DuckDB file like the one a DuckDB build writes.

The quality suites, the report, `hotline sql` and analysts read one DuckDB file. When Spark
builds the warehouse, its tables (Parquet files under warehouse/spark/tables/) are copied into
warehouse.building.duckdb, dbt then creates the views there as it does on DuckDB (staging views
read the lake, fct_ticket_texts joins the facts to it), and the file is published as a DuckDB
build's is (`publish`). Readers so see every build whole, from either engine.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.warehouse.dbt_files import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    WAREHOUSE_PATH_VAR,
    dbt_environment,
    stored_nodes,
)
from dagster_project.warehouse.engines import Engine, spark_table_dir, spark_table_relation


class ServingCopyError(RuntimeError):
    """The Spark build's tables could not be copied into the serving file."""


def _declared_columns(node: dict[str, Any]) -> list[tuple[str, str]]:
    """The columns a model declares with their types (a contract), or a seed's column types."""
    declared = [(name, column.get("data_type")) for name, column in node["columns"].items()]
    if declared and all(data_type for _, data_type in declared):
        return [(name, str(data_type)) for name, data_type in declared]
    return [(name, str(data_type)) for name, data_type
            in node["config"].get("column_types", {}).items()]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_spark_tables(spark_warehouse: Path, building: Path, manifest: Path) -> dict[str, int]:
    """Copy every stored model and seed of the Spark build into `building` (a new DuckDB file),
    each table with the columns in the order the project declares them; rows copied by table.
    A table without files (Spark writes none for a partitioned table without rows) is created
    empty from its declared columns."""
    copied: dict[str, int] = {}
    # Row order carries no meaning (as in the dbt profile): DuckDB then writes in parallel.
    with duckdb.connect(str(building), config={"preserve_insertion_order": False}) as con:
        for node in stored_nodes(manifest):
            name = node.get("alias") or node["name"]
            table_dir = spark_table_dir(spark_warehouse, name)
            declared = _declared_columns(node)
            has_files = table_dir.is_dir() and any(table_dir.rglob("*.parquet"))
            if has_files:
                source = spark_table_relation(table_dir)
                present = con.sql(f"select * from {source}").columns
                order = [c for c, _ in declared if c in present]
                order += [c for c in present if c not in order]
                con.execute(f"create table {_quoted(name)} as select "
                            f"{', '.join(map(_quoted, order))} from {source}")
            elif declared:
                con.execute(f"create table {_quoted(name)} ("
                            + ", ".join(f"{_quoted(c)} {t}" for c, t in declared) + ")")
            else:
                raise ServingCopyError(
                    f"{table_dir}: the Spark build wrote no files for {name}, and the project "
                    "declares no column types to create it empty; rebuild with "
                    "`hotline build`")
            (rows,) = con.execute(f"select count(*) from {_quoted(name)}").fetchone() or (0,)
            copied[name] = int(rows)
        con.execute("checkpoint")
    return copied


def create_views(building: Path, target_path: Path, overrides: dict[str, Any] | None,
                 on_output: Callable[[str], None] | None = None) -> None:
    """dbt's views (staging, intermediate, fct_ticket_texts) in `building`, compiled for
    DuckDB: they read the lake and the copied tables as after a DuckDB build."""
    done = subprocess.run(
        [str(DBT_EXECUTABLE), "run", "--target", Engine.DUCKDB.dbt_target,
         "--select", "config.materialized:view", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target_path),
         "--vars", json.dumps({**(overrides or {}), WAREHOUSE_PATH_VAR: str(building)},
                              ensure_ascii=False)],
        env=dbt_environment(), capture_output=True, text=True, check=False,
        cwd=DBT_PROJECT_DIR)
    if on_output is not None:
        on_output(done.stdout[-2000:])
    if done.returncode != 0:
        raise ServingCopyError(f"the views of the serving warehouse {building} were not "
                               f"created (dbt run exited {done.returncode}):\n"
                               f"{done.stdout[-3000:]}")
