"""Ingestion of hand-written landing files: typing, rejects, personal data, idempotency."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import time
from pathlib import Path

import duckdb
import pytest
import xlsxwriter

from dagster_project.ingest import lake as lake_module
from dagster_project.ingest import pipeline
from dagster_project.ingest.lake import Lake, ManifestEntry
from dagster_project.ingest.pipeline import ingest_source
from dagster_project.sources import SourceConfig

KEY = b"test-key"
WHEN = dt.datetime(2020, 1, 5, 8, 0, 0)
STANDARD_HEADER = (
    "工单编号,受理时间,受理渠道,诉求类型,诉求分类,区县,诉求标题,诉求内容,来电号码,直接办结,"
    "派单时间,承办单位,首次响应时间,办理时限,办结时间,工单状态,是否解决,满意度"
)


def standard_config(**overrides: object) -> SourceConfig:
    values: dict[str, object] = {
        "source_id": "city_a", "name": "甲市12345", "entity": "tickets",
        "city_code": "110000", "format": "csv", "layout": "standard",
    }
    values.update(overrides)
    return SourceConfig.model_validate(values)


def land(landing: Path, source_id: str, name: str, data: bytes) -> Path:
    folder = landing / source_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path



def test_standard_csv_is_typed_and_mapped(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    land(landing, "city_a", "a.csv", (
        STANDARD_HEADER + "\n"
        "A1,2019-02-28 11:25:05,电话,投诉,城乡建设/路灯,东城区,路灯,,13812345678,否,"
        "2019-02-28 11:40:00,市政,2019-02-28 15:00:00,2019-03-07 11:25:05,"
        "2019-03-01 09:00:00,已办结,已解决,基本满意\n"
        "A2,2019/3/1 8:05:00,微信,咨询,教育,西城区,,,,是,,,,,2019-03-01 08:10:00,已办结,,未评价\n"
    ).encode())
    [outcome] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    assert outcome.entry.status == "loaded"
    assert (outcome.entry.rows_read, outcome.entry.rows_written, outcome.entry.rows_rejected) == (
        2, 2, 0)
    rows = duckdb.sql(
        f"SELECT ticket_id, received_at, channel, request_type, direct_resolved, dispatched_at, "
        f"status, resolved, satisfaction, city_code, source_row "
        f"FROM '{lake.root}/raw/tickets/*/*.parquet' ORDER BY ticket_id"
    ).fetchall()
    assert rows == [
        ("A1", dt.datetime(2019, 2, 28, 11, 25, 5), "phone", "complaint", False,
         dt.datetime(2019, 2, 28, 11, 40), "closed", True, "basically_satisfied", "110000", 2),
        ("A2", dt.datetime(2019, 3, 1, 8, 5), "wechat", "consult", True, None, "closed", None,
         "unrated", "110000", 3),
    ]


def test_callers_are_hashed_with_hmac_and_numbers_masked(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    content = "本人电话13812345678，身份证11010119900101123X，请回电"
    land(landing, "city_a", "a.csv", (
        STANDARD_HEADER + "\n"
        f"A1,2019-02-28 11:25:05,电话,求助,x,,求助13900001111,{content},+86 138-1234-5678,"
        "是,,,,,,已办结,,\n"
    ).encode())
    ingest_source(standard_config(), landing, lake, KEY, WHEN)
    [(caller_key, title, text)] = duckdb.sql(
        f"SELECT caller_key, title, content FROM '{lake.root}/raw/tickets/*/*.parquet'"
    ).fetchall()
    assert caller_key == hmac.new(KEY, b"13812345678", hashlib.sha256).hexdigest()
    assert title == "求助[手机号]"
    assert text == "本人电话[手机号]，身份证[身份证号]，请回电"
    everything = (lake.root / "raw").rglob("*.parquet")
    for path in everything:
        assert b"13812345678" not in path.read_bytes()


def test_unicode_spaces_are_trimmed_from_every_text_field(tmp_path: Path) -> None:
    """No-break, ideographic, typographic and zero-width spaces and the byte-order mark come
    off both ends of every cell (exports pasted from web pages carry them); inside a cell they
    stay."""
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    cells = ["\u00a0A1\u3000", "\u200b2019-02-28 11:25:05\u00a0", "\ufeff电话", "咨询\u200d",
             "x", "\u200c东城区\u00a0", "\u2003路灯不亮\u202f", "路灯\u00a0不亮\u205f",
             "\u3000138 1234 5678\u200b", "是", "", "", "", "", "", "已办结\u2009", "", ""]
    land(landing, "city_a", "a.csv", (STANDARD_HEADER + "\n" + ",".join(cells) + "\n").encode())
    [outcome] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    assert (outcome.entry.status, outcome.entry.rows_rejected) == ("loaded", 0)
    [row] = duckdb.sql(
        f"SELECT ticket_id, received_at, channel, request_type, district, title, content, "
        f"status, caller_key FROM '{lake.root}/raw/tickets/*/*.parquet'").fetchall()
    assert row == ("A1", dt.datetime(2019, 2, 28, 11, 25, 5), "phone", "consult", "东城区",
                   "路灯不亮", "路灯\u00a0不亮", "closed",
                   hmac.new(KEY, b"13812345678", hashlib.sha256).hexdigest())


def test_rejects_carry_reason_field_value_and_line(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    land(landing, "city_a", "a.csv", (
        "甲市工单导出\n"  # a title row above the header
        + STANDARD_HEADER + "\n"
        "A1,2019-02-28 11:25:05,电话,咨询,x,,,,,是,,,,,,已办结,,\n"
        ",2019-02-28 11:25:05,电话,咨询,x,,,,,是,,,,,,已办结,,\n"
        "A3,2019-13-45 25:61:00,电话,咨询,x,,,,,是,,,,,,已办结,,\n"
        "A4,2019-02-28 11:25:05,电话,咨询,x,,,,,也许,,,,,,已办结,,\n"
        "A5,2019-02-28 11:25:05,电话,咨询,x,,,,,是,,,,,,已归档,,\n"
        "合计,5,,,,,,,,,,,,,,,,\n"
    ).encode())
    [outcome] = ingest_source(standard_config(skip_rows=1), landing, lake, KEY, WHEN)
    entry = outcome.entry
    assert (entry.rows_read, entry.rows_written, entry.rows_rejected, entry.footer_rows) == (
        5, 1, 4, 1)
    rejects = duckdb.sql(
        f"SELECT source_row, reason, field, raw_value "
        f"FROM '{lake.root}/rejects/*/*.parquet' ORDER BY source_row"
    ).fetchall()
    assert rejects == [
        (4, "missing_required", "ticket_id", None),
        (5, "unparseable_timestamp", "received_at", "2019-13-45 25:61:00"),
        (6, "unparseable_boolean", "direct_resolved", "也许"),
        (7, "unknown_value", "status", "已归档"),
    ]


def test_strict_values_reject_unknown_channel(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    land(landing, "city_a", "a.csv", (
        STANDARD_HEADER + "\n"
        "A1,2019-02-28 11:25:05,信鸽,咨询,x,,,,,是,,,,,,已办结,,\n"
    ).encode())
    [lenient] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    assert lenient.entry.rows_written == 1
    strict_lake = Lake(tmp_path / "strict")
    [strict] = ingest_source(standard_config(strict_values=True), landing, strict_lake, KEY, WHEN)
    assert (strict.entry.rows_written, strict.entry.rows_rejected) == (0, 1)


def test_gbk_custom_export_with_title_totals_and_excel_serials(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    text = (
        "乙市12345热线工单明细\n导出时间：2020-01-05\n"
        "受理编号,来电时间,来源,类型,完成时间\n"
        "Ｂ１,2019/2/8 9:05:03,热线电话,咨询,43504.5\n"
        "B2, 2019/12/31 23:59:59 ,网络,求助,\n"
        "合计,2,,,\n"
    )
    land(landing, "city_b", "b.csv", text.encode("gbk"))
    config = SourceConfig.model_validate({
        "source_id": "city_b", "name": "乙市12345", "entity": "tickets", "city_code": "460100",
        "format": "csv", "skip_rows": 2,
        "columns": {"受理编号": "ticket_id", "来电时间": "received_at", "来源": "channel",
                    "类型": "request_type", "完成时间": "closed_at"},
        "values": {"channel": {"热线电话": "phone", "网络": "web"},
                   "request_type": {"咨询": "consult", "求助": "help"}},
    })
    [outcome] = ingest_source(config, landing, lake, KEY, WHEN)
    assert outcome.entry.status == "loaded", outcome.entry.error
    assert (outcome.entry.rows_read, outcome.entry.footer_rows) == (2, 1)
    rows = duckdb.sql(
        f"SELECT ticket_id, received_at, channel, closed_at, source_row "
        f"FROM '{lake.root}/raw/tickets/*/*.parquet' ORDER BY source_row"
    ).fetchall()
    assert rows == [
        ("B1", dt.datetime(2019, 2, 8, 9, 5, 3), "phone", dt.datetime(2019, 2, 8, 12, 0), 4),
        ("B2", dt.datetime(2019, 12, 31, 23, 59, 59), "web", None, 5),
    ]


def test_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    land(landing, "city_a", "a.csv", (
        STANDARD_HEADER + "\nA1,2019-02-28 11:25:05,电话,咨询,x,,,,,是,,,,,,已办结,,\n"
    ).encode())
    [first] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    files_before = sorted((lake.root / "raw").rglob("*.parquet"))
    mtimes = [p.stat().st_mtime_ns for p in files_before]
    [second] = ingest_source(standard_config(), landing, lake, KEY, WHEN + dt.timedelta(hours=1))
    assert not first.skipped and second.skipped
    assert sorted((lake.root / "raw").rglob("*.parquet")) == files_before
    assert [p.stat().st_mtime_ns for p in files_before] == mtimes


def _ingest_later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Make ingestion see the clock `seconds` ahead, so files written now look settled."""
    now = lake_module.time.time_ns
    monkeypatch.setattr(lake_module.time, "time_ns", lambda: now() + int(seconds * 1e9))


