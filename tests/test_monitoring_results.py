"""The monitoring results on the demo data, recomputed independently of the dbt marts.

The ranking is recomputed by a query of its own over fct_test_calls, and every award rule is
applied again in Python to scores computed in Python, both from the vars of dbt_project.yml.
Every "较上年" statement of every published page is checked against the two figures the site
prints for it.
"""

from __future__ import annotations

import csv
import html as html_text
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from dagster_project.report import formatting as fmt
from dagster_project.report.render import environment
from dagster_project.settings import PROJECT_ROOT, DataPaths

YEAR = 2019


def dbt_vars() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "dbt" / "dbt_project.yml").read_text())["vars"]


@pytest.fixture(scope="module")
def demo(shared_demo: DataPaths) -> DataPaths:
    """The demo as `make demo` builds it (read-only)."""
    return shared_demo


def query(paths: DataPaths, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


# ---------------------------------------------------------------------------------------------
# The ranking, by a query of its own over fct_test_calls.
# ---------------------------------------------------------------------------------------------
def independent_ranking_sql() -> str:
    settings = dbt_vars()
    w = settings["monitoring_weights"]
    full = settings["time_to_human_full_score_seconds"]
    zero = settings["time_to_human_zero_score_seconds"]
    return f"""
        WITH per_hotline AS (
            SELECT evaluation_year AS yr, city_code,
                   count(*) AS calls,
                   sum(CASE WHEN is_connected THEN 1 ELSE 0 END) AS answered,
                   avg(CASE WHEN is_connected THEN seconds_to_human END) AS secs,
                   avg(CASE WHEN is_connected THEN etiquette_score END) AS etiquette,
                   avg(CASE WHEN is_connected THEN communication_score END) AS communication,
                   avg(CASE WHEN is_connected THEN resolution_score END) AS resolution
            FROM fct_test_calls GROUP BY evaluation_year, city_code
        ), scores AS (
            SELECT yr, city_code, calls, answered,
                   answered / calls AS rate,
                   round(100 * answered / calls, 6) AS s_connect,
                   round(CASE WHEN secs IS NULL THEN 0
                              WHEN secs <= {full} THEN 100
                              WHEN secs >= {zero} THEN 0
                              ELSE 100 * ({zero} - secs) / ({zero} - {full}) END, 6) AS s_time,
                   round(ifnull(etiquette, 0), 6) AS s_etiquette,
                   round(ifnull(communication, 0), 6) AS s_communication,
                   round(ifnull(resolution, 0), 6) AS s_resolution
            FROM per_hotline
        )
        SELECT yr, city_code, calls, answered, rate,
               round({w["connect"]} * s_connect + {w["time_to_human"]} * s_time
                     + {w["etiquette"]} * s_etiquette + {w["communication"]} * s_communication
                     + {w["resolution"]} * s_resolution, 6) AS total,
               s_connect, s_resolution
        FROM scores
        ORDER BY yr, total DESC, s_connect DESC, s_resolution DESC, city_code
    """


def line_class(rate: float) -> str:
    thresholds = dbt_vars()["line_class_thresholds"]
    if rate >= thresholds["hot_min_connect_rate"]:
        return "热线"
    if rate >= thresholds["warm_min_connect_rate"]:
        return "温线"
    return "冷线" if rate > 0 else "死线"


def test_ranking_over_fct_test_calls_equals_the_mart(demo: DataPaths) -> None:
    expected: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    expected_totals: dict[tuple[int, str], float] = {}
    for yr, city, calls, answered, rate, total, *_ in query(demo, independent_ranking_sql()):
        rank = len(expected[yr]) + 1  # rows arrive in ranking order
        expected[yr].append((city, rank, calls, answered, line_class(rate)))
        expected_totals[(yr, city)] = total
    assert set(expected) == {2018, YEAR}
    mart = query(demo, """
        SELECT year, city_code, national_rank, call_count, connected_call_count, line_class,
               total_score, total_score_change, rank_change
        FROM monitoring_hotline_year ORDER BY year, national_rank
    """)
    got: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for yr, city, rank, calls, answered, klass, total, *_ in mart:
        got[yr].append((city, rank, calls, answered, klass))
        assert total == pytest.approx(expected_totals[(yr, city)], abs=1e-6), (yr, city)
    assert len(got[YEAR]) >= 30
    assert got == expected
    # Change against the previous year as printed (the difference of the published totals),
    # null for a hotline not monitored then.
    before = {city: rank for city, rank, *_ in expected[YEAR - 1]}
    changes = {city: (change, rank_change) for yr, city, *_, change, rank_change in mart
               if yr == YEAR}
    newcomers = 0
    for city, rank, *_ in expected[YEAR]:
        change, rank_change = changes[city]
        if city in before:
            gain = (published(expected_totals[(YEAR, city)])
                    - published(expected_totals[(YEAR - 1, city)]))
            assert Decimal(str(change)) == gain, city
            assert rank_change == before[city] - rank
        else:
            newcomers += 1
            assert change is None and rank_change is None
    assert newcomers > 0  # the demo leaves some hotlines out of 2018


# ---------------------------------------------------------------------------------------------
# The awards, rule by rule in Python, from scores computed in Python.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hotline:
    year: int
    city_code: str
    region: str
    rank: int
    total: float
    connect_rate: float
    service: float

    @property
    def line_class(self) -> str:
        return line_class(self.connect_rate)


def python_scores(paths: DataPaths) -> list[Hotline]:
    """Scores and ranks from the raw calls, with Python arithmetic rather than SQL."""
    settings = dbt_vars()
    weights = settings["monitoring_weights"]
    full = settings["time_to_human_full_score_seconds"]
    zero = settings["time_to_human_zero_score_seconds"]
    with (PROJECT_ROOT / "dbt" / "seeds" / "cities.csv").open(encoding="utf-8") as f:
        regions = {row["city_code"]: row["region"] for row in csv.DictReader(f)}
    calls: dict[tuple[int, str], list[tuple[Any, ...]]] = defaultdict(list)
    for yr, city, connected, secs, etiquette, communication, resolution in query(paths, """
        SELECT evaluation_year, city_code, is_connected, seconds_to_human, etiquette_score,
               communication_score, resolution_score FROM fct_test_calls
    """):
        calls[(yr, city)].append((connected, secs, etiquette, communication, resolution))

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    scored = []
    for (yr, city), made in calls.items():
        answered = [c for c in made if c[0]]
        seconds = [c[1] for c in answered if c[1] is not None]
        if seconds:
            time_score = min(100.0, max(0.0, 100 * (zero - mean(seconds)) / (zero - full)))
        else:
            time_score = 0.0
        scores = {
            "connect": round(100 * len(answered) / len(made), 6),
            "time_to_human": round(time_score, 6),
            "etiquette": round(mean([c[2] for c in answered]), 6),
            "communication": round(mean([c[3] for c in answered]), 6),
            "resolution": round(mean([c[4] for c in answered]), 6),
        }
        total = round(sum(weights[k] * v for k, v in scores.items()), 6)
        service = round((scores["etiquette"] + scores["communication"]) / 2, 6)
        scored.append((yr, city, total, scores, len(answered) / len(made), service))
    scored.sort(key=lambda s: (s[0], -s[2], -s[3]["connect"], -s[3]["resolution"], s[1]))
    hotlines, rank, last_year = [], 0, None
    for yr, city, total, _, rate, service in scored:
        rank = rank + 1 if yr == last_year else 1
        last_year = yr
        hotlines.append(Hotline(yr, city, regions[city], rank, total, rate, service))
    return hotlines


def published(score: float) -> Decimal:
    """A score as the pages print it: two decimals, half away from zero, from six decimals."""
    return Decimal(str(round(score, 6))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def python_awards(hotlines: list[Hotline]) -> list[tuple[int, str, str, int, str]]:
    """(year, award, scope, place, city) for every winner, by the rules the report states."""
    settings = dbt_vars()
    rules = settings["monitoring_awards"]
    ineligible = set(settings["monitoring_award_ineligible_line_classes"])
    pioneer_rules = rules["regional_pioneer"]
    riser_rules = rules["fastest_riser"]
    top_n = rules["top_ten"]["count"]
    by_year: dict[int, list[Hotline]] = defaultdict(list)
    for h in sorted(hotlines, key=lambda h: (h.year, h.rank)):
        by_year[h.year].append(h)
    winners: list[tuple[int, str, str, int, str]] = []
    for yr, ranked in by_year.items():
        # 全国十佳热线: ranks 1..n.
        winners += [(yr, "top_ten", "全国", h.rank, h.city_code) for h in ranked[:top_n]]
        eligible = [h for h in ranked if h.line_class not in ineligible]
        # 先锋奖: per region, the best-ranked outside the top ten among the eligible line
        # classes, at or above the national mean as both are printed.
        mean = published(sum(h.total for h in ranked) / len(ranked))
        per_region: dict[str, list[Hotline]] = defaultdict(list)
        for h in eligible:
            if (h.rank > top_n and h.line_class in pioneer_rules["eligible_line_classes"]
                    and (not pioneer_rules["at_or_above_national_mean"]
                         or published(h.total) >= mean)):
                per_region[h.region].append(h)
        for region, candidates in per_region.items():
            for place, h in enumerate(candidates[: pioneer_rules["count_per_region"]]):
                winners.append((yr, "regional_pioneer", region, place + 1, h.city_code))
        # 骏马奖: the largest positive gains over the previous year as printed (differences of
        # the published totals), among hotlines measured the year before; ties to the better
        # rank.
        previous = {h.city_code: h for h in by_year.get(yr - 1, [])}
        gains = [
            (published(h.total) - published(previous[h.city_code].total), h) for h in eligible
            if h.city_code in previous
            and previous[h.city_code].line_class
            not in riser_rules["prior_year_ineligible_line_classes"]
            and (riser_rules["top_ten_eligible"] or h.rank > top_n)
        ]
        gains = sorted([g for g in gains if g[0] > 0], key=lambda g: (-g[0], g[1].rank))
        for place, (_, h) in enumerate(gains[: riser_rules["count"]]):
            winners.append((yr, "fastest_riser", "全国", place + 1, h.city_code))
        # 服务之星奖: the best mean of 接待礼仪 and 沟通规范; ties to the better rank.
        stars = sorted(eligible, key=lambda h: (-h.service, h.rank))
        for place, h in enumerate(stars[: rules["service_star"]["count"]]):
            winners.append((yr, "service_star", "全国", place + 1, h.city_code))
    return sorted(winners)


def test_awards_equal_each_rule_applied_in_python(demo: DataPaths) -> None:
    hotlines = python_scores(demo)
    expected = python_awards(hotlines)
    got = sorted(query(demo, """
        SELECT year, award_key, award_scope, award_place, city_code FROM monitoring_awards
    """))
    assert got == expected

    # The demo data exercise the rules: a region whose best hotline is in the top ten, a
    # newcomer with a rise it is not rewarded for, a 死线 of the year before that rose from 0
    # and is not rewarded either, a region without a 先锋奖, a hotline with several awards.
    rules = dbt_vars()["monitoring_awards"]
    this_year = [h for h in hotlines if h.year == YEAR]
    best_of_region = {}
    for h in sorted(this_year, key=lambda h: h.rank):
        best_of_region.setdefault(h.region, h)
    pioneers = {scope: city for yr, key, scope, _, city in got
                if yr == YEAR and key == "regional_pioneer"}
    regions_led_by_top_ten = [r for r, h in best_of_region.items()
                              if h.rank <= rules["top_ten"]["count"] and r in pioneers]
    assert regions_led_by_top_ten
    for region in regions_led_by_top_ten:
        assert pioneers[region] != best_of_region[region].city_code
    monitored_before = {h.city_code for h in hotlines if h.year == YEAR - 1}
    riders = {city for yr, key, _, _, city in got if yr == YEAR and key == "fastest_riser"}
    assert len(riders) == rules["fastest_riser"]["count"]
    assert riders <= monitored_before
    assert {h.city_code for h in this_year} - monitored_before
    dead_before = {h.city_code for h in hotlines if h.year == YEAR - 1 and h.line_class == "死线"}
    assert {h.city_code for h in this_year if h.total > 0} & dead_before
    assert not riders & dead_before
    regions_without_pioneer = {
        (h.year, h.region) for h in hotlines
    } - {(yr, scope) for yr, key, scope, _, _ in got if key == "regional_pioneer"}
    assert regions_without_pioneer
    per_city: dict[str, int] = defaultdict(int)
    for yr, *_, city in got:
        per_city[city] += yr == YEAR
    assert max(per_city.values()) >= 2


def test_report_lists_every_award_with_its_rule(demo: DataPaths) -> None:
    html = (demo.site / str(YEAR) / "index.html").read_text(encoding="utf-8")
    settings = dbt_vars()
    rules = settings["monitoring_awards"]
    winners = query(demo, """
        SELECT award_key, city_code FROM monitoring_awards WHERE year = ?
        ORDER BY award_order, CASE WHEN award_key = 'regional_pioneer'
                                   THEN national_rank ELSE award_place END
    """, [YEAR])
    awards_section = html.split('<section id="awards">')[1].split('<section id="ranking">')[0]
    for key in ("regional_pioneer", "fastest_riser", "service_star"):
        block = awards_section.split(f'id="award-{key.replace("_", "-")}"')[1]
        block = block.split("</section>")[0]
        assert f"<h3>{rules[key]['name']}</h3>" in block
        listed = re.findall(r'data-city-code="(\d{6})"', block)
        assert listed == [city for award, city in winners if award == key]
    methods = html.split('<section id="methods">')[1].split("</section>")[0]
    stated = dict(re.findall(r"<li><strong>([^<]+)</strong>：([^<]+)</li>", methods))
    assert set(stated) == {a["name"] for a in rules.values()}
    assert f"第 1 至第 {rules['top_ten']['count']} 名" in stated[rules["top_ten"]["name"]]
    assert f"最靠前的 {rules['regional_pioneer']['count_per_region']} 条" in (
        stated[rules["regional_pioneer"]["name"]])
    assert f"增幅最大的 {rules['fastest_riser']['count']} 条" in (
        stated[rules["fastest_riser"]["name"]])
    assert f"平均值最高的 {rules['service_star']['count']} 条" in (
        stated[rules["service_star"]["name"]])
    for line_class_name in settings["monitoring_award_ineligible_line_classes"]:
        assert f"线路类别为{line_class_name}的热线不参评" in stated[rules["service_star"]["name"]]
    pioneer = rules["regional_pioneer"]
    assert f"只评线路类别为{'或'.join(pioneer['eligible_line_classes'])}" in (
        stated[pioneer["name"]])
    assert ("不低于当年全国平均总分" in stated[pioneer["name"]]) == (
        pioneer["at_or_above_national_mean"])
    prior = rules["fastest_riser"]["prior_year_ineligible_line_classes"]
    assert f"上年为{'或'.join(prior)}的热线也不参评" in stated[rules["fastest_riser"]["name"]]
    assert "全国排名靠前者优先" in methods
    hollow = settings["hollow_heat"]
    assert (f"虚热差距不低于 {fmt.score(hollow['min_gap'])} 分" in methods
            and f"至少 {hollow['min_connected_calls']} 次拨测接通人工" in methods
            and f"列出前 {hollow['listed']} 条" in methods)
    # Every region of a year without a 先锋奖 winner is named on that year's page.
    assert pioneer["count_per_region"] == 1
    named_anywhere = False
    for year in (YEAR - 1, YEAR):
        page = (demo.site / str(year) / "index.html").read_text(encoding="utf-8")
        section = page.split('<section id="awards">')[1].split('<section id="ranking">')[0]
        regions = {region for (region,) in query(demo, """
            SELECT DISTINCT region FROM monitoring_hotline_year
            WHERE year = ? AND region IS NOT NULL""", [year])}
        won = {scope for (scope,) in query(demo, """
            SELECT award_scope FROM monitoring_awards
            WHERE year = ? AND award_key = 'regional_pioneer'""", [year])}
        named = set(re.findall(r"<li>([^<：]+)：无符合条件的热线</li>", section))
        assert named == regions - won, year
        named_anywhere = named_anywhere or bool(named)
    assert named_anywhere


def test_award_rules_follow_the_configuration() -> None:
    settings = dbt_vars()
    settings["monitoring_awards"]["fastest_riser"].update(count=7, top_ten_eligible=False)
    settings["monitoring_awards"]["top_ten"]["count"] = 20
    settings["monitoring_award_ineligible_line_classes"] = []
    rules = environment().get_template("_award_rules.html.j2").module
    riser = str(rules.award_rule("fastest_riser", settings))  # type: ignore[attr-defined]
    assert "增幅最大的 7 条" in riser
    assert "全国十佳热线不参评" in riser
    assert "线路类别为" not in riser
    pioneer = str(rules.award_rule("regional_pioneer", settings))  # type: ignore[attr-defined]
    assert "全国排名第 20 名之后" in pioneer
    settings["monitoring_awards"]["fastest_riser"]["prior_year_ineligible_line_classes"] = []
    settings["monitoring_awards"]["regional_pioneer"].update(
        eligible_line_classes=["热线"], at_or_above_national_mean=False)
    riser = str(rules.award_rule("fastest_riser", settings))  # type: ignore[attr-defined]
    assert "上年为" not in riser
    pioneer = str(rules.award_rule("regional_pioneer", settings))  # type: ignore[attr-defined]
    assert "只评线路类别为热线的热线" in pioneer and "全国平均" not in pioneer


def test_report_template_escapes_award_names() -> None:
    settings = dbt_vars()
    settings["monitoring_awards"]["top_ten"]["name"] = "<b>十佳</b>"
    rules = environment().get_template("_award_rules.html.j2").module
    text = str(rules.award_rule("regional_pioneer", settings))  # type: ignore[attr-defined]
    assert "&lt;b&gt;十佳&lt;/b&gt;" in text and "<b>" not in text



# ---------------------------------------------------------------------------------------------
# Every "较上年" on every page against the two figures the site prints for it.
# ---------------------------------------------------------------------------------------------
MISSING = "—"


def figure(text: str) -> Decimal | None:
    """A printed figure (1,234.56, +4.75, −1.20, 18.7%) as a Decimal; None for "—"."""
    text = text.strip().replace(",", "").replace("\u2212", "-").removesuffix("%")
    return None if text == MISSING else Decimal(text)


def plain(fragment: str) -> str:
    """The text of an HTML fragment, whitespace collapsed."""
    return re.sub(r"\s+", " ", html_text.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def table(page: str, table_id: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Headings and body rows (tr attributes, cell texts) of the table with id `table_id`."""
    found = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    if found is None:
        return [], []
    head = re.search(r"<thead>(.*?)</thead>", found[1], re.S)
    body = re.search(r"<tbody>(.*?)</tbody>", found[1], re.S)
    assert head and body, table_id
    headings = [plain(c) for c in re.findall(r"<th[^>]*>(.*?)</th>", head[1], re.S)]
    rows = [(attrs, [plain(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", cells, re.S)])
            for attrs, cells in re.findall(r"<tr([^>]*)>(.*?)</tr>", body[1], re.S)]
    return headings, rows


def columns(page: str, table_id: str, *names: str) -> list[tuple[str, list[str]]]:
    """The given columns of a table by heading, each row with its tr attributes."""
    headings, rows = table(page, table_id)
    if not rows:
        return []
    at = [headings.index(name) for name in names]
    return [(attrs, [cells[i] for i in at]) for attrs, cells in rows]


def city_of(attrs: str) -> str:
    found = re.search(r'data-city-code="(\d{6})"', attrs)
    assert found, attrs
    return found[1]


@dataclass
class Statements:
    """What the checks found: statements checked, "较上年" occurrences accounted for, errors."""

    checked: int = 0
    claimed: int = 0
    errors: list[str] = field(default_factory=list)

    def difference(self, where: str, shown: str, current: str, previous: str | None) -> None:
        """`shown` is `current` − `previous` exactly, or "—" when either is not printed."""
        self.checked += 1
        now, before = figure(current), figure(previous) if previous is not None else None
        expected = None if now is None or before is None else now - before
        if figure(shown) != expected:
            self.errors.append(f"{where}: {shown} is not {current} − {previous}")

    def rate(self, where: str, shown: str, current: str, previous: str | None) -> None:
        """`shown` is the growth from the count `previous` to `current`, or "—" without one."""
        self.checked += 1
        now, before = figure(current), figure(previous) if previous is not None else None
        expected = MISSING if now is None or not before else fmt.signed_percent(
            float((now - before) / before))
        if shown != expected:
            self.errors.append(f"{where}: {shown} is not the growth from {previous} to {current}")


def statement_text(page: str) -> str:
    """The page's text without the rules (methods section, rule paragraphs): what remains
    states figures."""
    page = re.sub(r'<section id="methods">.*?</section>', "", page, flags=re.S)
    page = re.sub(r'<p class="rule">.*?</p>', "", page, flags=re.S)
    return plain(page)


def check_national_page(page: str, before: str | None, found: Statements) -> None:
    text = statement_text(page)
    # 全国概况: the sentence, the cards and the indicator table.
    sentence = re.search(r"全国总得分 (\S+)，较上年(提高|下降) (\S+) 分（\d{4}年 (\S+)）", text)
    if sentence:
        found.claimed += 1
        total, direction, change, previous = sentence.groups()
        signed = change if direction == "提高" else "-" + change
        found.difference("全国概况", signed, total, previous)
    card = r'<div class="label">(.*?)</div>\s*<div class="value">(.*?)</div>\s*' \
           r'<div class="change">较上年 (.*?)</div>'
    previous_cards = {label: value for label, value, _ in re.findall(card, before or "")}
    for label, value, change in re.findall(card, page):
        found.claimed += 1
        found.difference(f"卡片 {label}", change, value, previous_cards.get(label))
    headings, _ = table(page, "indicator-table")
    found.claimed += sum("较上年" in h for h in headings)
    previous_means = {r[0]: r[1] for _, r in columns(before or "", "indicator-table", "指标",
                                                     "全国平均")}
    for _, (label, mean, change) in columns(page, "indicator-table", "指标", "全国平均", "较上年"):
        found.difference(f"各指标全国得分 {label}", change, mean, previous_means.get(label))
    # The ranking, by hotline; the regions' mean change over their hotlines' changes.
    headings, _ = table(page, "ranking-table")
    found.claimed += sum("较上年" in h for h in headings)
    previous_totals = {city_of(a): r[0]
                       for a, r in columns(before or "", "ranking-table", "总得分")}
    ranking = columns(page, "ranking-table", "区域", "总得分", "较上年")
    for attrs, (_, total, change) in ranking:
        found.difference(f"排名 {city_of(attrs)}", change, total,
                         previous_totals.get(city_of(attrs)))
    headings, _ = table(page, "region-table")
    found.claimed += sum("较上年" in h for h in headings)
    for _, (region, change) in columns(page, "region-table", "区域", "较上年（同一热线）"):
        changes = [figure(c) for _, (r, _, c) in ranking if r == region and figure(c) is not None]
        mean = (sum(changes, Decimal(0)) / len(changes)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP) if changes else None
        found.checked += 1
        if figure(change) != mean:
            found.errors.append(f"区域 {region}: {change} is not the mean of {changes}")
    # 骏马奖: the gain against the total of the year before on the previous page.
    riser = page.split('id="award-fastest-riser"')[1].split("</section>")[0]
    headings = [plain(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", riser, re.S)]
    found.claimed += sum("较上年" in h for h in headings)
    for attrs, cells in re.findall(r"<tr([^>]*)>(.*?)</tr>", riser, re.S):
        if "data-city-code" in attrs:
            cell = [plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
            found.difference(f"骏马奖 {city_of(attrs)}", cell[headings.index("较上年增幅")],
                             cell[headings.index("总得分")], previous_totals.get(city_of(attrs)))
    # 虚热: each gap and the national mean gap against the two scores printed beside it.
    mean_gap = re.search(r"全国平均为 (\S+) 分（接通率 (\S+)，问题解决 (\S+)）", text)
    if mean_gap:
        found.difference("全国平均虚热差距", *mean_gap.groups())
    for _, (connect, resolution, gap) in columns(page, "hollow-heat-table", "接通率得分",
                                                 "问题解决得分", "虚热差距"):
        found.difference("虚热差距", gap, connect, resolution)
    # 热点诉求: growth of a class's tickets against the previous page's count.
    previous_counts = {r[0]: r[1] for _, r in columns(before or "", "category-table",
                                                      "诉求分类", "工单量")}
    top = r"<li>([^<：]+)：([^<\s]+) 件，占 [^<\s]+，较上年 ([^<\s]+)</li>"
    for name, count, change in re.findall(top, page):
        found.claimed += 1
        found.rate(f"热点诉求 {name}", change, count, previous_counts.get(name))
    headings, _ = table(page, "category-table")
    found.claimed += sum("较上年" in h for h in headings)
    for _, (name, count, change) in columns(page, "category-table", "诉求分类", "工单量",
                                            "较上年"):
        found.rate(f"诉求分类 {name}", change, count, previous_counts.get(name))
    for _, (name, count, previous, change) in columns(page, "riser-table", "诉求分类", "本年",
                                                      "上年", "增长率"):
        found.rate(f"增长最快 {name}", change, count, previous)


def check_city_page(code: str, page: str, found: Statements) -> None:
    history = {int(r[0]): r for _, r in columns(page, "rank-history-table", "年度", "总得分",
                                                 "较上年")}
    headings, _ = table(page, "rank-history-table")
    found.claimed += sum("较上年" in h for h in headings)
    for year, (_, total, change) in history.items():
        found.difference(f"{code} 历年排名 {year}", change, total,
                         history[year - 1][1] if year - 1 in history else None)
    card = re.search(r"全国平均 [^<\s]+ · 较上年 ([^<\s]+)</div>", page)
    if card:
        found.claimed += 1
        year = max(history)
        found.difference(f"{code} 总得分卡片", card[1], history[year][1],
                         history[year - 1][1] if year - 1 in history else None)
    for _, (label, own, national, gap) in columns(page, "score-table", "指标", "本热线",
                                                  "全国平均", "差值"):
        found.difference(f"{code} {label}与全国平均", gap, own, national)
    headings, _ = table(page, "city-category-table")
    found.claimed += sum("较上年" in h for h in headings)
    for _, (name, count, previous, change) in columns(page, "city-category-table", "诉求分类",
                                                      "工单量", "上年", "较上年"):
        found.rate(f"{code} 诉求分类 {name}", change, count, previous)


def test_every_change_on_every_page_is_the_difference_of_the_figures_shown(
        demo: DataPaths) -> None:
    found = Statements()
    years = sorted(int(p.name) for p in demo.site.iterdir() if p.name.isdigit())
    assert years == [YEAR - 1, YEAR]
    pages_read = 0
    for year in years:
        folder = demo.site / str(year)
        before = demo.site / str(year - 1) / "index.html"
        pages: list[tuple[Path, str]] = [(folder / "index.html", "index")]
        pages += [(p, p.stem) for p in sorted((folder / "city").glob("*.html"))]
        for path, name in pages:
            page = path.read_text(encoding="utf-8")
            claimed = found.claimed
            if name == "index":
                check_national_page(
                    page, before.read_text(encoding="utf-8") if before.exists() else None, found)
            else:
                check_city_page(name, page, found)
            # Every "较上年" outside the rules was one of the statements checked above.
            assert statement_text(page).count("较上年") == found.claimed - claimed, path
            pages_read += 1
    assert not found.errors, "\n".join(found.errors[:20])
    assert pages_read > 40
    assert found.checked > 500
