"""The yearly report as published: its pages in a real browser, its PDF, and its figures against
the marts, on a small demo warehouse built by the whole pipeline (with a hostile category label
planted in one city's export)."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from dagster_project.demo.generator import generate_demo
from dagster_project.local_runs import run_everything
from dagster_project.quality.suites import suite_names
from dagster_project.report import formatting as fmt
from dagster_project.report.checks import CheckResult
from dagster_project.report.data import (
    MARTS,
    check_families,
    indicator_config,
    load_report,
    published_suites,
)
from dagster_project.report.model import CityCharts
from dagster_project.report.render import (
    INTERNAL_PAGE,
    environment,
    page_context,
    render_year,
    visible_text,
)
from dagster_project.settings import DATA_ROOT_ENV, PROJECT_ROOT, DataPaths

YEAR = 2019
HOSTILE = "<script>alert(1)</script>"
HOSTILE_CITY = "110000"  # 北京: its standard export gets the hostile label
MOBILE = re.compile(r"(?:^|[^0-9])1[3-9][0-9]{9}(?:[^0-9]|$)")
ID_CARD = re.compile(r"(?:^|[^0-9])[0-9]{17}[0-9Xx](?:[^0-9]|$)")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CJK_FAMILIES = ("CJK", "Source Han", "Noto Sans SC", "Noto Serif SC", "WenQuanYi", "PingFang",
                "Microsoft YaHei", "Droid Sans Fallback")


# ---------------------------------------------------------------------------------------------
# Fixtures: one pipeline run, one browser for the module.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Site:
    paths: DataPaths

    @property
    def folder(self) -> Path:
        return self.paths.site / str(YEAR)

    def page(self, relative: str = "index.html") -> str:
        return (self.folder / relative).read_text(encoding="utf-8")

    def url(self, relative: str = "index.html") -> str:
        return (self.folder / relative).as_uri()

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.paths.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


def plant_hostile_label(landing: Path) -> None:
    """Give three tickets of Beijing's 2019 export the category label HOSTILE."""
    export = next((landing / "beijing_12345").glob(f"*{YEAR}*.csv"))
    with export.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("诉求分类")
    for row in rows[1:4]:
        row[column] = HOSTILE
    with export.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_ROOT_ENV, str(root))
        paths = DataPaths(root=root)
        generate_demo(paths.landing, seed=11, total_tickets=6000)
        plant_hostile_label(paths.landing)
        run = run_everything(log_level="WARNING")
        assert run.success, run
        assert "annual_report" in run.materialized
        # The pipeline renders HTML; the PDF is typeset when the year is published.
        render_year(paths.warehouse, paths.site, YEAR, lake=paths.lake, publish=True)
        yield Site(paths)


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, \
            sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        yield context
        context.close()


@dataclass
class Visit:
    page: Page
    requests: list[str]
    dialogs: list[str]
    errors: list[str]


@pytest.fixture
def visit(browser: BrowserContext) -> Iterator[Any]:
    """Open a page, recording every request it makes, every dialog and every script error."""
    opened: list[Page] = []

    def open_page(url: str) -> Visit:
        page = browser.new_page()
        opened.append(page)
        seen = Visit(page, [], [], [])
        page.on("request", lambda request: seen.requests.append(request.url))
        page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: seen.errors.append(str(error)))
        page.route("**/*", lambda route: route.continue_()
                   if route.request.url.startswith("file:") else route.abort())
        page.goto(url, wait_until="load")
        return seen

    yield open_page
    for page in opened:
        page.close()


