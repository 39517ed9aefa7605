"""Each suite fails on a dataset seeded with its defect, naming the failing values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from dagster_project.quality import (
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


def test_rates_outside_zero_one_are_named(paths: DataPaths) -> None:
    warehouse(paths, """CREATE TABLE kpi_city_year AS SELECT * FROM (VALUES
        ('110000', 2019, 10, 0.5, 0.9, 0.8, 0.7, 0.95),
        ('310000', 2019, 12, 1.2, NULL, 0.8, 0.7, 0.95)
    ) t(city_code, year, ticket_count, direct_resolved_rate, response_rate, on_time_close_rate,
        resolution_rate, satisfaction_rate)""")
    assert failures(paths, "kpi_city_year") == {
        "expect_column_values_to_be_between:direct_resolved_rate": [1.2]}


def test_duplicate_ticket_and_unflagged_early_close_fail(paths: DataPaths) -> None:
    warehouse(paths, """CREATE TABLE fct_tickets AS SELECT * FROM (VALUES
        ('110000', 'A1', TIMESTAMP '2019-01-02 10:00', TIMESTAMP '2019-01-02 12:00', false),
        ('110000', 'A1', TIMESTAMP '2019-01-03 10:00', NULL, false),
        ('110000', 'A2', TIMESTAMP '2019-01-02 10:00', TIMESTAMP '2019-01-01 09:00', false),
        ('310000', 'A3', TIMESTAMP '2019-01-02 10:00', TIMESTAMP '2019-01-01 09:00', true)
    ) t(city_code, ticket_id, received_at, closed_at, is_closed_before_received)""")
    found = failures(paths, "fct_tickets")
    assert set(found) == {
        "expect_compound_columns_to_be_unique:city_code,ticket_id",
        "expect_column_pair_values_a_to_be_greater_than_b:closed_at,received_at",
    }
    assert found["expect_compound_columns_to_be_unique:city_code,ticket_id"][0] == {
        "city_code": "110000", "ticket_id": "A1"}
    # Only A2 is unexpected: A3 is flagged as an impossible record, which is allowed.
    [(closed, received)] = found[
        "expect_column_pair_values_a_to_be_greater_than_b:closed_at,received_at"]
    assert (closed, received) == (dt.datetime(2019, 1, 1, 9), dt.datetime(2019, 1, 2, 10))


def ranking(rows: list[tuple[str, int]]) -> str:
    values = ", ".join(
        f"(2019, '{code}', '{code}热线', {rank}, 0.5, 50, 50, 50, 50, 50, 50, '温线')"
        for code, rank in rows)
    return (f"CREATE TABLE monitoring_hotline_year AS SELECT * FROM (VALUES {values}) t(year, "
            "city_code, hotline_name, national_rank, connect_rate, connect_score, "
            "time_to_human_score, etiquette_score, communication_score, resolution_score, "
            "total_score, line_class)")


def test_ranks_must_be_dense_with_exactly_ten_at_the_top(paths: DataPaths) -> None:
    # Twelve hotlines, rank 7 missing: 11 distinct ranks up to 13, so only nine in the top ten.
    ranks = [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13]
    warehouse(paths, ranking([(f"1{i:05d}", r) for i, r in enumerate(ranks)]))
    found = failures(paths, "monitoring_ranks")
    assert set(found) == {
        "expect_column_pair_values_to_be_equal:max_rank,hotlines",
        "expect_column_pair_values_to_be_equal:top_ten,expected_top_ten",
    }
    assert found["expect_column_pair_values_to_be_equal:max_rank,hotlines"] == [[13, 12]]
    assert found["expect_column_pair_values_to_be_equal:top_ten,expected_top_ten"] == [[9, 10]]


def test_a_clean_ranking_passes(paths: DataPaths) -> None:
    warehouse(paths, ranking([(f"1{i:05d}", i + 1) for i in range(12)]))
    assert failures(paths, "monitoring_ranks") == {}
    assert failures(paths, "monitoring_hotline_year") == {}


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
    warehouse(paths, ranking([(f"1{i:05d}", i + 1) for i in range(3)]))
    suite = load_suite("monitoring_ranks")
    first = dt.datetime(2020, 1, 1, 8)
    write_results(run_suite(suite, paths), paths.lake, "run-1", first)
    write_results(run_suite(suite, paths), paths.lake, "run-2", first + dt.timedelta(hours=1))
    assert len(list((paths.lake / "quality").rglob("*.parquet"))) == 2
    latest = latest_results(paths.lake)
    assert {row["run_id"] for row in latest} == {"run-2"}
    assert len(latest) == len(suite.expectations)


def tickets_file(paths: DataPaths, name: str, ids: list[str], channel: str = "phone") -> Path:
    folder = paths.lake / "raw" / "tickets" / "source=city"
    folder.mkdir(parents=True, exist_ok=True)
    rows = ", ".join(f"('{i}', TIMESTAMP '2019-05-01 10:00', NULL::TIMESTAMP, '{channel}', "
                     "'help', 'open', 'unrated', '110000')" for i in ids)
    target = folder / f"{name}.parquet"
    duckdb.sql(f"COPY (SELECT * FROM (VALUES {rows}) t(ticket_id, received_at, closed_at, "
               f"channel, request_type, status, satisfaction, city_code)) TO '{target}'")
    return target


def test_ids_repeat_within_a_lake_file_not_across_files(paths: DataPaths) -> None:
    tickets_file(paths, "aaa", ["T1", "T2"])
    tickets_file(paths, "bbb", ["T2", "T3", "T3"])
    [failure] = run_suite(load_suite("lake_tickets"), paths).failures
    assert (failure.column, failure.partition) == ("ticket_id", "source=city/bbb")
    assert (failure.unexpected_count, failure.unexpected_examples) == (2, ["T3", "T3"])


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
    [failure] = run_suite(load_suite("kpi_city_year"), paths).failures
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
    tickets_file(paths, "aaa", ["T1", "T1"])
    [failure] = run_suite(load_suite("lake_tickets"), paths).failures
    assert (failure.column, failure.unexpected_examples) == ("ticket_id", ["T1", "T1"])


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
    suite = load_suite("fct_tickets")
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
    warehouse(paths, "CREATE TABLE fct_test_calls AS SELECT * FROM (VALUES "
                     f"{calls_of('110000', 12)}, {rows}) t(evaluation_year, city_code, "
                     "is_connected, etiquette_score, communication_score, resolution_score)")
    found = failures(paths, "test_call_plausibility")
    assert list(found) == [failing]


def test_calls_outside_the_evaluators_design_warn(paths: DataPaths) -> None:
    """A file cut short: 4 calls where the design has 10 to 15, and 16 where a file was sent
    partly twice; in range, dbt has nothing to object to."""
    warehouse(paths, "CREATE TABLE fct_test_calls AS SELECT * FROM (VALUES "
                     f"{calls_of('110000', 12)}, {calls_of('310000', 4)}, "
                     f"{calls_of('320100', 16)}) t(evaluation_year, city_code, is_connected, "
                     "etiquette_score, communication_score, resolution_score)")
    assert failures(paths, "test_call_design") == {
        "expect_column_values_to_be_between:test_calls": [4, 16]}
    assert load_suite("test_call_design").meta.severity == "WARN"


def test_plausible_test_calls_pass(paths: DataPaths) -> None:
    warehouse(paths, "CREATE TABLE fct_test_calls AS SELECT * FROM (VALUES "
                     f"{calls_of('110000', 10)}, {calls_of('310000', 15)}, "
                     f"{calls_of('320100', 12, (0, 0, 0), connected=False)}"
                     ") t(evaluation_year, city_code, is_connected, etiquette_score, "
                     "communication_score, resolution_score)")
    assert failures(paths, "test_call_plausibility") == {}
    assert failures(paths, "test_call_design") == {}
