"""The same dbt project on DuckDB and on Apache Spark gives the same marts, row for row.

The demo's lake (the session's shared demo, built on DuckDB by `hotline demo`) is built once more
by `dbt build --target spark` on a local Spark session, its unit tests and data tests included,
into a warehouse folder of this module's own. Every mart table of the two builds is then
compared: the same columns, the same number of rows, and, rows sorted by their values, equal
values (NULLs equal; floats within 1e-9 relative)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.report.data import load_report
from dagster_project.report.marts import monitoring_years
from dagster_project.report.render import render_pages
from dagster_project.settings import DATA_ROOT_ENV, DataPaths
from dagster_project.warehouse.dbt_files import DBT_PROJECT_DIR, dbt_environment
from dagster_project.warehouse.engines import (
    SPARK_WAREHOUSE_ENV,
    Engine,
    check_spark_can_run,
    dbt_executable,
    spark_file_vars,
    spark_table_dir,
    spark_table_relation,
)
from dagster_project.warehouse.serving import copy_spark_tables, create_views

# Columns that differ by design: when the build ran, and on which engine.
BY_DESIGN_COLUMNS = {"built_at", "build_engine"}
RELATIVE_TOLERANCE = 1e-9
# Two floats both this close to zero are equal: a difference of two equal rates summed in
# another order is 1e-17 on one engine and 0 on the other.
ABSOLUTE_TOLERANCE = 1e-12


# The models incremental by city (dbt/macros/engines/incremental.sql).
INCREMENTAL = ("fct_tickets", "kpi_city_year", "category_city_year", "ticket_mix_city_year",
               "ticket_file_counts")


class SparkBuild:
    def __init__(self, warehouse: Path, target: Path) -> None:
        self.warehouse = warehouse
        self.target = target
        self.before_delivery: dict[str, dict[str, dict[str, int]]] = {}
        self.delivery_log = ""

    def results(self) -> list[dict[str, Any]]:
        run_results = json.loads((self.target / "run_results.json").read_text(encoding="utf-8"))
        results: list[dict[str, Any]] = run_results["results"]
        return results

    def manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads(
            (self.target / "manifest.json").read_text(encoding="utf-8"))
        return manifest


# The city whose lake file the first Spark build does not see: the second build, a delivery of
# that file, rebuilds its partitions alone.
DELIVERED_SOURCE = "beijing_12345"
DELIVERED_CITY = "110000"


def run_spark_dbt(root: DataPaths, build: SparkBuild, logs: Path, *args: str) -> str:
    done = subprocess.run(
        [str(dbt_executable(Engine.SPARK)), *args, "--target", Engine.SPARK.dbt_target,
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(build.target), "--log-path", str(logs),
         "--vars", json.dumps(spark_file_vars(root, DBT_PROJECT_DIR))],
        env={**dbt_environment(), DATA_ROOT_ENV: str(root.root),
             SPARK_WAREHOUSE_ENV: str(build.warehouse),
             # a few thousand rows per shuffle: two partitions are plenty
             "HOTLINE_SPARK_SHUFFLE_PARTITIONS": "2"},
        cwd=logs.parent, capture_output=True, text=True, timeout=1200, check=False)
    assert done.returncode == 0, f"dbt {args[0]} on Spark failed:\n{done.stdout[-6000:]}"
    return done.stdout


def partition_files(build: SparkBuild, table: str) -> dict[str, dict[str, int]]:
    """Each city partition of a Spark table: its Parquet files and their modification times."""
    return {folder.name.removeprefix("city_code="): {
                f.name: f.stat().st_mtime_ns for f in folder.glob("*.parquet")}
            for folder in spark_table_dir(build.warehouse, table).glob("city_code=*")}


@pytest.fixture(scope="module")
def spark_build(shared_demo: DataPaths, tmp_path_factory: pytest.TempPathFactory) -> SparkBuild:
    """The demo's lake built on Spark as a deployment builds it: first without one of
    Beijing's files (the incremental marts and what they read), then, that file delivered,
    every model, unit test and data test, incrementally. The result must equal DuckDB's build
    of the whole lake."""
    check_spark_can_run()  # Java and Spark's dbt, or an error saying what to install
    work = tmp_path_factory.mktemp("spark")
    build = SparkBuild(warehouse=work / "warehouse", target=work / "target")
    root = DataPaths(root=work / "root")
    shutil.copytree(shared_demo.lake, root.lake)
    if shared_demo.reference.is_dir():
        shutil.copytree(shared_demo.reference, root.reference)
    delivered = min((root.lake / "raw" / "tickets" / f"source={DELIVERED_SOURCE}").glob(
        "*.parquet"))
    held_back = work / delivered.name
    delivered.rename(held_back)
    # What the delivery's build reads of the previous one: the incremental marts (and what
    # they are built from); the delivery's build makes every other model anew.
    run_spark_dbt(root, build, work / "logs", "build", "--resource-type", "seed",
                  "--resource-type", "model", "--select", *(f"+{t}" for t in INCREMENTAL))
    build.before_delivery = {table: partition_files(build, table) for table in INCREMENTAL}
    held_back.rename(delivered)
    build.delivery_log = run_spark_dbt(root, build, work / "logs", "build")
    return build


def mart_tables(manifest: dict[str, Any]) -> list[str]:
    """The models under models/marts that are stored as tables (the views are SQL over them)."""
    return sorted(
        node["name"] for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
        and node["config"]["materialized"] in ("table", "incremental"))


def test_spark_build_ran_every_unit_test_and_data_test(spark_build: SparkBuild) -> None:
    manifest = spark_build.manifest()
    results = {r["unique_id"]: r["status"] for r in spark_build.results()}
    declared_tests = {uid for uid, node in manifest["nodes"].items()
                      if node["resource_type"] == "test"}
    declared_unit_tests = set(manifest["unit_tests"])
    assert len(declared_unit_tests) >= 20 and len(declared_tests) >= 100
    assert declared_unit_tests | declared_tests <= set(results)
    assert {results[uid] for uid in declared_unit_tests | declared_tests} == {"pass"}


def test_a_delivery_on_spark_overwrites_its_citys_partitions_alone(
        spark_build: SparkBuild) -> None:
    for table in INCREMENTAL:
        assert f"{table}: rebuilding 1 city: {DELIVERED_CITY}" in spark_build.delivery_log
        before, after = spark_build.before_delivery[table], partition_files(spark_build, table)
        assert before.keys() == after.keys() and len(after) >= 10, table
        for city, files in after.items():
            if city == DELIVERED_CITY:
                assert files and not files.keys() & before[city].keys(), table
            else:
                assert files == before[city], (table, city)


def ordered_rows(connection: duckdb.DuckDBPyConnection, relation: str,
                 columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows of `relation`, `columns` in this order, sorted by their values: NULLs first,
    floats after every other column (so that a last-digit difference does not reorder rows)."""
    selected = ", ".join(f'"{column}"' for column in columns)
    rows = connection.sql(f"select {selected} from {relation}").fetchall()

    def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
        exact = [(v is not None, v) for v in row if not isinstance(v, float)]
        floats = [(v is not None and not math.isnan(v), v if v == v else 0.0)
                  for v in row if isinstance(v, float)]
        return (*exact, *floats)

    return sorted(rows, key=key)


