"""Each export format of HOTLINE.md, from fixture files written here."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import xlsxwriter

from dagster_project import layouts, personal_data
from dagster_project.ingest.canonicalise import cleaned_text_sql, row_gates_sql, timestamp_sql
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.pipeline import ingest_source
from dagster_project.ingest.readers import _cell_text, _text_array
from dagster_project.sources import SourceConfig

KEY = b"test-key"
WHEN = dt.datetime(2020, 1, 5, 8, 0, 0)


def config(**values: object) -> SourceConfig:
    base: dict[str, object] = {"source_id": "city_x", "name": "某市12345", "entity": "tickets",
                               "city_code": "320700"}
    return SourceConfig.model_validate(base | values)


def tickets(lake: Lake, columns: str) -> list[tuple]:
    return duckdb.sql(
        f"SELECT {columns} FROM '{lake.root}/raw/tickets/*/*.parquet' "
        "ORDER BY source_sheet, source_row"
    ).fetchall()


def test_standard_xlsx_with_several_sheets_and_mixed_date_cells(tmp_path: Path) -> None:
    path = tmp_path / "landing" / "city_x" / "orders.xlsx"
    path.parent.mkdir(parents=True)
    workbook = xlsxwriter.Workbook(path)
    stamp = workbook.add_format({"num_format": "yyyy/m/d h:mm:ss"})
    header = list(layouts.STANDARD_COLUMNS)
    received, status, ticket = header.index("受理时间"), header.index("工单状态"), 0
    for name, rows in {
        "一季度": [
            ("Q1-1", dt.datetime(2019, 2, 28, 11, 25, 5)),  # a real datetime cell
            ("Q1-2", "2019/3/1 8:05:00"),                   # text typed by a person
        ],
        "二季度": [
            ("\tQ2-1\n", 43570.5),                          # Excel serial, padded id
            ("Ｑ２-２", "２０１９-０４-１６ ０９:００:００"),  # full-width digits
        ],
    }.items():
        sheet = workbook.add_worksheet(name)
        sheet.write_row(0, 0, header)
        for line, (ticket_id, when) in enumerate(rows, start=1):
            sheet.write_string(line, ticket, ticket_id)
            if isinstance(when, dt.datetime):
                sheet.write_datetime(line, received, when, stamp)
            else:
                sheet.write(line, received, when)
            sheet.write_string(line, status, "已办结")
    workbook.close()
    lake = Lake(tmp_path / "lake")
    [outcome] = ingest_source(
        config(format="xlsx", layout="standard", sheets="all"), tmp_path / "landing", lake, KEY,
        WHEN)
    assert outcome.entry.status == "loaded", outcome.entry.error
    assert (outcome.entry.rows_read, outcome.entry.rows_rejected) == (4, 0)
    assert tickets(lake, "ticket_id, received_at, status") == [
        ("Q1-1", dt.datetime(2019, 2, 28, 11, 25, 5), "closed"),
        ("Q1-2", dt.datetime(2019, 3, 1, 8, 5), "closed"),
        ("Q2-1", dt.datetime(2019, 4, 15, 12, 0), "closed"),  # 1899-12-30 + 43570.5 days
        ("Q2-2", dt.datetime(2019, 4, 16, 9, 0), "closed"),
    ]


def test_xlsx_columns_are_converted_whole_as_each_cell_would_be() -> None:
    """A column goes to text through Arrow in one piece; every kind of cell calamine hands
    over must come out as converting that cell alone gives it."""
    cells: list[object] = [
        "工单A", "", None, "  padded ", dt.datetime(2019, 4, 1, 8, 30, 15, 999999),
        dt.datetime(1899, 12, 31, 0, 0, 0, 500000), dt.date(2019, 4, 2), dt.time(9, 5, 7),
        43570.0, 43570.5, 12, True,
    ]
    expected = ["工单A", None, None, "  padded ", "2019-04-01 08:30:15", "1899-12-31 00:00:00",
                "2019-04-02", "09:05:07", "43570", "43570.5", "12", "True"]
    assert [_cell_text(c) for c in cells] == expected  # the one-cell conversion, by hand
    assert _text_array(cells).to_pylist() == expected
    assert _text_array(["a", "", None]).to_pylist() == ["a", None, None]  # strings only
    assert _text_array([]).to_pylist() == []


def test_times_by_format_by_utc_offset_and_as_excel_serials() -> None:
    """Text ending in an offset is parsed by the offset formats first (the source's formats
    would fail on it, and a failed parse is the costly one); every kind still parses."""
    formats = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d")
    cases = {
        "2019-04-14 06:37:38": dt.datetime(2019, 4, 14, 6, 37, 38),
        "2019/04/15": dt.datetime(2019, 4, 15),
        "2019-04-15T01:00:00Z": dt.datetime(2019, 4, 15, 9),  # UTC, shown in Beijing time
        "2019-04-15 01:00:00-05:00": dt.datetime(2019, 4, 15, 14),
        "2019-04-15T01:00:00.250+0800": dt.datetime(2019, 4, 15, 1, 0, 0, 250000),
        "43570.5": dt.datetime(2019, 4, 15, 12),  # 1899-12-30 + 43570.5 days
        "12345": None,  # a five-digit number, but no plausible export date
        "2019-04-15 01:00+08:00": None,  # an offset, but no format for it
        "not a time": None,
    }
    parsed = duckdb.sql(
        f"SELECT t, {timestamp_sql('t', formats)} FROM unnest($cases) AS u(t)",
        params={"cases": list(cases)},
    ).fetchall()
    assert dict(parsed) == cases


def test_the_row_gate_never_skips_a_cell_that_needs_cleaning() -> None:
    """A row whose joined cells do not match its gate skips the per-cell scans: every cell that
    needs work must open the gate wherever it sits in the row, and a clean row must not."""
    columns = {"c1": "code", "c2": "code", "p1": "prose", "x1": "text"}
    clean = {"c1": "BJ2019000123", "c2": "2019-04-01 08:00:00", "p1": "小区路灯不亮",
             "x1": "市住建委"}
    dirty = [" BJ1", "BJ1 ", "\tBJ1", "BJ1\n", "\u3000BJ1", "ＢＪ１", "BJ|１", "a| b", "a |b",
             "电话13912345678", "身份证110101199001011234", "１３９１２３４５６７８",
             "电话139-1234-5678", "(0898)66123457", "x.y@example.com", "110105 19491231 0037",
             "报修\x07路灯", "\x00", " ", "", None,
             "\u00a0BJ1", "BJ1\u200b", "\ufeffBJ1", "BJ1\u202f", "a|\u2003b", "b\u200d|a"]
    rows = [dict(clean)]
    for column in columns:
        for value in dirty:
            rows.append(clean | {column: value})
    gates = {"__gate_codes": [(c, k) for c, k in columns.items() if k == "code"],
             "__gate_texts": [(c, k) for c, k in columns.items() if k != "code"]}
    gate_of = {"code": "__gate_codes", "prose": "__gate_texts", "text": "__gate_texts"}
    gated = ", ".join(f"{cleaned_text_sql(c, k, gate_of[k])} AS g_{c}" for c, k in columns.items())
    plain = ", ".join(f"{cleaned_text_sql(c, k)} AS p_{c}" for c, k in columns.items())
    con = duckdb.connect()
    personal_data.register(con)
    con.execute("CREATE TABLE cells (n INTEGER, c1 VARCHAR, c2 VARCHAR, p1 VARCHAR, x1 VARCHAR)")
    con.executemany("INSERT INTO cells VALUES (?, ?, ?, ?, ?)",
                    [[n, *(row[c] for c in columns)] for n, row in enumerate(rows)])
    result = con.execute(
        f"SELECT n, __gate_codes OR __gate_texts, {gated}, {plain}, c1, c2, p1, x1 "
        f"FROM (SELECT *{row_gates_sql(gates)} FROM cells) AS cells ORDER BY n").fetchall()
    width = len(columns)
    changed = 0
    for n, opened, *values in result:
        with_gate, without, raw = values[:width], values[width:2 * width], values[2 * width:]
        assert with_gate == without, (rows[n], with_gate, without)
        changed += sum(a != b for a, b in zip(without, raw, strict=True))
        if n == 0:
            assert not opened and without == raw  # a clean row skips every scan
    assert changed > 3 * len(columns)  # the dirty cells were cleaned, gate or not


def test_json_array_wrapped_in_an_object(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / "city_x"
    landing.mkdir(parents=True)
    (landing / "export.json").write_text(json.dumps({
        "total": 2,
        "data": [
            {"id": 101, "time": "2019-05-01 10:00:00", "kind": "咨询",
             "text": "问社保 13912345678"},
            {"id": 102, "time": "2019-05-02 11:30:00", "kind": "投诉", "text": "噪音"},
        ],
    }, ensure_ascii=False), encoding="utf-8")
    lake = Lake(tmp_path / "lake")
    cfg = config(format="json", records_key="data",
                 columns={"id": "ticket_id", "time": "received_at", "kind": "request_type",
                          "text": "content"},
                 values={"request_type": {"咨询": "consult", "投诉": "complaint"}})
    [outcome] = ingest_source(cfg, tmp_path / "landing", lake, KEY, WHEN)
    assert outcome.entry.status == "loaded", outcome.entry.error
    assert tickets(lake, "ticket_id, received_at, request_type, content, source_row") == [
        ("101", dt.datetime(2019, 5, 1, 10), "consult", "问社保 [手机号]", 1),
        ("102", dt.datetime(2019, 5, 2, 11, 30), "complaint", "噪音", 2),
    ]
    assert outcome.entry.unexpected_columns is None


def test_json_lines_and_unexpected_columns(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / "city_x"
    landing.mkdir(parents=True)
    lines = [
        {"no": "A1", "at": "2019-06-01T08:00:00", "extra": 1},
        {"no": "", "at": "2019-06-01T09:00:00", "extra": 2},
        {"no": "A3", "at": "2019-06-01T10:00:00+00:00", "extra": 3},
    ]
    (landing / "export.jsonl").write_text(
        "\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    lake = Lake(tmp_path / "lake")
    cfg = config(format="jsonl", columns={"no": "ticket_id", "at": "received_at"})
    [outcome] = ingest_source(cfg, tmp_path / "landing", lake, KEY, WHEN)
    assert (outcome.entry.rows_read, outcome.entry.rows_written, outcome.entry.rows_rejected) == (
        3, 2, 1)
    assert outcome.entry.unexpected_columns == "extra"
    # An explicit UTC offset is converted to Beijing time.
    assert tickets(lake, "ticket_id, received_at, source_row") == [
        ("A1", dt.datetime(2019, 6, 1, 8), 1),
        ("A3", dt.datetime(2019, 6, 1, 18), 3),
    ]


def test_open311_georeport_v2(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / "city_x"
    landing.mkdir(parents=True)
    requests = [
        {"service_request_id": "638344", "status": "closed", "status_notes": "Duplicate",
         "service_name": "Sidewalk and Curb Issues", "service_code": "006",
         "description": "Cracked sidewalk", "agency_responsible": "Public Works",
         "service_notice": None, "requested_datetime": "2019-04-14T06:37:38+08:00",
         "updated_datetime": "2019-04-16T09:10:00+08:00",
         "expected_datetime": "2019-04-21T06:37:38+08:00", "address": "8TH AVE and JUDAH ST",
         "address_id": "545483", "zipcode": "94122", "lat": 37.762221815, "long": -122.4651145,
         "media_url": None},
        {"service_request_id": "638349", "status": "open", "service_name": "Graffiti",
         "service_code": "009", "description": "Tagging", "agency_responsible": "DPW",
         "requested_datetime": "2019-04-15T01:00:00Z",
         "updated_datetime": "2019-04-15T02:00:00Z", "address": "Market St"},
    ]
    (landing / "requests.json").write_text(json.dumps(requests), encoding="utf-8")
    lake = Lake(tmp_path / "lake")
    [outcome] = ingest_source(config(format="open311", layout="open311"), tmp_path / "landing",
                              lake, KEY, WHEN)
    assert outcome.entry.status == "loaded", outcome.entry.error
    assert outcome.entry.unexpected_columns is None
    assert tickets(lake, "ticket_id, received_at, status, closed_at, due_at, category, "
                         "department") == [
        ("638344", dt.datetime(2019, 4, 14, 6, 37, 38), "closed",
         dt.datetime(2019, 4, 16, 9, 10), dt.datetime(2019, 4, 21, 6, 37, 38),
         "Sidewalk and Curb Issues", "Public Works"),
        ("638349", dt.datetime(2019, 4, 15, 9, 0), "open", None, None, "Graffiti", "DPW"),
    ]


def test_message_board_reply_time_closes_the_message(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / "city_x"
    landing.mkdir(parents=True)
    (landing / "留言.csv").write_text(
        "留言编号,留言用户,留言主题,留言时间,留言详情,答复意见,答复时间,一级分类\n"
        "L1,网友A,小区停车难,2019/1/3 10:00:00,车位不足,已协调,2019/1/10 16:00:00,城乡建设\n"
        "L2,网友B,路灯不亮,2019/1/4 21:00:00,已经一周,,,城乡建设\n",
        encoding="gb18030")
    lake = Lake(tmp_path / "lake")
    [outcome] = ingest_source(config(format="csv", layout="message_board"), tmp_path / "landing",
                              lake, KEY, WHEN)
    assert outcome.entry.status == "loaded", outcome.entry.error
    rows = tickets(lake, "ticket_id, channel, status, closed_at, category, "
                         "caller_account_key IS NOT NULL")
    assert rows == [
        ("L1", "web", "closed", dt.datetime(2019, 1, 10, 16), "城乡建设", True),
        ("L2", "web", "open", None, "城乡建设", True),
    ]


def test_corrupt_xlsx_fails_alone(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / "city_x"
    landing.mkdir(parents=True)
    (landing / "broken.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    lake = Lake(tmp_path / "lake")
    [outcome] = ingest_source(config(format="xlsx", layout="standard"), tmp_path / "landing",
                              lake, KEY, WHEN)
    assert outcome.entry.status == "failed"
    assert "broken.xlsx" in outcome.entry.error and "XLSX" in outcome.entry.error
    assert not (lake.root / "raw").exists()
