"""dbt's data tests summarised per model: what a materialisation records and what a failed
build names."""

from __future__ import annotations

import json

from dagster_project.warehouse.dbt_files import MANIFEST_PATH
from dagster_project.warehouse.dbt_tests import (
    DataTestResult,
    data_test_count,
    model_summary,
    not_passed,
)

RELATIONSHIP = "test.hotline.relationships_fct_tickets_city_code__city_code__ref_dim_city_.1a"
RESULTS = [
    DataTestResult("test.hotline.unique_dim_city_city_code.2b", "dim_city", "pass", 0),
    # A relationship reads two models: dagster-dbt observes it on each.
    DataTestResult(RELATIONSHIP, "fct_tickets", "fail", 3),
    DataTestResult(RELATIONSHIP, "dim_city", "fail", 3),
    DataTestResult("test.hotline.not_null_fct_tickets_ticket_id.3c", "fct_tickets", "pass", 0),
    DataTestResult("test.hotline.accepted_values_fct_tickets_channel.4d", "fct_tickets", "warn",
                   None),
]


def test_a_model_records_its_passed_count_and_the_others_by_name() -> None:
    assert model_summary(RESULTS, "fct_tickets") == {
        "dbt_tests_passed": 1,
        "dbt_tests_not_passed": "accepted_values_fct_tickets_channel (warn); "
                                "relationships_fct_tickets_city_code__city_code__ref_dim_city_ "
                                "(fail)"}
    assert model_summary(RESULTS, "kpi_city_year") == {"dbt_tests_passed": 0}


def test_a_failing_test_is_named_once_with_its_failing_rows() -> None:
    assert not_passed(RESULTS, "fail") == [
        "fct_tickets, dim_city: relationships_fct_tickets_city_code__city_code__ref_dim_city_ "
        "(fail, 3 failing row(s))"]
    assert not_passed(RESULTS, "warn") == [
        "fct_tickets: accepted_values_fct_tickets_channel (warn)"]
    assert not_passed(RESULTS, "error") == []


def test_the_tests_of_a_build_are_counted_from_the_manifest() -> None:
    nodes = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))["nodes"]
    tests = [n for n in nodes.values() if n["resource_type"] == "test"]
    assert data_test_count() == len(tests) > 100
    on_dim_city = [t for t in tests if "model.hotline.dim_city" in t["depends_on"]["nodes"]]
    assert data_test_count({"dim_city"}) == len(on_dim_city) >= 3
