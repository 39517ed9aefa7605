"""Each suite fails on a dataset seeded with its defect, naming the failing values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from dagster_project.quality import (
    Suite,
    latest_results,
    load_suite,
    pushdown,
    run_suite,
    runner,
    write_results,
)
from dagster_project.settings import DataPaths


@pytest.fixture(params=["whole frames", "pushdown"])
def paths(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> DataPaths:
    """Every test twice: GE on whole frames (small data) and on the rows DuckDB selects (as
    for large tables and lake files), which must find the same failures."""
    if request.param == "pushdown":
        monkeypatch.setattr(runner, "PUSHDOWN_MIN_ROWS", -1)
    paths = DataPaths(root=tmp_path)
    paths.warehouse.parent.mkdir(parents=True)
    return paths


def warehouse(paths: DataPaths, *statements: str) -> None:
    with duckdb.connect(str(paths.warehouse)) as con:
        for statement in statements:
            con.execute(statement)


def failures(paths: DataPaths, suite: str) -> dict[str, list]:
    outcome = run_suite(load_suite(suite), paths)
    return {f"{f.expectation}:{f.column}": f.unexpected_examples or [f.observed_value]
            for f in outcome.failures}


def table_suite(table: str, expectations: list[dict], **data: str) -> Suite:
    """A suite over a warehouse table, as a deployment may add one."""
    return Suite.model_validate({"name": f"custom_{table}", "meta": {
        "asset": table, "data": {"kind": "table", "table": table, **data},
        "public": {"family": "tickets", "title": "自定义检查", "unit": "行"}},
        "expectations": expectations})


RATE_IN_RANGE = {"type": "expect_column_values_to_be_between",
                 "kwargs": {"column": "direct_resolved_rate", "min_value": 0, "max_value": 1}}


def test_a_table_suite_names_the_values_out_of_range(paths: DataPaths) -> None:
    warehouse(paths, """CREATE TABLE kpi_city_year AS SELECT * FROM (VALUES
        ('110000', 2019, 0.5), ('310000', 2019, 1.2), ('320100', 2019, NULL)
    ) t(city_code, year, direct_resolved_rate)""")
    [failure] = run_suite(table_suite("kpi_city_year", [RATE_IN_RANGE]), paths).failures
    assert (failure.column, failure.unexpected_examples) == ("direct_resolved_rate", [1.2])


def hotline_years(counts: dict[int, tuple[int, int]]) -> str:
    """monitoring_hotline_year with, per year, (hotlines, of which 死线)."""
    rows = ", ".join(f"({year}, '{year}{i:04d}', '{'死线' if i < dead else '温线'}')"
                     for year, (hotlines, dead) in counts.items() for i in range(hotlines))
    return (f"CREATE TABLE monitoring_hotline_year AS SELECT * FROM (VALUES {rows}) "
            "t(year, city_code, line_class)")


def test_a_year_that_lost_hotlines_or_has_mostly_dead_lines_fails(paths: DataPaths) -> None:
    # 2019 ranks 27 of 2018's 35 (0.77 < 0.8); 2020 has 10 of 30 dead (0.33 > 0.3).
    warehouse(paths, hotline_years({2018: (35, 2), 2019: (27, 1), 2020: (30, 10)}))
    found = failures(paths, "monitoring_coverage")
    assert found == {
        "expect_column_values_to_be_between:hotlines_vs_previous_year": [f"2019: {27 / 35}"],
        "expect_column_values_to_be_between:dead_line_share": [f"2020: {10 / 30}"]}


def test_a_steady_ranking_passes(paths: DataPaths) -> None:
    # 28 of 35 is exactly 0.8; 9 dead of 30 is exactly 0.3: both limits hold.
    warehouse(paths, hotline_years({2018: (35, 2), 2019: (28, 1), 2020: (30, 9)}))
    assert failures(paths, "monitoring_coverage") == {}


# Personal data as people write it, each with the mask the examples show it under.
PLANTED = [
    ("请回电137-1234-0002", "请回电[手机号]"),
    ("+86 137 1234 0003", "[手机号]"),
    ("0086-136-1234-0006", "[手机号]"),
    ("座机(0898)66123457", "座机[电话]"),
    ("身份证110105 19491231 0037", "身份证[身份证号]"),
    ("旧证110105491231003", "旧证[身份证号]"),
    ("邮箱 zhang.san@example.com", "邮箱 [邮箱]"),
    ("卡号6222 0212 3456 7890 128", "卡号[银行卡号]"),
]


def test_personal_data_in_any_form_in_any_table_or_view_is_found(paths: DataPaths) -> None:
    values = ", ".join(f"('BJ{n}', '{value}', 'ok')" for n, (value, _) in enumerate(PLANTED))
    warehouse(
        paths,
        f"""CREATE TABLE fct_tickets AS SELECT * FROM (VALUES
            ('BJ2019013912345678', '路灯坏了 2019-05-01 10:00:00', '12345热线'), {values}
        ) t(ticket_id, content, note)""",
        "CREATE TABLE dim_city AS SELECT '110000' AS city_code, '北京' AS city_name",
        "CREATE VIEW analyst_view AS SELECT '13912345678' AS leaked",
        # Views over the lake are searched through the lake's files, not scanned again.
        "CREATE VIEW stg_lake__x AS SELECT '13912345678' AS leaked",
    )
    outcome = run_suite(load_suite("personal_data"), paths)
    failed = {(f.partition, f.column): (f.unexpected_count, sorted(f.unexpected_examples))
              for f in outcome.failures}
    assert failed == {
        ("fct_tickets", "content"): (len(PLANTED), sorted(m for _, m in PLANTED)),
        ("analyst_view", "leaked"): (1, ["[手机号]"]),
    }
    # fct_tickets, dim_city and analyst_view; not stg_lake__x
    assert outcome.rows_validated == (len(PLANTED) + 1) + 1 + 1


@pytest.mark.parametrize("folder", ["raw/tickets/source=a", "rejects/source=a",
                                    "manifest/source=a", "quality/suite=x"])
def test_personal_data_in_any_lake_file_is_found_once_per_file(
    paths: DataPaths, folder: str
) -> None:
    warehouse(paths, "CREATE TABLE dim_city AS SELECT '110000' AS city_code")
    target = paths.lake / folder
    target.mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT 'ok' AS a, '电话0898-66123456' AS raw_value) "
               f"TO '{target}/f.parquet'")
    duckdb.sql(f"COPY (SELECT 'ok' AS a, '无' AS raw_value) TO '{target}/g.parquet'")
    suite = load_suite("personal_data")
    [failure] = run_suite(suite, paths).failures
    assert (failure.partition, failure.column, failure.unexpected_examples) == (
        f"{folder}/f.parquet", "raw_value", ["电话[电话]"])
    # A failing file is searched again next time; a clean one is not.
    [again] = run_suite(suite, paths).failures
    assert again.partition == f"{folder}/f.parquet"
    duckdb.sql(f"COPY (SELECT 'ok' AS a, '电话[电话]' AS raw_value) TO '{target}/f.parquet'")
    assert run_suite(suite, paths).success


def test_lake_files_are_validated_one_by_one(paths: DataPaths) -> None:
    folder = paths.lake / "raw" / "test_calls" / "source=evaluator"
    folder.mkdir(parents=True)
    good = ("SELECT '110000' AS city_code, 2019 AS year, 'C1' AS call_id, "
            "TIMESTAMP '2019-05-01 10:00' AS called_at, true AS connected, "
            "12.0 AS seconds_to_human, 90.0 AS etiquette_score, 90.0 AS communication_score, "
            "80.0 AS resolution_score")
    bad = good.replace("'C1'", "'C2'").replace("80.0 AS resolution", "120.0 AS resolution")
    duckdb.sql(f"COPY ({good}) TO '{folder}/aaa.parquet'")
    duckdb.sql(f"COPY ({bad}) TO '{folder}/bbb.parquet'")
    outcome = run_suite(load_suite("lake_test_calls"), paths)
    assert outcome.rows_validated == 2
    [failure] = outcome.failures
    assert (failure.column, failure.unexpected_examples) == ("resolution_score", [120.0])
    assert failure.partition == "source=evaluator/bbb"


def test_results_are_appended_and_the_latest_run_is_read(paths: DataPaths) -> None:
    warehouse(paths, hotline_years({2018: (3, 0), 2019: (3, 0)}))
    suite = load_suite("monitoring_coverage")
    first = dt.datetime(2020, 1, 1, 8)
    write_results(run_suite(suite, paths), paths.lake, "run-1", first)
    write_results(run_suite(suite, paths), paths.lake, "run-2", first + dt.timedelta(hours=1))
    assert len(list((paths.lake / "quality").rglob("*.parquet"))) == 2
    latest = latest_results(paths.lake)
    assert {row["run_id"] for row in latest} == {"run-2"}
    assert len(latest) == len(suite.expectations)


def tickets_file(paths: DataPaths, name: str, ids: list[str], channel: str = "phone",
                 received: str = "2019-05-01 10:00") -> Path:
    folder = paths.lake / "raw" / "tickets" / "source=city"
    folder.mkdir(parents=True, exist_ok=True)
    rows = ", ".join(f"('{i}', TIMESTAMP '{received}', NULL::TIMESTAMP, '{channel}', "
                     "'help', 'open', 'unrated', '110000')" for i in ids)
    target = folder / f"{name}.parquet"
    duckdb.sql(f"COPY (SELECT * FROM (VALUES {rows}) t(ticket_id, received_at, closed_at, "
               f"channel, request_type, status, satisfaction, city_code)) TO '{target}'")
    return target


def test_ids_whose_versions_were_received_days_apart_fail(paths: DataPaths) -> None:
    """Re-exports (in one file or another) agree on the receipt; a restarted sequence
    does not. Within a day is a corrected time, not another request."""
    tickets_file(paths, "aaa", ["T1", "T2", "T3"])
    tickets_file(paths, "bbb", ["T1", "T1"])
    tickets_file(paths, "ccc", ["T2"], received="2019-05-02 09:00")
    suite = load_suite("ticket_versions")
    assert run_suite(suite, paths).success
    tickets_file(paths, "ddd", ["T3"], received="2019-05-04 10:00")
    [failure] = run_suite(suite, paths).failures
    assert failure.unexpected_examples == ["110000: 1"]


def test_checks_of_the_lake_need_no_warehouse(paths: DataPaths) -> None:
    assert not paths.warehouse.exists()
    for name in ("ticket_versions", "file_rejects", "lake_field_nulls"):
        outcome = run_suite(load_suite(name), paths)  # nothing in the lake: nothing to fail
        assert outcome.success and outcome.rows_validated == 0
    tickets_file(paths, "aaa", ["T1", "T1"])
    assert run_suite(load_suite("ticket_versions"), paths).rows_validated == 1


def test_an_unchanged_lake_file_keeps_its_result_a_changed_one_is_revalidated(
    paths: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = load_suite("lake_tickets")
    kept = tickets_file(paths, "aaa", ["T1", "T2"])
    changed = tickets_file(paths, "bbb", ["T3"])
    validated: list[list[str]] = []
    original = runner._validate_lake_files

    def spy(suite, files):
        validated.append([f.stem for f in files])
        return original(suite, files)

    monkeypatch.setattr(runner, "_validate_lake_files", spy)
    assert run_suite(suite, paths).success
    assert run_suite(suite, paths).success
    assert validated == [["aaa", "bbb"]]  # the second run read nothing

    # Rewritten in place (same name): validated again, and its new defect is found.
    tickets_file(paths, changed.stem, ["T3"], channel="fax")
    outcome = run_suite(suite, paths)
    assert validated[1:] == [["bbb"]]
    [failure] = outcome.failures
    assert (failure.column, failure.unexpected_examples) == ("channel", ["fax"])
    assert failure.partition == "source=city/bbb"
    assert outcome.rows_validated == 3

    # A different suite validates every file again; a removed file's entry is dropped.
    stricter = suite.model_copy(update={"expectations": [*suite.expectations, {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "request_type", "value_set": ["consult"]}}]})
    kept.unlink()
    assert len(run_suite(stricter, paths).failures) == 2
    assert validated[2:] == [["bbb"]]
    entries = list((paths.lake / "quality" / "_validated").rglob("*.json"))
    assert [e.name.split("-")[2] for e in entries] == ["bbb"]
    assert not list((paths.lake / "quality").rglob("*.parquet"))  # not read as results


def test_beyond_the_candidate_limit_duckdb_counts_and_ge_names_examples(
    paths: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pushdown, "MAX_CANDIDATES", 3)
    warehouse(paths, """CREATE TABLE kpi_city_year AS SELECT
        lpad(i::VARCHAR, 6, '0') AS city_code, 2019 AS year, 10 AS ticket_count,
        CASE WHEN i % 2 = 0 THEN 1 + i / 100 ELSE 0.5 END AS direct_resolved_rate,
        0.5 AS response_rate, 0.5 AS on_time_close_rate, 0.5 AS resolution_rate,
        0.5 AS satisfaction_rate FROM range(20) r(i)""")
    [failure] = run_suite(table_suite("kpi_city_year", [RATE_IN_RANGE]), paths).failures
    assert failure.column == "direct_resolved_rate"
    assert failure.unexpected_count == 9  # 1.02, 1.04, ... 1.18 (1.00 is within range)
    assert failure.unexpected_examples[:3] == [1.02, 1.04, 1.06]  # through pushdown: just 3


def test_expectations_without_a_sql_translation_fall_back_to_whole_frames() -> None:
    types = {"a": "DOUBLE", "b": "VARCHAR"}
    between = {"type": "expect_column_values_to_be_between",
               "kwargs": {"column": "a", "min_value": 0}}
    assert pushdown.plan([between], types) is not None
    assert pushdown.plan([{**between, "kwargs": {**between["kwargs"], "mostly": 0.9}}],
                         types) is None
    assert pushdown.plan([{"type": "expect_column_mean_to_be_between",
                           "kwargs": {"column": "a", "min_value": 0}}], types) is None
    assert pushdown.plan([{**between, "kwargs": {**between["kwargs"],
                                                 "row_condition": "b.str.len() > 2"}}],
                         types) is None
    # DuckDB would cast '2019' to 2019 and select nothing, while GE fails every row: no pushdown.
    assert pushdown.plan([{"type": "expect_column_values_to_be_in_set",
                           "kwargs": {"column": "a", "value_set": ["2019"]}}], types) is None
    assert pushdown.plan([{"type": "expect_column_values_to_be_between",
                           "kwargs": {"column": "b", "min_value": 1}}], types) is None


def test_a_pushdown_duckdb_cannot_run_falls_back_to_whole_frames(
    paths: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise duckdb.BinderException("no such function")

    monkeypatch.setattr(runner, "PUSHDOWN_MIN_ROWS", -1)
    monkeypatch.setattr(pushdown, "run", broken)
    tickets_file(paths, "aaa", ["T1", "T2"], channel="fax")
    [failure] = run_suite(load_suite("lake_tickets"), paths).failures
    assert (failure.column, failure.unexpected_examples) == ("channel", ["fax", "fax"])


def city_tickets(paths: DataPaths, city: str, fingerprint: str, ids: list[str],
                 content: str = "路灯坏了") -> None:
    """Replace one city's rows of fct_tickets, built from lake files `fingerprint`."""
    rows = ", ".join(f"('{city}', '{i}', TIMESTAMP '2019-05-01 10:00', NULL::TIMESTAMP, "
                     f"false, '{content}', '{fingerprint}')" for i in ids)
    warehouse(paths, "CREATE TABLE IF NOT EXISTS fct_tickets (city_code VARCHAR, ticket_id "
                     "VARCHAR, received_at TIMESTAMP, closed_at TIMESTAMP, "
                     "is_closed_before_received BOOLEAN, content VARCHAR, "
                     "lake_files_fingerprint VARCHAR)",
              f"DELETE FROM fct_tickets WHERE city_code = '{city}'",
              f"INSERT INTO fct_tickets VALUES {rows}")


