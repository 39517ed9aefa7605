"""What the yearly report shows: the marts' rows laid out as pages (model.py).

The report is a view. Every figure it prints is a column of a mart that dbt computes and
tests (marts.py reads them, one query per mart and year): the indicators, national and
regional ones included, the national connect rate and line-class shares, how many hotlines
rose or fell, each award's places and shortfalls, the files added up per source, city and
entity, the unmapped labels over all cities. What this module does is layout: it picks the
year, orders and groups rows for the tables, looks up names, and hands the charts their
values. The one thing it works out is a city's difference from the national mean, which is the
difference of the two figures printed beside it (formatting.difference), a rule of presentation
the methods text states. tests/test_report_is_a_view.py keeps it that way.

The text stage's marts (hot issues, their themes across cities, how tickets were placed in the
national taxonomy, the classifier) are views over its files: before its first analysis they
are empty, and a warehouse built before the stage has none; the pages then say the analysis
has not run rather than fail (marts.TextMarts).

The quality checks' outcomes are no mart: checks.py summarises their latest results from the
lake (results of the check runs, not figures of the warehouse).

Two editions come from one load: the public pages (results, methods and a summary of data
coverage and quality in plain Chinese) and the operator's appendix (`internal`: sources, files,
reject reasons, unmapped labels and every check by its name), kept apart so that the public
text holds no table names, file paths or check names. MARTS lists every table the report reads
and what for; the appendix prints it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from dagster_project.report import charts
from dagster_project.report.checks import (
    check_families,
    latest_checks,
    published_suites,
    quality_summary,
)
from dagster_project.report.formatting import difference, percent
from dagster_project.report.marts import (
    MARTS,
    AwardPlaces,
    AwardWinner,
    City,
    CityCategory,
    CityFiles,
    CityKpi,
    CityMix,
    HotIssue,
    HotlineYear,
    Marts,
    NationalCategory,
    NationalMix,
    ReportDataError,
    TicketPlacement,
    UnmappedLabel,
    monitoring_years,
    read_marts,
)
from dagster_project.report.model import (
    AwardSection,
    CityCharts,
    CityCoverage,
    CityLink,
    CityPage,
    HotTopics,
    Indicator,
    LineClass,
    ListedFile,
    ListedKpi,
    ListedSource,
    Mix,
    MixCoverage,
    MixShare,
    MonitoringResults,
    NationalCharts,
    NationalPage,
    OperatorAppendix,
    RankHistoryEntry,
    ReportData,
    ScoreComparison,
    ShortRegion,
    TextAnalysis,
    WeightSums,
)
from dagster_project.settings import PROJECT_ROOT

__all__ = [
    "AWARDS",
    "INDICATORS",
    "MARTS",
    "AwardLayout",
    "ReportData",
    "ReportDataError",
    "award_sections",
    "check_families",
    "indicator_config",
    "load_report",
    "monitoring_years",
    "national_hot_topics",
    "published_suites",
]

DBT_PROJECT_FILE = PROJECT_ROOT / "dbt" / "dbt_project.yml"

INDICATORS = (
    ("connect", "接通率"),
    ("time_to_human", "转人工时长"),
    ("etiquette", "接待礼仪"),
    ("communication", "沟通规范"),
    ("resolution", "问题解决"),
)
LINE_CLASSES = (("hot", "热线"), ("warm", "温线"), ("cold", "冷线"), ("dead", "死线"))
CHANNELS = {"phone": "电话", "web": "网站", "wechat": "微信", "app": "APP", "sms": "短信",
            "other": "其他"}
REQUEST_TYPES = {"consult": "咨询", "help": "求助", "complaint": "投诉", "report": "举报",
                 "suggestion": "建议", "praise": "感谢", "other": "其他"}
NATIONAL_SCOPE = "全国"
# The engines that build the marts (build_rules.build_engine), as the pages name them.
ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Apache Spark"}


@dataclass(frozen=True)
class AwardLayout:
    """How the report lists one award of var monitoring_awards (its rule is in the template)."""

    key: str
    # Heading of the column with the value the award was decided on; None when that value is
    # the total score, which the winners table shows anyway.
    measure_label: str | None = None
    # The measure is a change (printed with its sign) rather than a score.
    measure_is_change: bool = False


AWARDS = (
    AwardLayout("top_ten"),
    AwardLayout("regional_pioneer"),
    AwardLayout("fastest_riser", "较上年增幅", measure_is_change=True),
    AwardLayout("service_star", "礼仪与沟通平均分"),
)

Row = TypeVar("Row")
Key = TypeVar("Key", bound=Hashable)


def indicator_config() -> dict[str, Any]:
    """The project's default rules, as dbt_project.yml states them. The pages print the rules
    the build used (the mart build_rules), which a data root or `dbt build --vars` may set."""
    rules: dict[str, Any] = yaml.safe_load(DBT_PROJECT_FILE.read_text(encoding="utf-8"))["vars"]
    return rules


def _group(rows: Iterable[Row], key: Callable[[Row], Key]) -> dict[Key, list[Row]]:
    grouped: dict[Key, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return grouped


def _values(row: object) -> dict[str, Any]:
    """A row's fields by name, to lay it out with more fields (a ListedKpi from a CityKpi)."""
    return {f.name: getattr(row, f.name) for f in fields(row)}  # type: ignore[arg-type]


