"""The whole graph on a small generated dataset, checked against independent computations."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from dagster_project.demo.generator import generate_demo
from dagster_project.local_runs import PipelineRun, run_everything
from dagster_project.quality import load_suite, suites
from dagster_project.settings import DATA_ROOT_ENV, PROJECT_ROOT, DataPaths

# A mobile number standing alone, not a run of digits inside a longer id.
MOBILE = re.compile(r"(?:^|[^0-9])1[3-9][0-9]{9}(?:[^0-9]|$)")
GENERATED_AT = re.compile(r"生成时间 [0-9: -]+")


class Demo:
    def __init__(self, paths: DataPaths, first: PipelineRun, instance: dg.DagsterInstance) -> None:
        self.paths = paths
        self.first = first
        self.instance = instance

    def warehouse(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.paths.warehouse), read_only=True)

    def report(self, year: int = 2019) -> str:
        return (self.paths.site / str(year) / "index.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_ROOT_ENV, str(root))
        paths = DataPaths(root=root)
        generate_demo(paths.landing, seed=11, total_tickets=6000)
        (root / "dagster_instance").mkdir()
        with dg.DagsterInstance.local_temp(str(root / "dagster_instance")) as instance:
            yield Demo(paths, run_everything(log_level="WARNING", instance=instance), instance)


def test_pipeline_materialises_everything(demo: Demo) -> None:
    assert demo.first.success
    assert demo.first.failed_checks == []
    for asset in ("lake/tickets", "fct_tickets", "monitoring_hotline_year", "annual_report"):
        assert asset in demo.first.materialized
    suite_files = {p.stem for p in suites.EXPECTATIONS_DIR.glob("*.json")}
    suites_run = {p.parent.name for p in (demo.paths.lake / "quality").glob("*/*.parquet")}
    assert suites_run == {f"suite={name}" for name in suite_files}
    # The same results, as analysts see them in the warehouse.
    with demo.warehouse() as con:
        in_warehouse = {s for (s,) in con.execute(
            "SELECT DISTINCT suite FROM stg_lake__quality_results").fetchall()}
    assert in_warehouse == suite_files


def independent_ranking(lake: Path, year: int) -> list[tuple[str, float]]:
    """The monitoring ranking computed from the lake's test calls, formula by formula."""
    settings = yaml.safe_load((PROJECT_ROOT / "dbt" / "dbt_project.yml").read_text())["vars"]
    weights = settings["monitoring_weights"]
    rows = duckdb.sql(f"""
        SELECT city_code, count(*) AS calls, count(*) FILTER (WHERE connected) AS connected,
               avg(seconds_to_human) FILTER (WHERE connected),
               avg(etiquette_score) FILTER (WHERE connected),
               avg(communication_score) FILTER (WHERE connected),
               avg(resolution_score) FILTER (WHERE connected)
        FROM read_parquet('{lake}/raw/test_calls/*/*.parquet')
        WHERE year = {year} GROUP BY city_code
    """).fetchall()
    scored = []
    for city, calls, connected, seconds, etiquette, communication, resolution in rows:
        connect = 100 * connected / calls
        if seconds is None:
            time_to_human = 0.0
        else:
            time_to_human = min(100.0, max(0.0, 100 * (120 - seconds) / (120 - 15)))
        total = (weights["connect"] * connect + weights["time_to_human"] * time_to_human
                 + weights["etiquette"] * (etiquette or 0)
                 + weights["communication"] * (communication or 0)
                 + weights["resolution"] * (resolution or 0))
        scored.append((city, total, connect, resolution or 0))
    scored.sort(key=lambda r: (-round(r[1], 6), -round(r[2], 6), -round(r[3], 6), r[0]))
    return [(city, total) for city, total, _, _ in scored]


