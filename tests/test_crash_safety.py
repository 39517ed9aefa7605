"""kill -9 in the middle of ingesting a large file: nothing half-written is ever visible, and
the next run ends exactly where a clean run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagster_project.ingest.lake import Lake

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


def write_big_export(folder: Path) -> None:
    folder.mkdir(parents=True)
    lines = ["工单编号,受理时间,受理渠道,诉求类型,诉求内容,来电号码,工单状态"]
    lines += [f"T{i},2019-{i % 12 + 1:02d}-{i % 28 + 1:02d} 10:{i % 60:02d}:00,电话,咨询,"
              f"市民反映第{i}号问题，联系电话1391234{i % 10000:04d},1391234{i % 10000:04d},"
              f"{'已办结' if i % 50 else '未知状态'}" for i in range(ROWS)]
    (folder / "big.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_ingest(root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", INGEST, str(root)], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)


def test_killed_ingestion_leaves_nothing_visible_and_reruns_cleanly(tmp_path: Path) -> None:
    write_big_export(tmp_path / "landing" / "big")
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
