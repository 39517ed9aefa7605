"""The engine setting: a clear error for a wrong HOTLINE_ENGINE or a missing Spark environment,
and the files a Spark build is told about (Spark SQL cannot list them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import run_cli

from dagster_project.settings import DataPaths
from dagster_project.warehouse.dbt_files import DBT_PROJECT_DIR
from dagster_project.warehouse.engines import (
    ENGINE_ENV,
    SPARK_DBT_ENV,
    Engine,
    EngineSettingError,
    check_spark_can_run,
    configured_engine,
    spark_file_vars,
)


def test_the_engine_is_duckdb_unless_set_and_a_misspelt_one_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    assert configured_engine() is Engine.DUCKDB
    monkeypatch.setenv(ENGINE_ENV, " Spark ")
    assert configured_engine() is Engine.SPARK
    monkeypatch.setenv(ENGINE_ENV, "sparc")
    with pytest.raises(EngineSettingError, match=r"'sparc' names no engine.*duckdb, spark"):
        configured_engine()


def test_hotline_build_says_what_is_wrong_with_the_engine_in_one_line(
        data_root: DataPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(data_root.root / "dagster_home"))
    monkeypatch.setenv(ENGINE_ENV, "sparc")
    code, _, err = run_cli("build")
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "HOTLINE_ENGINE='sparc' names no engine" in last
    assert "Traceback" not in err and "unexpected" not in err


def test_a_missing_spark_environment_names_the_make_target(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPARK_DBT_ENV, str(tmp_path / "no-such-venv" / "bin" / "dbt"))
    with pytest.raises(EngineSettingError, match="make spark-env"):
        check_spark_can_run()


def test_a_spark_build_is_told_the_lake_tables_with_files_and_the_reference_files(
        tmp_path: Path) -> None:
    paths = DataPaths(root=tmp_path)
    empty = spark_file_vars(paths, DBT_PROJECT_DIR)
    assert empty == {"lake_tables_with_files": [], "reference_files": []}

    tickets = paths.lake / "raw" / "tickets" / "source=a"
    (tickets / "superseded").mkdir(parents=True)
    (tickets / "superseded" / "old.parquet").write_bytes(b"")
    (paths.lake / "manifest" / "source=a").mkdir(parents=True)
    (paths.lake / "manifest" / "source=a" / "f.parquet").write_bytes(b"")
    (paths.lake / "raw" / "test_calls" / "source=e").mkdir(parents=True)  # a folder, no file
    paths.reference.mkdir()
    (paths.reference / "cities.csv").write_text("city_code\n", encoding="utf-8")
    found = spark_file_vars(paths, DBT_PROJECT_DIR)
    # Only superseded files: the current tickets have none, every version of them has one.
    assert found == {"lake_tables_with_files": ["manifest", "ticket_versions"],
                     "reference_files": ["cities.csv"]}
    json.dumps(found)  # passed to dbt as --vars
