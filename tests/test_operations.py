"""Operations: partitions, schedules, the landing and report sensors, one writer of the warehouse,
and the CLI commands that run the pipeline, on a small generated data root."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from cli_runner import run_cli
from pipeline_helpers import (
    hotline_env,
    lake_counts,
    start_hotline,
    wait_for,
    warehouse_counts,
    without_generation_time,
    write_big_export,
)

from dagster_project.defs.partitions import REPORT_YEARS_NAME
from dagster_project.demo.generator import generate_demo
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.pipeline import ingest_source
from dagster_project.ingest.pseudonymise import DEMO_KEY, DEMO_MARKER, KEY_ENV
from dagster_project.locks import (
    WarehouseLockTimeout,
    warehouse_publish_lock,
    warehouse_read_lock,
    warehouse_write_lock,
)
from dagster_project.settings import DATA_ROOT_ENV, SOURCES_DIR_ENV, DataPaths, sources_dir
from dagster_project.sources import load_source_config, source_ids

TICKETS = 3000


@contextlib.contextmanager
def data_root_env(root: Path) -> Iterator[DataPaths]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_ROOT_ENV, str(root))
        patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        yield DataPaths(root=root)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPaths]:
    """`hotline demo` on a small dataset: landing, lake, warehouse, reports, run history."""
    root = tmp_path_factory.mktemp("operations")
    with data_root_env(root) as paths:
        code, out, err = run_cli("demo", "--tickets", str(TICKETS), "--seed", "5")
        assert code == 0, err
        assert f"report: {paths.site / '2019' / 'index.html'}" in out
        yield paths


@pytest.fixture
def at_built(built: DataPaths) -> Iterator[DataPaths]:
    with data_root_env(built.root) as paths:
        yield paths


# ---------------------------------------------------------------------------------------------
# The code location
# ---------------------------------------------------------------------------------------------
def test_groups_partitions_and_descriptions() -> None:
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    nodes = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    assert {n.group_name for n in nodes.values()} == {"ingest", "warehouse", "text", "quality",
                                                        "report"}
    assert all(n.description for n in nodes.values()), [k for k, n in nodes.items()
                                                        if not n.description]
    lake = nodes["lake/tickets"]
    assert lake.partitions_def.get_partition_keys() == source_ids(sources_dir())
    assert lake.backfill_policy == dg.BackfillPolicy.single_run()
    for name in ("fct_tickets", "stg_lake__tickets", "quality_gate"):
        assert nodes[name].partitions_def is None
    assert nodes["fct_tickets"].backfill_policy == dg.BackfillPolicy.single_run()
    assert nodes["fct_tickets"].pools == {"duckdb_writer"}
    report = nodes["annual_report"]
    assert isinstance(report.partitions_def, dg.DynamicPartitionsDefinition)
    assert report.partitions_def.name == REPORT_YEARS_NAME
    assert {"refresh", "ingest", "build", "report"} <= {j.name for j in defs.jobs or []}
    assert {s.name for s in defs.sensors or []} == {"landing_sensor", "report_sensor"}
    assert {s.name for s in defs.schedules or []} == {"daily_refresh", "yearly_report"}


def test_new_source_yaml_becomes_a_partition(tmp_path: Path) -> None:
    (tmp_path / "nanjing_12345.yaml").write_text("source_id: nanjing_12345\n")
    (tmp_path / "notes.txt").write_text("not a source")
    assert source_ids(tmp_path) == ["nanjing_12345"]


def test_an_ingestion_worker_does_not_import_dagster() -> None:
    """Each ingestion worker is a process of its own: it imports what ingestion needs only."""
    code = (
        "import sys\n"
        "import dagster_project.ingest.runner\n"
        "assert 'dagster' not in sys.modules, 'an ingestion worker imports Dagster'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------
def test_daily_refresh_requests_every_source_in_one_run() -> None:
    from dagster_project.defs.schedules import daily_refresh

    keys = source_ids(sources_dir())
    when = dt.datetime(2020, 5, 6, 2, 0, tzinfo=dt.UTC)
    with dg.instance_for_test() as instance:
        request = daily_refresh(dg.build_schedule_context(instance, when))
    assert isinstance(request, dg.RunRequest)
    assert request.tags["dagster/asset_partition_range_start"] == keys[0]
    assert request.tags["dagster/asset_partition_range_end"] == keys[-1]
    assert request.run_key == "daily-refresh-2020-05-06"


def test_yearly_report_renders_the_previous_year() -> None:
    from dagster_project.defs.schedules import yearly_report

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(REPORT_YEARS_NAME, ["2018", "2019"])
        due = dt.datetime(2020, 3, 1, 9, 0, tzinfo=dt.UTC)
        request = yearly_report(dg.build_schedule_context(instance, due))
        assert isinstance(request, dg.RunRequest)
        assert request.partition_key == "2019"
        skipped = yearly_report(dg.build_schedule_context(instance, due.replace(year=2022)))
        assert isinstance(skipped, dg.SkipReason)
        assert "2021" in (skipped.skip_message or "")


def test_schedule_settings_come_from_the_environment() -> None:
    from dagster_project.settings import ScheduleConfigError, schedule_settings

    settings = schedule_settings({"HOTLINE_REPORT_DUE": "01-15 08:30",
                                  "HOTLINE_REFRESH_CRON": "30 1 * * *"})
    assert settings.report_cron == "30 8 15 1 *"
    assert settings.refresh_cron == "30 1 * * *"
    assert schedule_settings({}).report_cron == "0 9 1 3 *"
    for bad in ({"HOTLINE_REPORT_DUE": "02-29"}, {"HOTLINE_REPORT_DUE": "March"},
                {"HOTLINE_REFRESH_CRON": "daily"}, {"HOTLINE_TIMEZONE": "Mars/Olympus"}):
        with pytest.raises(ScheduleConfigError):
            schedule_settings(bad)


# ---------------------------------------------------------------------------------------------
# The landing sensor
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataPaths:
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    paths = DataPaths(root=tmp_path)
    generate_demo(paths.landing, seed=3, total_tickets=600)
    return paths


def evaluate(cursor: str | None = None) -> dg.SensorResult:
    from dagster_project.defs.sensors import landing_sensor

    with dg.instance_for_test() as instance:
        result = landing_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, dg.SensorResult)
    return result


def requested(result: dg.SensorResult) -> dict[str, dg.RunRequest]:
    return {r.partition_key: r for r in result.run_requests or []}  # type: ignore[misc]


def test_sensor_requests_one_run_per_source_with_new_files(landing: DataPaths) -> None:
    result = evaluate()
    runs = requested(result)
    assert sorted(runs) == sorted(p.name for p in landing.landing.iterdir())
    request = runs["beijing_12345"]
    assert request.tags["hotline/trigger"] == "landing_sensor"
    assert "beijing_12345/工单导出_2019.csv" in request.tags["hotline/files"]
    # The second evaluation sees the same files with the same size and mtime: nothing.
    again = evaluate(result.cursor)
    assert again.run_requests == []
    assert again.cursor == result.cursor


def test_sensor_skips_files_already_in_the_lake(landing: DataPaths) -> None:
    config = load_source_config(sources_dir() / "beijing_12345.yaml")
    ingest_source(config, landing.landing, Lake(landing.lake), DEMO_KEY.encode())
    runs = requested(evaluate())  # no cursor: the manifest alone says what is done
    assert "beijing_12345" not in runs
    assert "shanghai_12345" in runs


def test_sensor_requests_a_changed_or_new_file_and_nothing_for_a_touched_one(
    landing: DataPaths,
) -> None:
    cursor = evaluate().cursor
    folder = landing.landing / "haikou_12345"
    export = next(folder.glob("*2019*.csv"))
    # Touched: a new mtime, the same content.
    stat = export.stat()
    os.utime(export, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    touched = evaluate(cursor)
    assert touched.run_requests == []
    assert touched.cursor != cursor  # the new mtime is remembered: not hashed again
    # Changed: a corrected re-export of the same file.
    export.write_bytes(export.read_bytes().replace(b"\n", b"\r\n"))
    changed = evaluate(touched.cursor)
    assert list(requested(changed)) == ["haikou_12345"]
    # New: another file of another source.
    shutil.copy(next((landing.landing / "yibin_12345").glob("*2019*")),
                landing.landing / "yibin_12345" / "宜宾12345_工单_2019_补充.csv")
    new = evaluate(changed.cursor)
    assert list(requested(new)) == ["yibin_12345"]
    assert "补充" in requested(new)["yibin_12345"].tags["hotline/files"]
    # The same changed content seen again requests the same run key (deduplicated by Dagster).
    assert requested(evaluate(touched.cursor))["haikou_12345"].run_key == \
        requested(changed)["haikou_12345"].run_key


# ---------------------------------------------------------------------------------------------
# The report sensor, on the runs `hotline demo` recorded
# ---------------------------------------------------------------------------------------------
def report_sensor_requests(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    from dagster_project.defs.sensors import report_sensor

    result = report_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or [])


def test_report_sensor_knows_the_years_a_refresh_loaded(at_built: DataPaths) -> None:
    from dagster_project.defs.sensors import report_years_of_run

    with dg.DagsterInstance.get() as instance:
        [refresh] = instance.get_runs(filters=dg.RunsFilter(job_name="refresh"))
        assert refresh.status == dg.DagsterRunStatus.SUCCESS
        assert report_years_of_run(instance, refresh.run_id) == ([2018, 2019], True)
        # `hotline demo` rendered both years from the warehouse it built: nothing to do.
        assert report_sensor_requests(instance) == []


def test_cli_ingest_with_nothing_new_and_no_report_after_it(at_built: DataPaths) -> None:
    from dagster_project.defs.sensors import report_years_of_run

    code, out, err = run_cli("ingest")
    assert code == 0, err
    assert "unchanged" in out and "loaded" not in out
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(filters=dg.RunsFilter(job_name="ingest"), limit=1)[0]
        assert report_years_of_run(instance, run.run_id) == ([], False)
        assert report_sensor_requests(instance) == []


# ---------------------------------------------------------------------------------------------
# The CLI on the built data root
# ---------------------------------------------------------------------------------------------
def test_cli_demo_recorded_partitioned_runs_with_metadata(at_built: DataPaths) -> None:
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions(REPORT_YEARS_NAME) == ["2018", "2019"]
        [record] = instance.fetch_materializations(dg.AssetRecordsFilter(  # the demo's first run
            asset_key=dg.AssetKey(["lake", "manifest"]), asset_partitions=["evaluator_d3"]),
            limit=1, ascending=True).records
        metadata = record.asset_materialization.metadata  # type: ignore[union-attr]
        rows = {r.data["file"]: r.data for r in metadata["files"].value.records}
        for row in rows.values():
            assert row["rows_read"] == row["rows_written"] + row["rows_rejected"]
        assert metadata["report_years"].value == [2018, 2019]
        fct = instance.get_latest_materialization_event(dg.AssetKey(["fct_tickets"]))
        counted = fct.asset_materialization.metadata["dagster/row_count"].value  # type: ignore[union-attr]
    with duckdb.connect(str(at_built.warehouse), read_only=True) as con:
        assert counted == con.sql("SELECT count(*) FROM fct_tickets").fetchone()[0]  # type: ignore[index]


def test_cli_status_shows_sources_warehouse_checks_and_runs(at_built: DataPaths) -> None:
    code, out, err = run_cli("status")
    assert code == 0, err
    for text in ("beijing_12345", "warehouse", "monitoring_coverage", "passed",
                 "last runs", "refresh", "report", "SUCCESS", "2019"):
        assert text in out, text


def test_status_compares_contents_not_times(
    data_root: DataPaths, sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file delivered again unchanged (a newer mtime) is loaded, not waiting; a changed one
    waits; a file whose stat ingestion remembered is not read again."""
    from dagster_project import status
    from dagster_project.ingest import lake as lake_module

    (sources_dir / "nanjing_12345.yaml").write_text(
        "source_id: nanjing_12345\nname: 南京12345\nentity: tickets\ncity_code: '320100'\n"
        "format: csv\nlayout: standard\n", encoding="utf-8")
    folder = data_root.landing / "nanjing_12345"
    folder.mkdir(parents=True)
    header = "工单编号,受理时间,工单状态\n"
    first, second = folder / "a.csv", folder / "b.csv"
    first.write_text(header + "NJ1,2019-07-01 09:00:00,已办结\n", encoding="utf-8")
    second.write_text(header + "NJ2,2019-07-02 09:00:00,已办结\n", encoding="utf-8")
    now = lake_module.time.time_ns  # files written now would look unsettled: remembered later
    monkeypatch.setattr(lake_module.time, "time_ns", lambda: now() + 10 * 10**9)
    config = load_source_config(sources_dir / "nanjing_12345.yaml")
    ingest_source(config, data_root.landing, Lake(data_root.lake), b"k")
    hashed: list[str] = []
    file_sha256 = status.file_sha256

    def recording(path: Path) -> str:
        hashed.append(path.name)
        return file_sha256(path)

    monkeypatch.setattr(status, "file_sha256", recording)

    def counts() -> tuple[int, int, int]:
        [state] = status.source_states(data_root)
        return state.loaded, state.failed, state.waiting

    assert counts() == (2, 0, 0)
    assert hashed == []
    later = time.time() + 3600
    os.utime(first, (later, later))  # delivered again, the same bytes
    assert counts() == (2, 0, 0)
    assert hashed == ["a.csv"]
    second.write_text(header + "NJ2,2019-07-02 09:00:00,处理中\n", encoding="utf-8")
    assert counts() == (1, 0, 1)


