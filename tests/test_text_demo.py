"""The text stage on the demo as `make demo` builds it: the hot issues the generator planted are
found, the classifier is measured against its reference, and what it placed is what the marts
say. Expected values come from the generator's ground truth (demo_truth/) and from queries of
the warehouse, not from the stage's own summaries."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from dagster_project.settings import DataPaths
from dagster_project.text.run import evaluate
from dagster_project.text.settings import TextSettings, load_text_settings

# Group-level, by overlap. Recall: a planted issue is found when one issue holds at least
# half of its tickets. Precision: an issue is right when at least half of its tickets are of
# one planted issue (a real issue, if cut in two, is two right issues, and the cut costs the
# recall of the whole).
OVERLAP = 0.5
# The acceptance of the hot issues: group-level precision and recall.
TARGET = 0.9


def _query(paths: DataPaths, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture(scope="module")
def planted_and_found(shared_demo: DataPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
    planted = pd.read_csv(shared_demo.root / "demo_truth" / "planted_hot_issues.csv",
                          dtype=str, encoding="utf-8")
    # Planted tickets the warehouse holds (a planted row may have been rejected as dirt).
    in_facts = _query(shared_demo, "select city_code, ticket_id from fct_tickets")
    planted = planted.merge(in_facts, on=["city_code", "ticket_id"])
    found = _query(shared_demo, "select issue_id, city_code, ticket_id "
                                "from stg_text__hot_issue_tickets")
    return planted, found


def _overlaps(planted: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """Each (planted group, issue) pair that shares tickets, with the tickets shared and both
    sizes."""
    both = planted.merge(found, on=["city_code", "ticket_id"])
    overlap = both.groupby(["group_id", "issue_id"]).size().rename("overlap").reset_index()
    overlap["group_size"] = overlap["group_id"].map(planted.groupby("group_id").size())
    overlap["issue_size"] = overlap["issue_id"].map(found.groupby("issue_id").size())
    return overlap


def test_the_planted_hot_issues_are_found(
        planted_and_found: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    planted, found = planted_and_found
    groups = planted["group_id"].nunique()
    assert groups >= 30  # two per city-year, fewer where a window was too thin
    overlap = _overlaps(planted, found)
    found_groups = overlap.loc[overlap["overlap"] >= OVERLAP * overlap["group_size"], "group_id"]
    right_issues = overlap.loc[overlap["overlap"] >= OVERLAP * overlap["issue_size"], "issue_id"]
    recall = found_groups.nunique() / groups
    precision = right_issues.nunique() / found["issue_id"].nunique()
    missed = sorted(set(planted["group_id"]) - set(found_groups))
    assert recall >= TARGET, f"recall {recall:.2f}; missed {missed}"
    assert precision >= TARGET, f"precision {precision:.2f}"


def test_a_found_issue_describes_its_tickets(shared_demo: DataPaths) -> None:
    issues = _query(shared_demo, "select * from hot_issues")
    assert len(issues) > 0
    members = _query(shared_demo, """
        select m.issue_id, count(*) as tickets, min(t.received_date) as first_day,
               max(t.received_date) as last_day,
               count(distinct t.received_date) as active_days
        from stg_text__hot_issue_tickets as m
        inner join fct_tickets as t using (city_code, ticket_id)
        group by m.issue_id""").set_index("issue_id")
    joined = issues.set_index("issue_id").join(members, rsuffix="_tickets")
    assert (joined["tickets"] == joined["tickets_tickets"]).all()
    assert (joined["first_day"] == joined["first_day_tickets"]).all()
    assert (joined["last_day"] == joined["last_day_tickets"]).all()
    assert (joined["active_days"] == joined["active_days_tickets"]).all()
    assert (joined["listed_month"] == pd.to_datetime(joined["first_day"]).dt.month).all()
    settings = load_text_settings(shared_demo.reference).hot_issues
    assert (joined["tickets"] >= settings.min_tickets).all()
    # Listed: the first top_per_city_month of each city and month by heat.
    for _, month in issues.groupby(["city_code", "listed_year", "listed_month"]):
        month = month.sort_values("rank_in_city_month")
        assert month["heat"].is_monotonic_decreasing
        assert month["is_listed"].tolist() == [
            rank <= settings.top_per_city_month for rank in month["rank_in_city_month"]]
    # The representative text names no caller: its opening clause is left out.
    assert not issues["representative_text"].str.contains("来电反映：|留言反映：").any()


def test_the_placements_are_the_classifiers_confident_predictions(
        shared_demo: DataPaths) -> None:
    classifier = _query(shared_demo, "select * from text_classifier")
    assert len(classifier) == 1
    run = classifier.iloc[0]
    assert run["status"] in {"trained", "reused"}
    # The demo's texts are not trivially separable: label noise alone keeps it below 1.
    assert 0.8 < run["cv_macro_f1"] < 1.0
    placed = _query(shared_demo, """
        select c.category_placement, count(*) as tickets,
               count(*) filter (where t.category_name = '未分类') as were_unclassified,
               min(c.model_confidence) as lowest
        from fct_ticket_classes as c
        inner join fct_tickets as t using (city_code, ticket_id)
        group by c.category_placement""").set_index("category_placement")
    unclassified = _query(shared_demo, "select count(*) as n from fct_tickets "
                                       "where category_name = '未分类'")["n"].iloc[0]
    assert unclassified == run["unclassified_tickets"]
    assert placed.loc["model", "tickets"] == run["placed_by_model"] > 0
    # Only tickets no mapping placed are placed by the model, and only when it is sure.
    assert placed.loc["model", "were_unclassified"] == placed.loc["model", "tickets"]
    assert placed.loc["model", "lowest"] >= run["min_confidence"]
    assert placed.loc["mapping", "were_unclassified"] == 0
    none = placed.loc["none", "tickets"] if "none" in placed.index else 0
    assert placed.loc["model", "tickets"] + none == unclassified


def test_the_classifier_beats_its_reference_on_the_demo(shared_demo: DataPaths) -> None:
    # A smaller sample than the stage trains on, to keep the test short; the same folds.
    settings = TextSettings().model_copy(update={"classifier": TextSettings().classifier
                                                 .model_copy(update={"max_tickets_per_class":
                                                                     600})})
    evaluation, labelled = evaluate(shared_demo, settings=settings)
    assert labelled > evaluation.tickets > 0
    assert evaluation.reference_macro_f1 is not None
    assert evaluation.macro_f1 > evaluation.reference_macro_f1
    assert evaluation.macro_f1 < 1.0