def test_ranking_equals_an_independent_computation(demo: Demo) -> None:
    expected = independent_ranking(demo.paths.lake, 2019)
    with demo.warehouse() as con:
        mart = con.execute(
            "SELECT city_code, total_score FROM monitoring_hotline_year "
            "WHERE year = 2019 ORDER BY national_rank"
        ).fetchall()
    assert len(mart) >= 30
    assert [c for c, _ in mart] == [c for c, _ in expected]
    for (_, got), (_, want) in zip(mart, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-4)
    table = demo.report().split('id="ranking-table"')[1]
    assert re.findall(r'data-city-code="(\d{6})"', table) == [c for c, _ in expected]


def test_ticket_volume_equals_distinct_tickets_in_the_lake(demo: Demo) -> None:
    expected = dict(
        ((city, year), count) for city, year, count in duckdb.sql(f"""
            SELECT city_code, year(received_at), count(DISTINCT ticket_id)
            FROM read_parquet('{demo.paths.lake}/raw/tickets/*/*.parquet') GROUP BY ALL
        """).fetchall()
    )
    with demo.warehouse() as con:
        got = {(c, y): n for c, y, n in con.execute(
            "SELECT city_code, year, ticket_count FROM kpi_city_year").fetchall()}
    assert got == expected
    assert len(got) >= 12  # six cities, two years


def data_rows_of_csv(path: Path, encoding: str, title_rows: int) -> int:
    text = path.read_bytes().decode(encoding)
    records = list(csv.reader(io.StringIO(text)))[title_rows + 1:]
    return sum(1 for r in records if r and not r[0].strip().startswith("合计"))


def test_every_landing_row_is_accounted_for(demo: Demo) -> None:
    with demo.warehouse() as con:
        files = {f: (read, written, rejected) for f, read, written, rejected in con.execute(
            "SELECT source_file, rows_read, rows_written, rows_rejected FROM file_reconciliation"
        ).fetchall()}
    assert len(files) == len(list(demo.paths.landing.rglob("*.*")))
    for read, written, rejected in files.values():
        assert read == written + rejected
    beijing = next(demo.paths.landing.glob("beijing_12345/*2019*.csv"))
    assert files[f"beijing_12345/{beijing.name}"][0] == data_rows_of_csv(beijing, "utf-8", 0)
    haikou = next(demo.paths.landing.glob("haikou_12345/*2019*.csv"))
    assert files[f"haikou_12345/{haikou.name}"][0] == data_rows_of_csv(haikou, "gbk", 2)
    assert sum(rejected for _, _, rejected in files.values()) > 0


def test_each_model_s_materialisation_counts_its_dbt_tests(demo: Demo) -> None:
    # Counted here from the manifest dbt wrote: the data tests that read each model.
    nodes = json.loads((PROJECT_ROOT / "dbt" / "target" / "manifest.json").read_text())["nodes"]
    expected: dict[str, int] = {}
    for node in nodes.values():
        if node["resource_type"] == "test":
            for model in {nodes[n]["name"] for n in node["depends_on"]["nodes"] if n in nodes}:
                expected[model] = expected.get(model, 0) + 1
    assert expected["fct_tickets"] >= 10
    recorded = {}
    for model in ("fct_tickets", "dim_city", "kpi_city_year", "monitoring_awards"):
        event = demo.instance.get_latest_materialization_event(dg.AssetKey(model))
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        assert "dbt_tests_not_passed" not in metadata
        recorded[model] = metadata["dbt_tests_passed"].value
    assert recorded == {m: expected[m] for m in recorded}
    # dbt's tests are counted on the models, not declared and stored as asset checks one by
    # one: the checks are the expectation suites'.
    from dagster_project.definitions import defs

    checks = defs.resolve_job_def("refresh").asset_layer.asset_graph.asset_check_keys
    assert checks and all(k.name.startswith("ge_") for k in checks)


