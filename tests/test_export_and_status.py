"""Spreadsheet exports neutralise every formula trigger; `hotline status` tells runs whose
process is gone and landing files refused before they were read."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.events import EngineEventData
from rich.console import Console, RenderableType

from dagster_project import status
from dagster_project.export import FORMULA_TRIGGERS, export_csv
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.pipeline import ingest_source
from dagster_project.local_runs import HOST_TAG, PID_TAG, local_instance
from dagster_project.settings import DataPaths
from dagster_project.sources import load_source_config

# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------
HOSTILE = [
    "=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "-", "-12",
    " =1+1", "   +cmd|' /C calc'!A0", "\n=1+1", "\r\n=1+1", "\x0b=1", "\x1f@x",
    "\u00a0=1+1", "\u3000=1+1", "\u2003-1", "\u2028=1", "\u200b=1+1", "\ufeff=1+1",
    "\u200e\u202e=1", "\u2060@x", "\u180e=1", "\u3164=1",
    "＝1+1", "＋1", "－1", "＠SUM(A1)", " \u3000＝HYPERLINK(\"http://x\")", "﹦1", "﹢1",
]
BENIGN = [
    "", "hello", " hello", "\nhello", "a-b", "a=b", "1-2", "12", "'=already", "—", "–1",
    "中文 = 等号", "\u3000正文", "x@y.cn", "|cmd", "%1",
]


def read_back(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_formula_trigger_is_neutralised_and_the_rest_kept(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    values = [(v, True) for v in HOSTILE] + [(v, False) for v in BENIGN]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TYPE mood AS ENUM ('=1+1', 'ok')")
        con.execute("CREATE TABLE t (i INTEGER, text VARCHAR, amount DECIMAL(10, 2), "
                    "score DOUBLE, big BIGINT, day DATE, mood mood, tags VARCHAR[])")
        con.executemany(
            "INSERT INTO t VALUES (?, ?, -12.5, -0.25, -9007199254740993, DATE '2019-05-01', "
            "CASE WHEN ? THEN '=1+1' ELSE 'ok' END, ['=x'])",
            [(i, value, hostile) for i, (value, hostile) in enumerate(values)])
        con.execute("INSERT INTO t VALUES (-1, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    target = tmp_path / "out.csv"
    assert export_csv(warehouse, "t", target) == len(values) + 1
    rows = read_back(target)
    assert len(rows) == len(values) + 1
    for row in rows[:-1]:
        value, hostile = values[int(row["i"])]
        assert row["text"] == ("'" + value if hostile else value), (value, row["text"])
        # Numbers and dates are written as DuckDB writes them: a negative number stays a
        # number. A list is text beginning with '['.
        assert (row["amount"], row["score"], row["big"], row["day"], row["tags"]) == (
            "-12.50", "-0.25", "-9007199254740993", "2019-05-01", "['=x']")
        # An ENUM is text to a spreadsheet.
        assert row["mood"] == ("'=1+1" if hostile else "ok")
    assert rows[-1] == {"i": "-1", "text": "", "amount": "", "score": "", "big": "",
                        "day": "", "mood": "", "tags": ""}


def test_any_invisible_leading_character_before_a_trigger_is_neutralised(
    tmp_path: Path,
) -> None:
    """Every space, separator, control and format character of Unicode, before '=' and before
    its full-width form."""
    leading = [chr(c) for c in range(sys.maxunicode + 1)
               if unicodedata.category(chr(c)) in ("Zs", "Zl", "Zp", "Cc", "Cf")]
    values = [lead + trigger + "1+1" for lead in leading for trigger in ("=", "＝")]
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS v, "
                    "generate_subscripts(?::VARCHAR[], 1) AS i", [values, values])
    export_csv(warehouse, "t", tmp_path / "out.csv")
    rows = read_back(tmp_path / "out.csv")
    missed = [values[int(r["i"]) - 1] for r in rows if r["v"] != "'" + values[int(r["i"]) - 1]]
    assert len(rows) == len(values) and missed == []


def test_the_triggers_are_every_compatibility_form_of_the_ascii_signs() -> None:
    forms = {chr(c) for c in range(sys.maxunicode + 1)
             if unicodedata.normalize("NFKC", chr(c)) in ("=", "+", "-", "@")}
    assert set(FORMULA_TRIGGERS) == forms | {"\t", "\r"}


def test_a_column_name_that_needs_quoting_is_exported(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute('CREATE TABLE t ("诉求 ""内容""" VARCHAR)')
        con.execute("INSERT INTO t VALUES (' =1+1')")
    export_csv(warehouse, "t", tmp_path / "out.csv")
    assert read_back(tmp_path / "out.csv") == [{'诉求 "内容"': "' =1+1"}]


