"""What the pages of a year show, typed: the national page, a page per city and the operator's
appendix, each made of sections whose figures are rows of the marts (marts.py) or taken from
them as they are.

The templates read these objects' attributes; the Jinja environment is strict, so a field a
template misspells fails the rendering instead of printing nothing. Objects are frozen: a
page is laid out once, by report.data.load_report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from dagster_project.report.checks import CheckFamily, CheckResult, SuiteSummary
from dagster_project.report.marts import (
    AwardWinner,
    City,
    CityCategory,
    CityFiles,
    CityKpi,
    DataCoverage,
    EntityFiles,
    FileRow,
    HotIssue,
    HotIssueTheme,
    HotlineYear,
    NationalCategory,
    NationalKpi,
    NationalMonitoring,
    NationalPlacement,
    RegionYear,
    RejectReason,
    SourceFiles,
    TextClassifier,
    TicketPlacement,
    UnmappedLabel,
    UnmappedLabelTotal,
)


# --- national page -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Indicator:
    """An indicator's national figures of the year (monitoring_national_year)."""

    key: str
    label: str
    mean: float | None
    change: float | None
    median: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class LineClass:
    """A line class: its hotlines this year and last (monitoring_national_year)."""

    key: str
    label: str
    count: int
    share: float | None
    previous: int | None


@dataclass(frozen=True)
class ShortRegion:
    """A region where 先锋奖 named fewer winners than its places."""

    region: str
    winner_count: int


@dataclass(frozen=True)
class AwardSection:
    """An award as the page lists it: its winners and, where fewer qualified than its places,
    the shortfall (national awards: `short`; 先锋奖: `short_regions`). Its name is a rule
    (var monitoring_awards): the page prints it from the rules with the award's rule."""

    key: str
    measure_label: str | None
    measure_is_change: bool
    places: int | None
    winners: tuple[AwardWinner, ...]
    short: bool
    short_regions: tuple[ShortRegion, ...]


@dataclass(frozen=True)
class MixShare:
    """A channel or request type with its share."""

    label: str
    ticket_count: int
    share: float | None


@dataclass(frozen=True)
class Mix:
    """Channels and request types in the order of their enumerations, labelled in Chinese."""

    channel: tuple[MixShare, ...]
    request_type: tuple[MixShare, ...]


@dataclass(frozen=True)
class MixCoverage:
    """How many of the year's cities give a dimension, and their share of the tickets."""

    known_city_count: int
    city_count: int
    known_ticket_share: float | None


@dataclass(frozen=True)
class HotTopics:
    """The national classes of the year: the ranked ones by rank, then 未分类 and those
    without tickets; the top classes and the fastest risers as the mart flags them."""

    mix: tuple[NationalCategory, ...]
    top: tuple[NationalCategory, ...]
    risers: tuple[NationalCategory, ...]
    ticket_count: int
    has_prior: bool


@dataclass(frozen=True)
class ListedKpi(CityKpi):
    """A city's row of the ticket table."""

    city_name: str


@dataclass(frozen=True)
class CityCoverage(CityFiles):
    """A city's files (all years) beside what its year's figures could not use."""

    city_name: str
    kpi: CityKpi | None  # the year's figures; None for a city without the year's tickets
    # How its tickets of the year were placed in the national taxonomy (mapping, the text
    # classifier, not at all); None without the year's tickets or the text stage's marts.
    placement: TicketPlacement | None


@dataclass(frozen=True)
class TextAnalysis:
    """What the pages say about the text analysis (classifier and hot issues): whether the
    warehouse has its marts (`present`; not one built before the text stage), whether it has
    run (`analysed`: text_classifier has its row), and that row."""

    present: bool
    analysed: bool
    classifier: TextClassifier | None
    national_placement: NationalPlacement | None = None  # the year's, over every city


@dataclass(frozen=True)
class CityLink:
    """An entry of the national page's list of city pages."""

    city_code: str
    city_name: str
    hotline_name: str
    province: str | None
    region: str | None
    monitored: bool
    has_tickets: bool


@dataclass(frozen=True)
class WeightSums:
    """The sums of the weights the build used (build_rules), printed beside the weights."""

    monitoring_weight_sum: float
    three_rate_weight_sum: float


@dataclass(frozen=True)
class NationalCharts:
    distributions: tuple[Markup, ...]
    score_vs_previous: Markup | None
    regions: Markup | None
    hollow_heat: Markup | None
    hot_topics: Markup


