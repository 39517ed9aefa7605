"""Analysts read the warehouse and the files its views read, and write nothing: the connection
of `dagster_project.analyst` and `hotline sql`, on a small demo data root."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pipeline_helpers import HOTLINE, hotline_env

from dagster_project.analyst import (
    AnalystAccessError,
    analyst_connection,
    check_read_only,
)
from dagster_project.demo.generator import generate_demo
from dagster_project.ingest.pseudonymise import create_key_file, key_file_path
from dagster_project.settings import DATA_ROOT_ENV, DataPaths

REFERENCE_CITY = "990100"
# The folders the demo warehouse's views read: the lake's, and the reference file's.
VIEW_FOLDERS = ("lake/manifest", "lake/quality", "lake/raw/test_calls", "lake/raw/tickets",
                "lake/rejects", "reference", "text")


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPaths]:
    """Demo exports ingested and built (no report), with a reference file that a view reads at
    query time, and a pseudonymisation key in `secrets/` (created after ingestion, which used
    the public demo key)."""
    from dagster_project.defs.partitions import all_sources_tags
    from dagster_project.local_runs import execute

    root = tmp_path_factory.mktemp("analyst")
    paths = DataPaths(root=root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_ROOT_ENV, str(root))
        generate_demo(paths.landing, seed=7, total_tickets=2000)
        paths.reference.mkdir()
        (paths.reference / "cities.csv").write_text(
            "city_code,city_name,province,region,population_2019\n"
            f"{REFERENCE_CITY},测试市,四川省,西南,1000000\n", encoding="utf-8")
        outcome = execute("refresh", tags=all_sources_tags(), log_level="WARNING")
        assert outcome.success, outcome.errors
    create_key_file(root)
    yield paths


@pytest.fixture
def con(demo_root: DataPaths) -> Iterator[duckdb.DuckDBPyConnection]:
    with analyst_connection(demo_root) as connection:
        yield connection


def setting(con: duckdb.DuckDBPyConnection, name: str) -> object:
    row = con.execute("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return row[0]


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------------
# What the connection reads
# ---------------------------------------------------------------------------------------------
def test_settings_allow_only_the_folders_the_views_read(
    demo_root: DataPaths, con: duckdb.DuckDBPyConnection
) -> None:
    assert setting(con, "enable_external_access") is False
    assert setting(con, "lock_configuration") is True
    assert setting(con, "temp_directory") == ""  # never spills, least of all into the root
    assert setting(con, "allowed_directories") == [
        f"{demo_root.root / folder}/" for folder in VIEW_FOLDERS]
    # DuckDB's own addition when external access goes off: the database and its WAL files.
    warehouse = str(demo_root.warehouse)
    assert sorted(setting(con, "allowed_paths")) == [  # type: ignore[arg-type]
        warehouse, f"{warehouse}.wal", f"{warehouse}.wal.checkpoint", f"{warehouse}.wal.recovery"]


def test_every_table_and_view_can_be_counted(con: duckdb.DuckDBPyConnection) -> None:
    relations = con.execute(
        "SELECT table_catalog, table_schema, table_name, table_type "
        "FROM information_schema.tables ORDER BY ALL").fetchall()
    kinds = {kind for *_, kind in relations}
    assert kinds == {"BASE TABLE", "VIEW"}
    names = {name for _, _, name, _ in relations}
    assert {"stg_lake__tickets", "stg_lake__ticket_versions", "stg_lake__quality_results",
            "stg_reference__cities", "fct_tickets", "kpi_city_year", "build",
            "fct_ticket_classes", "hot_issues"} <= names
    counted = {}
    for catalog, schema, name, _ in relations:
        row = con.execute(f'SELECT count(*) FROM "{catalog}"."{schema}"."{name}"').fetchone()
        assert row is not None
        counted[name] = row[0]
    assert counted["stg_lake__tickets"] > 0
    assert counted["stg_lake__quality_results"] > 0
    # The text stage's views read <root>/text/ at query time: a row per ticket.
    assert counted["fct_ticket_classes"] == counted["fct_tickets"]
    # The reference view reads <root>/reference/cities.csv at query time.
    assert con.execute("SELECT count(*) FROM stg_reference__cities WHERE city_code = ?",
                       [REFERENCE_CITY]).fetchone() == (1,)


def test_a_second_analyst_connection_of_the_process_shares_the_settings(
    demo_root: DataPaths, con: duckdb.DuckDBPyConnection
) -> None:
    with analyst_connection(demo_root) as second:
        assert second.execute("SELECT count(*) FROM stg_lake__test_calls").fetchone() != (0,)
        with pytest.raises(duckdb.PermissionException):
            second.execute("SELECT * FROM read_csv('/etc/passwd')")
    assert con.execute("SELECT count(*) FROM dim_city").fetchone() != (0,)


def test_no_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AnalystAccessError, match="no warehouse at"):
        analyst_connection(DataPaths(root=tmp_path))


# ---------------------------------------------------------------------------------------------
# What it does not read, write or change
# ---------------------------------------------------------------------------------------------
def test_copy_to_a_file_outside_the_view_folders_fails(
    demo_root: DataPaths, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    for target in (tmp_path / "x.csv", demo_root.root / "x.csv",
                   demo_root.lake / "landing_hashes" / "x.parquet",
                   demo_root.root / "warehouse" / "x.csv"):
        with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
            con.execute(f"COPY (SELECT 1 AS a) TO '{target}'")
        assert not target.exists()
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"EXPORT DATABASE '{tmp_path / 'export'}'")
    assert not (tmp_path / "export").exists()


def test_duckdb_lets_the_view_folders_be_written(
    demo_root: DataPaths, con: duckdb.DuckDBPyConnection
) -> None:
    """DuckDB's limit, recorded: `allowed_directories` grants writing as well as reading, so on
    the connection itself `COPY … TO` into a folder the views read succeeds, and the rows show
    in the staging view at once. The data root's file permissions are what stop an analyst
    there (docs/analysts.md), and `hotline sql` runs queries only (tested below). Should
    DuckDB ever refuse this write, the module's description and the docs must change."""
    folder = demo_root.lake / "raw" / "tickets" / "source=beijing_12345"
    planted = folder / "planted-by-an-analyst.parquet"
    row = con.execute("SELECT count(*) FROM stg_lake__tickets").fetchone()
    assert row is not None
    try:
        con.execute(f"COPY (SELECT * FROM stg_lake__tickets LIMIT 1) TO '{planted}'")
        assert planted.exists()
        assert con.execute("SELECT count(*) FROM stg_lake__tickets").fetchone() == (row[0] + 1,)
    finally:
        planted.unlink(missing_ok=True)