# ---------------------------------------------------------------------------------------------
# hotline status: refused landing files
# ---------------------------------------------------------------------------------------------
HEADER = "工单编号,受理时间,工单状态\n"


def rendered(table: RenderableType) -> str:
    console = Console(record=True, width=400, color_system=None)
    console.print(table)
    return console.export_text()


def test_status_shows_files_refused_unread_with_the_reason(
    data_root: DataPaths, sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sources_dir / "nanjing_12345.yaml").write_text(
        "source_id: nanjing_12345\nname: 南京12345\nentity: tickets\ncity_code: '320100'\n"
        "format: csv\nlayout: standard\n", encoding="utf-8")
    folder = data_root.landing / "nanjing_12345"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(HEADER + "NJ1,2019-07-01 09:00:00,已办结\n", encoding="utf-8")
    (folder / "b\x07.csv").write_text(HEADER + "NJ2,2019-07-01 09:00:00,已办结\n",
                                      encoding="utf-8")
    outside = tmp_path / "outside.csv"
    outside.write_text(HEADER + "NJ3,2019-07-01 09:00:00,已办结\n", encoding="utf-8")
    (folder / "link.csv").symlink_to(outside)
    hashed: list[str] = []
    file_sha256 = status.file_sha256

    def recording(path: Path) -> str:
        hashed.append(path.name)
        return file_sha256(path)

    monkeypatch.setattr(status, "file_sha256", recording)

    def state() -> status.SourceState:
        [one] = status.source_states(data_root)
        return one

    # Not ingested yet: all three wait.
    assert (state().loaded, state().waiting, state().refused) == (0, 3, ())
    config = load_source_config(sources_dir / "nanjing_12345.yaml")
    ingest_source(config, data_root.landing, Lake(data_root.lake), b"k")
    hashed.clear()
    now = state()
    assert (now.loaded, now.failed, now.waiting) == (1, 0, 0)
    assert [name for name, _ in now.refused] == ["nanjing_12345/b\\x07.csv",
                                                 "nanjing_12345/link.csv"]
    control, link = (why for _, why in now.refused)
    assert "control characters" in control and "\x07" not in control
    assert f"resolves to {outside}, outside the landing folder" in link
    assert "outside.csv" not in hashed and "b\x07.csv" not in hashed  # never read
    text = rendered(status.sources_table(data_root))
    header, row = (line.split() for line in text.splitlines()[2:5:2])
    assert header == ["source", "loaded", "failed", "refused", "waiting", "rows", "rejected",
                      "ingested"]
    assert row[:7] == ["nanjing_12345", "1", "0", "2", "0", "1", "0"]
    assert f"refused: {data_root.landing}/nanjing_12345/b\\x07.csv: the file name contains " \
           "control characters" in text
    assert f"refused: {folder / 'link.csv'}: resolves to {outside}" in text
    # The link replaced by a copy of the file: a new file, waiting for ingestion, not refused.
    (folder / "link.csv").unlink()
    shutil.copy(outside, folder / "link.csv")
    now = state()
    assert (now.loaded, now.waiting, [name for name, _ in now.refused]) == (
        1, 1, ["nanjing_12345/b\\x07.csv"])