def test_an_unchanged_city_keeps_its_outcome_a_changed_one_is_validated_again(
    paths: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = table_suite("fct_tickets", [{
        "type": "expect_compound_columns_to_be_unique",
        "kwargs": {"column_list": ["city_code", "ticket_id"]}}],
        partition_by="city_code", partition_fingerprint="lake_files_fingerprint")
    city_tickets(paths, "110000", "lake-a", ["A1", "A2"])
    city_tickets(paths, "310000", "lake-b", ["B1"])
    validated: list[list[str]] = []
    original = runner._validate_table

    def spy(*args, **kwargs):
        rows, outcomes = original(*args, **kwargs)
        validated.append(sorted(rows))
        return rows, outcomes

    monkeypatch.setattr(runner, "_validate_table", spy)
    assert run_suite(suite, paths, "build-1").success
    outcome = run_suite(suite, paths, "build-1")
    assert outcome.success and outcome.rows_validated == 3
    assert validated == [["110000", "310000"]]  # the second run validated nothing

    # Shanghai's files change and its new rows repeat an id: only Shanghai is validated.
    city_tickets(paths, "310000", "lake-c", ["B1", "B1"])
    [failure] = run_suite(suite, paths, "build-1").failures
    assert validated[1:] == [["310000"]]
    assert (failure.partition, failure.unexpected_count) == ("city_code=310000", 2)
    # A failing city is validated again each time; the clean one keeps its outcome.
    assert not run_suite(suite, paths, "build-1").success
    assert validated[2:] == [["310000"]]

    # A row more under the same fingerprint, another build, or no build: validated again.
    warehouse(paths, "INSERT INTO fct_tickets SELECT * REPLACE ('A3' AS ticket_id) "
                     "FROM fct_tickets WHERE ticket_id = 'A1'")
    run_suite(suite, paths, "build-1")
    assert validated[3:] == [["110000", "310000"]]
    run_suite(suite, paths, "build-2")
    run_suite(suite, paths, None)
    assert validated[4:] == [["110000", "310000"]] * 2


def test_personal_data_scans_only_the_cities_not_found_clean_before(
    paths: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = load_suite("personal_data")
    city_tickets(paths, "110000", "lake-a", ["A1"])
    city_tickets(paths, "310000", "lake-b", ["B1"])
    skipped: list[set[str]] = []
    original = runner._clean_partitions

    def spy(*args, **kwargs):
        states, clean = original(*args, **kwargs)
        skipped.append(clean)
        return states, clean

    monkeypatch.setattr(runner, "_clean_partitions", spy)
    assert run_suite(suite, paths, "build-1").success
    assert skipped == [set()]

    # Shanghai's new rows hold a mobile number: found, while Beijing is not scanned again.
    city_tickets(paths, "310000", "lake-c", ["B1"], content="请回电139 1234 5678")
    [failure] = run_suite(suite, paths, "build-1").failures
    assert (failure.partition, failure.column) == ("fct_tickets", "content")
    assert failure.unexpected_examples == ["请回电[手机号]"]
    assert skipped[1:] == [{"110000"}]
    # Never remembered as clean: the next run finds it again.
    assert not run_suite(suite, paths, "build-1").success
    assert skipped[2:] == [{"110000"}]
    # Without the build's fingerprint nothing is skipped.
    assert not run_suite(suite, paths, None).success
    assert skipped[3:] == [set()]


# Cities the warehouse names (a hotline it does not name is shown by its code).
CITIES = ("CREATE TABLE dim_city AS SELECT * FROM (VALUES ('110000', '北京'), ('310000', '上海')) "
          "t(city_code, city_name)")


def calls_of(city: str, calls: int, scores: tuple[int, int, int] | None = None,
                   connected: bool = True) -> str:
    """`calls` test calls of a hotline in 2019, scored alike when `scores` is given (else
    varied), as values of fct_test_calls' columns."""
    rows = []
    for n in range(calls):
        e, c, r = scores or (60 + n, 70 + n % 3, 50 + 2 * n)
        rows.append(f"(2019, '{city}', {str(connected).lower()}, {e}, {c}, {r})")
    return ", ".join(rows)


@pytest.mark.parametrize(("rows", "failing"), [
    # A score column mapped from a constant: six connected calls scored exactly alike.
    (calls_of("310000", 12, (80, 80, 80)),
     "expect_column_values_to_be_in_set:scores_all_identical"),
    # Eleven calls of twelve perfect on every score (11/12 > 0.9).
    (calls_of("310000", 11, (100, 100, 100)) + ", "
     + calls_of("310000", 1, (90, 100, 100)),
     "expect_column_values_to_be_between:perfect_share"),
])
def test_implausible_test_calls_fail_what_row_tests_pass(
    paths: DataPaths, rows: str, failing: str
) -> None:
    """Each defect keeps every value in range and every row unique (fct_test_calls' dbt tests
    pass), and fails the plausibility suite; the clean hotline beside it does not."""
    warehouse(paths, CITIES, "CREATE TABLE fct_test_calls AS SELECT * FROM (VALUES "
                     f"{calls_of('110000', 12)}, {rows}) t(evaluation_year, city_code, "
                     "is_connected, etiquette_score, communication_score, resolution_score)")
    found = failures(paths, "test_call_plausibility")
    assert list(found) == [failing]
    [example] = found[failing]
    assert example.startswith("上海 2019: ")  # the hotline and year, named


def test_calls_outside_the_evaluators_design_warn(paths: DataPaths) -> None:
    """A file cut short: 4 calls where the design has 10 to 15, and 16 where a file was sent
    partly twice; in range, dbt has nothing to object to."""
    warehouse(paths, CITIES, "CREATE TABLE fct_test_calls AS SELECT * FROM (VALUES "
                     f"{calls_of('110000', 12)}, {calls_of('310000', 4)}, "
                     f"{calls_of('320100', 16)}) t(evaluation_year, city_code, is_connected, "
                     "etiquette_score, communication_score, resolution_score)")
    assert failures(paths, "test_call_design") == {
        "expect_column_values_to_be_between:test_calls": ["320100 2019: 16", "上海 2019: 4"]}
    assert load_suite("test_call_design").meta.severity == "WARN"


def test_plausible_test_calls_pass(paths: DataPaths) -> None:
    warehouse(paths, CITIES, "CREATE TABLE fct_test_calls AS SELECT * FROM (VALUES "
                     f"{calls_of('110000', 10)}, {calls_of('310000', 15)}, "
                     f"{calls_of('320100', 12, (0, 0, 0), connected=False)}"
                     ") t(evaluation_year, city_code, is_connected, etiquette_score, "
                     "communication_score, resolution_score)")
    assert failures(paths, "test_call_plausibility") == {}
    assert failures(paths, "test_call_design") == {}