def test_duckdb_lets_the_database_files_be_written(demo_root: DataPaths, tmp_path: Path) -> None:
    """DuckDB's limit, recorded on a copy of the warehouse: the database file and its WAL,
    which DuckDB allows by itself, can be written on the read-only connection."""
    copy = DataPaths(root=tmp_path / "copy")
    copy.warehouse.parent.mkdir(parents=True)
    shutil.copy2(demo_root.warehouse, copy.warehouse)
    with analyst_connection(copy) as con:
        con.execute(f"COPY (SELECT 1 AS a) TO '{copy.warehouse}.wal' (FORMAT csv)")
        con.execute(f"COPY (SELECT 1 AS a) TO '{copy.warehouse}' (FORMAT csv, USE_TMP_FILE false)")
    assert Path(f"{copy.warehouse}.wal").read_text() == "a\n1\n"
    assert copy.warehouse.read_text() == "a\n1\n"


@pytest.mark.parametrize("path", ["/etc/passwd", "secrets", "landing", "models"])
def test_files_outside_the_view_folders_cannot_be_read(
    demo_root: DataPaths, con: duckdb.DuckDBPyConnection, path: str
) -> None:
    if path == "secrets":
        target = key_file_path(demo_root.root)
        assert target.is_file()
    elif path == "landing":  # the exports as delivered: callers' numbers in clear
        target = next(demo_root.landing.glob("beijing_12345/*.csv"))
    elif path == "models":  # the text classifier: loaded as code, never written by a reader
        target = next(demo_root.models.glob("text_classifier/*.joblib"))
    else:
        target = Path(path)
    for function in ("read_csv", "read_text"):
        with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
            con.execute(f"SELECT * FROM {function}('{target}')")
    # Nor by going up from an allowed folder.
    if target.is_relative_to(demo_root.root):
        detour = demo_root.lake / "raw" / "tickets" / ".." / ".." / ".." / target.relative_to(
            demo_root.root)
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT * FROM read_text('{detour}')")


