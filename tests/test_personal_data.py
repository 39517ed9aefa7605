"""Personal data as people write it never gets past landing/.

Values are generated in every common written form (mobiles and landlines with separators,
brackets, country codes and extensions; 15- and 18-digit ID numbers with or without spaces;
bank cards; e-mail addresses) and planted in the exports of every layout: inside the free text
of every text field, and alone in time and status fields, where they become rejects. What is
written is then read back with DuckDB, pdftotext and plain bytes, and searched for each planted
value's digits with every separator removed, not with the detector under test.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pipeline_helpers import HOTLINE, hotline_env

from dagster_project import personal_data as detector
from dagster_project.demo import generator
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.pipeline import ingest_source
from dagster_project.personal_data import find_personal_data, mask_personal_data
from dagster_project.settings import PROJECT_ROOT, DataPaths
from dagster_project.sources import load_source_config

KEY = b"personal-data-key"
WHEN = dt.datetime(2020, 1, 5, 8, 0, 0)
SOURCES = PROJECT_ROOT / "dagster_project" / "config" / "sources"
TICKET_LAYOUTS = list(generator.LAYOUTS)
# Canonical fields people type into (the layouts name their columns differently).
PROSE_FIELDS = ("title", "content", "category", "district", "department")
# Fields whose value must parse: a planted value alone there is rejected and kept as raw text.
PARSED_FIELDS = ("dispatched_at", "responded_at", "closed_at", "due_at", "status")


@dataclass(frozen=True)
class Planted:
    written: str  # as it stands in the export
    core: str  # what identifies the person: digits (or the address), separators removed


def _compact(text: str) -> str:
    """Text with full-width forms made ASCII, lower case, and every separator people put
    inside a number or that a renderer may break it with removed."""
    plain = text.translate({c + 0xFEE0: c for c in range(0x21, 0x7F)}).lower()
    return re.sub(r"[\s\-‐‑–—.()（）+/\\'\"]", "", plain)


def _digits(value: str) -> str:
    return re.sub(r"[^0-9x]", "", value.lower())


SEPARATOR = st.sampled_from(["-", " ", ".", ""])


def digits(n: int) -> st.SearchStrategy[str]:
    """n digits, never all alike: ten distinct digits in some order, repeated as needed (a
    run of zeros could be found in an id by chance, and a leak would go unseen)."""
    return st.permutations("0123456789").map(lambda p: ("".join(p) * 2)[:n])
mobiles = st.tuples(st.sampled_from("3456789"), digits(9),
                    SEPARATOR, st.sampled_from(["", "+86 ", "0086-", "86 ", "(+86)"]),
                    st.booleans()).map(
    lambda t: _mobile(f"1{t[0]}{t[1]}", t[2], t[3], t[4]))
AREA_CODES = ("010", "021", "020", "0898", "0755", "0571", "028", "0531", "0851")
landlines = st.tuples(st.sampled_from(AREA_CODES), st.sampled_from("2345678"),
                      digits(7),
                      st.sampled_from(["{a}-{s}", "({a}){s}", "（{a}）{s}", "{a} {s}",
                                       "+86 {a1} {s}", "{a}-{s}转{x}", "{a}{s}"]),
                      digits(3)).map(
    lambda t: _landline(t[0], t[1] + t[2], t[3], t[4]))
REGIONS = ("110105", "310101", "440106", "460100", "510100", "320700", "610600", "371500")
id_cards = st.tuples(st.sampled_from(REGIONS), st.dates(dt.date(1930, 1, 1), dt.date(2010, 12, 31)),
                     digits(3), st.booleans(),
                     st.sampled_from([" ", "-", ""])).map(lambda t: _id_card(*t))
cards = st.tuples(digits(14),
                  st.sampled_from([" ", "-", ""])).map(lambda t: _card("62" + t[0], t[1]))
emails = st.tuples(st.from_regex(r"[a-z][a-z0-9._]{2,10}[a-z0-9]", fullmatch=True),
                   st.sampled_from(["qq.com", "163.com", "example.com.cn", "gov.cn"]),
                   st.booleans()).map(lambda t: _email(*t))
personal_data = st.one_of(mobiles, landlines, id_cards, cards, emails)


def _mobile(digits: str, separator: str, prefix: str, full_width: bool) -> Planted:
    written = prefix + separator.join((digits[:3], digits[3:7], digits[7:]))
    if full_width:
        written = written.translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)})
    return Planted(written, digits)


def _landline(area: str, subscriber: str, form: str, extension: str) -> Planted:
    written = form.format(a=area, a1=area[1:], s=subscriber, x=extension)
    return Planted(written, area[1:] + subscriber)


def _id_card(region: str, born: dt.date, sequence: str, old: bool, separator: str) -> Planted:
    if old:  # first generation: 15 digits, two-digit year, no check digit
        digits = f"{region}{born:%y%m%d}{sequence}"
        return Planted(digits, digits)
    body = f"{region}{born:%Y%m%d}{sequence}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return Planted(separator.join((region, body[6:14], body[14:] + check)), (body + check).lower())


def _card(body: str, separator: str) -> Planted:
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (1 if position % 2 else 2)
        total += value - 9 if value > 9 else value
    digits = body + str((10 - total % 10) % 10)
    return Planted(separator.join(digits[i:i + 4] for i in range(0, len(digits), 4)), digits)


def _email(local: str, domain: str, upper: bool) -> Planted:
    address = f"{local}@{domain}"
    return Planted(address.upper() if upper else address, _compact(address))


@contextlib.contextmanager
def planted_exports(values: Sequence[Planted]) -> Iterator[None]:
    """While open, the demo generator plants `values` in the rows it renders: in turn inside
    the text of every prose column and alone in every time and status column of the layout."""
    render = generator._render

    def planting(layout: generator.Layout, *args: object, **kwargs: object):
        table, kind = render(layout, *args, **kwargs)  # type: ignore[arg-type]
        names = dict(layout.columns)
        for position, header in enumerate(table.column_names):
            field = names.get(header)
            if field not in PROSE_FIELDS + PARSED_FIELDS:
                continue
            cells = table.column(position).to_pylist()
            for row in range(min(len(cells), len(values))):
                value = values[(row + position) % len(values)].written
                prose = field in PROSE_FIELDS
                cells[row] = f"市民反映，联系方式{value}，请回复" if prose else value
            table = table.set_column(position, header, pa.array(cells, pa.string()))
        return table, kind

    with mock.patch.object(generator, "_render", planting):
        yield


def texts_under(root: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for everything written under the data root but its landing files: every
    text value of every Parquet file and warehouse table, the PDF's text, and every other file
    read as UTF-8 (an SQLite store, a log, a page)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if relative.parts[0] == "landing":
            continue
        if path.suffix == ".parquet":
            yield from _relation_texts(duckdb.connect(), f"read_parquet('{path}')", str(relative))
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                for schema, table in con.execute(
                        "SELECT table_schema, table_name FROM information_schema.tables "
                        "WHERE table_type = 'BASE TABLE'").fetchall():
                    yield from _relation_texts(con, f'"{schema}"."{table}"',
                                               f"{relative}:{schema}.{table}")
        elif path.suffix == ".pdf":
            pdftotext = shutil.which("pdftotext")
            assert pdftotext, "pdftotext (Debian poppler-utils) is needed"
            yield str(relative), subprocess.run([pdftotext, str(path), "-"], check=True,
                                                capture_output=True, text=True).stdout
        else:
            yield str(relative), path.read_bytes().decode("utf-8", errors="ignore")


def _relation_texts(con: duckdb.DuckDBPyConnection, relation: str,
                    where: str) -> Iterator[tuple[str, str]]:
    columns = [c for c, kind, *_ in con.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()
               if kind == "VARCHAR"]
    for column in columns:
        values = con.sql(f'SELECT DISTINCT "{column}" FROM {relation} '
                         f'WHERE "{column}" IS NOT NULL').fetchall()
        yield f"{where}.{column}", "\n".join(v for (v,) in values)


def leaks(root: Path, values: Sequence[Planted]) -> list[str]:
    found = []
    for where, text in texts_under(root):
        compact = _compact(text)
        found += [f"{v.written!r} in {where}" for v in values if v.core in compact]
    return found


def test_generated_forms_are_what_they_claim() -> None:
    """The strategies' values, checked once by hand."""
    assert _mobile("13712340002", "-", "+86 ", False) == Planted("+86 137-1234-0002",
                                                                  "13712340002")
    assert _landline("0898", "66123457", "({a}){s}", "") == Planted("(0898)66123457",
                                                                    "89866123457")
    # The specimen of GB 11643-1999: its check character is X.
    assert _id_card("110105", dt.date(1949, 12, 31), "002", False, " ").written == (
        "110105 19491231 002X")
    card = _card("622202123456789", " ")
    assert card.written.count(" ") == 3 and len(card.core) == 16 and _luhn(card.core)
    assert not _luhn(card.core[:-1] + str((int(card.core[-1]) + 1) % 10))