def test_cli_report_and_check(at_built: DataPaths) -> None:
    report = at_built.site / "2019" / "index.html"
    stamp = report.stat().st_mtime_ns
    code, out, err = run_cli("report", "--year", "2019")
    assert code == 0, err
    assert str(report) in out
    assert report.stat().st_mtime_ns > stamp
    code, out, err = run_cli("report", "--year", "2015")
    assert code == 1
    assert "no data for 2015" in err and "Traceback" not in err
    code, out, err = run_cli("check")
    assert code == 0, err
    assert "personal_data" in out


def test_cli_refresh_ingests_builds_and_reports_the_years_it_loaded(
    built: DataPaths, tmp_path: Path
) -> None:
    """`hotline refresh` does what the sensors do after a delivery: one refresh run, then a
    report run for each monitoring year whose rows that run loaded."""
    shutil.copytree(built.root, tmp_path / "root")
    with data_root_env(tmp_path / "root") as paths:
        # Beijing re-exports its 2019 file with one ticket's title corrected. Every receipt
        # time in it is of 2019, so that year's report alone is rendered again.
        [exported] = (paths.landing / "beijing_12345").glob("*2019*.csv")
        with exported.open(encoding="utf-8", newline="") as handle:
            header, *rows = list(csv.reader(handle))
        assert {row[header.index("受理时间")][:4] for row in rows} == {"2019"}
        ids = Counter(row[0] for row in rows)
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            in_facts = {t for (t,) in con.execute(
                "SELECT ticket_id FROM fct_tickets WHERE city_code = '110000'").fetchall()}
        corrected = next(row for row in rows if ids[row[0]] == 1 and row[0] in in_facts)
        corrected[header.index("诉求标题")] = "更正后的标题"
        with exported.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows([header, *rows])
        with dg.DagsterInstance.get() as instance:
            runs_before = {r.run_id for r in instance.get_runs()}

        code, out, err = run_cli("refresh")
        assert code == 0, err
        assert f"report 2019: {paths.site / '2019' / 'index.html'}" in out
        assert "report 2018" not in out
        with dg.DagsterInstance.get() as instance:
            new_runs = [r for r in instance.get_runs() if r.run_id not in runs_before]
        assert [(r.job_name, r.tags.get("dagster/partition"), r.status) for r in new_runs] == [
            ("report", "2019", dg.DagsterRunStatus.SUCCESS),
            ("refresh", None, dg.DagsterRunStatus.SUCCESS),
        ]
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            assert con.execute("SELECT ticket_id FROM fct_ticket_texts WHERE title = '更正后的标题'"
                               ).fetchall() == [(corrected[0],)]


