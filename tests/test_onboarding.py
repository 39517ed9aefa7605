"""Onboarding a city by configuration alone, and corrected re-exports superseding older rows."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
from dbt_runner import run_dbt

from dagster_project.defs.assets.ingest import ingest_landing
from dagster_project.settings import DataPaths

NEW_CITY_YAML = """
source_id: nanjing_12345
name: 南京12345
entity: tickets
city_code: "320100"
file_pattern: "*.csv"
format: csv
encoding: auto
skip_rows: 1
columns:
  诉求单号: ticket_id
  来电日期: received_at
  办理状态: status
values:
  status: {在办: open, 办毕: closed}
"""


def test_a_new_city_needs_only_a_yaml_file(data_root: DataPaths, sources_dir: Path) -> None:
    (sources_dir / "nanjing_12345.yaml").write_text(NEW_CITY_YAML, encoding="utf-8")
    folder = data_root.landing / "nanjing_12345"
    folder.mkdir(parents=True)
    (folder / "2019年工单.csv").write_bytes(
        "南京市12345工单\n诉求单号,来电日期,办理状态\nNJ1,2019-07-01 09:00:00,办毕\n"
        "NJ2,2019-07-02 10:00:00,在办\n合计,2,\n".encode("gbk"))
    result = dg.materialize([ingest_landing])
    assert result.success
    rows = duckdb.sql(
        f"SELECT city_code, ticket_id, status FROM "
        f"'{data_root.lake}/raw/tickets/source=nanjing_12345/*.parquet' ORDER BY ticket_id"
    ).fetchall()
    assert rows == [("320100", "NJ1", "closed"), ("320100", "NJ2", "open")]


def test_a_corrected_re_export_supersedes_older_rows(
    data_root: DataPaths, sources_dir: Path, tmp_path: Path
) -> None:
    (sources_dir / "nanjing_12345.yaml").write_text(NEW_CITY_YAML, encoding="utf-8")
    folder = data_root.landing / "nanjing_12345"
    folder.mkdir(parents=True)
    header = "南京市12345工单\n诉求单号,来电日期,办理状态\n"
    (folder / "2019-07.csv").write_text(
        header + "NJ1,2019-07-01 09:00:00,在办\nNJ2,2019-07-02 10:00:00,在办\n",
        encoding="utf-8")
    assert dg.materialize([ingest_landing]).success
    # The corrected export of the same month: NJ1 now closed, NJ3 added.
    (folder / "2019-07.csv").write_text(
        header + "NJ1,2019-07-01 09:00:00,办毕\nNJ2,2019-07-02 10:00:00,在办\n"
        "NJ3,2019-07-03 11:00:00,在办\n", encoding="utf-8")
    assert dg.materialize([ingest_landing]).success
    assert len(list((data_root.lake / "raw" / "tickets").rglob("*.parquet"))) == 2
    # The correction holds every ticket of the first export, which leaves the current files.
    current = data_root.lake / "raw" / "tickets" / "source=nanjing_12345"
    assert len(list(current.glob("*.parquet"))) == 1
    assert len(list((current / "superseded").glob("*.parquet"))) == 1
    data_root.warehouse.parent.mkdir(parents=True, exist_ok=True)
    run_dbt(tmp_path / "target", "seed")
    run_dbt(tmp_path / "target", "run", "--select", "+fct_tickets")
    with duckdb.connect(str(data_root.warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT ticket_id, status FROM fct_tickets ORDER BY ticket_id").fetchall()
    assert rows == [("NJ1", "closed"), ("NJ2", "open"), ("NJ3", "open")]