def award_sections(
    places: Sequence[AwardPlaces], winners: Sequence[AwardWinner], regions: Sequence[str] = ()
) -> tuple[AwardSection, ...]:
    """Every award of the year in report order, with its winners and, from
    monitoring_award_places, its places and where fewer hotlines qualified: `short` for a
    national award, and for 先锋奖 `short_regions`, listed in the order of `regions` (the
    regions as the page compares them), then the others by name.

    An award without winners (no 骏马奖 in a first monitoring year) is still listed, so that
    the report states its rule and that nobody qualified."""
    known = {a.key for a in AWARDS}
    unknown = {p.award_key for p in places} | {w.award_key for w in winners}
    if not unknown <= known:
        raise ReportDataError(
            f"awards in the marts ({sorted(unknown)}) differ from the awards the report "
            f"knows: {[a.key for a in AWARDS]}")
    position = {region: index for index, region in enumerate(regions)}
    sections = []
    for layout in AWARDS:
        scopes = [p for p in places if p.award_key == layout.key]
        national = next((p for p in scopes if p.award_scope == NATIONAL_SCOPE), None)
        listed = tuple(w for w in winners if w.award_key == layout.key)
        short_regions = sorted(
            (p for p in scopes if p.award_scope != NATIONAL_SCOPE and p.is_short),
            key=lambda p: (position.get(p.award_scope, len(position)), p.award_scope))
        sections.append(AwardSection(
            key=layout.key,
            measure_label=layout.measure_label,
            measure_is_change=layout.measure_is_change,
            places=scopes[0].places if scopes else None,
            winners=listed,
            short=national is not None and national.is_short,
            short_regions=tuple(ShortRegion(p.award_scope, p.winner_count)
                                for p in short_regions),
        ))
    return tuple(sections)


def national_hot_topics(rows: Sequence[NationalCategory]) -> HotTopics:
    """The year's rows of category_national_year laid out for the national page: the ranked
    classes by rank, then 未分类 and the classes without tickets; the top classes and the
    risers as the mart flags them."""
    ranked = sorted((r for r in rows if r.national_rank is not None),
                    key=lambda r: r.national_rank or 0)
    return HotTopics(
        mix=(*ranked, *(r for r in rows if r.national_rank is None)),
        top=tuple(r for r in ranked if r.is_top_category),
        risers=tuple(sorted((r for r in rows if r.is_fastest_riser),
                            key=lambda r: r.riser_rank or 0)),
        ticket_count=rows[0].year_ticket_count if rows else 0,
        has_prior=any(r.prior_year_ticket_count for r in rows),
    )


def _mix(rows: Sequence[CityMix] | Sequence[NationalMix], share: str) -> Mix:
    """Channel and request-type counts and shares (column `share` of the mart's rows) in the
    order of the enumerations, labelled in Chinese; a value without tickets has no row."""
    by_value = {(r.dimension, r.dimension_value): r for r in rows}

    def shares(dimension: str, labels: dict[str, str]) -> tuple[MixShare, ...]:
        listed = []
        for code, label in labels.items():
            row = by_value.get((dimension, code))
            listed.append(MixShare(label=label, ticket_count=row.ticket_count if row else 0,
                                   share=getattr(row, share) if row else None))
        return tuple(listed)

    return Mix(channel=shares("channel", CHANNELS),
               request_type=shares("request_type", REQUEST_TYPES))


def _mix_coverage(rows: Sequence[NationalMix]) -> dict[str, MixCoverage]:
    """Per dimension, how many of the year's cities give it and their share of the tickets."""
    return {r.dimension: MixCoverage(r.known_city_count, r.city_count, r.known_ticket_share)
            for r in rows}