def values_equal(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, float) or isinstance(right, float):
        return math.isclose(float(left), float(right), rel_tol=RELATIVE_TOLERANCE,
                            abs_tol=ABSOLUTE_TOLERANCE)
    return bool(left == right)


def differences(mart: str, columns: Sequence[str], duck: list[tuple[Any, ...]],
                spark: list[tuple[Any, ...]], shown: int = 5) -> list[str]:
    """What differs between the two engines' rows of a mart, at most `shown` cells."""
    if len(duck) != len(spark):
        return [f"{mart}: {len(duck)} rows on DuckDB, {len(spark)} on Spark"]
    found = []
    for duck_row, spark_row in zip(duck, spark, strict=True):
        for column, left, right in zip(columns, duck_row, spark_row, strict=True):
            if not values_equal(left, right):
                found.append(f"{mart}.{column}: DuckDB {left!r}, Spark {right!r} in the row "
                             f"{dict(zip(columns, duck_row, strict=True))}")
                if len(found) == shown:
                    return found
    return found


def test_every_mart_is_equal_on_both_engines(shared_demo: DataPaths,
                                             spark_build: SparkBuild) -> None:
    marts = mart_tables(spark_build.manifest())
    assert len(marts) >= 20, marts
    found: list[str] = []
    compared_rows = 0
    with duckdb.connect(str(shared_demo.warehouse), read_only=True) as connection:
        for mart in marts:
            spark_relation = spark_table_relation(spark_table_dir(spark_build.warehouse, mart))
            duck_columns = [c for c in connection.table(mart).columns
                            if c not in BY_DESIGN_COLUMNS]
            spark_columns = [c for c in connection.sql(f"select * from {spark_relation}").columns
                             if c not in BY_DESIGN_COLUMNS]
            if sorted(duck_columns) != sorted(spark_columns):
                found.append(f"{mart}: columns {duck_columns} on DuckDB, {spark_columns} on Spark")
                continue
            duck = ordered_rows(connection, mart, duck_columns)
            spark = ordered_rows(connection, spark_relation, duck_columns)
            found += differences(mart, duck_columns, duck, spark)
            compared_rows += len(duck)
    assert not found, "\n".join(found)
    # The demo's tickets alone are over 100 000 rows: the comparison read the marts, not nothing.
    assert compared_rows > 100_000