def test_parquet_outside_the_lake_cannot_be_read(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.parquet"
    with duckdb.connect() as own:
        own.execute(f"COPY (SELECT 42 AS answer) TO '{outside}'")
    with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
        con.execute(f"SELECT * FROM read_parquet('{outside}')")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM '{tmp_path}/*.parquet'")


def test_other_databases_cannot_be_attached(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as own:
        own.execute("CREATE TABLE t AS SELECT 1 AS a")
    with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
        con.execute(f"ATTACH '{other}' AS other")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"ATTACH '{tmp_path / 'new.duckdb'}' AS new")
    assert not (tmp_path / "new.duckdb").exists()


@pytest.mark.parametrize("statement", [
    "SET enable_external_access = true",
    "RESET enable_external_access",
    "SET GLOBAL enable_external_access = true",
    "SET allowed_directories = ['/']",
    "SET allowed_paths = ['/etc/passwd']",
    "SET temp_directory = '/tmp'",
    "SET allowed_configs = ['enable_external_access']",
    "SET lock_configuration = false",
])
def test_the_settings_cannot_be_changed_back(
    con: duckdb.DuckDBPyConnection, statement: str
) -> None:
    with pytest.raises(duckdb.Error, match=r"locked|disabled by configuration"):
        con.execute(statement)
    assert setting(con, "enable_external_access") is False


def test_resource_settings_stay_adjustable(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET threads = 1")
    con.execute("SET memory_limit = '1GB'")
    assert setting(con, "threads") == 1


def test_the_warehouse_itself_is_read_only(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("CREATE TABLE main.mine AS SELECT 1 AS a")
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("DELETE FROM dim_city")


# ---------------------------------------------------------------------------------------------
# Queries only
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sql", [
    "SELECT 1",
    "WITH t AS (SELECT 1 AS a) SELECT * FROM t",
    "FROM kpi_city_year",
    "VALUES (1)",
    "DESCRIBE fct_tickets",
    "SHOW TABLES",
    "SUMMARIZE dim_city",
    "PRAGMA show_tables",
    "EXPLAIN SELECT count(*) FROM fct_tickets",
    "explain analyze select 1;",
])
def test_queries_pass(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    check_read_only(con, sql)


@pytest.mark.parametrize("sql", [
    "COPY (SELECT 1) TO '/tmp/x.csv'",
    "COPY kpi_city_year TO '/tmp/x.parquet'",
    "EXPORT DATABASE '/tmp/x'",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/x.csv'",
    "ATTACH ':memory:' AS m",
    "INSTALL httpfs",
    "LOAD json",
    "SET threads = 1",
    "CREATE TEMP TABLE t AS SELECT 1",
    "CALL pragma_version()",
    "SELECT 1; COPY (SELECT 1) TO '/tmp/x.csv'",
    "",
])
def test_everything_else_is_refused(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    with pytest.raises(AnalystAccessError):
        check_read_only(con, sql)


# ---------------------------------------------------------------------------------------------
# hotline sql
# ---------------------------------------------------------------------------------------------
def hotline_sql(root: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HOTLINE, "sql", *argv], env=hotline_env(root), input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


MART_QUERY = ("SELECT city_code, year, ticket_count FROM kpi_city_year "
              "WHERE city_code = '110000' ORDER BY year")


def test_hotline_sql_prints_a_mart_query(demo_root: DataPaths) -> None:
    with duckdb.connect(str(demo_root.warehouse), read_only=True) as own:
        expected = own.execute(MART_QUERY).fetchall()
    assert expected
    table = hotline_sql(demo_root.root, MART_QUERY)
    assert table.returncode == 0, table.stderr
    assert "ticket_count" in table.stdout
    for city, year, count in expected:
        assert any(city in line and str(year) in line and str(count) in line
                   for line in table.stdout.splitlines()), table.stdout
    as_csv = hotline_sql(demo_root.root, "--csv", MART_QUERY)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows == [["city_code", "year", "ticket_count"],
                    *([city, str(year), str(count)] for city, year, count in expected)]
    piped = hotline_sql(demo_root.root, "--csv", stdin=MART_QUERY + ";\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == as_csv.stdout


@pytest.mark.parametrize("where", ["lake", "outside"])
def test_hotline_sql_refuses_copy_to(demo_root: DataPaths, tmp_path: Path, where: str) -> None:
    folder = (demo_root.lake / "raw" / "tickets" / "source=beijing_12345" if where == "lake"
              else tmp_path)
    before = files_under(demo_root.root)
    result = hotline_sql(demo_root.root,
                         f"COPY (SELECT 1 AS a) TO '{folder / 'x.parquet'}' (FORMAT parquet)")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "COPY statements are refused: only queries run here" in lines[0]
    assert not (folder / "x.parquet").exists()
    assert files_under(demo_root.root) == before


def test_hotline_sql_reports_duckdb_s_refusal_in_one_line(demo_root: DataPaths) -> None:
    result = hotline_sql(demo_root.root, "SELECT * FROM read_csv('/etc/passwd')")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'error: Permission Error: Cannot access file "/etc/passwd" - file system operations '
        "are disabled by configuration")


def test_hotline_sql_without_a_query(demo_root: DataPaths) -> None:
    result = hotline_sql(demo_root.root, stdin="  \n")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: no SQL given: pass the query as an argument, or on stdin")


def test_hotline_sql_without_a_warehouse(tmp_path: Path) -> None:
    result = hotline_sql(tmp_path, "SELECT 1")
    assert result.returncode == 1
    assert "no warehouse at" in result.stderr


def test_hotline_sql_does_not_import_dagster(demo_root: DataPaths) -> None:
    code = ("import sys\n"
            "from dagster_project.cli import main\n"
            "assert main(['sql', 'SELECT count(*) FROM dim_city']) == 0\n"
            "assert main(['sql', \"COPY dim_city TO '/tmp/x.csv'\"]) == 1\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dagster', 'dagster_dbt', 'dbt', 'great_expectations'))\n"
            "assert not loaded, loaded\n")
    result = subprocess.run([HOTLINE[0], "-c", code], env=hotline_env(demo_root.root),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
