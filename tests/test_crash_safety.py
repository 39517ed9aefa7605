"""kill -9 in the middle of ingesting a large file, or of building the warehouse: nothing
half-written is ever visible, and the next run ends exactly where a clean run ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import run_cli
from pipeline_helpers import (
    lake_counts,
    start_hotline,
    wait_for,
    warehouse_counts,
    write_big_export,
)

from dagster_project.demo.generator import generate_demo
from dagster_project.ingest.lake import Lake
from dagster_project.settings import DATA_ROOT_ENV, DataPaths

ROWS = 400_000
INGEST = """
import datetime as dt, sys
from pathlib import Path
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.pipeline import ingest_source
from dagster_project.sources import SourceConfig
root = Path(sys.argv[1])
config = SourceConfig.model_validate({"source_id": "big", "name": "大城市", "entity": "tickets",
    "city_code": "110000", "format": "csv", "layout": "standard"})
[outcome] = ingest_source(config, root / "landing", Lake(root / "lake"), b"k",
                          dt.datetime(2020, 1, 1))
print(outcome.entry.status, outcome.entry.rows_read, outcome.entry.rows_written,
      outcome.entry.rows_rejected)
"""


def run_ingest(root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", INGEST, str(root)], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)


def test_killed_ingestion_leaves_nothing_visible_and_reruns_cleanly(tmp_path: Path) -> None:
    write_big_export(tmp_path / "landing" / "big", ROWS)
    lake = Lake(tmp_path / "lake")
    process = run_ingest(tmp_path)
    # Wait until the work is under way (a scratch folder exists), then kill without warning.
    deadline = time.monotonic() + 60
    while not list(lake.root.glob("_staging/ingest-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    # Readers see no data file, no rejects file and no manifest entry for the file.
    for published in ("raw", "rejects", "manifest"):
        assert not list((lake.root / published).rglob("*.parquet"))
    assert list(lake.root.glob("_staging/ingest-*")), "the killed run's scratch is left over"

    rerun = run_ingest(tmp_path)
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0
    # A clean run of the same file, in a fresh lake, for comparison.
    clean_root = tmp_path / "clean"
    (clean_root / "landing" / "big").mkdir(parents=True)
    os.link(tmp_path / "landing" / "big" / "big.csv", clean_root / "landing" / "big" / "big.csv")
    clean = run_ingest(clean_root)
    clean_out, _ = clean.communicate(timeout=300)
    expected_rejects = ROWS // 50
    assert out.split() == clean_out.split() == [
        "loaded", str(ROWS), str(ROWS - expected_rejects), str(expected_rejects)]
    assert not list(lake.root.glob("_staging/ingest-*")), "stale scratch was cleaned up"


def hotline(*argv: str) -> str:
    """`hotline ARGV` in this process; it must succeed."""
    code, out, err = run_cli(*argv)
    assert code == 0, err
    return out


def test_killed_build_keeps_the_previous_warehouse_and_reruns_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = DataPaths(root=tmp_path / "data")
    monkeypatch.setenv(DATA_ROOT_ENV, str(paths.root))
    monkeypatch.setenv("DAGSTER_HOME", str(paths.root / "dagster_home"))
    generate_demo(paths.landing, seed=7, total_tickets=1500)
    # One city's exports arrive after the first build.
    later = tmp_path / "later"
    shutil.move(paths.landing / "yibin_12345", later)
    hotline("ingest")
    hotline("build")
    previous = warehouse_counts(paths.warehouse)
    assert previous == lake_counts(paths.root)
    shutil.move(later, paths.landing / "yibin_12345")
    hotline("ingest", "--source", "yibin_12345")
    expected = lake_counts(paths.root)
    assert expected[0] > previous[0] and expected[2] > previous[2]

    build = start_hotline(paths.root, "build", log=tmp_path / "killed-build.log")
    # dbt has created its file and is writing it.
    wait_for(lambda: paths.building_warehouse.exists() or build.poll() is not None,
             "dbt to start")
    time.sleep(1.5)
    assert build.poll() is None, "the build ended before it could be killed"
    # Meanwhile the live warehouse answers with the previous build, to an analyst's read-only
    # connection and to `hotline status` (which says that a build is running).
    assert warehouse_counts(paths.warehouse) == previous
    assert "a new build is running" in " ".join(hotline("status").split())
    assert build.poll() is None, "the build ended before it could be killed"
    os.killpg(build.pid, signal.SIGKILL)
    build.wait()
    assert build.returncode == -signal.SIGKILL
    assert warehouse_counts(paths.warehouse) == previous
    assert paths.building_warehouse.exists(), "the killed build's file is left over"

    out = hotline("build")
    assert warehouse_counts(paths.warehouse) == expected
    # The row counts the run recorded are those of the published file.
    [fct_tickets] = [line for line in out.splitlines() if " fct_tickets " in line]
    assert f"{expected[0]:,}" in fct_tickets
    assert not paths.building_warehouse.exists()
    assert not list(paths.warehouse.parent.glob("*.wal"))
