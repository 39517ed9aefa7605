"""Hostile inputs: each gets a clear reject or error; the clean file beside it loads untouched."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from dagster_project.export import export_csv
from dagster_project.ingest.lake import Lake, ManifestEntry
from dagster_project.ingest.pipeline import ingest_source
from dagster_project.ingest.readers import _cells_without_values
from dagster_project.sources import SourceConfig

CORPUS = Path(__file__).parent / "fixtures" / "hostile"
KEY = b"test-key"
WHEN = dt.datetime(2020, 1, 5, 8, 0, 0)
CLEAN = ("工单编号,受理时间,受理渠道,诉求类型,诉求标题,诉求内容,工单状态\n"
         "OK1,2019-05-01 09:00:00,电话,咨询,正常,正常内容,已办结\n"
         "OK2,2019-05-02 09:00:00,网站,求助,正常,正常内容,办理中\n")


def config(**values: object) -> SourceConfig:
    return SourceConfig.model_validate({
        "source_id": "city_h", "name": "某市12345", "entity": "tickets", "city_code": "110000",
        "format": "csv", "layout": "standard", **values})


def land_with_clean(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "landing" / "city_h"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0_clean.csv").write_text(CLEAN, encoding="utf-8")
    (folder / name).write_bytes(data)
    return tmp_path / "landing"


def ingest(tmp_path: Path, name: str, data: bytes, **values: object
           ) -> tuple[ManifestEntry, Lake]:
    landing = land_with_clean(tmp_path, name, data)
    lake = Lake(tmp_path / "lake")
    outcomes = {o.entry.source_file: o.entry for o in ingest_source(
        config(**values), landing, lake, KEY, WHEN)}
    clean = outcomes.pop("city_h/0_clean.csv")
    assert (clean.status, clean.rows_written, clean.rows_rejected) == ("loaded", 2, 0)
    [hostile] = outcomes.values()
    return hostile, lake


def ingest_alone(tmp_path: Path, name: str, **values: object) -> tuple[ManifestEntry, Lake]:
    """Ingest one corpus file alone (an XLSX source has no clean CSV beside it)."""
    folder = tmp_path / "landing" / "city_h"
    folder.mkdir(parents=True)
    shutil.copy(CORPUS / name, folder / name)
    lake = Lake(tmp_path / "lake")
    [outcome] = ingest_source(config(**values), tmp_path / "landing", lake, KEY, WHEN)
    return outcome.entry, lake


def rejects(lake: Lake, sha256: str) -> list[tuple]:
    return duckdb.sql(
        f"SELECT source_row, reason, field, raw_value FROM "
        f"'{lake.rejects_file('city_h', sha256)}' ORDER BY source_row").fetchall()


def rows(lake: Lake, sha256: str, columns: str) -> list[tuple]:
    path = lake.data_file(config().entity, "city_h", sha256)
    return duckdb.sql(f"SELECT {columns} FROM '{path}' ORDER BY source_row").fetchall()


@pytest.mark.parametrize(("name", "message"), [
    ("empty.csv", "the file is empty"),
    ("mixed_encodings.csv", "mixed encodings: line 3"),
    ("duplicated_headers.csv", "the header 工单编号 appears more than once"),
    ("missing_required.csv", "required column 工单编号"),
    ("nul_header.csv", "reads '诉求\\x00内容': the configured column 诉求内容 with a control"),
    ("blank_header.csv", "is blank over column(s) 5, which hold data"),
])
def test_unreadable_files_fail_alone_with_a_reason(
    tmp_path: Path, name: str, message: str
) -> None:
    entry, lake = ingest(tmp_path, name, (CORPUS / name).read_bytes())
    assert entry.status == "failed"
    assert name in entry.error and message in entry.error
    assert not lake.data_file(config().entity, "city_h", entry.file_sha256).exists()


def test_truncated_xlsx_source_fails_with_a_workbook_message(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "city_h"
    folder.mkdir(parents=True)
    shutil.copy(CORPUS / "truncated.xlsx", folder / "orders.xlsx")
    [outcome] = ingest_source(config(format="xlsx"), tmp_path / "landing",
                              Lake(tmp_path / "lake"), KEY, WHEN)
    assert outcome.entry.status == "failed"
    assert "orders.xlsx" in outcome.entry.error and "not a readable XLSX" in outcome.entry.error


def test_zip_bomb_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "city_h"
    folder.mkdir(parents=True)
    bomb = folder / "orders.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<row/>" * 5_000_000)  # 30 MB of XML
    assert bomb.stat().st_size < 1_000_000
    [outcome] = ingest_source(config(format="xlsx", max_expanded_mb=10), tmp_path / "landing",
                              Lake(tmp_path / "lake"), KEY, WHEN)
    assert outcome.entry.status == "failed"
    assert "expands to 30 MB, beyond the limit of 10 MB" in outcome.entry.error


def test_header_only_file_loads_no_rows(tmp_path: Path) -> None:
    entry, _ = ingest(tmp_path, "header_only.csv", (CORPUS / "header_only.csv").read_bytes())
    assert (entry.status, entry.rows_read, entry.rows_written) == ("loaded", 0, 0)


def test_nul_bytes_reject_the_id_and_leave_prose_clean(tmp_path: Path) -> None:
    entry, lake = ingest(tmp_path, "nul_bytes.csv", (CORPUS / "nul_bytes.csv").read_bytes())
    assert (entry.rows_written, entry.rows_rejected) == (1, 1)
    assert rejects(lake, entry.file_sha256) == [(2, "control_characters", "ticket_id", "H\x001")]


def test_out_of_range_and_impossible_dates_are_rejected(tmp_path: Path) -> None:
    entry, lake = ingest(tmp_path, "out_of_range.csv", (CORPUS / "out_of_range.csv").read_bytes())
    assert rejects(lake, entry.file_sha256) == [
        (2, "out_of_range", "received_at", "1899-12-31 10:00:00"),
        (3, "out_of_range", "received_at", "2219-03-01 10:00:00"),
        (4, "unparseable_timestamp", "received_at", "2019-02-30 10:00:00"),
    ]
    assert rows(lake, entry.file_sha256, "ticket_id") == [("H4",)]


def test_a_ten_megabyte_field_is_kept_where_the_source_allows_such_lines(tmp_path: Path) -> None:
    big = "长" * 3_500_000  # 10.5 MB of UTF-8
    data = ("工单编号,受理时间,诉求内容\n"
            f"B1,2019-05-01 09:00:00,{big}\nB2,2019-05-01 10:00:00,短\n").encode()
    entry, lake = ingest(tmp_path, "big.csv", data, max_line_mb=16)
    assert (entry.status, entry.rows_written) == ("loaded", 2)
    assert rows(lake, entry.file_sha256, "ticket_id, length(content)") == [
        ("B1", 3_500_000), ("B2", 1)]


def test_file_names_with_control_characters_are_refused(tmp_path: Path) -> None:
    entry, _ = ingest(tmp_path, "orders\x07\x1b[31m.csv", CLEAN.encode())
    assert entry.status == "failed"
    assert "control characters" in entry.error and "\\x07" in entry.source_file
    assert "\x07" not in entry.error + entry.source_file


def test_links_out_of_landing_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "outside.csv"
    secret.write_text(CLEAN, encoding="utf-8")
    landing = land_with_clean(tmp_path, "placeholder.csv", CLEAN.encode())
    (landing / "city_h" / "placeholder.csv").unlink()
    (landing / "city_h" / "link.csv").symlink_to(secret)
    outcomes = ingest_source(config(), landing, Lake(tmp_path / "lake"), KEY, WHEN)
    link = next(o.entry for o in outcomes if o.entry.source_file.endswith("link.csv"))
    assert link.status == "failed" and "outside the landing folder" in link.error


def test_file_pattern_cannot_leave_the_landing_folder() -> None:
    with pytest.raises(ValueError, match="file_pattern"):
        config(file_pattern="../*.csv")


def test_formula_injection_is_neutralised_on_export(tmp_path: Path) -> None:
    entry, lake = ingest(tmp_path, "formula.csv", (CORPUS / "formula_injection.csv").read_bytes())
    [(title, content)] = rows(lake, entry.file_sha256, "title, content")
    assert title == '=HYPERLINK("http://x")' and content.startswith("+cmd")
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"CREATE TABLE fct AS SELECT ticket_id, title, content, 3 AS n "
                    f"FROM '{lake.data_file(config().entity, 'city_h', entry.file_sha256)}'")
    assert export_csv(warehouse, "fct", tmp_path / "out.csv") == 1
    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["title"] == "'=HYPERLINK(\"http://x\")"
    assert row["content"] == "'+cmd|' /C calc'!A0"
    assert (row["ticket_id"], row["n"]) == ("H1", "3")


def test_a_failed_export_leaves_no_staged_copy_beside_the_target(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE fct AS SELECT 'x' AS title")
    target = tmp_path / "out.csv"
    target.mkdir()  # a folder holds the target's name: writing the export fails
    with pytest.raises(IsADirectoryError):
        export_csv(warehouse, "fct", target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "warehouse.duckdb"]


def test_markup_is_stored_as_plain_text(tmp_path: Path) -> None:
    entry, lake = ingest(tmp_path, "markup.csv", (CORPUS / "markup.csv").read_bytes())
    assert rows(lake, entry.file_sha256, "title, content") == [
        ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>")]


def test_malformed_lines_are_rejected_and_the_rest_loads(tmp_path: Path) -> None:
    """A short line and a long one cost their own lines; the short totals line is a footer."""
    entry, lake = ingest(tmp_path, "ragged_lines.csv", (CORPUS / "ragged_lines.csv").read_bytes())
    assert entry.status == "loaded", entry.error
    assert (entry.rows_read, entry.rows_written, entry.rows_rejected, entry.footer_rows) == (
        5, 3, 2, 1)
    assert entry.rows_read == entry.rows_written + entry.rows_rejected
    [short, long] = rejects(lake, entry.file_sha256)
    assert short == (3, "malformed_line", None, "H2,2019-03-02 10:00:00,电话")
    line, reason, field, raw_value = long
    assert (line, reason, field) == (5, "malformed_line", None)
    assert raw_value.startswith("H4,2019-03-04 10:00:00,电话") and "[手机号]" in raw_value
    assert "137-1234-0002" not in raw_value and "13712340002" not in raw_value
    assert rows(lake, entry.file_sha256, "source_row, ticket_id") == [
        (2, "H1"), (4, "H3"), (6, "H5")]


def test_an_unclosed_quote_costs_its_own_line_only(tmp_path: Path) -> None:
    entry, lake = ingest(tmp_path, "unclosed_quote.csv",
                         (CORPUS / "unclosed_quote.csv").read_bytes())
    assert (entry.status, entry.rows_read, entry.rows_written, entry.rows_rejected) == (
        "loaded", 4, 3, 1)
    [(line, reason, field, raw_value)] = rejects(lake, entry.file_sha256)
    assert (line, reason, field) == (3, "malformed_line", None)
    assert raw_value.startswith('H2,2019-03-02 10:00:00,电话,咨询,"路灯不亮')
    assert rows(lake, entry.file_sha256, "source_row, ticket_id") == [
        (2, "H1"), (4, "H3"), (5, "H4")]


def test_title_rows_taken_for_the_header_are_named_as_such(tmp_path: Path) -> None:
    """When no line below the header line has its columns, the header line is not the header:
    the file fails saying so (skip_rows), not with a required column or a reject per line."""
    body = "".join(f"H{n},2019-03-01 10:00:00,电话,咨询,t,c,已办结\n" for n in range(120))
    data = ("某市热线工单明细\n" + CLEAN.splitlines()[0] + "\n" + body).encode()
    entry, lake = ingest(tmp_path, "titled.csv", data)
    assert entry.status == "failed"
    assert "none of the 100 lines below it has as many" in entry.error
    assert "skip_rows" in entry.error and "required column" not in entry.error
    assert not lake.data_file(config().entity, "city_h", entry.file_sha256).exists()


def test_a_five_megabyte_line_is_refused_unread(tmp_path: Path) -> None:
    lines = CLEAN.splitlines(keepends=True)
    data = (lines[0] + lines[1] + "x" * 5_000_000 + "\n" + lines[2]).encode()
    entry, lake = ingest(tmp_path, "long_line.csv", data)
    assert entry.status == "failed"
    assert ("line 3 is 5,000,000 bytes long, beyond the limit of 1 MB (max_line_mb in the "
            "source configuration); refused unread") in entry.error
    assert not lake.data_file(config().entity, "city_h", entry.file_sha256).exists()
    # Where the source allows such lines, the line is malformed (one cell): that row only.
    allowed, lake = ingest(tmp_path / "allowed", "long_line.csv", data, max_line_mb=8)
    assert (allowed.status, allowed.rows_read, allowed.rows_written, allowed.rows_rejected) == (
        "loaded", 3, 2, 1)
    assert rejects(lake, allowed.file_sha256) == [(3, "malformed_line", None, "x" * 1000)]


def test_ten_thousand_columns_are_refused_unread(tmp_path: Path) -> None:
    data = (",".join(f"c{n}" for n in range(10_000)) + "\n"
            + ",".join("1" for _ in range(10_000)) + "\n").encode()
    assert len(data) < 90_000
    entry, _ = ingest(tmp_path, "wide.csv", data)
    assert entry.status == "failed"
    assert ("the header (line 1): 10,000 columns, beyond the limit of 500 (max_columns in the "
            "source configuration); refused unread") in entry.error
    assert "Out of Memory" not in entry.error


@pytest.mark.parametrize(("encoding", "message"), [
    ("auto", "is not UTF-8 while the lines above it are: mixed encodings, it reads as GBK"),
    ("utf-8", "is not valid UTF-8 (invalid start byte)"),
])
def test_a_utf8_file_turning_gbk_is_refused_at_the_line_it_turns(
    tmp_path: Path, encoding: str, message: str
) -> None:
    utf8 = CLEAN.splitlines(keepends=True)[0] + "".join(
        f"U{n},2019-05-01 09:00:00,电话,咨询,正常,正常内容,已办结\n" for n in range(2, 3002))
    gbk = "".join(f"G{n},2019-05-01 09:00:00,电话,咨询,正常,正常内容,已办结\n"
                  for n in range(3002, 3010))
    data = utf8.encode() + gbk.encode("gbk")
    with pytest.raises(UnicodeDecodeError) as decoding:
        data.decode("utf-8")
    entry, lake = ingest(tmp_path, "turns_gbk.csv", data, encoding=encoding)
    assert entry.status == "failed"
    assert f"line 3002 (byte offset {decoding.value.start})" in entry.error
    assert message in entry.error and "re-export the whole file in one encoding" in entry.error
    assert not lake.data_file(config().entity, "city_h", entry.file_sha256).exists()


def test_formulas_without_a_cached_value_are_rejected_in_every_field(tmp_path: Path) -> None:
    """A time field, a text field and a whole row of formulas; a formula with a cached value
    and one in an unmapped column do not matter."""
    entry, lake = ingest_alone(tmp_path, "formula_without_value.xlsx", format="xlsx")
    assert entry.status == "loaded", entry.error
    assert (entry.rows_read, entry.rows_written, entry.rows_rejected) == (4, 1, 3)
    assert rejects(lake, entry.file_sha256) == [
        (2, "formula_without_value", "received_at", "=NOW()"),
        (3, "formula_without_value", "title", '="路灯"&"不亮"'),
        (5, "formula_without_value", "ticket_id", '="H4"'),
    ]
    assert rows(lake, entry.file_sha256, "ticket_id, received_at") == [
        ("H3", dt.datetime(2019, 3, 3, 10, 0))]


def test_a_merged_header_cell_over_a_configured_column_fails_the_file(tmp_path: Path) -> None:
    entry, lake = ingest_alone(tmp_path, "merged_header.xlsx", format="xlsx")
    assert entry.status == "failed"
    assert "merged_header.xlsx" in entry.error
    assert "the header (line 1) is blank over column(s) 5, which hold data" in entry.error
    assert "诉求标题" in entry.error and "no merged cells" in entry.error
    assert not lake.data_file(config().entity, "city_h", entry.file_sha256).exists()
    assert not lake.rejects_file("city_h", entry.file_sha256).exists()


def test_what_counts_as_a_formula_without_a_cached_value() -> None:
    """No <v>, or an empty one outside a text cell; an empty text result is a value."""
    sheet = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData><row r=\"2\">"
        b'<c r="A2"><f>NOW()</f></c>'
        b'<c r="B2" t="str"><f>""</f><v></v></c>'
        b'<c r="C2"><f t="shared" si="0" ref="C2:C3">A2</f><v></v></c>'
        b'<c r="D2"><f>1+1</f><v>2</v></c>'
        b'</row><row r="3"><c r="C3"><f t="shared" si="0"/><v/></c></row>'
        b"</sheetData></worksheet>"
    )
    assert _cells_without_values(io.BytesIO(sheet)) == {
        1: [(0, "=NOW()"), (2, "=A2")], 2: [(2, "(a shared formula)")]}


def test_json_records_with_too_many_keys_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "city_h"
    folder.mkdir(parents=True)
    record = {"工单编号": "J1", "受理时间": "2019-05-01 09:00:00"} | {
        f"k{n}": "v" for n in range(600)}
    (folder / "orders.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    [outcome] = ingest_source(config(format="jsonl"), tmp_path / "landing",
                              Lake(tmp_path / "lake"), KEY, WHEN)
    assert outcome.entry.status == "failed"
    assert "the records' keys: 602 columns, beyond the limit of 500" in outcome.entry.error
