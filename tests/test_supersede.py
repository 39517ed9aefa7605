"""Lake files that later files of their source exported again whole leave the current files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
from test_ingest import KEY, STANDARD_HEADER, land, standard_config

from dagster_project.canonical import Entity
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.runner import SourceIngested, ingest_one_source
from dagster_project.locks import warehouse_write_lock
from dagster_project.settings import DataPaths

DAY_1 = dt.datetime(2020, 1, 5, 8, 0, 0)
DAY_2 = dt.datetime(2020, 1, 6, 8, 0, 0)


def export(*tickets: str, status: str = "已办结") -> bytes:
    """A standard export of these ticket ids, all received on one morning."""
    lines = [STANDARD_HEADER] + [
        f"{ticket},2019-03-01 08:0{i}:00,电话,咨询,教育,西城区,,,,是,,,,,2019-03-01 09:00:00,"
        f"{status},,未评价"
        for i, ticket in enumerate(tickets)
    ]
    return ("\n".join(lines) + "\n").encode()


def current_and_superseded(paths: DataPaths) -> tuple[list[str], list[str]]:
    """Source file names of the source's current and superseded lake files."""
    folder = Lake(paths.lake).data_folder(Entity.TICKETS, "city_a")

    def names(files: list[Path]) -> list[str]:
        if not files:
            return []
        with duckdb.connect() as con:
            return [name for (name,) in con.execute(
                "SELECT DISTINCT source_file FROM read_parquet(?) ORDER BY 1",
                [[str(f) for f in files]]).fetchall()]

    return (names(sorted(folder.glob("*.parquet"))),
            names(sorted((folder / "superseded").glob("*.parquet"))))


def deliver(paths: DataPaths, when: dt.datetime) -> SourceIngested:
    return ingest_one_source(standard_config(), paths, KEY, when)


def test_a_file_exported_again_whole_leaves_the_current_files(tmp_path: Path) -> None:
    paths = DataPaths(root=tmp_path)
    land(paths.landing, "city_a", "2019_v1.csv", export("A1", "A2"))
    first = deliver(paths, DAY_1)
    assert first.superseded == []
    # The corrected re-export: A1 changed, A3 added; both old tickets are in it.
    land(paths.landing, "city_a", "2019_v2.csv", export("A1", "A2", "A3", status="办理中"))
    second = deliver(paths, DAY_2)

    [old] = [o.entry for o in first.outcomes]
    assert second.superseded == [(old.file_sha256, "city_a/2019_v1.csv")]
    assert current_and_superseded(paths) == (["city_a/2019_v2.csv"], ["city_a/2019_v1.csv"])
    lake = Lake(paths.lake)
    moved = lake.superseded_file(Entity.TICKETS, "city_a", old.file_sha256)
    with duckdb.connect() as con:
        assert con.execute("SELECT count(*) FROM read_parquet(?)",
                           [str(moved)]).fetchone() == (2,)
    # The manifest still has the file as loaded: it is not read again while it stays landed.
    entry = lake.read_manifest_entry("city_a", old.file_sha256)
    assert entry is not None and entry.status == "loaded"
    third = deliver(paths, DAY_2 + dt.timedelta(days=1))
    assert all(o.skipped for o in third.outcomes) and third.superseded == []


def test_a_file_with_a_ticket_no_later_file_has_stays(tmp_path: Path) -> None:
    paths = DataPaths(root=tmp_path)
    land(paths.landing, "city_a", "2019_v1.csv", export("A1", "A2"))
    deliver(paths, DAY_1)
    land(paths.landing, "city_a", "2019_v2.csv", export("A1", "A3"))  # A2 is only in v1

    assert deliver(paths, DAY_2).superseded == []
    assert current_and_superseded(paths) == (["city_a/2019_v1.csv", "city_a/2019_v2.csv"], [])


def test_of_two_files_loaded_together_the_later_name_supersedes(tmp_path: Path) -> None:
    # One run gives its files one ingestion time; the later file name then wins, as in dbt.
    paths = DataPaths(root=tmp_path)
    land(paths.landing, "city_a", "2019_a.csv", export("A1", "A2", "A3"))
    land(paths.landing, "city_a", "2019_b.csv", export("A1", "A2"))

    assert deliver(paths, DAY_1).superseded == []  # A3 is only in the earlier name
    land(paths.landing, "city_a", "2019_c.csv", export("A3"))
    ingested = deliver(paths, DAY_2)

    # a.csv's A1 and A2 are in b.csv, its A3 now in c.csv; b.csv is the newest for A1 and A2.
    assert [f.source_file for f in ingested.superseded] == ["city_a/2019_a.csv"]
    assert current_and_superseded(paths) == (
        ["city_a/2019_b.csv", "city_a/2019_c.csv"], ["city_a/2019_a.csv"])


def test_superseded_files_stay_while_a_build_reads_the_lake(tmp_path: Path) -> None:
    paths = DataPaths(root=tmp_path)
    land(paths.landing, "city_a", "2019_v1.csv", export("A1"))
    deliver(paths, DAY_1)
    land(paths.landing, "city_a", "2019_v2.csv", export("A1", "A2"))
    with warehouse_write_lock(paths.warehouse):
        during_build = deliver(paths, DAY_2)
    assert during_build.superseded == []
    assert during_build.superseded_deferred and "build" in during_build.superseded_deferred
    assert current_and_superseded(paths) == (["city_a/2019_v1.csv", "city_a/2019_v2.csv"], [])

    # The next delivery moves every file superseded by then.
    land(paths.landing, "city_a", "2019_v3.csv", export("A1", "A2", "A3"))
    after = deliver(paths, DAY_2 + dt.timedelta(days=1))
    assert [f.source_file for f in after.superseded] == [
        "city_a/2019_v1.csv", "city_a/2019_v2.csv"]
    assert current_and_superseded(paths) == (
        ["city_a/2019_v3.csv"], ["city_a/2019_v1.csv", "city_a/2019_v2.csv"])