def test_no_phone_number_reaches_marts_or_report(demo: Demo) -> None:
    with demo.warehouse() as con:
        # every schema: the marts, and the build record beside them; and the tickets' texts
        text_columns = con.execute("""
            SELECT table_schema, table_name, column_name FROM information_schema.columns
            WHERE data_type = 'VARCHAR' AND (table_schema, table_name) IN (
                SELECT (table_schema, table_name) FROM information_schema.tables
                WHERE table_type = 'BASE TABLE' OR table_name = 'fct_ticket_texts')
        """).fetchall()
        assert ("main", "fct_ticket_texts", "content") in text_columns
        assert {schema for schema, _, _ in text_columns} == {"main", "hotline_meta"}
        digests = [*load_suite("personal_data").meta.data.exclude_columns,  # type: ignore[union-attr]
                   "fingerprint"]  # hotline_meta.build: a SHA-256 of the project
        for schema, table, column in text_columns:
            if column in digests:
                continue
            hits = con.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE regexp_matches("{column}", ?)',
                [MOBILE.pattern],
            ).fetchone()
            assert hits == (0,), f"{schema}.{table}.{column}"
    for page in demo.paths.site.rglob("*.html"):
        assert not MOBILE.search(page.read_text(encoding="utf-8")), page


def test_report_is_self_contained(demo: Demo) -> None:
    html = demo.report()
    assert '<html lang="zh-CN">' in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert "<script" not in html and "<link" not in html
    assert "<svg" in html
    with demo.warehouse() as con:
        top_ten = [n for (n,) in con.execute(
            "SELECT hotline_name FROM monitoring_hotline_year WHERE year = 2019 "
            "AND national_rank <= 10 ORDER BY national_rank").fetchall()]
    block = html.split('id="top-ten"')[1].split("</section>")[0]
    assert re.findall(r"<li>([^（<]+)（", block) == top_ten


def test_rerun_is_idempotent_and_renders_the_same_report(demo: Demo) -> None:
    before = {p: GENERATED_AT.sub("", p.read_text(encoding="utf-8"))
              for p in demo.paths.site.rglob("*.html")}
    lake_files = sorted((demo.paths.lake / "raw").rglob("*.parquet"))
    second = run_everything(log_level="WARNING")
    assert second.success
    assert sorted((demo.paths.lake / "raw").rglob("*.parquet")) == lake_files
    after = {p: GENERATED_AT.sub("", p.read_text(encoding="utf-8"))
             for p in demo.paths.site.rglob("*.html")}
    assert after == before


def test_failing_error_check_blocks_the_report(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for existing in suites.EXPECTATIONS_DIR.glob("*.json"):
        (tmp_path / existing.name).write_text(existing.read_text(encoding="utf-8"))
    suite = json.loads((tmp_path / "monitoring_coverage.json").read_text())
    suite["expectations"].append({  # every year ranks more than one hotline
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "hotlines", "min_value": 0, "max_value": 1},
    })
    (tmp_path / "monitoring_coverage.json").write_text(json.dumps(suite))
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", tmp_path)
    report = demo.paths.site / "2019" / "index.html"
    stamp = report.stat().st_mtime_ns
    blocked = run_everything(log_level="WARNING")
    assert "monitoring_hotline_year:ge_monitoring_coverage" in blocked.failed_checks
    assert "annual_report" not in blocked.materialized
    assert report.stat().st_mtime_ns == stamp


def test_dbt_unit_tests_pass_outside_the_production_build(demo: Demo, tmp_path: Path) -> None:
    """The pipeline's build skips the unit tests (they test the SQL on fixed rows, not the
    data); here every one of them runs against the built warehouse and passes."""
    from dagster_project.warehouse.dbt_files import DBT_EXECUTABLE, DBT_PROJECT_DIR

    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    declared = set(manifest["unit_tests"])
    built = subprocess.run(
        [str(DBT_EXECUTABLE), "test", "--select", "test_type:unit", "--project-dir",
         str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path",
         str(tmp_path / "target")],
        env={**os.environ, DATA_ROOT_ENV: str(demo.paths.root)},
        capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    assert built.returncode == 0, built.stdout[-3000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert {r["unique_id"] for r in results} == declared
    assert len(declared) >= 20
    assert {r["status"] for r in results} == {"pass"}