def _city_coverage(
    city_files: Sequence[CityFiles], kpis_year: Sequence[CityKpi], city_names: dict[str, str],
    placements: dict[str, TicketPlacement],
) -> tuple[CityCoverage, ...]:
    """Per city with work-order files: its files (file_reconciliation_city) beside what its
    year's figures could not use (未分类 tickets and how many of them the text classifier
    placed, the rates its exports leave unknown), in the order of the ticket table: most
    tickets first, cities without the year's tickets last."""
    kpi_by_city = {k.city_code: k for k in kpis_year}
    order = {k.city_code: index for index, k in enumerate(kpis_year)}
    rows = []
    for files in sorted(city_files,
                        key=lambda f: (order.get(f.city_code, len(order)), f.city_code)):
        rows.append(CityCoverage(
            **_values(files),
            city_name=city_names.get(files.city_code, files.city_code),
            kpi=kpi_by_city.get(files.city_code),
            placement=placements.get(files.city_code),
        ))
    return tuple(rows)


def load_report(warehouse: Path, year: int, lake: Path | None = None) -> ReportData:
    """Everything the pages of `year` show, from one read-only pass over the marts (and the
    latest quality results in `lake`). A year with work orders but no test calls has pages
    too: they say it was not monitored. The rules printed are those the build used
    (`build_rules`)."""
    marts = read_marts(warehouse, year)
    config = marts.rules.rules
    city_rows = {c.city_code: c for c in marts.cities}
    city_names = {code: c.city_name or code for code, c in city_rows.items()}

    kpis_year = tuple(ListedKpi(**_values(k), city_name=city_names.get(k.city_code, k.city_code))
                      for k in marts.kpis if k.year == year)
    monitoring = _monitoring(marts, year)
    monitored = {r.city_code for r in monitoring.ranking}
    with_tickets = {k.city_code for k in kpis_year}
    page_codes = sorted(monitored | with_tickets)

    hot = national_hot_topics(marts.national_categories)
    quality = latest_checks(lake)
    suites = published_suites()
    text = marts.text
    text_analysis = TextAnalysis(present=text.present, analysed=text.analysed,
                                 classifier=text.classifier,
                                 national_placement=text.national_placement)
    placements = {p.city_code: p for p in text.placements}
    city_coverage = _city_coverage(marts.city_files, kpis_year, city_names, placements)
    index = NationalPage(
        **_values(monitoring),
        year=year,
        tickets=kpis_year,
        ticket_totals=marts.national_tickets,
        hot_topics=hot,
        mix=_mix(marts.national_mix, "share"),
        mix_coverage=_mix_coverage(marts.national_mix),
        text_analysis=text_analysis,
        hot_issue_themes=text.themes,
        entity_summary=marts.entities,
        data_coverage=marts.coverage,
        city_coverage=city_coverage,
        check_families=check_families(quality, suites),
        has_quality_results=bool(quality),
        config=config,
        weight_sums=WeightSums(marts.rules.monitoring_weight_sum,
                               marts.rules.three_rate_weight_sum),
        award_keys=tuple(a.key for a in AWARDS),
        indicator_labels=dict(INDICATORS),
        request_type_labels=REQUEST_TYPES,
        city_pages=tuple(
            CityLink(city_code=c, city_name=city_names.get(c, c),
                     hotline_name=city.hotline_name or c, province=city.province,
                     region=city.region, monitored=c in monitored, has_tickets=c in with_tickets)
            for c in page_codes for city in [city_rows.get(c, City(c))]),
        page_codes=frozenset(page_codes),
        charts=_national_charts(monitoring, hot, year),
    )

    history = _group(marts.hotlines, lambda r: r.city_code)
    hotline_count_by_year = {n.year: n.hotline_count for n in marts.national}
    kpi_history = _group(marts.kpis, lambda k: k.city_code)
    categories_by_city = _group(marts.categories, lambda c: c.city_code)
    mix_by_city = _group(marts.mix, lambda m: m.city_code)
    unmapped_by_city = _group(marts.unmapped, lambda u: u.city_code)
    coverage_by_city = {row.city_code: row for row in city_coverage}
    issues_by_city = _group(text.hot_issues, lambda i: i.city_code)
    cities = {
        code: _city_page(
            code=code, year=year, index=index, city=city_rows.get(code, City(code)),
            history=history.get(code, []), hotline_count_by_year=hotline_count_by_year,
            kpis=kpi_history.get(code, []), categories=categories_by_city.get(code, []),
            mix=mix_by_city.get(code, []), coverage=coverage_by_city.get(code),
            unmapped=unmapped_by_city.get(code, []), text_analysis=text_analysis,
            hot_issues=issues_by_city.get(code, []), placement=placements.get(code))
        for code in page_codes
    }

    source_city = {s.source_id: s.city_code for s in marts.sources}
    internal = OperatorAppendix(
        year=year,
        sources=tuple(ListedSource(**_values(s), city=city_names.get(s.city_code, s.city_code)
                                   if s.city_code else ("全部监测热线" if s.entity == "test_calls"
                                                        else "—"))
                      for s in marts.sources),
        entity_summary=marts.entities,
        files=tuple(ListedFile(**_values(f), city_code=source_city.get(f.source_id),
                               city_name=city_names.get(source_city.get(f.source_id) or "", ""))
                    for f in marts.files),
        rejects=marts.rejects,
        unmapped_by_label=marts.unmapped_totals,
        quality=quality,
        quality_summary=quality_summary(quality),
        suite_titles={name: s.meta.public.title for name, s in suites.items()},
        marts=MARTS,
        page_codes=index.page_codes,
        text_analysis=text_analysis,
    )
    return ReportData(year=year, index=index, cities=cities, internal=internal,
                      build_engine=ENGINE_NAMES.get(marts.rules.build_engine,
                                                    marts.rules.build_engine))


