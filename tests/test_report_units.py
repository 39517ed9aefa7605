"""The report's building blocks without a warehouse: number formats, charts, derived figures and
escaping."""

from __future__ import annotations

import re

import pytest

from dagster_project.report import charts
from dagster_project.report import formatting as fmt
from dagster_project.report.data import indicator_config, national_hot_topics
from dagster_project.report.render import environment

HOSTILE = "<script>alert(1)</script>"


@pytest.mark.parametrize(("value", "text"), [
    (0.6697, "67.0%"), (0.12345, "12.3%"), (1.0, "100.0%"), (0.0, "0.0%"), (None, "—"),
    (float("nan"), "—"),
])
def test_percent_has_one_decimal(value: float | None, text: str) -> None:
    assert fmt.percent(value) == text


def test_counts_and_measures_have_thousands_separators() -> None:
    assert fmt.count(11_040_000) == "11,040,000"
    assert fmt.count(3755.4) == "3,755"
    assert fmt.number(1234.56) == "1,234.6"
    assert fmt.score(83.4912) == "83.49"
    assert fmt.count(None) == fmt.number(None) == fmt.score(None) == "—"


def test_changes_carry_their_sign() -> None:
    assert fmt.signed(3.18) == "+3.18"
    assert fmt.signed(-1.2) == "−1.20"
    assert fmt.signed(0.001) == "0.00"
    assert fmt.signed(-5, 0) == "−5"
    assert fmt.signed_percent(0.123) == "+12.3%"
    assert fmt.signed_percent(-0.027) == "−2.7%"
    assert fmt.points(0.012) == "+1.2"
    assert fmt.signed(None) == fmt.signed_percent(None) == fmt.points(None) == "—"


def test_personal_numbers_are_masked() -> None:
    text = "来电 13812345678，身份证 11010519491231002X，工单 201900000001234567890"
    masked = fmt.mask_personal(text)
    assert "13812345678" not in masked and "11010519491231002X" not in masked
    assert "[手机号]" in masked and "[身份证号]" in masked
    assert "201900000001234567890" in masked  # a long run of digits is an id, not a phone
    assert fmt.mask_personal(None) == ""


def test_charts_escape_labels_and_are_deterministic() -> None:
    def draw() -> str:
        return "".join(str(c) for c in (
            charts.horizontal_bars([charts.Bar(HOSTILE, 50.0, True), charts.Bar("北京", 80.0)],
                                   title=HOSTILE),
            charts.histogram([10.0, 55.5, 100.0], title=HOSTILE, mean=55.0),
            charts.scatter([charts.Point(HOSTILE, 70.0, 80.0)], title="t", x_label="x",
                           y_label="y"),
            charts.grouped_bars([HOSTILE], [charts.Series(HOSTILE, [60.0], charts.ACCENT)],
                                title="t"),
            charts.rank_history([(2018, 3, 35), (2019, 1, 41)], title=HOSTILE),
        ))

    svg = draw()
    assert svg == draw()
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert "http" not in svg and "url(" not in svg
    assert svg.count("<svg") == 5


def test_histogram_puts_the_maximum_in_the_last_bin() -> None:
    svg = str(charts.histogram([0.0, 9.99, 10.0, 100.0], title="t"))
    counts = [int(n) for n in re.findall(r"<title>[0-9–]+：(\d+)</title>", svg)]
    assert counts == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]


def test_score_domain_covers_the_values() -> None:
    assert charts.score_domain([62.3, 97.1]) == (60.0, 100.0)
    assert charts.score_domain([0.0, 50.0]) == (0.0, 50.0)
    assert charts.score_domain([]) == (0.0, 100.0)


def _category(city: str, code: str, name: str, now: int, prior: int | None,
              top: bool = False) -> dict[str, object]:
    return {"city_code": city, "category_code": code, "category_name": name, "ticket_count": now,
            "prior_year_ticket_count": prior, "is_top_category": top}


def test_national_hot_topics_add_cities_up_and_compare_like_with_like() -> None:
    classes = [{"category_code": c, "category_name": n, "is_unclassified": c == "99"}
               for c, n in (("01", "城乡建设"), ("06", "交通运输"), ("13", "政法"),
                            ("99", "未分类"))]
    rows = [
        # city A, both years: 城乡建设 flat, 交通运输 doubles, 政法 doubles from a base of 1
        _category("A", "01", "城乡建设", 30, 30, True), _category("A", "06", "交通运输", 40, 20),
        _category("A", "13", "政法", 2, 1), _category("A", "99", "未分类", 50, 5),
        # city B sent no tickets the year before: in the mix, not in the growth
        _category("B", "01", "城乡建设", 10, None, True), _category("B", "06", "交通运输", 5, None),
        _category("B", "13", "政法", 0, None), _category("B", "99", "未分类", 0, None),
    ]
    config = {"hot_topics": {"top_n": 1, "riser_top_n": 2, "riser_min_prior_tickets": 2}}
    hot = national_hot_topics(rows, classes, config)
    mix = {e["category_code"]: e for e in hot["mix"]}
    assert hot["ticket_count"] == 137
    assert mix["06"]["ticket_count"] == 45 and mix["06"]["rank"] == 1
    assert mix["01"]["ticket_count"] == 40 and mix["01"]["top_city_count"] == 2
    assert mix["99"]["rank"] is None  # 未分类 takes no rank, however large
    assert [e["category_code"] for e in hot["top"]] == ["06"]
    assert mix["06"]["change_rate"] == pytest.approx(1.0)  # 40 against 20, city A only
    assert mix["01"]["change_rate"] == pytest.approx(0.0)
    # 交通运输 doubled, but 未分类 grew tenfold: its share of city A fell (20/56 -> 40/122)
    assert mix["06"]["share_change"] == pytest.approx(40 / 122 - 20 / 56)
    assert hot["risers"] == []
    rows[3]["ticket_count"] = 5  # 未分类 flat: now 交通运输's share rises (20/56 -> 40/77)
    hot = national_hot_topics(rows, classes, config)
    assert [e["category_code"] for e in hot["risers"]] == ["06"]  # 政法: base of 1 < 2


def test_templates_escape_text_from_the_exports() -> None:
    env = environment()
    assert env.autoescape is True or env.autoescape("x.html.j2")
    macros = env.get_template("_macros.html.j2").module
    link = str(macros.city_link("110000", HOSTILE, False, {"110000"}))  # type: ignore[attr-defined]
    assert link == '<a href="city/110000.html">&lt;script&gt;alert(1)&lt;/script&gt;</a>'
    plain = str(macros.city_link("110000", HOSTILE, True, {"110000"}))  # type: ignore[attr-defined]
    assert plain == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_configuration_is_the_one_dbt_reads() -> None:
    config = indicator_config()
    assert sum(config["monitoring_weights"].values()) == pytest.approx(1.0)
    assert {"hot_topics", "three_rate_weights", "monitoring_awards"} <= set(config)