def _count_hashing(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    hashed: list[Path] = []
    original = lake_module.file_sha256

    def counting(path: Path) -> str:
        hashed.append(path)
        return original(path)

    monkeypatch.setattr(lake_module, "file_sha256", counting)
    return hashed


def test_an_unchanged_landing_file_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    row = "\nA1,2019-02-28 11:25:05,电话,咨询,x,,,,,是,,,,,,已办结,,\n"
    path = land(landing, "city_a", "a.csv", (STANDARD_HEADER + row).encode())
    _ingest_later(monkeypatch, 10)
    hashed = _count_hashing(monkeypatch)
    [first] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    [second] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    assert hashed == [path]  # the second run took the hash it remembered
    assert second.skipped and second.entry.file_sha256 == first.entry.file_sha256

    # Same size, same mtime, other content: the ctime tells, and the new content is loaded.
    stat = path.stat()
    time.sleep(0.05)  # past the file system's clock tick
    path.write_bytes((STANDARD_HEADER + row.replace("A1", "B1")).encode())
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    [third] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    assert hashed == [path, path]
    assert not third.skipped
    assert third.entry.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_source_has_files_to_read_until_all_are_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look that plans a run: stats and the manifest only, never the files' bytes."""
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    config = standard_config()
    row = "\nA1,2019-02-28 11:25:05,电话,咨询,x,,,,,是,,,,,,已办结,,\n"
    path = land(landing, "city_a", "a.csv", (STANDARD_HEADER + row).encode())
    _ingest_later(monkeypatch, 10)
    hashed = _count_hashing(monkeypatch)
    assert pipeline.has_files_to_read(config, landing, lake)  # never seen
    ingest_source(config, landing, lake, KEY, WHEN)
    assert hashed == [path]
    assert not pipeline.has_files_to_read(config, landing, lake)
    assert hashed == [path]  # the look hashed nothing

    path.write_bytes((STANDARD_HEADER + row.replace("A1", "B1")).encode())  # re-exported
    assert pipeline.has_files_to_read(config, landing, lake)
    ingest_source(config, landing, lake, KEY, WHEN)
    assert not pipeline.has_files_to_read(config, landing, lake)

    # A file that failed is read again at every run, until it loads.
    broken = land(landing, "city_a", "b.csv", b"\xff\xfe\x00garbage")
    [_, failed] = ingest_source(config, landing, lake, KEY, WHEN)
    assert failed.entry.status == "failed" and failed.entry.source_file.endswith(broken.name)
    assert pipeline.has_files_to_read(config, landing, lake)


def test_a_landing_file_changed_just_now_is_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File times tick coarsely: one written within the last moments could change again with
    the same times, so its hash is not remembered."""
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    land(landing, "city_a", "a.csv", (
        STANDARD_HEADER + "\nA1,2019-02-28 11:25:05,电话,咨询,x,,,,,是,,,,,,已办结,,\n"
    ).encode())
    hashed = _count_hashing(monkeypatch)
    ingest_source(standard_config(), landing, lake, KEY, WHEN)
    [second] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    assert len(hashed) == 2 and second.skipped


def test_parallel_workers_share_the_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process of a pool of N gives each file's DuckDB 1/N of the cores."""
    monkeypatch.setattr(pipeline, "_duckdb_threads", None)  # restored after the test
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 8)
    settings: list[dict[str, object]] = []
    connect = pipeline.duckdb.connect

    def recording(*args: object, config: dict[str, object]) -> duckdb.DuckDBPyConnection:
        settings.append(config)
        return connect(*args, config=config)

    monkeypatch.setattr(pipeline.duckdb, "connect", recording)
    landing = tmp_path / "landing"
    land(landing, "city_a", "a.csv", (
        STANDARD_HEADER + "\nA1,2019-02-28 11:25:05,电话,咨询,x,,,,,是,,,,,,已办结,,\n"
    ).encode())
    ingest_source(standard_config(), landing, Lake(tmp_path / "lake"), KEY, WHEN)
    assert "threads" not in settings[-1]  # alone: DuckDB takes every core
    pipeline.share_cores(2)
    ingest_source(standard_config(), landing, Lake(tmp_path / "lake2"), KEY, WHEN)
    assert settings[-1]["threads"] == 4
    pipeline.share_cores(16)
    ingest_source(standard_config(), landing, Lake(tmp_path / "lake3"), KEY, WHEN)
    assert settings[-1]["threads"] == 1