@dataclass(frozen=True)
class MonitoringResults:
    """The monitoring results of the year (test calls). Empty when the evaluator's calls of
    the year are not in the warehouse (`monitored_year` false): the page then says so."""

    monitored_year: bool
    national: NationalMonitoring | None
    previous_national: NationalMonitoring | None
    indicators: tuple[Indicator, ...]
    line_classes: tuple[LineClass, ...]
    ranking: tuple[HotlineYear, ...]
    awards: tuple[AwardSection, ...]
    awards_by_city: Mapping[str, tuple[str, ...]]
    top_ten_cities: tuple[str, ...]
    regions: tuple[RegionYear, ...]
    hollow_heat: tuple[HotlineYear, ...]


@dataclass(frozen=True)
class NationalPage(MonitoringResults):
    """The national page (site/<year>/index.html and the PDF): the monitoring results, the
    work orders, data coverage and quality, the rules."""

    year: int
    # the work orders
    tickets: tuple[ListedKpi, ...]
    ticket_totals: NationalKpi | None
    hot_topics: HotTopics
    mix: Mix
    mix_coverage: Mapping[str, MixCoverage]
    # the text analysis: the themes of hot issues spanning the most cities, the classifier
    text_analysis: TextAnalysis
    hot_issue_themes: tuple[HotIssueTheme, ...]
    # data coverage and quality
    entity_summary: tuple[EntityFiles, ...]
    data_coverage: DataCoverage
    city_coverage: tuple[CityCoverage, ...]
    check_families: tuple[CheckFamily, ...]
    has_quality_results: bool
    # the rules printed, and what the page links
    config: Mapping[str, Any]
    weight_sums: WeightSums
    award_keys: tuple[str, ...]
    indicator_labels: Mapping[str, str]
    request_type_labels: Mapping[str, str]
    city_pages: tuple[CityLink, ...]
    page_codes: frozenset[str]
    charts: NationalCharts


# --- city page ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreComparison:
    """An indicator of the hotline beside the national mean, and the difference of the two
    figures printed."""

    label: str
    city: float | None
    national: float | None
    difference: float | None


@dataclass(frozen=True)
class RankHistoryEntry:
    year: int
    rank: int
    of: int | None  # hotlines monitored that year
    total_score: float | None
    total_score_change: float | None
    rank_change: int | None
    line_class: str | None
    connect_rate: float | None


@dataclass(frozen=True)
class CityCharts:
    comparison: Markup | None
    rank_history: Markup | None


@dataclass(frozen=True)
class CityPage:
    """A city's page (site/<year>/city/<code>.html): its hotline's scores and history, its
    work orders, hot topics and files."""

    year: int
    city: City
    name: str
    hotline: HotlineYear | None
    national: NationalMonitoring | None
    gap_difference: float | None
    awards: tuple[str, ...]
    comparison: tuple[ScoreComparison, ...]
    rank_history: tuple[RankHistoryEntry, ...]
    kpi: CityKpi | None
    kpi_history: tuple[CityKpi, ...]
    ticket_totals: NationalKpi | None
    categories: tuple[CityCategory, ...]
    risers: tuple[CityCategory, ...]
    mix: Mix | None
    unmapped: tuple[UnmappedLabel, ...]
    coverage: CityCoverage | None
    config: Mapping[str, Any]
    charts: CityCharts
    # the text analysis: its listed hot issues of the year (by month and rank), how its
    # tickets were placed in the national taxonomy
    text_analysis: TextAnalysis
    hot_issues: tuple[HotIssue, ...]
    placement: TicketPlacement | None


# --- operator's appendix -----------------------------------------------------------------------
@dataclass(frozen=True)
class ListedSource(SourceFiles):
    """A source of the appendix, with the name of its city (or what it covers)."""

    city: str


@dataclass(frozen=True)
class ListedFile(FileRow):
    """A file of the appendix, with its source's city."""

    city_code: str | None
    city_name: str


@dataclass(frozen=True)
class OperatorAppendix:
    """site/<year>/internal/index.html: what the public pages leave out (sources, files,
    reject reasons, unmapped labels, every check by its name)."""

    year: int
    sources: tuple[ListedSource, ...]
    entity_summary: tuple[EntityFiles, ...]
    files: tuple[ListedFile, ...]
    rejects: tuple[RejectReason, ...]
    unmapped_by_label: tuple[UnmappedLabelTotal, ...]
    quality: tuple[CheckResult, ...]
    quality_summary: tuple[SuiteSummary, ...]
    suite_titles: Mapping[str, str]
    marts: tuple[tuple[str, str], ...]
    page_codes: frozenset[str]
    text_analysis: TextAnalysis


@dataclass(frozen=True)
class ReportData:
    """The pages of one year: the national page, one per city by city code, the appendix."""

    year: int
    index: NationalPage
    cities: Mapping[str, CityPage]
    internal: OperatorAppendix
    # The engine that computed the marts, as the pages' footer names it.
    build_engine: str
