"""The quality gate blocks every path that renders a report, by itself: `hotline report`,
`hotline refresh`, the report sensor's runs, the yearly schedule's run and the report job as the
UI launches it, while an ERROR suite's latest result failed, never ran, or did not read the data
the live warehouse holds. A failing WARN suite never blocks.

The data are a clean demo, checked; each test then plants the state it needs in the recorded
results (`lake/quality/`), so that nothing but the gate stands between the data and the page."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from pipeline_helpers import run_hotline as hotline

from dagster_project.demo import generator
from dagster_project.quality import write_results
from dagster_project.quality.runner import SuiteOutcome
from dagster_project.quality.suites import load_suite
from dagster_project.quality.validate import ExpectationOutcome
from dagster_project.settings import DATA_ROOT_ENV, DataPaths
from dagster_project.warehouse.build_state import forget_data_version, recorded_data_version

YEAR = 2019
BLOCKED = "blocked by the quality gate"


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo root ingested, built and checked, every suite passing, no report yet."""
    root = tmp_path_factory.mktemp("gate") / "root"
    generator.generate_demo(root / "landing", total_tickets=2000)
    for command in ("ingest", "build"):
        result = hotline(root, command)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not (root / "site").exists()
    return root


@pytest.fixture
def root(checked: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(checked, copy, symlinks=True)
    return copy


def plant(root: Path, suite: str, severity: str, success: bool,
          checked_at: dt.datetime | None = None) -> None:
    """A recorded result of `suite`, by default newer than anything a run will record; of a
    suite of the warehouse, on the live warehouse's data."""
    when = checked_at or dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
    version = (recorded_data_version(DataPaths(root=root).warehouse)
               if load_suite(suite).reads_warehouse else None)
    outcome = SuiteOutcome(suite, "marts", severity, 10, [ExpectationOutcome(
        "expect_column_values_to_not_be_null", "ticket_id", success,
        unexpected_count=0 if success else 3)], data_version=version)
    write_results(outcome, root / "lake", f"planted-{suite}", when)


def page(root: Path) -> Path:
    return root / "site" / str(YEAR) / "index.html"


def test_hotline_report_refuses_while_an_error_suite_failed(root: Path) -> None:
    plant(root, "ticket_plausibility", "ERROR", success=False)
    result = hotline(root, "report", "--year", str(YEAR))
    assert result.returncode != 0
    assert BLOCKED in result.stderr and "ticket_plausibility failed" in result.stderr
    assert not page(root).exists()


def test_hotline_report_refuses_while_an_error_suite_never_ran(root: Path) -> None:
    shutil.rmtree(root / "lake" / "quality" / "suite=monitoring_coverage")
    result = hotline(root, "report", "--year", str(YEAR))
    assert result.returncode != 0
    assert "monitoring_coverage has never run" in result.stderr
    assert not page(root).exists()


def test_hotline_report_refuses_while_no_check_has_read_the_live_data(root: Path) -> None:
    # A build of other data was published, and its checks did not run (its process died).
    with duckdb.connect(str(DataPaths(root=root).warehouse)) as con:
        con.execute("UPDATE hotline_meta.build SET data_version = 'a build of other data'")
    result = hotline(root, "report", "--year", str(YEAR))
    assert result.returncode != 0
    assert "has not run since its data changed" in result.stderr
    assert not page(root).exists()


def test_a_build_of_the_same_data_after_the_checks_keeps_them_current(root: Path) -> None:
    # Another operator's run built the same lake with the same code after these checks ran:
    # the live file is newer than every result, its data the ones they read.
    warehouse = DataPaths(root=root).warehouse
    version = recorded_data_version(warehouse)
    assert version is not None
    rebuilt = warehouse.with_name("rebuilt.duckdb")
    shutil.copy(warehouse, rebuilt)
    later = dt.datetime.now().timestamp() + 3600
    os.utime(rebuilt, (later, later))
    os.replace(rebuilt, warehouse)
    result = hotline(root, "report", "--year", str(YEAR))
    assert result.returncode == 0, result.stderr[-2000:]
    assert page(root).exists()


def test_a_warehouse_of_unknown_data_is_judged_by_its_time(root: Path) -> None:
    # A partial build (a selection in the UI) leaves no data version: a result older than the
    # file is stale.
    warehouse = DataPaths(root=root).warehouse
    forget_data_version(warehouse)
    later = dt.datetime.now().timestamp() + 3600
    os.utime(warehouse, (later, later))
    result = hotline(root, "report", "--year", str(YEAR))
    assert result.returncode != 0
    assert "has not run since its data changed" in result.stderr
    assert not page(root).exists()


def test_a_failing_warn_suite_does_not_block(root: Path) -> None:
    plant(root, "city_year_drift", "WARN", success=False)
    result = hotline(root, "report", "--year", str(YEAR))
    assert result.returncode == 0, result.stderr[-2000:]
    assert page(root).exists()


def test_hotline_refresh_renders_no_report_while_the_gate_is_shut(root: Path) -> None:
    # Beijing exports its year again with one ticket's rating corrected: its rows load, the
    # refresh run builds and checks them, and the report of the year is due.
    export = root / "landing" / "beijing_12345" / f"工单导出_{YEAR}.csv"
    text = export.read_text(encoding="utf-8")
    export.write_text(text.replace(",满意\n", ",基本满意\n", 1), encoding="utf-8")
    # A suite of the lake, so that the refresh's own checks of the new data do not replace
    # the planted result.
    plant(root, "ticket_versions", "ERROR", success=False)
    result = hotline(root, "refresh")
    assert result.returncode != 0
    assert BLOCKED in result.stderr, result.stderr[-3000:]
    assert not page(root).exists()


@pytest.fixture
def instance(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    """The data root's own Dagster instance, as the daemon and the UI use it."""
    monkeypatch.setenv(DATA_ROOT_ENV, str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    with dg.DagsterInstance.get() as instance:
        yield instance


def run_requested(instance: dg.DagsterInstance, request: dg.RunRequest) -> set[str]:
    """Launch the report job as the daemon would for the request; the assets it materialised."""
    from dagster_project.local_runs import execute

    outcome = execute("report", instance=instance, partition_key=request.partition_key,
                      tags=dict(request.tags))
    assert not outcome.success
    assert any(BLOCKED in error for error in outcome.errors), outcome.errors
    return set(outcome.materialized)


def test_the_report_sensors_runs_are_refused(root: Path, instance: dg.DagsterInstance) -> None:
    from dagster_project.defs.sensors import report_sensor

    plant(root, "personal_data", "ERROR", success=False)
    result = report_sensor(dg.build_sensor_context(instance=instance))
    requests = result.run_requests or []
    assert {r.partition_key for r in requests} >= {str(YEAR)}  # no report yet: every year due
    for request in requests:
        assert "annual_report" not in run_requested(instance, request)
    assert not page(root).exists()


def test_the_yearly_schedules_run_is_refused(root: Path, instance: dg.DagsterInstance) -> None:
    from dagster_project.defs.schedules import yearly_report

    plant(root, "monitoring_coverage", "ERROR", success=False)
    due = dt.datetime(YEAR + 1, 3, 1, 9, 0, tzinfo=dt.UTC)
    request = yearly_report(dg.build_schedule_context(instance=instance,
                                                       scheduled_execution_time=due))
    assert isinstance(request, dg.RunRequest) and request.partition_key == str(YEAR)
    assert "annual_report" not in run_requested(instance, request)
    assert not page(root).exists()


def test_hotline_check_exits_non_zero_on_an_error_failure_only(root: Path) -> None:
    clean = hotline(root, "check")
    assert clean.returncode == 0, clean.stderr[-2000:]
    assert "FAILED" not in clean.stdout  # the clean demo passes every suite, WARN ones too
    with duckdb.connect(str(DataPaths(root=root).warehouse)) as con:
        con.execute("UPDATE kpi_city_year SET unmapped_category_count = ticket_count "
                    "WHERE city_code = '110000'")
    warned = hotline(root, "check")  # a WARN failure is reported; the exit status stays 0
    assert warned.returncode == 0, warned.stderr[-2000:]
    assert "category_coverage" in warned.stdout and "FAILED" in warned.stdout
    with duckdb.connect(str(DataPaths(root=root).warehouse)) as con:
        con.execute("UPDATE dim_city SET city_name = city_name || '（联系137 1234 0002）' "
                    "WHERE city_code = '110000'")
    leaked = hotline(root, "check")
    assert leaked.returncode == 1
    assert "1 ERROR suite(s) failed" in leaked.stderr
    assert "13712340002" not in leaked.stdout.replace(" ", "")  # examples are masked


def test_a_failed_build_leaves_the_live_warehouse_byte_identical(root: Path) -> None:
    warehouse = DataPaths(root=root).warehouse
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    # A city listed twice in the root's reference data: dim_city's unique test (error) fails.
    (root / "reference").mkdir(exist_ok=True)
    (root / "reference" / "cities.csv").write_text(
        "city_code,city_name,province,region,population_2019\n"
        "110000,北京,北京市,华北,21540000\n", encoding="utf-8")
    result = hotline(root, "build")
    assert result.returncode != 0
    assert "the warehouse is unchanged" in result.stderr
    # The failing dbt test, by name.
    assert ("Failing dbt tests: stg_reference__cities: unique_stg_reference__cities_city_code "
            "(fail, 1 failing row(s))") in " ".join(result.stderr.split())
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