def _monitoring(marts: Marts, year: int) -> MonitoringResults:
    """The monitoring results of the year (test calls); empty when the evaluator's calls of
    the year are not in the warehouse (`monitored_year` false), so the pages say so."""
    summary = marts.national[-1] if marts.national and marts.national[-1].year == year else None
    # 先锋奖 is per region of the year's hotlines, listed as the regions are compared.
    awards = award_sections(marts.award_places, marts.awards,
                            [r.region for r in marts.regions])
    if summary is None:
        return MonitoringResults(
            monitored_year=False, national=None, previous_national=None, indicators=(),
            line_classes=(), ranking=(), awards=awards, awards_by_city={}, top_ten_cities=(),
            regions=(), hollow_heat=())
    previous = next((n for n in marts.national if n.year == year - 1), None)
    ranking = tuple(r for r in marts.hotlines if r.year == year)
    names_by_city: dict[str, list[str]] = defaultdict(list)
    for award in awards:
        for winner in award.winners:
            names_by_city[winner.city_code].append(winner.award_name)
    top_ten = next(a for a in awards if a.key == "top_ten")
    top_ten_cities = tuple(sorted(w.city_code for w in top_ten.winners))

    indicators = tuple(
        Indicator(key=key, label=label, mean=getattr(summary, f"mean_{key}_score"),
                  change=getattr(summary, f"mean_{key}_score_change"),
                  median=getattr(summary, f"median_{key}_score"),
                  min=getattr(summary, f"min_{key}_score"),
                  max=getattr(summary, f"max_{key}_score"))
        for key, label in INDICATORS)
    line_classes = tuple(
        LineClass(key=key, label=label, count=getattr(summary, f"{key}_line_count"),
                  share=getattr(summary, f"{key}_line_share"),
                  previous=getattr(previous, f"{key}_line_count") if previous else None)
        for key, label in LINE_CLASSES)

    # The mart decides who is on the 虚热 list (var hollow_heat) and in which place.
    hollow = tuple(sorted((r for r in ranking if r.hollow_heat_place is not None),
                          key=lambda r: r.hollow_heat_place or 0))
    return MonitoringResults(
        monitored_year=True,
        national=summary,
        previous_national=previous,
        indicators=indicators,
        line_classes=line_classes,
        ranking=ranking,
        awards=awards,
        awards_by_city={code: tuple(names) for code, names in names_by_city.items()},
        top_ten_cities=top_ten_cities,
        regions=marts.regions,
        hollow_heat=hollow,
    )