def test_unreadable_file_fails_alone_and_leaves_no_rows(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    good = STANDARD_HEADER + "\nA1,2019-02-28 11:25:05,电话,咨询,x,,,,,是,,,,,,已办结,,\n"
    land(landing, "city_a", "1_good.csv", good.encode())
    land(landing, "city_a", "2_no_id.csv", "受理时间,受理渠道\n2019-02-28 11:25:05,电话\n".encode())
    outcomes = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    by_file = {o.entry.source_file: o.entry for o in outcomes}
    assert by_file["city_a/1_good.csv"].status == "loaded"
    failed = by_file["city_a/2_no_id.csv"]
    assert failed.status == "failed"
    assert "2_no_id.csv" in failed.error and "工单编号" in failed.error
    data_files = list((lake.root / "raw").rglob("*.parquet"))
    assert [p.stem for p in data_files] == [by_file["city_a/1_good.csv"].file_sha256]
    assert not list((lake.root / "_staging").rglob("*.parquet"))


def test_undecodable_bytes_name_the_offset(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    land(landing, "city_a", "a.csv", STANDARD_HEADER.encode() + b"\nA1,\xff\xfe\xff\n")
    [outcome] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    assert outcome.entry.status == "failed"
    assert "a.csv" in outcome.entry.error and "offset" in outcome.entry.error


def test_evaluator_xlsx_with_real_datetimes(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    path = landing / "evaluator" / "calls.xlsx"
    path.parent.mkdir(parents=True)
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["年度", "城市代码", "编号", "时间", "是否接通", "转人工时长", "礼仪"])
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet.write_row(1, 0, [2019, "110000", "C1"])
    sheet.write_datetime(1, 3, dt.datetime(2019, 5, 6, 10, 30, 15), stamp)
    sheet.write_row(1, 4, ["是", 12.5, 88])
    sheet.write_row(2, 0, [2019, "11000", "C2", "2019-05-06 11:00:00", "否"])
    workbook.close()
    config = SourceConfig.model_validate({
        "source_id": "evaluator", "name": "测评", "entity": "test_calls", "format": "xlsx",
        "columns": {"年度": "year", "城市代码": "city_code", "编号": "call_id",
                    "时间": "called_at", "是否接通": "connected",
                    "转人工时长": "seconds_to_human", "礼仪": "etiquette_score"},
    })
    [outcome] = ingest_source(config, landing, lake, KEY, WHEN)
    assert (outcome.entry.rows_written, outcome.entry.rows_rejected) == (1, 1)
    [row] = duckdb.sql(
        f"SELECT year, city_code, call_id, called_at, connected, seconds_to_human, "
        f"etiquette_score FROM '{lake.root}/raw/test_calls/*/*.parquet'"
    ).fetchall()
    assert row == (2019, "110000", "C1", dt.datetime(2019, 5, 6, 10, 30, 15), True, 12.5, 88.0)
    [reject] = duckdb.sql(
        f"SELECT reason, field, raw_value FROM '{lake.root}/rejects/*/*.parquet'"
    ).fetchall()
    assert reject == ("invalid_city_code", "city_code", "11000")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_encoding_is_detected(tmp_path: Path, encoding: str) -> None:
    landing = tmp_path / "landing"
    lake = Lake(tmp_path / "lake")
    text = STANDARD_HEADER + "\n甲1,2019-02-28 11:25:05,电话,咨询,城乡建设,,,,,是,,,,,,已办结,,\n"
    land(landing, "city_a", "a.csv", text.encode(encoding))
    [outcome] = ingest_source(standard_config(), landing, lake, KEY, WHEN)
    assert outcome.entry.status == "loaded", outcome.entry.error
    [(ticket_id, category)] = duckdb.sql(
        f"SELECT ticket_id, category FROM '{lake.root}/raw/tickets/*/*.parquet'"
    ).fetchall()
    assert (ticket_id, category) == ("甲1", "城乡建设")


def test_a_failed_manifest_write_leaves_nothing_in_the_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path / "lake")
    sha256 = "0" * 64
    entry = ManifestEntry(
        source_id="city_a", entity="tickets", source_file="city_a/a.csv", file_sha256=sha256,
        file_bytes=1, status="loaded", rows_read=0, rows_written=0, rows_rejected=0,
        footer_rows=0, missing_columns=None, unexpected_columns=None, error=None,
        ingested_at=WHEN)

    def disk_full(staged: Path, target: Path) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(lake_module, "publish", disk_full)
    with pytest.raises(OSError, match="No space left"):
        lake.write_manifest_entry(entry)
    assert list(lake.staging_dir().iterdir()) == []
    assert lake.read_manifest_entry("city_a", sha256) is None