def test_the_comparison_finds_a_changed_value_a_missing_row_and_a_float_beyond_tolerance(
) -> None:
    columns = ["city_code", "ticket_count", "share"]
    rows = [("110000", 3, 0.25), ("310000", None, None)]
    assert differences("m", columns, rows, list(rows)) == []
    assert differences("m", columns, [("110000", 3, 0.0)], [("110000", 3, 1e-13)]) == []
    assert differences("m", columns, rows, [rows[0], ("310000", None, 1e-13)])
    assert differences("m", columns, rows, [("110000", 4, 0.25), rows[1]])
    assert differences("m", columns, rows, rows[:1])
    assert differences("m", columns, rows, [("110000", 3, 0.25 * (1 + 1e-8)), rows[1]])
    assert differences("m", columns, rows, [("110000", 3, 0.25), ("310000", 0, None)])
    assert not differences("m", columns, rows, [("110000", 3, 0.25 * (1 + 1e-10)), rows[1]])


def test_the_report_of_a_spark_build_is_the_duckdb_builds_but_for_the_engine(
        shared_demo: DataPaths, spark_build: SparkBuild, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What `hotline build` does after a Spark build: the tables copied into a DuckDB file and
    dbt's views created there. The report read from that file is the DuckDB build's, page for
    page, apart from the engine its footer names."""
    monkeypatch.setenv(DATA_ROOT_ENV, str(shared_demo.root))
    serving = tmp_path / "warehouse.duckdb"
    copied = copy_spark_tables(spark_build.warehouse, serving, spark_build.target / "manifest.json")
    assert copied["fct_tickets"] > 100_000
    create_views(serving, tmp_path / "target", None)

    with duckdb.connect(str(serving), read_only=True) as spark_con, \
            duckdb.connect(str(shared_demo.warehouse), read_only=True) as duck_con:
        def relations(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
            return set(con.sql("select table_name, table_type from information_schema.tables "
                               "where table_schema = 'main'").fetchall())
        assert relations(spark_con) == relations(duck_con)
        texts = "select count(*), count(content) from fct_ticket_texts"
        assert spark_con.sql(texts).fetchall() == duck_con.sql(texts).fetchall()

    years = monitoring_years(shared_demo.warehouse)
    assert years and monitoring_years(serving) == years
    for year in years:
        duck_pages = render_pages(load_report(shared_demo.warehouse, year, shared_demo.lake), "T")
        spark_pages = render_pages(load_report(serving, year, shared_demo.lake), "T")
        assert spark_pages.keys() == duck_pages.keys()
        for page, html in duck_pages.items():
            on_spark = spark_pages[page]
            assert "计算引擎 DuckDB" in html and "计算引擎 Apache Spark" in on_spark
            assert on_spark.replace("计算引擎 Apache Spark", "计算引擎 DuckDB") == html, page