def _national_charts(monitoring: MonitoringResults, hot: HotTopics, year: int) -> NationalCharts:
    """The national page's charts: geometry of the rows laid out, no figure of their own."""
    ranking, hollow = monitoring.ranking, monitoring.hollow_heat
    compared = [r for r in ranking if r.previous_total_score is not None]
    return NationalCharts(
        distributions=tuple(
            charts.histogram(
                [score for r in ranking if (score := getattr(r, f"{i.key}_score")) is not None],
                title=i.label, mean=i.mean)
            for i in monitoring.indicators),
        score_vs_previous=charts.scatter(
            [charts.Point(r.hotline_name or r.city_code, r.previous_total_score or 0.0,
                          r.total_score or 0.0, r.city_code in monitoring.top_ten_cities)
             for r in compared],
            title=f"{year}年与{year - 1}年监测总分",
            x_label=f"{year - 1}年总分", y_label=f"{year}年总分",
        ) if compared else None,
        regions=charts.horizontal_bars(
            [charts.Bar(f"{r.region}（{r.hotline_count}）", r.mean_total_score or 0.0)
             for r in monitoring.regions],
            title=f"{year}年各区域热线平均总分", label_width=110)
        if monitoring.monitored_year else None,
        hollow_heat=charts.grouped_bars(
            [r.hotline_name or r.city_code for r in hollow],
            [charts.Series("接通率得分", [r.connect_score for r in hollow], charts.ACCENT),
             charts.Series("问题解决得分", [r.resolution_score for r in hollow],
                           charts.HIGHLIGHT)],
            title=f"{year}年虚热差距最大的热线：接通率得分与问题解决得分", label_width=120)
        if hollow else None,
        hot_topics=charts.horizontal_bars(
            [charts.Bar(e.category_name, e.share or 0.0, e.is_top_category)
             for e in hot.mix if e.ticket_count],
            title=f"{year}年全国诉求分类构成",
            max_value=charts.share_scale(e.share or 0.0 for e in hot.mix),
            label_width=120, fmt=percent),
    )


def _city_page(
    *,
    code: str,
    year: int,
    index: NationalPage,
    city: City,
    history: Sequence[HotlineYear],
    hotline_count_by_year: dict[int, int],
    kpis: Sequence[CityKpi],
    categories: Sequence[CityCategory],
    mix: Sequence[CityMix],
    coverage: CityCoverage | None,
    unmapped: Sequence[UnmappedLabel],
    text_analysis: TextAnalysis,
    hot_issues: Sequence[HotIssue],
    placement: TicketPlacement | None,
) -> CityPage:
    national = index.national
    hotline = next((r for r in history if r.year == year), None)
    comparison: tuple[ScoreComparison, ...] = ()
    if hotline is not None and national is not None:
        comparison = tuple(
            # The difference of the two figures printed beside it.
            ScoreComparison(label=label, city=own, national=mean, difference=difference(own, mean))
            for key, label in (("total", "总得分"), *INDICATORS)
            for own, mean in [(getattr(hotline, f"{key}_score"),
                               getattr(national, f"mean_{key}_score"))])
    rank_history = tuple(
        RankHistoryEntry(year=r.year, rank=r.national_rank, of=hotline_count_by_year.get(r.year),
                         total_score=r.total_score, total_score_change=r.total_score_change,
                         rank_change=r.rank_change, line_class=r.line_class,
                         connect_rate=r.connect_rate)
        for r in sorted(history, key=lambda r: r.year))
    kpi = next((k for k in kpis if k.year == year), None)
    ranked = sorted((c for c in categories if c.rank_in_city is not None),
                    key=lambda c: (c.rank_in_city or 0, c.category_code))
    unranked = [c for c in categories if c.rank_in_city is None and c.ticket_count]
    risers = sorted((c for c in categories if c.is_fastest_riser),
                    key=lambda c: (c.riser_rank or 0, c.category_code))
    name = city.hotline_name or city.city_name or code
    comparison_chart = rank_chart = None
    if hotline is not None:
        comparison_chart = charts.grouped_bars(
            [c.label for c in comparison],
            [charts.Series(name, [c.city for c in comparison], charts.ACCENT),
             charts.Series("全国平均", [c.national for c in comparison], charts.NATIONAL)],
            title=f"{name} {year}年各指标得分与全国平均",
        )
    if rank_history:
        rank_chart = charts.rank_history(
            [(r.year, r.rank, r.of or r.rank) for r in rank_history],
            title=f"{name}历年全国排名",
        )
    return CityPage(
        year=year,
        city=city,
        name=name,
        hotline=hotline,
        national=national,
        gap_difference=difference(hotline.hollow_heat_gap, national.mean_hollow_heat_gap)
        if hotline is not None and national is not None else None,
        awards=index.awards_by_city.get(code, ()),
        comparison=comparison,
        rank_history=rank_history,
        kpi=kpi,
        kpi_history=tuple(sorted(kpis, key=lambda k: k.year)),
        ticket_totals=index.ticket_totals,
        categories=(*ranked, *unranked),
        risers=tuple(risers),
        mix=_mix(mix, "share_of_city") if mix else None,
        unmapped=tuple(unmapped),
        coverage=coverage,
        config=index.config,
        charts=CityCharts(comparison=comparison_chart, rank_history=rank_chart),
        text_analysis=text_analysis,
        hot_issues=tuple(hot_issues),
        placement=placement,
    )
