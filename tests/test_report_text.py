"""What the report says of the text analysis: the hot issues (热点议题) of each city page, the
themes spanning the most cities on the national page, how tickets were placed in the national
taxonomy and the classifier in the methods, and a warehouse whose text analysis has not run
(or was built before the text stage).

Expected values come from the demo's warehouse queried here, read-only and independently of
the marts the report reads where the warehouse allows: the themes from the issues, the
placements from the tickets' classes, the coverage from the tickets."""

from __future__ import annotations

import html as html_text
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.personal_data import find_personal_data, mask_personal_data
from dagster_project.report import formatting as fmt
from dagster_project.report.data import load_report
from dagster_project.report.render import INTERNAL_PAGE, render_pages, visible_text
from dagster_project.settings import DataPaths
from dagster_project.text.run import (
    CLASSIFIER_RUNS,
    HOT_ISSUE_TICKETS,
    HOT_ISSUES,
    ISSUE_SCHEMA,
    ISSUE_TICKET_SCHEMA,
    PREDICTION_SCHEMA,
    PREDICTIONS,
    RUN_SCHEMA,
)

YEAR = 2019
# The demo's years: the themes of one span several cities, of the other perhaps none.
DEMO_YEARS = (2018, 2019)
STAMP = "2019-09-17 09:00"
NOT_RUN = "尚未对工单文本进行分析"
NONE_FOUND = "本年未发现符合条件的热点议题。"
NO_THEMES = "本年未发现在两个及以上城市同时出现的热点议题。"
EXCERPT_LENGTH = 60  # the template's truncation, "…" included


@dataclass(frozen=True)
class Rendered:
    warehouse: Path
    year: int
    pages: dict[str, str]

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def city(self, code: str) -> str:
        return self.pages[f"city/{code}.html"]

    def city_codes(self) -> list[str]:
        return sorted(Path(name).stem for name in self.pages if name.startswith("city/"))


def render(warehouse: Path, year: int = YEAR) -> Rendered:
    data = load_report(warehouse, year)
    return Rendered(warehouse, year, render_pages(data, STAMP))


@pytest.fixture(scope="module", params=DEMO_YEARS, ids=str)
def demo(shared_demo: DataPaths, request: pytest.FixtureRequest) -> Rendered:
    """The demo's pages of a year, rendered here (the shared demo is read-only)."""
    return render(shared_demo.warehouse, request.param)


# ---------------------------------------------------------------------------------------------
# Reading the markup.
# ---------------------------------------------------------------------------------------------
def section(page: str, section_id: str) -> str:
    return page.split(f'<section id="{section_id}"')[1].split("</section>")[0]


def plain(fragment: str) -> str:
    return re.sub(r"\s+", " ", visible_text(fragment)).strip()