# ---------------------------------------------------------------------------------------------
# One writer
# ---------------------------------------------------------------------------------------------
def test_builds_exclude_each_other_and_readers_only_wait_for_publication(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    events: list[str] = []
    with warehouse_write_lock(warehouse):
        # A build in progress does not keep readers out: they read the previous build.
        with warehouse_read_lock(warehouse, timeout=0.3):
            pass

        def writer() -> None:
            with warehouse_write_lock(warehouse, on_wait=events.append):
                events.append("second writer in")

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.5)
        assert events and events[0].startswith("waiting for the warehouse")
        assert "second writer in" not in events
    thread.join(5)
    assert events[-1] == "second writer in"
    with warehouse_read_lock(warehouse, timeout=0.3), warehouse_read_lock(warehouse, timeout=0.3):
        pass  # readers share
    # Replacing the live file waits for the readers, and readers wait for it.
    with (warehouse_publish_lock(warehouse),
          pytest.raises(WarehouseLockTimeout, match=f"pid {os.getpid()}"),
          warehouse_read_lock(warehouse, timeout=0.3)):
        pass
    with (warehouse_read_lock(warehouse), pytest.raises(WarehouseLockTimeout),
          warehouse_publish_lock(warehouse, timeout=0.3)):
        pass


def dbt_windows(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    """When the run's dbt process ran, from its own log messages."""
    times = {}
    for entry in instance.all_logs(run_id):
        for word in ("Running dbt command", "Finished dbt command"):
            if entry.user_message.startswith(word):
                times[word] = entry.timestamp
    return times["Running dbt command"], times["Finished dbt command"]


def test_two_full_pipeline_runs_at_once_both_succeed_and_agree(
    built: DataPaths, tmp_path: Path
) -> None:
    """Two operators run ingest, build and report on the same data root at the same time:
    both succeed, no lock error reaches them, each file is ingested once, the dbt builds take
    turns, and the warehouse and report equal a single run's."""
    root = tmp_path / "data"
    shutil.copytree(built.landing, root / "landing")
    shutil.copy(built.root / DEMO_MARKER, root / DEMO_MARKER)  # the demo data's marker too
    env = hotline_env(root)
    chain = " && ".join(f"{sys.executable} -m dagster_project.cli {command}" for command in
                        ("ingest", "build", "report --year 2019"))
    runs = [subprocess.Popen(["sh", "-c", chain], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [r.communicate(timeout=900) for r in runs]
    for run, (out, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, err[-2000:]
        # DuckDB's words when two processes open one file for writing.
        assert "Could not set lock" not in out + err and "Conflicting lock" not in out + err
        assert "built and checked in run" in out
    landing_files = [p for p in (root / "landing").rglob("*") if p.is_file()]
    assert len(list((root / "lake" / "manifest").glob("*/*.parquet"))) == len(landing_files)
    with data_root_env(root), dg.DagsterInstance.get() as instance:
        builds = instance.get_runs(filters=dg.RunsFilter(job_name="build"))
        assert len(builds) == 2 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in builds)
        first, second = sorted(dbt_windows(instance, r.run_id) for r in builds)
        assert first[1] <= second[0], "the two dbt builds overlapped"
    assert warehouse_counts(root / "warehouse" / "warehouse.duckdb") == lake_counts(root)
    assert warehouse_counts(root / "warehouse" / "warehouse.duckdb") == warehouse_counts(
        built.warehouse)
    # The pages agree but for the notice of the PDF, which says whether this root published.
    report = (root / "site" / "2019" / "index.html").read_text(encoding="utf-8")
    single = (built.site / "2019" / "index.html").read_text(encoding="utf-8")
    assert "PDF 版尚未发布" in PDF_NOTICE.search(report).group(0)  # type: ignore[union-attr]
    assert without_generation_time(PDF_NOTICE.sub("", report)) == (
        without_generation_time(PDF_NOTICE.sub("", single)))


PDF_NOTICE = re.compile(r'<p class="note pdf-download".*?</p>', re.S)


BIG_ROWS = 600_000
TIANJIN = """source_id: tianjin_12345
name: 天津12345
entity: tickets
city_code: "120000"
format: csv
layout: standard
"""


def test_report_renders_the_same_while_a_new_source_is_ingested(
    built: DataPaths, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    shutil.copytree(built.root, root)
    sources = tmp_path / "sources"
    shutil.copytree(sources_dir(), sources)
    (sources / "tianjin_12345.yaml").write_text(TIANJIN, encoding="utf-8")
    write_big_export(root / "landing" / "tianjin_12345", BIG_ROWS)
    report = root / "site" / "2019" / "index.html"
    with data_root_env(root):
        code, _, err = run_cli("report", "--year", "2019")  # alone
        assert code == 0, err
        alone = without_generation_time(report.read_text(encoding="utf-8"))
        log = tmp_path / "ingest.log"
        # Not demo data: the source needs a key of its own.
        ingest = start_hotline(root, "ingest", "--source", "tianjin_12345", log=log,
                               **{SOURCES_DIR_ENV: str(sources), KEY_ENV: "tianjin-test-key"})
        wait_for(lambda: list((root / "lake" / "_staging").glob("ingest-*"))
                 or ingest.poll() is not None, "the ingestion to start reading")
        assert ingest.poll() is None, log.read_text(encoding="utf-8")[-3000:]
        code, out, err = run_cli("report", "--year", "2019")
        overlapped = ingest.poll() is None
        ingest.wait(timeout=600)
    assert code == 0, err
    assert "lock" not in (out + err).lower()
    assert without_generation_time(report.read_text(encoding="utf-8")) == alone
    assert ingest.returncode == 0, log.read_text(encoding="utf-8")[-3000:]
    assert "lock" not in log.read_text(encoding="utf-8").lower()
    assert list((root / "lake" / "raw" / "tickets" / "source=tianjin_12345").glob("*.parquet"))
    assert overlapped, "the ingestion ended before the report did: make the export larger"


def test_a_changed_model_makes_the_manifest_stale(tmp_path: Path) -> None:
    """After an update of the dbt project the manifest is parsed again before assets load."""
    import os

    from dagster_project.warehouse.dbt_files import manifest_is_stale

    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1")
    (tmp_path / "dbt_project.yml").write_text("name: x")
    manifest = tmp_path / "target" / "m.json"

    def stale() -> bool:
        return manifest_is_stale(tmp_path, manifest)

    assert stale()  # never parsed
    manifest.parent.mkdir()
    manifest.write_text("{}")
    os.utime(model, (1_000_000_000, 1_000_000_000))
    os.utime(tmp_path / "dbt_project.yml", (1_000_000_000, 1_000_000_000))
    assert not stale()
    model.write_text("select 2")  # edited after the parse
    assert stale()


def test_sources_ingested_in_parallel_processes_equal_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_project.defs.assets.ingest import _ingest_sources
    from dagster_project.settings import INGEST_WORKERS_ENV, PACKAGE_ROOT, ingest_workers
    from dagster_project.sources import load_source_configs

    configs = load_source_configs(PACKAGE_ROOT / "config" / "sources")
    when = dt.datetime(2020, 1, 1)
    lakes = {}
    for workers in ("1", "2"):
        monkeypatch.setenv(INGEST_WORKERS_ENV, workers)
        paths = DataPaths(root=tmp_path / f"workers{workers}")
        generate_demo(paths.landing, seed=5, total_tickets=2000)
        done = list(_ingest_sources(configs, paths, b"k", when, lambda _: None))
        assert sorted(c.source_id for c, _ in done) == sorted(c.source_id for c in configs)
        lakes[workers] = duckdb.sql(
            f"SELECT source_id, count(*), sum(hash(ticket_id, caller_key, received_at)) "
            f"FROM read_parquet('{paths.lake}/raw/tickets/*/*.parquet', union_by_name = true) "
            f"GROUP BY ALL ORDER BY ALL").fetchall()
    assert lakes["1"] == lakes["2"]
    assert len(lakes["2"]) == 10  # every ticket source, each with its rows
    monkeypatch.setenv(INGEST_WORKERS_ENV, "0")
    with pytest.raises(ValueError, match="at least 1"):
        ingest_workers()


def test_a_delivery_to_one_source_reads_only_that_source_with_every_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a run, one re-exported file: the other sources are confirmed unchanged without
    a worker process, and the one source with work is read in this process, where DuckDB
    takes every core."""
    from dagster_project.defs.assets import ingest as ingest_assets
    from dagster_project.ingest import lake as lake_module
    from dagster_project.ingest import pipeline
    from dagster_project.settings import INGEST_WORKERS_ENV, PACKAGE_ROOT
    from dagster_project.sources import load_source_configs

    configs = load_source_configs(PACKAGE_ROOT / "config" / "sources")
    paths = DataPaths(root=tmp_path)
    generate_demo(paths.landing, seed=5, total_tickets=2000)
    now = lake_module.time.time_ns  # files written now would look unsettled: remembered later
    monkeypatch.setattr(lake_module.time, "time_ns", lambda: now() + 10 * 10**9)
    monkeypatch.setenv(INGEST_WORKERS_ENV, "1")  # in this process, where the clock is ahead
    when = dt.datetime(2020, 1, 1)
    first = list(ingest_assets._ingest_sources(configs, paths, b"k", when, lambda _: None))
    assert all(o.entry.status == "loaded" for _, source in first for o in source.outcomes)

    [changed] = sorted((paths.landing / "beijing_12345").glob("*2019*.csv"))
    changed.write_bytes(changed.read_bytes() + b"\n")  # a re-export: same rows, new bytes

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a worker pool was started for one source")

    threads: list[int | None] = []
    ingest_file = pipeline.ingest_file

    def recording(*args: object, **kwargs: object) -> pipeline.FileOutcome:
        outcome = ingest_file(*args, **kwargs)  # type: ignore[arg-type]
        if not outcome.skipped:
            threads.append(pipeline._duckdb_threads)
        return outcome

    monkeypatch.setenv(INGEST_WORKERS_ENV, "2")
    monkeypatch.setattr(ingest_assets, "ProcessPoolExecutor", no_pool)
    monkeypatch.setattr(pipeline, "ingest_file", recording)
    second = list(ingest_assets._ingest_sources(configs, paths, b"k", when, lambda _: None))
    assert sorted(c.source_id for c, _ in second) == sorted(c.source_id for c in configs)
    read = {c.source_id: [o.entry.source_file for o in source.outcomes if not o.skipped]
            for c, source in second}
    assert {s: files for s, files in read.items() if files} == {
        "beijing_12345": [f"beijing_12345/{changed.name}"]}
    assert threads == [None]  # read here, with DuckDB's default threads: every core


OPEN_INSTANCE = """
import os, sys, time
from dagster_project.local_runs import local_instance
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.005)
with local_instance() as instance:
    print(instance.get_runs_count())
"""


def test_commands_started_together_on_a_new_root_share_one_instance(tmp_path: Path) -> None:
    """Four processes open a new data root's Dagster instance at the same moment: each gets
    it, and every database of it carries one schema version (without the instance lock, two
    creators collide on alembic_version or both stamp it)."""
    import sqlite3

    start = time.time() + 5  # after every interpreter has imported Dagster
    processes = [subprocess.Popen([sys.executable, "-c", OPEN_INSTANCE, str(start)],
                                  env=hotline_env(tmp_path), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, [err[-500:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["0"] * 4
    databases = sorted((tmp_path / "dagster_home").rglob("*.db"))
    assert {d.name for d in databases} >= {"runs.db", "schedules.db", "index.db"}
    for database in databases:
        with contextlib.closing(sqlite3.connect(database)) as con:
            assert con.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,), database
