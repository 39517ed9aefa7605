"""The monitoring results on the demo data, recomputed independently of the dbt marts.

The ranking is recomputed by a query of its own over fct_test_calls, and every award rule is
applied again in Python to scores computed in Python, both from the vars of dbt_project.yml.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pytest
import yaml

from dagster_project.demo.generator import generate_demo
from dagster_project.pipeline import run_everything
from dagster_project.report.render import environment
from dagster_project.settings import DATA_ROOT_ENV, PROJECT_ROOT, DataPaths

YEAR = 2019


def dbt_vars() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "dbt" / "dbt_project.yml").read_text())["vars"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPaths]:
    root = tmp_path_factory.mktemp("monitoring")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_ROOT_ENV, str(root))
        paths = DataPaths(root=root)
        generate_demo(paths.landing, seed=11, total_tickets=6000)
        run = run_everything(log_level="WARNING")
        assert run.success, run
        yield paths


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
    # Change against the previous year, null for a hotline not monitored then.
    before = {city: rank for city, rank, *_ in expected[YEAR - 1]}
    changes = {city: (change, rank_change) for yr, city, *_, change, rank_change in mart
               if yr == YEAR}
    newcomers = 0
    for city, rank, *_ in expected[YEAR]:
        change, rank_change = changes[city]
        if city in before:
            gain = expected_totals[(YEAR, city)] - expected_totals[(YEAR - 1, city)]
            assert change == pytest.approx(gain, abs=1e-6)
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


def python_awards(hotlines: list[Hotline]) -> list[tuple[int, str, str, int, str]]:
    """(year, award, scope, place, city) for every winner, by the rules the report states."""
    settings = dbt_vars()
    rules = settings["monitoring_awards"]
    ineligible = set(settings["monitoring_award_ineligible_line_classes"])
    top_n = rules["top_ten"]["count"]
    by_year: dict[int, list[Hotline]] = defaultdict(list)
    for h in sorted(hotlines, key=lambda h: (h.year, h.rank)):
        by_year[h.year].append(h)
    winners: list[tuple[int, str, str, int, str]] = []
    for yr, ranked in by_year.items():
        # 全国十佳热线: ranks 1..n.
        winners += [(yr, "top_ten", "全国", h.rank, h.city_code) for h in ranked[:top_n]]
        eligible = [h for h in ranked if h.line_class not in ineligible]
        # 先锋奖: per region, the best-ranked outside the top ten.
        per_region: dict[str, list[Hotline]] = defaultdict(list)
        for h in eligible:
            if h.rank > top_n:
                per_region[h.region].append(h)
        for region, candidates in per_region.items():
            for place, h in enumerate(candidates[: rules["regional_pioneer"]["count_per_region"]]):
                winners.append((yr, "regional_pioneer", region, place + 1, h.city_code))
        # 骏马奖: the largest positive gains over the previous year; ties to the better rank.
        previous = {h.city_code: h.total for h in by_year.get(yr - 1, [])}
        gains = [
            (round(h.total - previous[h.city_code], 6), h) for h in eligible
            if h.city_code in previous
            and (rules["fastest_riser"]["top_ten_eligible"] or h.rank > top_n)
        ]
        gains = sorted([g for g in gains if g[0] > 0], key=lambda g: (-g[0], g[1].rank))
        for place, (_, h) in enumerate(gains[: rules["fastest_riser"]["count"]]):
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
    # newcomer with a rise it is not rewarded for, a hotline with several awards.
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
    assert "全国排名靠前者优先" in methods


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


def test_report_template_escapes_award_names() -> None:
    settings = dbt_vars()
    settings["monitoring_awards"]["top_ten"]["name"] = "<b>十佳</b>"
    rules = environment().get_template("_award_rules.html.j2").module
    text = str(rules.award_rule("regional_pioneer", settings))  # type: ignore[attr-defined]
    assert "&lt;b&gt;十佳&lt;/b&gt;" in text and "<b>" not in text