class _Table(HTMLParser):
    """Headings and rows (attributes of the <tr>, texts of its cells) of the table `table_id`."""

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id = table_id
        self.inside = False
        self.rows: list[tuple[dict[str, str | None], list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append((dict(attrs), []))
        elif self.inside and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1][1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table(page: str, table_id: str) -> tuple[list[str], list[tuple[dict[str, str | None],
                                                                     list[str]]]]:
    parser = _Table(table_id)
    parser.feed(page)
    if not parser.rows:
        return [], []
    return parser.rows[0][1], parser.rows[1:]


def columns(page: str, table_id: str, *names: str) -> list[tuple[dict[str, str | None],
                                                                 list[str]]]:
    headings, rows = table(page, table_id)
    at = [headings.index(name) for name in names]
    return [(attrs, [cells[i] for i in at]) for attrs, cells in rows]


def half_up(value: float, digits: int) -> str:
    """A value as the methods print it: rounded half up from its decimal text."""
    return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def share(part: int, whole: int) -> str:
    return fmt.percent(part / whole)


# ---------------------------------------------------------------------------------------------
# The demo.
# ---------------------------------------------------------------------------------------------
def test_the_demo_has_run_the_text_analysis(demo: Rendered) -> None:
    assert demo.query("SELECT count(*) FROM text_classifier") == [(1,)]


def test_every_listed_hot_issue_is_on_its_city_page(demo: Rendered) -> None:
    listed: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for code, *row in demo.query("""
            SELECT city_code, listed_month, rank_in_city_month, district, representative_title,
                   tickets, heat
            FROM hot_issues WHERE listed_year = ? AND is_listed
            ORDER BY city_code, listed_month, rank_in_city_month""", [demo.year]):
        listed[code].append(tuple(row))
    with_tickets = {c for (c,) in demo.query(
        "SELECT DISTINCT city_code FROM fct_tickets WHERE received_year = ?", [demo.year])}
    assert set(listed) <= set(demo.city_codes())
    shown = 0
    for code in demo.city_codes():
        page = demo.city(code)
        text = plain(section(page, "city-hot-issues"))
        names = ("月份", "名次", "区县", "议题（代表性工单）", "工单数", "热度")
        if not listed[code]:
            assert 'id="city-hot-issue-table"' not in page
            assert (NONE_FOUND in text) == (code in with_tickets), code
            continue
        rows = [cells for _, cells in columns(page, "city-hot-issue-table", *names)]
        assert len(rows) == len(listed[code]), code
        for cells, (month, rank, district, title, tickets, heat) in zip(
                rows, listed[code], strict=True):
            # A city that exports no district has issues without one.
            shown_district = mask_personal_data(district) if district else "—"
            assert cells[:3] == [f"{month}月", str(rank), shown_district], code
            shown_title = mask_personal_data(title) if title else "（无标题）"
            assert cells[3].startswith(shown_title), (code, cells[3], title)
            assert cells[4:] == [fmt.count(tickets), fmt.number(heat)], code
        assert f"共 {len(listed[code]):,} 个" in text
        shown += len(rows)
    assert shown == sum(len(rows) for rows in listed.values())


def test_issue_texts_are_masked_excerpts(demo: Rendered) -> None:
    """The issue's own text is an excerpt of its masked content; nothing else of a ticket."""
    texts: dict[str, list[str]] = defaultdict(list)
    for code, content in demo.query("""
            SELECT city_code, representative_text FROM hot_issues
            WHERE listed_year = ? AND is_listed AND coalesce(representative_text, '') <> ''
            ORDER BY city_code, listed_month, rank_in_city_month""", [demo.year]):
        texts[code].append(mask_personal_data(content))
    for code in demo.city_codes():
        part = section(demo.city(code), "city-hot-issues")
        shown = [html_text.unescape(s) for s in re.findall(
            r'<span class="excerpt">(.*?)</span>', part, re.S)]
        assert len(shown) == len(texts[code]), code
        for excerpt, full in zip(shown, texts[code], strict=True):
            assert len(excerpt) <= EXCERPT_LENGTH, excerpt
            if len(full) <= EXCERPT_LENGTH:
                assert excerpt == full
            else:
                assert excerpt.endswith("…") and full.startswith(excerpt[:-1])
        assert find_personal_data(plain(part)) == [], code


def test_the_themes_spanning_most_cities_are_listed_with_their_coverage(demo: Rendered) -> None:
    # From the issues themselves: cities, issues and tickets per theme, most cities first.
    expected = demo.query("""
        SELECT min(theme_label), count(DISTINCT city_code) AS cities,
               string_agg(DISTINCT city_name, '、' ORDER BY city_name), count(*),
               sum(tickets) AS tickets
        FROM hot_issues WHERE listed_year = ?
        GROUP BY theme_id HAVING count(DISTINCT city_code) > 1
        ORDER BY cities DESC, tickets DESC, theme_id LIMIT 10""", [demo.year])
    ((coverage,),) = demo.query(
        "SELECT count(DISTINCT city_code) FROM fct_tickets WHERE received_year = ?", [demo.year])
    page = demo.pages["index.html"]
    text = plain(section(page, "hot-issue-themes"))
    if not expected:
        assert NO_THEMES in text
        assert 'id="hot-issue-theme-table"' not in page
        return
    rows = columns(page, "hot-issue-theme-table", "名次", "议题主题", "城市数", "城市", "议题数",
                   "工单数")
    assert [cells for _, cells in rows] == [
        [str(rank), mask_personal_data(label), f"{cities:,}/{coverage:,}", names,
         fmt.count(issues), fmt.count(tickets)]
        for rank, (label, cities, names, issues, tickets) in enumerate(expected, start=1)]
    assert f"{demo.year}年报送工单的城市数" in text


def test_the_national_sections_are_in_the_contents(demo: Rendered) -> None:
    page = demo.pages["index.html"]
    assert '<a href="#hot-issue-themes">跨城市热点议题</a>' in page
    assert '<section id="hot-issue-themes">' in page


def test_the_placement_of_each_citys_tickets_equals_their_classes(demo: Rendered) -> None:
    """The coverage table and each city page: tickets placed by mapping, by the classifier
    and not at all, as fct_ticket_classes places them one by one."""
    placed = {code: (total, mapping, model, none) for code, total, mapping, model, none in
              demo.query("""
                  SELECT city_code, count(*),
                         count(*) FILTER (WHERE category_placement = 'mapping'),
                         count(*) FILTER (WHERE category_placement = 'model'),
                         count(*) FILTER (WHERE category_placement = 'none')
                  FROM fct_ticket_classes WHERE received_year = ? GROUP BY city_code""",
                  [demo.year])}
    assert placed
    rows = columns(demo.pages["index.html"], "coverage-table", "其中模型归入", "仍未分类")
    listed = {attrs["data-city"]: cells for attrs, cells in rows}
    for code, (total, _mapping, model, none) in placed.items():
        assert listed[code] == [f"{fmt.count(model)}（{share(model, total)}）",
                                f"{fmt.count(none)}（{share(none, total)}）"], code
    for code, cells in listed.items():
        if code not in placed:
            assert cells == ["—", "—"], code
    for code, (total, mapping, model, none) in placed.items():
        sentence = plain(demo.city(code).split('id="city-placement"')[1].split("</p>")[0])
        assert f"{demo.year}年的 {fmt.count(total)} 件工单中" in sentence
        assert f"{fmt.count(mapping)} 件（{share(mapping, total)}）按诉求分类标签对照" in sentence
        assert f"{fmt.count(model)} 件（{share(model, total)}）由文本分类模型" in sentence
        assert f"{fmt.count(none)} 件（{share(none, total)}）仍未分类" in sentence


def test_the_methods_state_the_classifier(demo: Rendered) -> None:
    ((status, version, folds, f1, training, labelled, classes, min_confidence, reason,
      settings_json),) = (
        demo.query("""
            SELECT status, model_version, cv_folds, cv_macro_f1, training_tickets,
                   labelled_tickets, classes, min_confidence, reason, settings_json
            FROM text_classifier"""))
    methods = section(demo.pages["index.html"], "methods")
    text = plain(methods)
    assert f"最高概率不低于 {min_confidence:g} 时采用" in text
    # The rules in effect, as the analysis recorded them.
    rules = json.loads(settings_json)["hot_issues"]
    assert (f"热度 = 工单数 ×（1 + {rules['heat']['growth_weight']:g} × 趋势）× 0.5 ^"
            f"（距月末天数 ÷ {rules['heat']['half_life_days']:g}）") in text
    assert f"受理时间相隔不超过 {rules['link_days']} 天" in text
    assert f"达到 {rules['min_tickets']} 件即为一个热点议题" in text
    assert f"每个城市每月按热度列出前 {rules['top_per_city_month']} 个议题" in text
    # The year's national placement, summed here from the tickets.
    ((cities, tickets, mapping, model, none),) = demo.query("""
        SELECT count(DISTINCT city_code), count(*),
               count(*) FILTER (WHERE category_placement = 'mapping'),
               count(*) FILTER (WHERE category_placement = 'model'),
               count(*) FILTER (WHERE category_placement = 'none')
        FROM fct_ticket_classes WHERE received_year = ?""", [demo.year])
    assert (f"全国 {cities} 个报送工单的城市共 {fmt.count(tickets)} 件工单：按诉求分类标签的对照"
            f"归入全国分类 {fmt.count(mapping)} 件") in text
    assert f"由文本分类模型归入 {fmt.count(model)} 件" in text
    assert f"仍未分类 {fmt.count(none)} 件" in text
    if status == "not_trained":
        assert "未能训练模型" in text and "交叉验证" not in text
        assert reason not in text  # the operator's reason is in the appendix
        return
    assert f"版本 {version}" in text
    assert (f"从 {fmt.count(labelled)} 件已对照的工单中抽取 {fmt.count(training)} 件学习 "
            f"{fmt.count(classes)} 个全国分类") in text
    if f1 is None:
        assert "宏平均 F1 为“—”" in text
    else:
        shown = re.search(r'<span id="classifier-f1">(.*?)</span>', methods)
        assert shown and shown[1] == half_up(f1, 2)
        assert f"经 {folds} 折分层交叉验证，宏平均 F1 为 {half_up(f1, 2)}" in text


def test_the_operator_appendix_names_the_classifier(demo: Rendered) -> None:
    ((version, status, f1),) = demo.query(
        "SELECT model_version, status, cv_macro_f1 FROM text_classifier")
    _, rows = table(demo.pages[INTERNAL_PAGE], "classifier-table")
    ((cells),) = [cells for _, cells in rows]
    assert cells[:2] == [version or "—", status]
    assert cells[6] == fmt.number(f1, 4)


# ---------------------------------------------------------------------------------------------
# A warehouse whose text analysis has not run, found nothing, or that predates it.
# ---------------------------------------------------------------------------------------------
EMPTY = {PREDICTIONS: PREDICTION_SCHEMA, CLASSIFIER_RUNS: RUN_SCHEMA, HOT_ISSUES: ISSUE_SCHEMA,
         HOT_ISSUE_TICKETS: ISSUE_TICKET_SCHEMA}


def copy_with_text_files(demo: DataPaths, root: Path, tables: dict[str, pa.Table]) -> Path:
    """A copy of the demo's warehouse whose text views read `root`/text/ (the views name their
    files by absolute path, so a copy would read the demo's): nothing is rebuilt."""
    warehouse = root / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True)
    shutil.copyfile(demo.warehouse, warehouse)
    text = root / "text"
    text.mkdir()
    for name, schema in EMPTY.items():
        pq.write_table(tables.get(name, schema.empty_table()), text / f"{name}.parquet")
    with duckdb.connect(str(warehouse)) as con:
        views = con.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE sql LIKE '%read_parquet(%/text/%'"
        ).fetchall()
        assert len(views) == len(EMPTY), views
        for _, sql in views:
            repointed = re.sub(r"read_parquet\('[^']*/text/", f"read_parquet('{text}/", sql)
            con.execute(repointed.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
    return warehouse


@pytest.fixture(scope="module")
def not_run(shared_demo: DataPaths, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The text stage's files as the pipeline writes them before the first analysis: empty."""
    return render(copy_with_text_files(shared_demo, tmp_path_factory.mktemp("not-run"), {}))


def test_a_warehouse_not_analysed_says_so(not_run: Rendered) -> None:
    assert not_run.query("SELECT count(*) FROM text_classifier") == [(0,)]
    page = not_run.pages["index.html"]
    assert NOT_RUN in plain(section(page, "hot-issue-themes"))
    assert NOT_RUN in plain(section(page, "methods"))
    assert "交叉验证" not in plain(section(page, "methods"))
    for code in not_run.city_codes():
        text = plain(section(not_run.city(code), "city-hot-issues"))
        assert NOT_RUN in text and NONE_FOUND not in text, code
    rows = columns(page, "coverage-table", "其中模型归入")
    assert rows and all(cells == ["—"] for _, cells in rows)
    assert "尚未运行文本分析" in plain(section(not_run.pages[INTERNAL_PAGE], "text-analysis"))


NO_MODEL_REASON = ("no labelled tickets: no ticket's category is placed by a mapping, so there "
                   "is nothing to learn from")


@pytest.fixture(scope="module")
def found_nothing(shared_demo: DataPaths, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """An analysis that trained no model and found no hot issue."""
    run = pa.Table.from_pylist([{
        "model_version": None, "status": "not_trained", "reason": NO_MODEL_REASON,
        "labelled_tickets": 0, "training_tickets": 0, "classes": 0, "level_2_labels": 0,
        "cv_folds": None, "cv_macro_f1": None, "min_confidence": 0.6,
        "unclassified_tickets": 0, "predicted_tickets": 0, "placed_by_model": 0,
        "analysed_at": None}], schema=RUN_SCHEMA)
    return render(copy_with_text_files(shared_demo, tmp_path_factory.mktemp("found-nothing"),
                                       {CLASSIFIER_RUNS: run}))


def test_an_analysis_that_found_nothing_says_so(found_nothing: Rendered) -> None:
    with_tickets = {c for (c,) in found_nothing.query(
        "SELECT DISTINCT city_code FROM fct_tickets WHERE received_year = ?", [YEAR])}
    assert with_tickets
    for code in found_nothing.city_codes():
        text = plain(section(found_nothing.city(code), "city-hot-issues"))
        assert NOT_RUN not in text, code
        if code in with_tickets:
            assert NONE_FOUND in text, code
        else:
            assert "没有报送" in text, code
    page = found_nothing.pages["index.html"]
    assert NO_THEMES in plain(section(page, "hot-issue-themes"))
    methods = plain(section(page, "methods"))
    assert "本次文本分析未能训练模型：没有可供学习的工单" in methods
    assert NO_MODEL_REASON not in methods  # in English, for operators: the appendix
    assert NO_MODEL_REASON in plain(section(found_nothing.pages[INTERNAL_PAGE], "text-analysis"))
    # The classifier placed nothing: zero, not unknown.
    rows = columns(page, "coverage-table", "其中模型归入")
    assert any(cells[0].startswith("0（") for _, cells in rows)


@pytest.fixture
def before_the_text_stage(shared_demo: DataPaths, tmp_path: Path) -> Iterator[Path]:
    """A copy of the warehouse without the text stage's views, as an older build left it."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(shared_demo.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for view in ("hot_issue_themes_year", "hot_issues", "ticket_placement_city_year",
                     "fct_ticket_classes", "text_classifier"):
            con.execute(f"DROP VIEW {view}")
    yield warehouse


def test_a_warehouse_built_before_the_text_stage_still_renders(before_the_text_stage: Path
                                                               ) -> None:
    old = render(before_the_text_stage)
    page = old.pages["index.html"]
    assert NOT_RUN in plain(section(page, "hot-issue-themes"))
    assert NOT_RUN in plain(section(page, "methods"))
    for code in old.city_codes():
        assert NOT_RUN in plain(section(old.city(code), "city-hot-issues")), code
        assert 'id="city-placement"' not in old.city(code)
    assert "没有文本分析的数据表" in plain(section(old.pages[INTERNAL_PAGE], "text-analysis"))