# ---------------------------------------------------------------------------------------------
# hotline status: runs whose process is gone
# ---------------------------------------------------------------------------------------------
HANGING_RUN = """
import os, socket, sys, time
import dagster as dg
from dagster_project.local_runs import HOST_TAG, PID_TAG, local_instance

@dg.op
def wait() -> None:
    open(sys.argv[1], "w").close()
    time.sleep(600)

@dg.job
def refresh() -> None:
    wait()

refresh.execute_in_process(
    instance=local_instance(), tags={PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()})
"""


@pytest.fixture
def instance(data_root: DataPaths, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterInstance]:
    monkeypatch.setenv("DAGSTER_HOME", str(data_root.root / "dagster_home"))
    with local_instance() as opened:
        yield opened


def runs(data_root: DataPaths) -> tuple[dict[str, list[str]], list[str]]:
    """The runs table of `hotline status`: status and start of each run by job (no run here
    has partitions), and the note below the table."""
    lines = rendered(status.runs_table(data_root)).splitlines()
    rows = {words[1]: words[2:] for words in map(str.split, lines)
            if words and re.fullmatch("[0-9a-f]{8}", words[0])}
    return rows, [line.strip() for line in lines if line.startswith("INTERRUPTED:")]


def test_a_killed_hotline_run_reads_interrupted(
    data_root: DataPaths, instance: DagsterInstance, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    process = subprocess.Popen([sys.executable, "-c", HANGING_RUN, str(started)])
    try:
        deadline = time.monotonic() + 300
        while not started.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        [record] = instance.get_run_records()
        assert record.dagster_run.status == DagsterRunStatus.STARTED
        assert status.interrupted_pid(instance, record) is None  # alive: under way
        assert runs(data_root)[0]["refresh"][0] == "STARTED"
    finally:
        process.kill()
        process.wait()
    [record] = instance.get_run_records()
    assert record.dagster_run.status == DagsterRunStatus.STARTED  # as the killed run left it
    assert status.interrupted_pid(instance, record) == process.pid
    shown, [caption] = runs(data_root)
    start = dt.datetime.fromtimestamp(record.start_time or 0).strftime("%Y-%m-%d %H:%M")
    assert shown == {"refresh": ["INTERRUPTED", *start.split()]}
    assert f"(pid {process.pid}) is gone" in caption


def launched_run(instance: DagsterInstance, job: str, pid: int, *, tags: dict[str, str] | None
                 = None, started: float | None = None) -> None:
    """A run as a run worker that the UI or the daemon launched leaves it: its pid in its first
    engine event, then the run started."""
    run = instance.add_run(DagsterRun(job_name=job, run_id=str(uuid.uuid4()), tags=tags or {}))
    instance.report_engine_event(f"Started process for run (pid: {pid}).", run,
                                 EngineEventData.in_process(pid))
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.RUN_START.value, job_name=job), run.run_id,
        timestamp=started)


def test_runs_launched_by_the_ui_read_interrupted_when_their_worker_is_gone(
    data_root: DataPaths, instance: DagsterInstance
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    launched_run(instance, "ingest", gone.pid)
    launched_run(instance, "build", os.getpid())
    # The pid is alive but its process started after the run: another process got the pid.
    launched_run(instance, "report", os.getpid(), started=time.time() - 24 * 3600)
    # On another host: its process cannot be seen from here.
    launched_run(instance, "refresh", gone.pid,
                 tags={PID_TAG: str(gone.pid), HOST_TAG: "another-host"})
    shown, [caption] = runs(data_root)
    assert {job: row[0] for job, row in shown.items()} == {
        "ingest": "INTERRUPTED", "build": "STARTED", "report": "INTERRUPTED",
        "refresh": "STARTED"}
    assert f"(pid {os.getpid()}, {gone.pid}) is gone" in caption  # newest run first
