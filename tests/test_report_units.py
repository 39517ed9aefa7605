"""The report's building blocks without a warehouse: number formats, charts, derived figures and
escaping."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest

from dagster_project.report import charts, render
from dagster_project.report import formatting as fmt
from dagster_project.report.data import AWARDS, award_sections, indicator_config
from dagster_project.report.marts import AwardPlaces, AwardWinner, ReportDataError
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


# Six-decimal scores at a rounding boundary, negative ones, and ones binary floats hold just
# below or above the half (2.675 is 2.67499…, 80.525 is 80.52500…01).
BOUNDARY_SCORES = (80.525, 2.675, 1.005, 0.125, -0.125, -2.675, 75.766144, 99.995, 12.344999)


@pytest.mark.parametrize("value", BOUNDARY_SCORES)
def test_a_score_prints_as_the_marts_round_it(value: float) -> None:
    """The report and dbt macro published_score round alike (half away from zero from six
    decimals), so a change the marts take of published scores is the difference printed."""
    macro = (Path(__file__).parents[1] / "dbt" / "macros" / "published_score.sql").read_text(
        encoding="utf-8")
    sql = jinja2.Environment().from_string(
        macro + "{{ published_score('cast(? as double)') }}").render()
    with duckdb.connect() as con:
        (in_sql,) = con.execute(f"SELECT {sql.strip()}", [value]).fetchone() or (None,)
    assert fmt.published(value) == in_sql
    assert fmt.score(value) == f"{in_sql:,.2f}"


def test_differences_are_those_of_the_printed_figures() -> None:
    assert fmt.score(80.523553) == "80.52" and fmt.score(75.766144) == "75.77"
    assert fmt.difference(80.523553, 75.766144) == 4.75  # not 4.757409, printed 4.76
    assert fmt.signed(fmt.difference(80.525, 2.675)) == "+77.85"
    assert fmt.difference(None, 1.0) is None and fmt.difference(1.0, None) is None


def test_rule_numbers_print_as_the_configuration_writes_them() -> None:
    assert fmt.rule_number(3.0) == "3" and fmt.rule_number(4) == "4"
    assert fmt.rule_number(0.25) == "0.25" and fmt.rule_number(None) == fmt.MISSING


def test_a_chart_of_shares_spans_the_largest_share() -> None:
    assert charts.share_scale([0.2, 0.35, 0.0]) == 0.35
    assert charts.share_scale([]) == charts.share_scale([0.0]) == 0.01


def test_award_sections_lay_out_the_places_the_mart_counted() -> None:
    """Where fewer hotlines qualified than an award's places is monitoring_award_places'
    figure; the page lists each award in its order and the short regions of 先锋奖 in the
    order it compares the regions, not the mart's."""
    def places(key: str, scope: str, count: int, won: int) -> AwardPlaces:
        return AwardPlaces(key, key, scope, count, won, won < count)

    def winner(key: str, scope: str, code: str) -> AwardWinner:
        return AwardWinner(award_key=key, award_name=key, award_scope=scope, award_place=1,
                           city_code=code, hotline_name=None, region=None, national_rank=None,
                           total_score=None, award_measure=None)

    mart = [places("top_ten", "全国", 10, 10), places("regional_pioneer", "东北", 1, 0),
            places("regional_pioneer", "华中", 1, 0), places("regional_pioneer", "华北", 1, 1),
            places("fastest_riser", "全国", 5, 1), places("service_star", "全国", 3, 0)]
    winners = [winner("regional_pioneer", "华北", "120000"),
               winner("fastest_riser", "全国", "140100")]
    sections = {s.key: s for s in award_sections(mart, winners, ["华北", "华中", "东北"])}
    assert list(sections) == [a.key for a in AWARDS]
    assert [(r.region, r.winner_count) for r in sections["regional_pioneer"].short_regions] == [
        ("华中", 0), ("东北", 0)]
    assert not sections["regional_pioneer"].short
    assert sections["fastest_riser"].short and sections["fastest_riser"].places == 5
    assert [w.city_code for w in sections["fastest_riser"].winners] == ["140100"]
    assert sections["service_star"].short and not sections["service_star"].winners
    assert not sections["top_ten"].short
    with pytest.raises(ReportDataError, match="differ from the awards the report knows"):
        award_sections([places("golden_phone", "全国", 1, 0)], [])


def test_a_misspelt_field_fails_the_rendering() -> None:
    """The pages are typed objects and the environment strict: a field a template misspells
    raises instead of printing nothing."""
    env = environment()
    places = AwardPlaces("top_ten", "全国十佳热线", "全国", 10, 9, True)
    assert env.from_string("{{ p.places }}/{{ p['winner_count'] }}").render(p=places) == "10/9"
    for misspelt in ("{{ p.place }}", "{% if p.is_shrot %}x{% endif %}", "{{ p['winners'] }}"):
        with pytest.raises(jinja2.UndefinedError):
            env.from_string(misspelt).render(p=places)


def test_personal_numbers_are_masked() -> None:
    text = ("来电 138-1234-5678，身份证 11010519491231002X，邮箱 a.b@example.com，"
            "工单 201900000001234567890")
    masked = fmt.mask_personal(text)
    assert masked == ("来电 [手机号]，身份证 [身份证号]，邮箱 [邮箱]，"
                      "工单 201900000001234567890")  # a long run of digits is an id
    assert fmt.mask_personal(None) == ""


def test_a_page_showing_personal_data_is_not_published(tmp_path: Path) -> None:
    chart = '<svg><path d="M 10.5 20.25 L 86.5 10.25 30.75 40.5"/><text>均值 80.52</text></svg>'
    clean = f"<html><style>.a{{width:1370123456px}}</style><body>{chart}<p>得分 80.52</p>"
    render.refuse_personal_data(tmp_path, {"index.html": clean})  # chart geometry is not data
    leaking = clean + '<td title="来电(0898)66123457">x</td>'
    with pytest.raises(render.ReportRenderError, match=r"city/1\.html: landline"):
        render.refuse_personal_data(tmp_path, {"index.html": clean, "city/1.html": leaking})
    assert not list(tmp_path.iterdir())


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
