"""The work orders' texts live in the lake, not in fct_tickets: `fct_ticket_texts` shows them,
one row per ticket of fct_tickets, with the text of the very version fct_tickets holds. Checked
on the demo against the lake's files read here. The demo's re-exports repeat their texts, so
that the version shown is the one in the facts is checked by the dbt unit test
ticket_texts_are_those_of_the_version_in_the_facts, whose versions differ."""

from __future__ import annotations

import duckdb
import pytest

from dagster_project.settings import DataPaths


@pytest.fixture(scope="module")
def con(shared_demo: DataPaths) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(shared_demo.warehouse), read_only=True)
    # The lake's current files, read here without dbt's views.
    connection.execute(
        "CREATE TEMP VIEW lake AS SELECT * FROM read_parquet("
        f"'{shared_demo.lake}/raw/tickets/*/*.parquet', union_by_name = true)")
    return connection


def test_fct_tickets_stores_no_text(con: duckdb.DuckDBPyConnection) -> None:
    columns = {c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'fct_tickets'"
    ).fetchall()}
    assert {"ticket_id", "received_at", "file_sha256", "source_row"} <= columns
    assert not columns & {"title", "content"}


def test_every_ticket_has_one_row_of_texts(con: duckdb.DuckDBPyConnection) -> None:
    tickets, texts, distinct, missing = con.execute("""
        SELECT (SELECT count(*) FROM fct_tickets),
               (SELECT count(*) FROM fct_ticket_texts),
               (SELECT count(DISTINCT (city_code, ticket_id)) FROM fct_ticket_texts),
               (SELECT count(*) FROM fct_tickets AS f ANTI JOIN fct_ticket_texts AS t
                    USING (city_code, ticket_id))""").fetchone()
    assert tickets > 100_000
    assert (texts, distinct, missing) == (tickets, tickets, 0)


def test_the_texts_are_the_lake_s_text_of_the_same_version(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # A ticket exported once has one lake row: its text is that row's, matched by id alone.
    once, differing = con.execute("""
        WITH single AS (
            SELECT city_code, ticket_id, any_value(title) AS title,
                   any_value(content) AS content
            FROM lake GROUP BY ALL HAVING count(*) = 1)
        SELECT count(*),
               count(*) FILTER (WHERE t.title IS DISTINCT FROM s.title
                                   OR t.content IS DISTINCT FROM s.content)
        FROM fct_ticket_texts AS t JOIN single AS s USING (city_code, ticket_id)""").fetchone()
    assert once > 100_000 and differing == 0
