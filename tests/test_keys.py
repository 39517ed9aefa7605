"""The pseudonymisation key: the demo key only for demo data, a private key file per data root,
and one key per source's lake files."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import run_cli

from dagster_project.demo.generator import generate_demo
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.pipeline import KeyChangedError, ingest_source
from dagster_project.ingest.pseudonymise import (
    DEMO_KEY,
    DEMO_MARKER,
    KEY_ENV,
    KEY_FILE_ENV,
    PseudonymisationKeyError,
    configured_key,
    demo_sources,
    ingestion_key,
    key_file_path,
)
from dagster_project.ingest.runner import ingest_all
from dagster_project.settings import DATA_ROOT_ENV, PACKAGE_ROOT, DataPaths
from dagster_project.sources import SourceConfig, load_source_config

WHEN = dt.datetime(2020, 1, 5, 8, 0, 0)
NANJING = SourceConfig.model_validate({
    "source_id": "nanjing_12345", "name": "南京12345", "entity": "tickets",
    "city_code": "320100", "format": "csv", "layout": "standard"})
HEADER = "工单编号,受理时间,受理渠道,诉求类型,来电号码,工单状态\n"


def fingerprint_by_hand(key: bytes) -> str:
    return hmac.new(key, b"hotline-key-fingerprint", hashlib.sha256).hexdigest()[:16]


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (KEY_ENV, KEY_FILE_ENV, "HOTLINE_ENV"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DataPaths]:
    """A data root without a key file, `hotline` pointed at it."""
    paths = DataPaths(root=tmp_path / "data")
    paths.root.mkdir()
    monkeypatch.setenv(DATA_ROOT_ENV, str(paths.root))
    monkeypatch.setenv("DAGSTER_HOME", str(paths.root / "dagster_home"))
    yield paths


def land(paths: DataPaths, name: str, *rows: str, source: str = "nanjing_12345") -> Path:
    folder = paths.landing / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def lake_files(paths: DataPaths) -> dict[str, bytes]:
    """Every published lake file (scratch space aside) and its bytes."""
    return {p.relative_to(paths.lake).as_posix(): p.read_bytes()
            for p in paths.lake.rglob("*.parquet") if "_staging" not in p.parts}


# ---------------------------------------------------------------------------------------------
# The demo key
# ---------------------------------------------------------------------------------------------
def test_a_real_source_refuses_the_demo_key_and_says_how_to_set_one(
    root: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(root, "2019.csv", "NJ1,2019-07-01 09:00:00,电话,咨询,13912345678,已办结")
    with pytest.raises(PseudonymisationKeyError) as refused:
        ingest_all([NANJING], root)
    message = str(refused.value)
    for words in ("nanjing_12345", "public demo key", "hotline init-key",
                  str(key_file_path(root.root)), KEY_FILE_ENV, "Nothing was ingested"):
        assert words in message, (words, message)
    assert not root.lake.exists() or lake_files(root) == {}
    # The same key set in the environment is the demo key all the same.
    monkeypatch.setenv(KEY_ENV, DEMO_KEY)
    with pytest.raises(PseudonymisationKeyError, match="public demo key"):
        ingest_all([NANJING], root)


def test_hotline_ingest_refuses_the_demo_key_for_a_real_source(root: DataPaths) -> None:
    land(root, "工单导出_2019.csv", "B1,2019-07-01 09:00:00,电话,咨询,13912345678,已办结",
         source="beijing_12345")
    code, _, err = run_cli("ingest", "--source", "beijing_12345")
    assert code == 1
    assert "hotline init-key" in " ".join(err.split())
    assert lake_files(root) == {}


def test_demo_data_is_ingested_with_the_demo_key_and_a_real_source_beside_it_is_not(
    root: DataPaths,
) -> None:
    generate_demo(root.landing, seed=3, total_tickets=40)
    written = {p.name for p in root.landing.iterdir() if p.is_dir()}
    assert len(written) == 11
    assert demo_sources(root.root) == written
    marker = json.loads((root.root / DEMO_MARKER).read_text(encoding="utf-8"))
    assert marker["synthetic"] is True
    beijing = load_source_config(PACKAGE_ROOT / "config" / "sources" / "beijing_12345.yaml")
    summary = ingest_all([beijing], root)
    assert summary.outcomes and all(o.entry.status == "loaded" for o in summary.outcomes)
    fingerprints = duckdb.sql(
        f"SELECT DISTINCT key_fingerprint FROM '{root.lake}/manifest/*/*.parquet'").fetchall()
    assert fingerprints == [(fingerprint_by_hand(DEMO_KEY.encode()),)]

    land(root, "2019.csv", "NJ1,2019-07-01 09:00:00,电话,咨询,13912345678,已办结")
    before = lake_files(root)
    with pytest.raises(PseudonymisationKeyError, match="nanjing_12345"):
        ingest_all([beijing, NANJING], root)
    assert lake_files(root) == before


def test_a_marker_that_is_not_the_generator_s_is_an_error(root: DataPaths) -> None:
    (root.root / DEMO_MARKER).write_text('{"sources": ["nanjing_12345"]}', encoding="utf-8")
    with pytest.raises(PseudonymisationKeyError, match=DEMO_MARKER):
        ingestion_key(["nanjing_12345"], root.root)


def test_production_refuses_the_demo_key_even_for_demo_data(
    root: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root.root / DEMO_MARKER).write_text(
        '{"synthetic": true, "sources": ["nanjing_12345"]}', encoding="utf-8")
    assert ingestion_key(["nanjing_12345"], root.root) == DEMO_KEY.encode()
    monkeypatch.setenv("HOTLINE_ENV", "production")
    with pytest.raises(PseudonymisationKeyError, match="production"):
        ingestion_key(["nanjing_12345"], root.root)


# ---------------------------------------------------------------------------------------------
# The key file
# ---------------------------------------------------------------------------------------------
def test_init_key_writes_a_private_random_key_and_never_replaces_it(
    root: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_umask = os.umask(0)  # the most permissive: the file must be private all the same
    try:
        code, out, err = run_cli("init-key")
    finally:
        os.umask(old_umask)
    assert code == 0, err
    path = root.root / "secrets" / "pseudonymisation.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    text = path.read_text(encoding="ascii")
    assert text.endswith("\n") and len(text.strip()) == 64
    int(text.strip(), 16)  # hex
    assert fingerprint_by_hand(text.strip().encode()) in out
    assert text.strip() not in out + err
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no staged file left
    # The loader takes it when nothing is set in the environment.
    assert ingestion_key(["nanjing_12345"], root.root) == text.strip().encode()
    # A second run keeps the key.
    code, _, err = run_cli("init-key")
    assert code == 1
    assert "exists already" in " ".join(err.split())
    assert path.read_text(encoding="ascii") == text
    # Two roots get two keys.
    other = root.root.parent / "other"
    monkeypatch.setenv(DATA_ROOT_ENV, str(other))
    assert run_cli("init-key")[0] == 0
    assert (other / "secrets" / "pseudonymisation.key").read_text(encoding="ascii") != text


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_open_to_other_users_is_refused(
    root: DataPaths, mode: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("init-key")[0] == 0
    path = key_file_path(root.root)
    path.chmod(mode)
    with pytest.raises(PseudonymisationKeyError) as refused:
        ingestion_key(["nanjing_12345"], root.root)
    assert str(path) in str(refused.value) and f"chmod 600 {path}" in str(refused.value)
    # The same for a key file named by the environment.
    elsewhere = root.root.parent / "hotline.key"
    elsewhere.write_text("a-secret-key\n", encoding="ascii")
    elsewhere.chmod(mode)
    monkeypatch.setenv(KEY_FILE_ENV, str(elsewhere))
    with pytest.raises(PseudonymisationKeyError, match="chmod 600"):
        configured_key(root.root)
    elsewhere.chmod(0o600)
    assert configured_key(root.root).secret == b"a-secret-key"


def test_the_environment_takes_precedence_over_the_key_file(
    root: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("init-key")[0] == 0
    monkeypatch.setenv(KEY_ENV, "from-the-environment")
    assert ingestion_key(["nanjing_12345"], root.root) == b"from-the-environment"


# ---------------------------------------------------------------------------------------------
# One key per source's lake files
# ---------------------------------------------------------------------------------------------
def test_the_key_fingerprint_is_recorded_with_each_lake_file(root: DataPaths) -> None:
    land(root, "a.csv", "NJ1,2019-07-01 09:00:00,电话,咨询,13912345678,已办结")
    land(root, "b.csv", "NJ2,2019-07-02 09:00:00,电话,咨询,13912345678,已办结")
    outcomes = ingest_source(NANJING, root.landing, Lake(root.lake), b"key one", WHEN)
    assert [o.entry.status for o in outcomes] == ["loaded", "loaded"]
    rows = duckdb.sql(
        f"SELECT source_file, key_fingerprint FROM '{root.lake}/manifest/*/*.parquet' "
        "ORDER BY source_file").fetchall()
    expected = fingerprint_by_hand(b"key one")
    assert rows == [("nanjing_12345/a.csv", expected), ("nanjing_12345/b.csv", expected)]
    assert expected != hashlib.sha256(b"key one").hexdigest()[:16]  # keyed, not a plain hash
    assert b"key one" not in b"".join(lake_files(root).values())


def test_a_manifest_written_before_fingerprints_stays_readable(root: DataPaths) -> None:
    land(root, "a.csv", "NJ1,2019-07-01 09:00:00,电话,咨询,13912345678,已办结")
    [outcome] = ingest_source(NANJING, root.landing, Lake(root.lake), b"key one", WHEN)
    lake = Lake(root.lake)
    path = lake.manifest_file("nanjing_12345", outcome.entry.file_sha256)
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["key_fingerprint", "ingest_seconds"]), path)
    entry = lake.read_manifest_entry("nanjing_12345", outcome.entry.file_sha256)
    assert entry is not None
    assert (entry.key_fingerprint, entry.ingest_seconds, entry.rows_written) == (None, None, 1)
    # Beside a new file's manifest row, as dbt reads them (union_by_name).
    land(root, "b.csv", "NJ2,2019-07-02 09:00:00,电话,咨询,13912345678,已办结")
    ingest_source(NANJING, root.landing, lake, b"key two", WHEN)  # the old file is not compared
    rows = duckdb.sql(
        f"SELECT source_file, key_fingerprint FROM read_parquet('{root.lake}/manifest/*/*."
        "parquet', union_by_name = true) ORDER BY source_file").fetchall()
    assert rows == [("nanjing_12345/a.csv", None),
                    ("nanjing_12345/b.csv", fingerprint_by_hand(b"key two"))]
    b_sha256 = hashlib.sha256((root.landing / "nanjing_12345" / "b.csv").read_bytes())
    schema = pq.read_schema(lake.manifest_file("nanjing_12345", b_sha256.hexdigest()))
    assert pa.types.is_string(schema.field("key_fingerprint").type)


def test_a_changed_key_is_refused_and_nothing_is_written(root: DataPaths) -> None:
    lake = Lake(root.lake)
    land(root, "a.csv", "NJ1,2019-07-01 09:00:00,电话,咨询,13912345678,已办结")
    ingest_source(NANJING, root.landing, lake, b"old key", WHEN)
    # Nothing new: the current files are confirmed whatever the key.
    [same] = ingest_source(NANJING, root.landing, lake, b"new key", WHEN)
    assert same.skipped
    land(root, "b.csv", "NJ2,2019-07-02 09:00:00,电话,咨询,13912345678,已办结")
    before = lake_files(root)
    with pytest.raises(KeyChangedError) as refused:
        ingest_source(NANJING, root.landing, lake, b"new key", WHEN)
    message = str(refused.value)
    for words in ("nanjing_12345/a.csv", fingerprint_by_hand(b"old key"),
                  fingerprint_by_hand(b"new key"), "delete the lake", "Nothing of the source"):
        assert words in message, (words, message)
    assert lake_files(root) == before
    # With the old key set again, the new file is ingested: one pseudonym for the caller.
    [_, added] = ingest_source(NANJING, root.landing, lake, b"old key", WHEN)
    assert added.entry.status == "loaded" and not added.skipped
    callers = duckdb.sql(
        f"SELECT DISTINCT caller_key FROM '{root.lake}/raw/tickets/*/*.parquet'").fetchall()
    assert callers == [(hmac.new(b"old key", b"13912345678", hashlib.sha256).hexdigest(),)]


def test_a_changed_key_stops_hotline_ingest_with_the_files_named(
    root: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(root, "工单导出_a.csv", "B1,2019-07-01 09:00:00,电话,咨询,13912345678,已办结",
         source="beijing_12345")
    monkeypatch.setenv(KEY_ENV, "old key")
    code, _, err = run_cli("ingest", "--source", "beijing_12345")
    assert code == 0, err
    land(root, "工单导出_b.csv", "B2,2019-07-02 09:00:00,电话,咨询,13912345678,已办结",
         source="beijing_12345")
    before = lake_files(root)
    monkeypatch.setenv(KEY_ENV, "new key")
    code, _, err = run_cli("ingest", "--source", "beijing_12345")
    assert code == 1
    text = " ".join(err.split())
    assert "beijing_12345/工单导出_a.csv" in text and "another key" in text, text
    assert lake_files(root) == before
