"""Properties over generated inputs: parsers never crash, personal data never reaches the lake."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_project.ingest.lake import Lake, ManifestEntry
from dagster_project.ingest.pipeline import ingest_source
from dagster_project.ingest.pseudonymise import (
    DEMO_KEY,
    ENVIRONMENT_ENV,
    KEY_ENV,
    PseudonymisationKeyError,
    load_key,
)
from dagster_project.sources import SourceConfig

KEY = b"property-key"
WHEN = dt.datetime(2020, 1, 5, 8, 0, 0)
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
REASONS = {"unparseable_timestamp", "unparseable_boolean", "unparseable_number",
           "out_of_range", "missing_required", "control_characters"}


@contextlib.contextmanager
def ingest_records(
    records: list[dict[str, str]], values: dict[str, object]
) -> Iterator[tuple[ManifestEntry, Lake, SourceConfig]]:
    """Write records as JSON Lines, ingest them, yield the manifest entry, the lake and the
    configuration. Each example gets its own folder (pytest's tmp_path is per test, not per
    example), removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="prop-") as tmp:
        root = Path(tmp)
        folder = root / "landing" / "city_p"
        folder.mkdir(parents=True)
        (folder / "export.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n",
            encoding="utf-8")
        config = SourceConfig.model_validate({
            "source_id": "city_p", "name": "某市", "format": "jsonl", **values})
        lake = Lake(root / "lake")
        [outcome] = ingest_source(config, root / "landing", lake, KEY, WHEN)
        yield outcome.entry, lake, config


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(times=st.lists(TEXT, min_size=1, max_size=8), flags=st.lists(TEXT, min_size=8,
                                                                     max_size=8))
def test_timestamp_and_boolean_parsing_gives_a_value_or_a_reject(
    times: list[str], flags: list[str]
) -> None:
    records = [{"id": f"T{i}", "t": t, "b": flags[i]} for i, t in enumerate(times)]
    with ingest_records(records, {
        "entity": "tickets", "city_code": "110000",
        "columns": {"id": "ticket_id", "t": "received_at", "b": "direct_resolved"},
    }) as (entry, lake, config):
        assert entry.status == "loaded", entry.error
        assert entry.rows_read == len(records) == entry.rows_written + entry.rows_rejected
        written = duckdb.sql(
            f"SELECT ticket_id, received_at FROM "
            f"'{lake.data_file(config.entity, 'city_p', entry.file_sha256)}'").fetchall()
        assert all(dt.datetime(1990, 1, 1) <= when <= dt.datetime(2100, 1, 1)
                   for _, when in written)
        reasons = {r for (r,) in duckdb.sql(
            f"SELECT reason FROM '{lake.rejects_file('city_p', entry.file_sha256)}'").fetchall()}
        assert reasons <= REASONS


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(numbers=st.lists(TEXT | st.floats(allow_nan=True).map(str), min_size=1, max_size=8))
def test_number_parsing_gives_a_value_in_range_or_a_reject(numbers: list[str]) -> None:
    records = [{"year": "2019", "city": "110000", "id": f"C{i}", "ok": "是", "score": n}
               for i, n in enumerate(numbers)]
    with ingest_records(records, {
        "entity": "test_calls",
        "columns": {"year": "year", "city": "city_code", "id": "call_id", "ok": "connected",
                    "score": "etiquette_score"},
    }) as (entry, lake, config):
        assert entry.status == "loaded", entry.error
        assert entry.rows_read == len(records) == entry.rows_written + entry.rows_rejected
        scores = [s for (s,) in duckdb.sql(
            f"SELECT etiquette_score FROM "
            f"'{lake.data_file(config.entity, 'city_p', entry.file_sha256)}'").fetchall()]
        assert all(s is None or 0 <= s <= 100 for s in scores)


mobile = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
id_card = st.from_regex(r"[1-6][0-9]{16}[0-9X]", fullmatch=True)
PROSE = ("title", "content", "category", "district", "department")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phone=mobile, card=id_card, field=st.sampled_from(PROSE), other=st.sampled_from(PROSE),
       before=st.text(alphabet="市民反映电话号码：（）, ", max_size=6),
       after=st.text(alphabet="，请回电。 ", max_size=6))
def test_planted_numbers_never_reach_the_lake(
    phone: str, card: str, field: str, other: str, before: str, after: str
) -> None:
    record = {f: "正常文字" for f in PROSE} | {
        "id": "P1", "t": "2019-05-01 09:00:00", "phone": phone, "name": "张三"}
    record[field] = f"{before}{phone}{after}"
    record[other] = f"{record[other]}身份证{card}"
    with ingest_records([record], {
        "entity": "tickets", "city_code": "110000",
        "columns": {"id": "ticket_id", "t": "received_at", "phone": "caller_phone",
                    "name": "caller_name"} | {f: f for f in PROSE},
    }) as (entry, lake, config):
        assert entry.rows_written == 1
        path = lake.data_file(config.entity, "city_p", entry.file_sha256)
        text_columns = [c for c, t, *_ in duckdb.sql(
            f"DESCRIBE SELECT * FROM '{path}'").fetchall() if t == "VARCHAR"]
        values = duckdb.sql(f"SELECT {', '.join(text_columns)} FROM '{path}'").fetchall()[0]
        flat = " ".join(v for v in values if v)
        assert phone not in flat and card not in flat and "张三" not in flat


def test_production_refuses_the_demo_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT_ENV, "production")
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(PseudonymisationKeyError, match="demo key"):
        load_key()
    monkeypatch.setenv(KEY_ENV, DEMO_KEY)
    with pytest.raises(PseudonymisationKeyError):
        load_key()
    monkeypatch.setenv(KEY_ENV, "a-real-secret")
    assert load_key() == (b"a-real-secret", False)


def test_analyst_connections_cannot_write(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE kpi AS SELECT 1 AS x")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT x FROM kpi").fetchall() == [(1,)]
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            con.execute("INSERT INTO kpi VALUES (2)")
