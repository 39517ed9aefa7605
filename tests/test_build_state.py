"""The fingerprint a build records: what decides whether the next build may keep rows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from dagster_project.settings import DataPaths
from dagster_project.warehouse.build_state import (
    built_by_current_code,
    data_version,
    forget_data_version,
    lake_digest,
    project_fingerprint,
    record_fingerprint,
    recorded_data_version,
    recorded_fingerprint,
)
from dagster_project.warehouse.dbt_files import (
    DBT_PROJECT_DIR,
    PARSE_STATE,
    forget_parse_of_other_project,
)


def copy_of_project(tmp_path: Path) -> Path:
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    return project


def test_the_fingerprint_follows_the_code_and_the_reference_data(tmp_path: Path) -> None:
    project, reference = copy_of_project(tmp_path), tmp_path / "reference"
    first = project_fingerprint(project, reference)
    assert len(first) == 64 and project_fingerprint(project, reference) == first

    # dbt's own output does not count: target/ is not read by a parse
    (project / "target").mkdir()
    (project / "target" / "run_results.json").write_text("{}")
    assert project_fingerprint(project, reference) == first

    model = project / "models" / "marts" / "core" / "fct_tickets.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    edited = project_fingerprint(project, reference)
    assert edited != first

    var_file = project / "dbt_project.yml"
    var_file.write_text(var_file.read_text(encoding="utf-8").replace(
        "repeat_window_days: 30", "repeat_window_days: 31"), encoding="utf-8")
    with_var = project_fingerprint(project, reference)
    assert with_var not in (first, edited)

    reference.mkdir()
    (reference / "cities.csv").write_text("city_code,city_name\n990100,测试市\n")
    with_reference = project_fingerprint(project, reference)
    assert with_reference not in (first, edited, with_var)
    (reference / "cities.csv").write_text("city_code,city_name\n990100,测试县\n")
    assert project_fingerprint(project, reference) not in (with_reference, with_var)


def test_a_build_records_its_fingerprint_and_the_next_one_reads_it(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    assert recorded_fingerprint(warehouse) is None  # no warehouse yet
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE fct_tickets AS SELECT 1 AS x")
    assert recorded_fingerprint(warehouse) is None  # built before fingerprints
    record_fingerprint(warehouse, "a" * 64)
    assert recorded_fingerprint(warehouse) == "a" * 64
    record_fingerprint(warehouse, "b" * 64)  # the next build replaces the record
    assert recorded_fingerprint(warehouse) == "b" * 64
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM hotline_meta.build").fetchone() == (1,)


def test_the_data_version_follows_the_lake_files_the_tables_read_and_the_code(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    empty = lake_digest(lake)
    raw = lake / "raw" / "tickets" / "source_id=bj"
    raw.mkdir(parents=True)
    (raw / "a.parquet").write_bytes(b"PAR1 one")
    one = lake_digest(lake)
    assert one != empty and lake_digest(lake) == one
    # The quality results are read by a view, live: a check run changes no table.
    (lake / "quality" / "suite=x").mkdir(parents=True)
    (lake / "quality" / "suite=x" / "r.parquet").write_bytes(b"PAR1 result")
    assert lake_digest(lake) == one
    (lake / "manifest" / "source_id=bj").mkdir(parents=True)
    (lake / "manifest" / "source_id=bj" / "m.parquet").write_bytes(b"PAR1 entry")
    two = lake_digest(lake)
    assert two != one
    os.utime(raw / "a.parquet", ns=(1, 1))  # written anew under the same name
    assert lake_digest(lake) != two

    version = data_version("a" * 64, two, two)
    assert version is not None and len(version) == 64
    assert data_version("a" * 64, two, two) == version
    assert data_version("b" * 64, two, two) != version  # other code or reference data
    # A file ingested while dbt ran may or may not have been read: no version.
    assert data_version("a" * 64, one, two) is None


def test_a_build_records_its_data_version_and_a_partial_build_forgets_it(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    assert recorded_data_version(warehouse) is None
    with duckdb.connect(str(warehouse)) as con:  # a build recorded before data versions
        con.execute("CREATE SCHEMA hotline_meta")
        con.execute("CREATE TABLE hotline_meta.build AS SELECT 'a' AS fingerprint, "
                    "now()::TIMESTAMP AS built_at_utc")
    assert recorded_data_version(warehouse) is None and recorded_fingerprint(warehouse) == "a"
    forget_data_version(warehouse)  # nothing to forget
    record_fingerprint(warehouse, "a" * 64, "d" * 64)
    assert recorded_data_version(warehouse) == "d" * 64
    forget_data_version(warehouse)
    assert recorded_data_version(warehouse) is None
    assert recorded_fingerprint(warehouse) == "a" * 64  # the fingerprint stays


def test_a_warehouse_held_read_write_elsewhere_counts_as_unknown(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    record_fingerprint(warehouse, "c" * 64)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"con = duckdb.connect({str(warehouse)!r})\nprint('open', flush=True)\n"
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        assert recorded_fingerprint(warehouse) is None
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    assert recorded_fingerprint(warehouse) == "c" * 64


def test_checks_reuse_outcomes_only_of_a_warehouse_the_current_code_built(
    tmp_path: Path,
) -> None:
    paths = DataPaths(root=tmp_path)
    paths.warehouse.parent.mkdir(parents=True)
    assert built_by_current_code(paths) is None  # no warehouse
    duckdb.connect(str(paths.warehouse)).close()
    assert built_by_current_code(paths) is None  # no fingerprint recorded

    current = project_fingerprint(DBT_PROJECT_DIR, paths.reference)
    record_fingerprint(paths.warehouse, "0" * 64)  # built by other code
    assert built_by_current_code(paths) is None
    record_fingerprint(paths.warehouse, current)
    assert built_by_current_code(paths) == current

    # Reference data the build did not see: the rows may be stale, nothing is reused.
    paths.reference.mkdir()
    (paths.reference / "cities.csv").write_text("city_code\n990100\n", encoding="utf-8")
    assert built_by_current_code(paths) is None


def _seed(project: Path, target: Path, warehouse: Path) -> subprocess.CompletedProcess[str]:
    from dagster_project.warehouse.dbt_files import DBT_EXECUTABLE

    return subprocess.run(
        [str(DBT_EXECUTABLE), "seed", "--select", "cities", "--project-dir", str(project),
         "--profiles-dir", str(project), "--target-path", str(target)],
        env={**os.environ, "HOTLINE_WAREHOUSE_PATH": str(warehouse),
             "HOTLINE_DATA_ROOT": str(warehouse.parent)},
        capture_output=True, text=True, cwd=project)


def test_a_data_root_built_from_a_checkout_that_moved_parses_afresh(tmp_path: Path) -> None:
    """dbt keeps absolute paths in its saved parse: after the checkout moves, the kept target
    folder would send the seed load to the old folder."""
    old, target, warehouse = copy_of_project(tmp_path / "old"), tmp_path / "target", (
        tmp_path / "warehouse.duckdb")
    assert not forget_parse_of_other_project(target, old)  # nothing parsed yet
    first = _seed(old, target, warehouse)
    assert first.returncode == 0, first.stdout[-2000:]
    assert (target / PARSE_STATE).exists()
    assert not forget_parse_of_other_project(target, old)  # same checkout: the parse is kept
    assert (target / PARSE_STATE).exists()

    new = tmp_path / "new" / "dbt"
    new.parent.mkdir()
    old.rename(new)
    assert forget_parse_of_other_project(target, new)
    assert not (target / PARSE_STATE).exists()
    moved = _seed(new, target, warehouse)
    assert moved.returncode == 0, moved.stdout[-2000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (rows,) = con.execute("SELECT count(*) FROM main.cities").fetchone() or (0,)
    with (new / "seeds" / "cities.csv").open(encoding="utf-8") as seed:
        assert rows == sum(1 for _ in seed) - 1  # every line but the header