def _luhn(digits: str) -> bool:
    return sum(sum(divmod(int(c) * (2 if i % 2 else 1), 10))
               for i, c in enumerate(reversed(digits))) % 10 == 0


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(layout=st.sampled_from(TICKET_LAYOUTS),
       values=st.lists(personal_data, min_size=3, max_size=8))
def test_planted_personal_data_never_reaches_the_lake(
    layout: generator.Layout, values: list[Planted]
) -> None:
    for value in values:  # the detector finds each form (else the lake check is moot)
        assert find_personal_data(f"联系{value.written}。"), value
    with tempfile.TemporaryDirectory(prefix="pii-") as tmp, planted_exports(values):
        root = Path(tmp)
        generator._source_work_orders(root / "landing", 7, layout, "某市", [12, 12])
        config = load_source_config(SOURCES / f"{layout.source_id}.yaml")
        outcomes = ingest_source(config, root / "landing", Lake(root / "lake"), KEY, WHEN)
        for outcome in outcomes:
            entry = outcome.entry
            assert entry.status == "loaded", entry.error
            assert entry.rows_read == entry.rows_written + entry.rows_rejected
        assert leaks(root, values) == []


@settings(max_examples=1, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(values=st.lists(personal_data, min_size=40, max_size=40,
                       unique_by=lambda v: v.core))
def test_planted_personal_data_stops_at_landing_after_ingest_build_and_report(
    values: list[Planted],
) -> None:
    """Every layout, then the whole pipeline as an operator runs it: the lake, the rejects, the
    manifest, the warehouse, the quality results, the site, the PDF and Dagster's storage hold
    none of the planted values in any form."""
    with tempfile.TemporaryDirectory(prefix="pii-e2e-") as tmp, planted_exports(values):
        root = Path(tmp)
        generator.generate_demo(root / "landing", total_tickets=3000)
        result = subprocess.run([*HOTLINE, "refresh"], env=hotline_env(root),
                                capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        result = subprocess.run([*HOTLINE, "publish", "--year", "2019"], env=hotline_env(root),
                                capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert list((root / "site").rglob("report.pdf")), "the report was not published"
        rejects = duckdb.sql(f"SELECT count(*) FROM '{root}/lake/rejects/*/*.parquet' "
                             "WHERE raw_value LIKE '%[%]%'").fetchone()
        assert rejects and rejects[0] > 0  # planted values did land in rejects, masked
        assert leaks(root, values) == []


def test_a_file_named_with_a_phone_number_is_refused_and_its_name_masked(
    tmp_path: Path,
) -> None:
    layout = TICKET_LAYOUTS[0]
    generator._source_work_orders(tmp_path / "landing", 7, layout, "某市", [5, 5])
    [first, *_] = sorted((tmp_path / "landing" / layout.source_id).iterdir())
    named = first.with_name(f"{first.stem}_张三137 1234 0002{first.suffix}")
    first.rename(named)
    config = load_source_config(SOURCES / f"{layout.source_id}.yaml")
    outcomes = ingest_source(config, tmp_path / "landing", Lake(tmp_path / "lake"), KEY, WHEN)
    [refused] = [o.entry for o in outcomes if o.entry.status == "failed"]
    assert refused.source_file == mask_personal_data(
        named.relative_to(tmp_path / "landing").as_posix())
    assert "rename the file" in (refused.error or "")
    assert leaks(tmp_path, [Planted("137 1234 0002", "13712340002")]) == []
    # Renamed, it loads, and nothing of the old name remains but the masked refusal.
    named.rename(first)
    outcomes = ingest_source(config, tmp_path / "landing", Lake(tmp_path / "lake"), KEY, WHEN)
    assert all(o.entry.status == "loaded" for o in outcomes if not o.skipped)


@pytest.mark.parametrize("text", [
    "2019-03-04 12:30:00", "工单编号2019000012345", "SH-2019-0001234", "金额1234567元",
    "邮编570100", "12345热线", "第2019123号", "2019/01/01 08:00", "坐标110.12345,20.12345",
    "tickets_20190101-20191231.csv", "版本1.2.3.4567", "2019-13-45 25:61:00",
])
def test_numbers_that_are_not_personal_data_are_left_alone(text: str) -> None:
    assert find_personal_data(text) == []
    assert mask_personal_data(text) == text


# Ids of letters, digits and hyphens: runs of digits between letters or hyphens, some of them
# personal data written without a separator or with hyphens (a mobile with or without its
# country code, a landline with its trunk 0, ID and card numbers), some not.
LETTERS = st.from_regex(r"[A-Za-z]{1,3}|-{1,2}", fullmatch=True)
HYPHENATED = st.one_of(mobiles, landlines, id_cards, cards).map(lambda v: v.written).filter(
    lambda written: re.fullmatch(r"[0-9Xx-]+", written) is not None)
DIGIT_RUNS = st.one_of(
    st.text("0123456789", min_size=1, max_size=22),
    st.text("0123456789-", min_size=1, max_size=24),
    HYPHENATED, HYPHENATED.map(lambda w: "86-" + w),
    mobiles.map(lambda v: v.core),
    mobiles.map(lambda v: "86" + v.core), mobiles.map(lambda v: "0086" + v.core),
    landlines.map(lambda v: "0" + v.core), landlines.map(lambda v: "86" + v.core),
    id_cards.map(lambda v: v.core), id_cards.map(lambda v: v.core.upper()),
    cards.map(lambda v: v.core),
)
alphanumeric_ids = st.lists(st.one_of(LETTERS, DIGIT_RUNS), min_size=1, max_size=4).map("".join)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(alphanumeric_ids, min_size=1, max_size=30))
def test_values_the_gate_spares_hold_nothing_the_detector_would_find(values: list[str]) -> None:
    """The gate in front of the detector (`may_hold_personal_data`, and `candidate_sql` for
    DuckDB) only spares values in which the full search finds nothing, and both forms of it
    agree."""
    for value in values:
        if not detector.may_hold_personal_data(value):
            assert detector._search(value) == [], value
    with duckdb.connect() as con:
        con.register("ids", pa.table({"v": values, "n": list(range(len(values)))}))
        in_sql = [m for (m,) in con.sql(
            f"SELECT {detector.candidate_sql('v')} FROM ids ORDER BY n").fetchall()]
    assert in_sql == [detector.may_hold_personal_data(v) for v in values]


@pytest.mark.parametrize(("value", "spared", "kinds"), [
    ("BJ201800090899", True, []),
    ("202401010001", True, []),
    ("SH20190000123456789012", False, []),  # twenty digits: searched, and clean
    ("BJ13712340002", False, ["mobile"]),
    ("T008613712340002", False, ["mobile"]),
    ("089866123457", False, ["landline"]),
    ("ID11010519491231002X", False, ["id_card"]),
    ("BJ2018000908991", True, []),
    ("BJ201800090899123", False, []),  # as long as an old ID number: searched, and clean
    ("SH-2019-0067608", True, []),
    ("SH-2019-137-1234-0002", False, ["mobile"]),
    ("NO-0898-66123457", False, ["landline"]),
    ("ID-110105-19491231-002X", False, ["id_card"]),
    # A mobile group inside a run that starts otherwise: the mobile pattern starts there.
    ("T-2-13712340002", False, ["mobile"]),
    ("T-2-8613712340002", False, ["mobile"]),
    ("T-2019-008613712340002", False, ["mobile"]),
])
def test_the_gate_spares_ids_and_passes_numbers_in_them(
        value: str, spared: bool, kinds: list[str]) -> None:
    assert detector.may_hold_personal_data(value) is not spared
    assert [f.kind for f in find_personal_data(value)] == kinds


# Names as callers, operators and exports write them; each masked by hand.
NAMED = [
    ("王建国来电反映：小区噪音扰民。", "某某来电反映：小区噪音扰民。"),
    ("市民王建国来电反映路灯不亮", "市民某某来电反映路灯不亮"),
    ("网友留言反映：李娜留言称楼道堆物", "网友留言反映：某某留言称楼道堆物"),
    ("张先生来电反映路灯不亮", "某某先生来电反映路灯不亮"),
    ("物业的刘师傅说不归他管", "物业的某某师傅说不归他管"),
    ("欧阳娜娜女士咨询", "某某女士咨询"),
    ("市民来电反映：我叫李娜，电话13912345678。", "市民来电反映：我叫某某，电话[手机号]。"),
    ("联系人：欧阳娜娜，住在高新区", "联系人：某某，住在高新区"),
    ("姓名：䶮宇 诉求：退费", "姓名：某某 诉求：退费"),  # a rare character, after a label
    ("我姓王，家住石家庄", "我姓某某，家住石家庄"),
    ("，赵敏致电称停水三天", "，某某致电称停水三天"),
]

# Words that hold no name, some of them near the forms above.
NOT_NAMED = [
    "来电人未知的工单", "来电人按留言用户识别", "业主来电反映：电梯故障", "市民来电反映：路灯不亮",
    "高频来电，重复诉求", "我是业主，小区门口施工", "关于反映的问题", "（如网上留言）",
    "向有关部门反映", "本人身份证号已提供", "先生女士请注意", "12345热线来电人已知的工单",
]


@pytest.mark.parametrize(("text", "masked"), NAMED)
def test_names_written_the_way_people_write_them_are_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked
    assert "name" in {f.kind for f in find_personal_data(text)}
    # Ingestion masks in SQL: the same text comes out.
    with duckdb.connect() as con:
        detector.register(con)
        con.register("texts", pa.table({"v": [text]}))
        assert con.sql(f"SELECT {detector.masked_sql('v')} FROM texts").fetchone() == (masked,)


@pytest.mark.parametrize("text", NOT_NAMED)
def test_words_that_are_not_names_are_left_alone(text: str) -> None:
    assert [f for f in find_personal_data(text) if f.kind == "name"] == []
    assert mask_personal_data(text) == text


# How the demo generator writes a caller's name into a content (its own form, not the
# detector's): the name opens the text, before 来电反映 or 留言反映.
DEMO_NAMED_OPENING = re.compile(r"^([^\s，。：:]{2,4}?)(?:来电|留言)反映：")


def test_the_names_the_demo_writes_into_contents_reach_no_text_past_landing(
    shared_demo: DataPaths,
) -> None:
    """The demo's exports name some callers in the content (王建国来电反映：…). Read from the
    landing files by the generator's form, none of those names is in the lake's texts, the
    warehouse's texts of the tickets, the text stage's files or the report's pages."""
    names = set()
    for export in shared_demo.landing.glob("*/*.csv"):  # GBK exports read as noise: no match
        for line in export.read_text(encoding="utf-8", errors="ignore").splitlines():
            for cell in line.split(","):
                if (found := DEMO_NAMED_OPENING.match(cell.strip('"'))) and found.group(1) not in (
                        "市民", "网友"):
                    names.add(found.group(1))
    assert len(names) > 20, "the demo writes callers' names into contents"
    written = [f"{name}来电反映" for name in names] + [f"{name}留言反映" for name in names]
    full_names = {name for name in names if not name.endswith(("先生", "女士"))}
    with duckdb.connect() as con:
        lake = "\n".join(v for (v,) in con.sql(
            f"SELECT concat_ws('\n', title, content) FROM read_parquet("
            f"'{shared_demo.lake}/raw/tickets/*/*.parquet', union_by_name = true)").fetchall()
            if v)
        stage = "\n".join(v for (v,) in con.sql(
            f"SELECT concat_ws('\n', representative_title, representative_text) FROM "
            f"read_parquet('{shared_demo.root}/text/hot_issues.parquet')").fetchall() if v)
    with duckdb.connect(str(shared_demo.warehouse), read_only=True) as con:
        warehouse = "\n".join(v for (v,) in con.sql(
            "SELECT concat_ws('\n', title, content) FROM fct_ticket_texts").fetchall() if v)
    pages = "\n".join(p.read_text(encoding="utf-8") for p in shared_demo.site.rglob("*.html"))
    for where, text in (("lake", lake), ("warehouse", warehouse), ("text stage", stage),
                        ("site", pages)):
        assert [w for w in written if w in text] == [], where
        assert [n for n in full_names if len(n) >= 3 and n in text] == [], where
