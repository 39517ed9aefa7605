"""Incremental builds: a daily delivery rebuilds only the cities whose lake files changed, and
the warehouse it publishes is the one a build from scratch makes of the same lake."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from cli_runner import run_cli
from dbt_runner import run_dbt
from pipeline_helpers import lake_counts, warehouse_counts

from dagster_project.demo.generator import generate_demo
from dagster_project.settings import DATA_ROOT_ENV, DataPaths

BEIJING, YIBIN = "110000", "511500"
CORRECTED_TITLE = "更正后的诉求标题"


def hotline(*argv: str) -> str:
    """`hotline ARGV` in this process; it must succeed."""
    code, out, err = run_cli(*argv)
    assert code == 0, err
    return out


def use_root(monkeypatch: pytest.MonkeyPatch, paths: DataPaths) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(paths.root))
    monkeypatch.setenv("DAGSTER_HOME", str(paths.root / "dagster_home"))


# The models incremental by city: each logs the cities it rebuilds.
INCREMENTAL_BY_CITY = ("fct_tickets", "kpi_city_year", "category_city_year",
                       "ticket_mix_city_year", "ticket_file_counts")


def build(paths: DataPaths) -> list[str] | None:
    """`hotline build`; the cities fct_tickets said it rebuilt (from the command's log), or
    None when it was built in full. Every mart incremental by city rebuilt the same ones."""
    hotline("build")
    log = max((paths.root / "logs").glob("build-*.log"), key=lambda f: f.stat().st_mtime)
    rebuilt: dict[str, list[str]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        model, _, rest = line.partition(": rebuilding ")
        if model in INCREMENTAL_BY_CITY and rest:
            assert model not in rebuilt, f"{model} logged its cities twice"
            listed = rest.split(":", 1)[1].strip()
            rebuilt[model] = sorted(listed.split(", ")) if listed else []
    if not rebuilt:
        return None
    assert set(rebuilt) == set(INCREMENTAL_BY_CITY), rebuilt
    cities = rebuilt["fct_tickets"]
    assert all(listed == cities for listed in rebuilt.values()), rebuilt
    return cities


def build_from_scratch(tmp_path: Path, paths: DataPaths, monkeypatch: pytest.MonkeyPatch,
                       name: str) -> Path:
    """The same lake and reference data in a fresh root, built from an empty warehouse."""
    scratch = DataPaths(root=tmp_path / name)
    shutil.copytree(paths.lake, scratch.lake)
    if paths.reference.exists():
        shutil.copytree(paths.reference, scratch.reference)
    use_root(monkeypatch, scratch)
    hotline("build")
    use_root(monkeypatch, paths)
    return scratch.warehouse


def differing_tables(incremental: Path, scratch: Path) -> dict[str, int]:
    """Every table of the main schema, compared row for row (EXCEPT ALL both ways) but for
    `built_at`, when the build that wrote a row started: the tables that differ, with the
    number of rows found on one side only."""
    differing = {}
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{incremental}' AS inc (READ_ONLY)")
        con.execute(f"ATTACH '{scratch}' AS full_build (READ_ONLY)")
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'full_build' "
            "AND schema_name = 'main' ORDER BY 1").fetchall()]
        assert "fct_tickets" in tables and "kpi_city_year" in tables
        for table in tables:
            columns = ", ".join(c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'full_build' "
                "AND schema_name = 'main' AND table_name = ? AND column_name <> 'built_at' "
                "ORDER BY column_index", [table]).fetchall())
            (only_one_side,) = con.execute(
                f"SELECT (SELECT count(*) FROM (SELECT {columns} FROM inc.main.{table} "
                f"EXCEPT ALL SELECT {columns} FROM full_build.main.{table})) + (SELECT count(*) "
                f"FROM (SELECT {columns} FROM full_build.main.{table} "
                f"EXCEPT ALL SELECT {columns} FROM inc.main.{table}))"
            ).fetchone() or (0,)
            if only_one_side:
                differing[table] = only_one_side
    return differing


def tickets_of(warehouse: Path, city_code: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (count,) = con.execute("SELECT count(*) FROM fct_tickets WHERE city_code = ?",
                               [city_code]).fetchone() or (0,)
    return int(count)


def unique_ticket_test(target: Path) -> str:
    """The SQL dbt ran for fct_tickets' test of unique city and ticket ids."""
    [test] = (target / "run").rglob("unique_combination_fct_tickets_city_code__ticket_id.sql")
    return test.read_text(encoding="utf-8")


def test_a_delivery_rebuilds_only_its_cities_and_equals_a_build_from_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = DataPaths(root=tmp_path / "data")
    use_root(monkeypatch, paths)
    generate_demo(paths.landing, seed=11, total_tickets=800)
    later = tmp_path / "later"
    shutil.move(paths.landing / "yibin_12345", later)
    hotline("ingest")
    assert build(paths) is None, "the first build is a full one"
    assert tickets_of(paths.warehouse, YIBIN) == 0

    # The day's delivery: Beijing re-exports its 2019 file with one ticket corrected (its
    # title, channel and rating, which the marts above fct_tickets count), and Yibin's
    # exports arrive for the first time.
    exported = paths.landing / "beijing_12345" / "工单导出_2019.csv"
    header, first, *rest = exported.read_text(encoding="utf-8").splitlines()
    fields, columns = first.split(","), header.split(",")
    assert (fields[columns.index("受理渠道")], fields[columns.index("满意度")]) == ("电话", "满意")
    ticket_id, fields[columns.index("诉求标题")] = fields[0], CORRECTED_TITLE
    fields[columns.index("受理渠道")], fields[columns.index("满意度")] = "网站", "不满意"
    (exported.parent / "工单导出_2019_更正.csv").write_text(
        "\n".join([header, ",".join(fields), *rest]) + "\n", encoding="utf-8")
    shutil.move(later, paths.landing / "yibin_12345")
    hotline("ingest")
    # The corrected file holds every ticket of the first: that one left the current files.
    beijing = paths.lake / "raw" / "tickets" / "source=beijing_12345"
    assert len(list((beijing / "superseded").glob("*.parquet"))) == 1
    assert build(paths) == [BEIJING, YIBIN]
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        # Its rows still count: every one superseded, none in the facts.
        [(written, superseded, in_facts, balanced)] = con.execute(
            "SELECT rows_written, rows_superseded, rows_in_facts, is_balanced "
            "FROM file_reconciliation WHERE source_file = ?",
            ["beijing_12345/工单导出_2019.csv"]).fetchall()
        assert (superseded, in_facts, balanced) == (written, 0, True) and written > 0
        assert con.execute(
            "SELECT title, channel, satisfaction FROM fct_tickets "
            "JOIN fct_ticket_texts USING (city_code, ticket_id) "
            "WHERE city_code = ? AND ticket_id = ?", [BEIJING, ticket_id]
        ).fetchall() == [(CORRECTED_TITLE, "web", "dissatisfied")]
    assert tickets_of(paths.warehouse, YIBIN) > 0
    # The build stamped the rows it wrote, and fct_tickets' data tests read those alone; on
    # its own, `dbt test` reads every row.
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert {c for (c,) in con.execute(
            "SELECT DISTINCT city_code FROM fct_tickets "
            "WHERE built_at = (SELECT max(built_at) FROM fct_tickets)").fetchall()} == {
            BEIJING, YIBIN}
    assert "where (built_at = cast(" in unique_ticket_test(paths.dbt_target)
    run_dbt(tmp_path / "dbt_test_alone", "test", "--select", "fct_tickets,test_type:data")
    assert "built_at" not in unique_ticket_test(tmp_path / "dbt_test_alone")
    scratch = build_from_scratch(tmp_path, paths, monkeypatch, "scratch-1")
    assert differing_tables(paths.warehouse, scratch) == {}

    # A hotline added to the data root's reference cities: the models read that file, so rows
    # kept from before might be stale. The build starts from an empty warehouse.
    paths.reference.mkdir(parents=True)
    (paths.reference / "cities.csv").write_text(
        "city_code,city_name,province,region,population_2019\n"
        "990100,测试市,四川省,西南,1000000\n", encoding="utf-8")
    assert build(paths) is None

    # A source is taken out of the lake (its data, rejects and manifest): its city's rows go.
    # The build is incremental again (the full one recorded its fingerprint).
    for folder in ("raw/tickets", "rejects", "manifest"):
        shutil.rmtree(paths.lake / folder / "source=yibin_12345")
    assert build(paths) == [], "nothing to rebuild, only rows to drop"
    assert tickets_of(paths.warehouse, YIBIN) == 0
    assert warehouse_counts(paths.warehouse) == lake_counts(paths.root)
    scratch = build_from_scratch(tmp_path, paths, monkeypatch, "scratch-2")
    assert differing_tables(paths.warehouse, scratch) == {}