# ---------------------------------------------------------------------------------------------
# Reading the markup without a browser.
# ---------------------------------------------------------------------------------------------
class _Tables(HTMLParser):
    """Rows of the table with a given id: (attributes of the <tr>, texts of its cells)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0
        self.rows: list[tuple[dict[str, str | None], list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append((dict(attrs), []))
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1][1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> list[tuple[dict[str, str | None], list[str]]]:
    parser = _Tables(table_id)
    parser.feed(html)
    assert parser.rows, f"no table {table_id}"
    return parser.rows


def body_rows(html: str, table_id: str) -> list[list[str]]:
    """Cell texts of the rows after the heading row."""
    return [cells for _, cells in table_rows(html, table_id)[1:]]


# ---------------------------------------------------------------------------------------------
# What is rendered, and how it is built.
# ---------------------------------------------------------------------------------------------
def test_every_city_page_is_rendered_and_linked_both_ways(site: Site) -> None:
    monitored = {c for (c,) in site.query(
        "SELECT city_code FROM monitoring_hotline_year WHERE year = ?", [YEAR])}
    with_tickets = {c for (c,) in site.query(
        "SELECT city_code FROM kpi_city_year WHERE year = ?", [YEAR])}
    pages = {p.stem for p in (site.folder / "city").glob("*.html")}
    assert pages == monitored | with_tickets
    index = site.page()
    linked = set(re.findall(r'href="city/(\d{6})\.html"', index))
    assert linked == pages
    for code in pages:
        html = site.page(f"city/{code}.html")
        assert 'href="../index.html"' in html
    assert (site.folder / "report.pdf").stat().st_size > 10_000
    assert (site.paths.site / str(YEAR - 1) / "index.html").exists()


def test_pages_are_self_contained_and_in_chinese(site: Site) -> None:
    pages = sorted(site.paths.site.rglob("*.html"))
    assert len(pages) > 40
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert '<html lang="zh-CN">' in html, page
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), page
        for marker in ("<script", "<link", "<iframe", "<img", " src=", "@import", "url("):
            assert marker not in html, (page, marker)
        assert "@media print" in html and "<style>" in html
        assert "生成时间 " in html


def test_no_personal_data_in_pages_or_pdf(site: Site) -> None:
    for page in site.paths.site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not MOBILE.search(text) and not ID_CARD.search(text), page
    text = pdf_text(site.folder / "report.pdf")
    assert not MOBILE.search(text) and not ID_CARD.search(text)


def test_national_figures_equal_the_marts(site: Site) -> None:
    index = site.page()
    (hotlines, calls, total, total_change, *means), = site.query(
        "SELECT hotline_count, call_count, mean_total_score, mean_total_score_change, "
        "mean_connect_score, mean_time_to_human_score, mean_etiquette_score, "
        "mean_communication_score, mean_resolution_score FROM monitoring_national_year "
        "WHERE year = ?", [YEAR])
    assert f"监测热线 {fmt.count(hotlines)} 条 · 拨测 {fmt.count(calls)} 次" in index
    rows = body_rows(index, "indicator-table")
    assert rows[0][:4] == ["总得分", "1.00", fmt.score(total), fmt.signed(total_change)]
    assert [r[2] for r in rows[1:]] == [fmt.score(m) for m in means]
    counts = site.query(
        "SELECT hot_line_count, warm_line_count, cold_line_count, dead_line_count "
        "FROM monitoring_national_year WHERE year = ?", [YEAR])[0]
    assert [r[2] for r in body_rows(index, "line-class-table")] == [fmt.count(c) for c in counts]


def test_ticket_table_equals_kpi_city_year(site: Site) -> None:
    expected = site.query("""
        SELECT c.city_name, k.ticket_count, k.tickets_per_10k_residents, k.direct_resolved_rate,
               k.response_rate, k.resolution_rate, k.satisfaction_rate, k.three_rate_score,
               k.on_time_close_rate, k.repeat_request_rate, k.median_hours_to_close,
               k.p90_hours_to_close, k.open_backlog_count
        FROM kpi_city_year k JOIN dim_city c USING (city_code)
        WHERE k.year = ? ORDER BY k.ticket_count DESC, k.city_code
    """, [YEAR])
    rows = body_rows(site.page(), "ticket-table")
    assert rows[-1][0] == "合计"
    formatters = [str, fmt.count, fmt.number, fmt.percent, fmt.percent, fmt.percent,
                  fmt.percent, fmt.score, fmt.percent, fmt.percent, fmt.number, fmt.number,
                  fmt.count]
    assert rows[:-1] == [[f(v) for f, v in zip(formatters, row, strict=True)]
                         for row in expected]
    assert rows[-1][1] == fmt.count(sum(r[1] for r in expected))
    (on_time, due), = site.query(
        "SELECT sum(closed_on_time_count), sum(due_by_cutoff_count) "
        "FROM kpi_city_year WHERE year = ?", [YEAR])
    assert rows[-1][8] == fmt.percent(on_time / due)


def test_city_page_figures_equal_the_marts(site: Site) -> None:
    (rank, hotlines, total, connect, resolution, gap), = site.query("""
        SELECT h.national_rank, n.hotline_count, h.total_score, h.connect_score,
               h.resolution_score, h.hollow_heat_gap
        FROM monitoring_hotline_year h JOIN monitoring_national_year n USING (year)
        WHERE h.year = ? AND h.city_code = ?
    """, [YEAR, HOSTILE_CITY])
    html = site.page(f"city/{HOSTILE_CITY}.html")
    assert f'<div class="value" id="city-rank">{rank} / {fmt.count(hotlines)}</div>' in html
    scores = {cells[0]: cells[1] for cells in body_rows(html, "score-table")}
    assert scores["总得分"] == fmt.score(total)
    assert scores["接通率"] == fmt.score(connect)
    assert scores["问题解决"] == fmt.score(resolution)
    assert scores["虚热差距（接通率 − 问题解决）"] == fmt.signed(gap)
    history = site.query(
        "SELECT year, national_rank FROM monitoring_hotline_year WHERE city_code = ? "
        "ORDER BY year", [HOSTILE_CITY])
    assert [(int(r[0]), int(r[1])) for r in body_rows(html, "rank-history-table")] == history
    top = site.query(
        "SELECT rank_in_city, category_name, ticket_count FROM category_city_year "
        "WHERE year = ? AND city_code = ? AND rank_in_city IS NOT NULL ORDER BY rank_in_city",
        [YEAR, HOSTILE_CITY])
    listed = body_rows(html, "city-category-table")
    assert [(int(r[0]), r[1], r[2]) for r in listed[: len(top)]] == [
        (rank, name, fmt.count(n)) for rank, name, n in top]
    (files, read, rejected, in_facts), = site.query(
        "SELECT count(*), sum(rows_read), sum(rows_rejected), sum(rows_in_facts) "
        "FROM file_reconciliation WHERE source_id = 'beijing_12345'")
    coverage = visible_text(html.split('id="city-coverage"')[1].split("</p>")[0])
    assert (f"报送工单文件 {fmt.count(files)} 个，读取 {fmt.count(read)} 行，"
            f"{fmt.count(rejected)} 行无法识别") in coverage
    assert f"{fmt.count(in_facts)} 行进入统计" in coverage
    listed = [cells for attrs, cells in table_rows(site.page(INTERNAL_PAGE), "file-table")
              if attrs.get("data-city") == HOSTILE_CITY]
    every = site.query("SELECT source_file FROM file_reconciliation "
                       "WHERE source_id = 'beijing_12345' ORDER BY source_file")
    assert [r[2] for r in listed] == [f for (f,) in every]


def test_the_operator_appendix_names_every_mart_the_report_reads(site: Site) -> None:
    tables = [cells[0] for cells in body_rows(site.page(INTERNAL_PAGE), "marts-table")]
    assert tables == [name for name, _ in MARTS]
    # Tables, and the views over the text stage's files (they show its latest analysis).
    existing = {t for (t,) in site.query(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_type IN ('BASE TABLE', 'VIEW')")}
    assert set(tables) <= existing
    methods = site.page().split('<section id="methods"')[1].split("</section>")[0]
    weights = indicator_config()["monitoring_weights"]  # the vars dbt computed with
    assert f"总得分 = 接通率 × {weights['connect']} + 转人工时长 × {weights['time_to_human']}" in (
        methods)


# What no public page may show a reader: a path with a folder (dbt/seeds/…, /srv/…), a file
# name with a data or code extension, a warehouse table or seed, a quality check's own name.
PATH = re.compile(r"(?<![A-Za-z0-9_.~-])[A-Za-z0-9_.~-]*[A-Za-z_][A-Za-z0-9_.~-]*/[A-Za-z0-9_./-]+"
                  r"|[\w-]+\.(?:csv|xlsx?|json|parquet|ya?ml|duckdb|sql|py|j2)\b")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def internal_names() -> set[str]:
    dbt = PROJECT_ROOT / "dbt"
    return ({p.stem for p in dbt.glob("models/**/*.sql")} | {p.stem for p in dbt.glob("seeds/*")}
            | set(suite_names()))


def internals_in(text: str, names: set[str]) -> list[str]:
    words = set(IDENTIFIER.findall(text))
    return sorted(set(PATH.findall(text)) | (words & names)
                  | {w for w in words if w.startswith("expect_")})


def public_pages(site: Site) -> list[Path]:
    return sorted(p for p in site.folder.rglob("*.html") if p.parent.name != "internal")


def test_the_operator_appendix_is_linked_from_no_public_page(site: Site) -> None:
    pages = public_pages(site)
    assert len(pages) > 40
    for page in pages:
        hrefs = re.findall(r'href="([^"]*)"', page.read_text(encoding="utf-8"))
        assert hrefs and not [h for h in hrefs if "internal" in h], page
    internal = site.page(INTERNAL_PAGE)
    assert '<meta name="robots" content="noindex, nofollow">' in internal
    assert 'href="../city/' in internal  # it links the public pages, not the other way


def test_the_operator_appendix_lists_every_reject_reason_of_the_lake(site: Site) -> None:
    # Read from the lake's rejects, not from the mart the page was rendered from.
    expected = site.query(
        "SELECT source_id, source_file, reason, coalesce(field, ''), "
        "count(DISTINCT (coalesce(source_sheet, ''), source_row)), min(source_row) "
        "FROM read_parquet(?, union_by_name = true) GROUP BY ALL",
        [str(site.paths.lake / "rejects" / "*" / "*.parquet")])
    assert len(expected) > 10
    listed = body_rows(site.page(INTERNAL_PAGE), "reject-table")
    assert sorted(tuple(r) for r in listed) == sorted(
        (sid, f, reason, field, fmt.count(n), fmt.count(first))
        for sid, f, reason, field, n, first in expected)
    per_file = site.query("SELECT source_file, rows_rejected FROM file_reconciliation "
                          "WHERE rows_rejected > 0")
    for source_file, rejected in per_file:
        assert sum(n for _, f, _, _, n, _ in expected if f == source_file) == rejected


def test_the_coverage_table_adds_up_each_citys_files(site: Site) -> None:
    expected = site.query("""
        WITH city_files AS (
            SELECT DISTINCT city_code, source_id FROM fct_tickets
        )
        SELECT c.city_name, count(*), sum(f.rows_read), sum(f.rows_rejected),
               sum(f.rows_in_facts), k.ticket_count, k.unmapped_category_count
        FROM file_reconciliation f
        JOIN (SELECT DISTINCT city_code, source_id FROM city_files) s USING (source_id)
        JOIN dim_city c USING (city_code)
        LEFT JOIN kpi_city_year k ON k.city_code = s.city_code AND k.year = ?
        GROUP BY ALL ORDER BY k.ticket_count DESC NULLS LAST, any_value(s.city_code)
    """, [YEAR])
    rows = body_rows(site.page(), "coverage-table")
    assert [(r[0], r[1], r[2], r[3], r[4], r[6], r[7]) for r in rows] == [
        (name, fmt.count(n), fmt.count(read), fmt.count(rejected), fmt.count(facts),
         fmt.count(tickets), fmt.count(unmapped))
        for name, n, read, rejected, facts, tickets, unmapped in expected]


def test_the_public_check_summary_says_what_failed_in_chinese(site: Site) -> None:
    """Each family by its Chinese name; a failing check by its title, its level and how many
    of its unit failed. Results are planted: a WARN file check, an ERROR check of tickets, a
    WARN check with two failing expectations, and the personal-data check never run."""
    data = load_report(site.paths.warehouse, YEAR, site.paths.lake)
    suites = published_suites()

    def result(suite: str, success: bool, count: int = 0) -> CheckResult:
        return CheckResult(suite=suite, success=success, unexpected_count=count)

    planted = {"file_rejects": [result("file_rejects", False, 3)],
               "ticket_plausibility": [result("ticket_plausibility", False, 1)],
               "city_year_drift": [result("city_year_drift", False, 4),
                                   result("city_year_drift", False, 2),
                                   result("city_year_drift", True)]}
    results = [r for name in suites if name != "personal_data"
               for r in planted.get(name, [result(name, True)])]
    html = environment().get_template("index.html.j2").render(
        **page_context(replace(data.index, check_families=check_families(results, suites))),
        generated_at="2019-09-17 09:00", build_engine=data.build_engine, pdf=False)
    rows = {cells[0]: re.sub(r"\s+", "", cells[2])
            for cells in body_rows(html, "check-family-table")}
    assert rows == {
        "数据接收": "文件拒收行比例：提示（3个文件）；其余3项通过",
        "工单数据": "与上年相比的异常波动：提示（2项）；时间不可能的工单比例：未通过（1个城市年度）"
                    "；其余2项通过",
        "拨测监测": "全部通过",
        "个人信息保护": "尚未全部检查",
    }
    # The demo as built: every suite ran and passed.
    built = {cells[0]: cells[2] for cells in body_rows(site.page(), "check-family-table")}
    assert built == dict.fromkeys(rows, "全部通过")


def test_rendering_is_deterministic_and_replaces_stale_pages(site: Site, tmp_path: Path) -> None:
    stamp = dt.datetime(2019, 9, 17, 9, 0)
    stale = tmp_path / "a" / str(YEAR) / "city" / "999999.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("old", encoding="utf-8")
    first = render_year(site.paths.warehouse, tmp_path / "a", YEAR, stamp, site.paths.lake,
                        publish=True)
    second = render_year(site.paths.warehouse, tmp_path / "b", YEAR, stamp, site.paths.lake,
                         publish=True)
    assert not stale.exists()
    assert first.pdf_path is not None and first.pdf_path.exists()
    assert len(first.city_paths) == len(second.city_paths) > 40
    for one in sorted((tmp_path / "a").rglob("*.html")):
        other = tmp_path / "b" / one.relative_to(tmp_path / "a")
        assert one.read_bytes() == other.read_bytes(), one
    assert not list((tmp_path / "a").rglob("*.tmp"))
    assert "生成时间 2019-09-17 09:00" in first.index_path.read_text(encoding="utf-8")


def test_report_data_is_read_once_per_mart(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    executed: list[str] = []
    real_connect = duckdb.connect

    class Counting:
        def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
            self.con = con

        def execute(self, sql: str, params: Any = None) -> Any:
            executed.append(sql)
            return self.con.execute(sql, params)

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.con.close()

    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: Counting(real_connect(*a, **k)))
    data = load_report(site.paths.warehouse, YEAR)
    assert len(data.cities) > 40
    read = [re.search(r"\bFROM (\w+)", sql).group(1) for sql in executed]  # type: ignore[union-attr]
    assert sorted(read) == sorted(name for name, _ in MARTS)


# ---------------------------------------------------------------------------------------------
# In a real browser.
# ---------------------------------------------------------------------------------------------
def test_public_pages_show_no_paths_table_names_or_check_names(
    site: Site, browser: BrowserContext
) -> None:
    names = internal_names()
    page = browser.new_page()
    try:
        for path in public_pages(site):
            page.goto(path.as_uri(), wait_until="load")
            # What a reader sees, tooltips included.
            seen = page.inner_text("body") + "\n".join(page.eval_on_selector_all(
                "[title]", "nodes => nodes.map(n => n.getAttribute('title'))"))
            assert internals_in(seen, names) == [], path
        assert internals_in(pdf_text(site.folder / "report.pdf"), names) == []
        # The same scan finds every kind on the operator's appendix: it can fail.
        page.goto(site.url(INTERNAL_PAGE), wait_until="load")
        found = internals_in(page.inner_text("body"), names)
    finally:
        page.close()
    assert {"file_reconciliation", "file_rejects", "category_mappings"} <= set(found)
    assert any(f.endswith(".csv") and "/" in f for f in found)
    assert any(f.startswith("expect_") for f in found)


def test_pages_load_without_any_request_outside_file(site: Site, visit: Any) -> None:
    for relative in ("index.html", f"city/{HOSTILE_CITY}.html"):
        seen = visit(site.url(relative))
        assert seen.requests, relative
        assert all(url.startswith("file:") for url in seen.requests), seen.requests
        assert seen.errors == [] and seen.dialogs == []
        assert seen.page.evaluate("document.documentElement.lang") == "zh-CN"


def test_ranking_table_rows_equal_the_mart_in_order(site: Site, visit: Any) -> None:
    expected = site.query(
        "SELECT national_rank, hotline_name, city_code, total_score, line_class "
        "FROM monitoring_hotline_year WHERE year = ? ORDER BY national_rank", [YEAR])
    page = visit(site.url()).page
    rows = page.locator("#ranking-table tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.cityCode, "
        "...Array.from(r.cells).map(c => c.innerText.trim())])")
    assert len(rows) == len(expected) >= 30
    got = [(int(r[1]), r[2], r[0], r[4], r[11]) for r in rows]
    assert got == [(rank, name, code, fmt.score(total), klass)
                   for rank, name, code, total, klass in expected]


def test_top_ten_block_lists_exactly_ranks_one_to_ten(site: Site, visit: Any) -> None:
    expected = [n for (n,) in site.query(
        "SELECT hotline_name FROM monitoring_hotline_year WHERE year = ? "
        "AND national_rank <= 10 ORDER BY national_rank", [YEAR])]
    page = visit(site.url()).page
    items = page.locator("#top-ten li").all_inner_texts()
    assert len(items) == 10
    assert [re.sub(r"（.*$", "", item).strip() for item in items] == expected
    assert page.locator("#top-ten ol").evaluate("ol => ol.start") == 1


def test_a_city_link_opens_its_page_and_leads_back(site: Site, visit: Any) -> None:
    (name, code), = site.query(
        "SELECT hotline_name, city_code FROM monitoring_hotline_year WHERE year = ? "
        "AND national_rank = 1", [YEAR])
    page = visit(site.url()).page
    page.locator(f'#ranking-table tr[data-city-code="{code}"] a').click()
    page.wait_for_url(f"**/city/{code}.html")
    assert page.locator("h1").inner_text() == name
    assert page.locator("#city-rank").inner_text().startswith("1 / ")
    page.locator("#back-to-index").click()
    page.wait_for_url("**/index.html")
    assert page.locator("#ranking-table").is_visible()


def test_hostile_category_label_renders_as_text(site: Site, visit: Any) -> None:
    assert site.query(
        "SELECT count(*) FROM category_unmapped_labels WHERE example_category = ?",
        [HOSTILE]) == [(1,)]
    for relative, table in ((INTERNAL_PAGE, "#unmapped-table"),
                            (f"city/{HOSTILE_CITY}.html", "#city-unmapped-table")):
        seen = visit(site.url(relative))
        page = seen.page
        assert seen.dialogs == [] and seen.errors == []
        assert page.evaluate("document.scripts.length") == 0
        cells = page.locator(f"{table} td").all_inner_texts()
        assert HOSTILE in cells, relative
        assert page.get_by_text(HOSTILE, exact=True).first.is_visible()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in site.page(INTERNAL_PAGE)


def test_chinese_text_is_drawn_with_a_cjk_font(site: Site, visit: Any) -> None:
    for relative in ("index.html", f"city/{HOSTILE_CITY}.html"):
        page = visit(site.url(relative)).page
        cdp = page.context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        for selector in ("h1", "h2", "table th", "table td.text", "p", "svg text"):
            node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})
            assert node["nodeId"], selector
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
            assert fonts, (relative, selector)
            for font in fonts:
                assert any(k in font["familyName"] for k in CJK_FAMILIES), (selector, font)
                assert font["glyphCount"] > 0
        cdp.detach()


# ---------------------------------------------------------------------------------------------
# The PDF.
# ---------------------------------------------------------------------------------------------
def pdf_text(path: Path, *options: str) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext (Debian poppler-utils) is needed"
    return subprocess.run([tool, *options, "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_pdf_holds_the_title_and_the_top_ten(site: Site) -> None:
    text = pdf_text(site.folder / "report.pdf")
    flat = re.sub(r"\s+", "", text)
    assert f"{YEAR}全国12345政务服务便民热线监测成果" in flat
    top_ten = [n for (n,) in site.query(
        "SELECT hotline_name FROM monitoring_hotline_year WHERE year = ? "
        "AND national_rank <= 10 ORDER BY national_rank", [YEAR])]
    for name in top_ten:
        assert name in flat


def test_pdf_embeds_a_cjk_font(site: Site) -> None:
    tool = shutil.which("pdffonts")
    assert tool, "pdffonts (Debian poppler-utils) is needed"
    lines = subprocess.run([tool, str(site.folder / "report.pdf")], check=True,
                           capture_output=True, text=True).stdout.splitlines()[2:]
    assert lines
    for line in lines:
        *_, emb, _sub, uni, _obj, _gen = line.split()
        assert emb == "yes" and uni == "yes", line
    assert any("CJK" in line for line in lines)


def test_pdf_keeps_headings_with_what_follows(site: Site) -> None:
    html = site.page()
    headings = {re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", h))
                for h in re.findall(r"<h[23][^>]*>(.*?)</h[23]>", html)}
    pages = pdf_text(site.folder / "report.pdf", "-layout").split("\f")
    assert len([p for p in pages if p.strip()]) > 5
    for number, page in enumerate(pages, start=1):
        lines = [re.sub(r"\s+", "", line) for line in page.splitlines()]
        lines = [line for line in lines if line and not re.fullmatch(r"\d+/\d+", line)
                 and not re.search(r"第\d+页/共\d+页$", line)]  # the running footer
        if lines:
            assert lines[-1] not in headings, f"page {number} ends with heading {lines[-1]}"


def test_a_city_without_monitoring_or_tickets_still_gets_a_readable_page(site: Site) -> None:
    data = load_report(site.paths.warehouse, YEAR, site.paths.lake)
    page = replace(data.cities[HOSTILE_CITY], hotline=None, comparison=(), rank_history=(),
                   kpi=None, kpi_history=(), categories=(), risers=(), mix=None, unmapped=(),
                   coverage=None, awards=(), charts=CityCharts(None, None))
    html = environment().get_template("city.html.j2").render(
        **page_context(page), generated_at="2019-09-17 09:00", build_engine=data.build_engine,
        page_codes=data.index.page_codes, previous_city=None, next_city=None)
    name = page.name
    assert f"{name}未列入{YEAR}年监测。" in html
    assert f"{name}没有报送{YEAR}年受理的工单。" in html
    assert "<svg" not in html and "None" not in html
