"""The rows of every mart the report reads, typed, and the one query per mart that reads them.

Each row class names the columns the report takes from its mart: the query selects exactly
those (`SELECT <fields> FROM <mart>`), so a column gone from a mart fails the read, and a page
asking for a field the class does not have fails at render time. The figures are the marts'
(dbt computes and tests them); a query only picks the year, filters and orders.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import duckdb

# Every table the report reads, with what it takes from it: printed in the operator's appendix.
MARTS = (
    ("monitoring_national_year",
     "全国概况：监测热线数、拨测次数、全国接通率、各指标全国均值、中位数、最低与最高分及较上年变化、"
     "线路类别数与占比、较上年提高与下降的热线数、全国平均虚热差距"),
    ("monitoring_hotline_year", "热线排名、各指标得分、线路类别、较上年变化、虚热差距与虚热名单；"
                                "指标分布与城市页的排名历史、拨测次数与拨测文件数"),
    ("monitoring_region_year",
     "区域比较：各区域热线数、平均总分及其变化、十佳与热线数、区域最佳热线；"
     "先锋奖名额未满的区域按此排列"),
    ("monitoring_awards", "各奖项获奖热线及评选依据值"),
    ("monitoring_award_places", "各奖项的名额与获奖数：名额未满的奖项与区域（先锋奖按区域）"),
    ("kpi_city_year", "各城市工单办理指标"),
    ("kpi_national_year", "全国工单办理指标（“合计”行）及各指标覆盖的城市数与工单占比"),
    ("category_city_year", "各城市诉求分类构成与热点诉求"),
    ("category_national_year", "全国诉求分类构成与热点诉求（各城市数量相加后按同一规则选出）"),
    ("ticket_mix_city_year", "各城市受理渠道与诉求类型构成"),
    ("ticket_mix_national_year", "全国受理渠道与诉求类型构成及其覆盖的城市数与工单占比"),
    ("dim_city", "城市名称、省份、区域与人口"),
    ("category_unmapped_labels", "各城市未能归入全国分类的分类标签"),
    ("category_unmapped_label_totals",
     "未能归入全国分类的标签在全部城市的合计：使用城市数与工单数"),
    ("file_reconciliation",
     "各文件：读取、拒收、合计行、写入、被更新版本替代（去重）、进入事实表的行数"),
    ("file_reconciliation_source", "各数据来源的文件合计及其所属城市"),
    ("file_reconciliation_city", "各城市工单文件的合计（数据覆盖表与城市页）"),
    ("file_reconciliation_entity", "工单与拨测两类数据的文件合计"),
    ("data_coverage",
     "全部文件中读取失败、缺少列与核对不平衡的文件数，未归入全国分类的标签数与工单数"),
    ("file_reject_reasons", "拒收原因：各文件按原因与字段的拒收行数及首个行号"),
    ("build_rules", "本次计算所用的规则：权重、阈值、时限与评奖规则（本节所列数值）及权重之和"),
    # The text stage's views (optional: a warehouse built before the text stage lacks them).
    ("hot_issues", "城市页的热点议题：各城市各月按热度列出的议题"),
    ("hot_issue_themes_year", "跨城市热点议题：涉及城市最多的议题主题及其覆盖的城市数"),
    ("ticket_placement_city_year",
     "各城市工单归入全国分类的方式：分类对照表、文本分类模型、未分类（数据覆盖表与城市页）"),
    ("ticket_placement_national_year", "全国工单归入全国分类的方式及其城市覆盖（方法说明）"),
    ("text_classifier", "文本分类模型：状态、交叉验证宏平均 F1、训练工单数、采用概率阈值、版本，"
     "以及热点议题的识别规则（方法说明所列数值）"),
)
# Themes of hot issues the national page lists: the first by the cities they span.
THEMES_LISTED = 10


class ReportDataError(RuntimeError):
    """The marts hold nothing to report for the requested year."""


# --- monitoring (test calls) -------------------------------------------------------------------
@dataclass(frozen=True)
class NationalMonitoring:
    """A year of monitoring_national_year."""

    year: int
    hotline_count: int
    call_count: int
    connected_call_count: int
    connect_rate: float | None
    mean_total_score: float | None
    mean_connect_score: float | None
    mean_time_to_human_score: float | None
    mean_etiquette_score: float | None
    mean_communication_score: float | None
    mean_resolution_score: float | None
    mean_total_score_change: float | None
    mean_connect_score_change: float | None
    mean_time_to_human_score_change: float | None
    mean_etiquette_score_change: float | None
    mean_communication_score_change: float | None
    mean_resolution_score_change: float | None
    median_connect_score: float | None
    min_connect_score: float | None
    max_connect_score: float | None
    median_time_to_human_score: float | None
    min_time_to_human_score: float | None
    max_time_to_human_score: float | None
    median_etiquette_score: float | None
    min_etiquette_score: float | None
    max_etiquette_score: float | None
    median_communication_score: float | None
    min_communication_score: float | None
    max_communication_score: float | None
    median_resolution_score: float | None
    min_resolution_score: float | None
    max_resolution_score: float | None
    hot_line_count: int
    warm_line_count: int
    cold_line_count: int
    dead_line_count: int
    hot_line_share: float | None
    warm_line_share: float | None
    cold_line_share: float | None
    dead_line_share: float | None
    compared_hotline_count: int
    improved_hotline_count: int | None
    declined_hotline_count: int | None
    new_hotline_count: int
    mean_hollow_heat_gap: float | None


@dataclass(frozen=True)
class HotlineYear:
    """A hotline's year of monitoring_hotline_year: a row of the ranking."""

    year: int
    city_code: str
    hotline_name: str | None
    region: str | None
    call_count: int
    connected_call_count: int
    call_file_count: int
    connect_rate: float | None
    mean_seconds_to_human: float | None
    connect_score: float | None
    time_to_human_score: float | None
    etiquette_score: float | None
    communication_score: float | None
    resolution_score: float | None
    total_score: float | None
    national_rank: int
    line_class: str | None
    total_score_change: float | None
    rank_change: int | None
    hollow_heat_gap: float | None
    previous_total_score: float | None
    hollow_heat_place: int | None


@dataclass(frozen=True)
class RegionYear:
    """A region's year of monitoring_region_year."""

    region: str
    hotline_count: int
    mean_total_score: float | None
    mean_total_score_change: float | None
    top_ten_count: int
    hot_line_count: int
    best_city_code: str
    best_hotline_name: str | None
    best_national_rank: int


@dataclass(frozen=True)
class AwardWinner:
    """A winner of monitoring_awards."""

    award_key: str
    award_name: str
    award_scope: str | None
    award_place: int
    city_code: str
    hotline_name: str | None
    region: str | None
    national_rank: int | None
    total_score: float | None
    award_measure: float | None


@dataclass(frozen=True)
class AwardPlaces:
    """An award's places in a scope (全国, or a region for 先锋奖): monitoring_award_places."""

    award_key: str
    award_name: str
    award_scope: str
    places: int
    winner_count: int
    is_short: bool


# --- work orders -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CityKpi:
    """A city's year of kpi_city_year."""

    city_code: str
    year: int
    cutoff_at: dt.datetime | None
    ticket_count: int
    tickets_per_10k_residents: float | None
    direct_resolved_known_count: int | None
    direct_resolved_count: int | None
    direct_resolved_rate: float | None
    response_measured_count: int | None
    responded_within_sla_count: int | None
    response_rate: float | None
    due_by_cutoff_count: int | None
    closed_on_time_count: int | None
    on_time_close_rate: float | None
    callback_count: int | None
    resolved_count: int | None
    resolution_rate: float | None
    rated_count: int | None
    satisfied_count: int | None
    satisfaction_rate: float | None
    known_caller_count: int | None
    account_caller_count: int | None
    repeat_request_count: int | None
    repeat_request_rate: float | None
    three_rate_score: float | None
    closed_count: int | None
    median_hours_to_close: float | None
    p90_hours_to_close: float | None
    open_backlog_count: int | None
    withdrawn_count: int | None
    impossible_record_count: int | None
    unmapped_category_count: int | None


@dataclass(frozen=True)
class NationalKpi:
    """A year of kpi_national_year: the "合计" row and the coverage of each rate."""

    year: int
    city_count: int
    ticket_count: int
    population_city_count: int
    tickets_per_10k_residents: float | None
    direct_resolved_rate: float | None
    direct_resolved_rate_city_count: int
    direct_resolved_rate_ticket_share: float | None
    response_rate: float | None
    response_rate_city_count: int
    response_rate_ticket_share: float | None
    on_time_close_rate: float | None
    on_time_close_rate_city_count: int
    on_time_close_rate_ticket_share: float | None
    resolution_rate: float | None
    resolution_rate_city_count: int
    resolution_rate_ticket_share: float | None
    satisfaction_rate: float | None
    satisfaction_rate_city_count: int
    satisfaction_rate_ticket_share: float | None
    repeat_request_rate: float | None
    repeat_request_rate_city_count: int
    repeat_request_rate_ticket_share: float | None
    three_rate_score: float | None
    median_hours_to_close: float | None
    p90_hours_to_close: float | None
    open_backlog_city_count: int
    open_backlog_count: int | None


@dataclass(frozen=True)
class CityCategory:
    """A national class in a city's year: category_city_year."""

    city_code: str
    category_code: str
    category_name: str
    ticket_count: int
    share_of_city: float | None
    rank_in_city: int | None
    prior_year_ticket_count: int | None
    ticket_count_change_rate: float | None
    share_of_city_change: float | None
    riser_rank: int | None
    is_top_category: bool
    is_fastest_riser: bool
    is_hot_topic: bool


@dataclass(frozen=True)
class NationalCategory:
    """A national class in the year: category_national_year."""

    category_code: str
    category_name: str
    ticket_count: int
    year_ticket_count: int
    share: float | None
    national_rank: int | None
    comparable_ticket_count: int | None
    prior_year_ticket_count: int | None
    ticket_count_change_rate: float | None
    share_change: float | None
    top_city_count: int | None
    riser_rank: int | None
    is_top_category: bool
    is_fastest_riser: bool


@dataclass(frozen=True)
class CityMix:
    """A channel or request type in a city's year: ticket_mix_city_year."""

    city_code: str
    dimension: str
    dimension_value: str
    ticket_count: int
    share_of_city: float | None


@dataclass(frozen=True)
class NationalMix:
    """A channel or request type in the year, with its coverage: ticket_mix_national_year."""

    dimension: str
    dimension_value: str
    ticket_count: int
    share: float | None
    known_city_count: int
    city_count: int
    known_ticket_share: float | None


@dataclass(frozen=True)
class City:
    """A city of dim_city."""

    city_code: str
    city_name: str | None = None
    hotline_name: str | None = None
    province: str | None = None
    region: str | None = None
    population: int | None = None


@dataclass(frozen=True)
class UnmappedLabel:
    """A label of a city that no mapping places: category_unmapped_labels."""

    city_code: str
    source_label: str | None
    ticket_count: int
    share_of_city_tickets: float | None
    example_category: str | None


@dataclass(frozen=True)
class UnmappedLabelTotal:
    """An unmapped label over all cities: category_unmapped_label_totals."""

    source_label: str | None
    city_count: int
    ticket_count: int
    example_category: str | None


# --- files -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileRow:
    """A landing file of file_reconciliation."""

    source_id: str
    entity: str
    source_file: str
    file_status: str
    rows_read: int | None
    rows_rejected: int | None
    footer_rows: int | None
    rows_written: int | None
    rows_superseded: int | None
    rows_in_facts: int | None
    is_balanced: bool
    missing_columns: str | None
    unexpected_columns: str | None
    error_message: str | None


@dataclass(frozen=True)
class FileTotals:
    """Landing files added up: the columns file_reconciliation_source, _city and _entity
    share."""

    file_count: int
    failed_file_count: int
    rows_read: int
    rows_rejected: int
    footer_rows: int
    rows_written: int
    rows_superseded: int | None
    rows_in_facts: int | None
    is_balanced: bool


@dataclass(frozen=True)
class SourceFiles(FileTotals):
    """A source's files: file_reconciliation_source."""

    source_id: str
    entity: str
    city_code: str | None


@dataclass(frozen=True)
class CityFiles(FileTotals):
    """A city's tickets files: file_reconciliation_city."""

    city_code: str
    source_count: int


@dataclass(frozen=True)
class EntityFiles(FileTotals):
    """The files of an entity (tickets, test_calls): file_reconciliation_entity."""

    entity: str
    source_count: int


@dataclass(frozen=True)
class DataCoverage:
    """The one row of data_coverage."""

    file_count: int
    failed_file_count: int
    partial_file_count: int
    unbalanced_file_count: int
    unmapped_label_count: int
    unmapped_ticket_count: int


@dataclass(frozen=True)
class RejectReason:
    """A reason rows of a file were rejected: file_reject_reasons."""

    source_id: str
    source_file: str
    reject_reason: str
    rejected_field: str | None
    rejected_row_count: int
    first_source_row: int | None


@dataclass(frozen=True)
class BuildRules:
    """build_rules: the rules the marts were computed with, and the sums of the weights."""

    rules_json: str
    monitoring_weight_sum: float
    three_rate_weight_sum: float
    build_engine: str

    @property
    def rules(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.rules_json)
        return parsed


# --- text analysis -----------------------------------------------------------------------------
@dataclass(frozen=True)
class HotIssue:
    """A listed hot issue (热点议题) of a city in the year: hot_issues."""

    city_code: str
    listed_month: int
    district: str | None
    first_day: dt.date
    last_day: dt.date
    tickets: int
    active_days: int
    growth: float | None
    heat: float | None
    rank_in_city_month: int
    representative_title: str | None
    representative_text: str | None
    category_name: str | None
    category_share: float | None


@dataclass(frozen=True)
class HotIssueTheme:
    """A theme of hot issues of several cities in the year: hot_issue_themes_year."""

    theme_rank: int
    theme_label: str | None
    cities: int
    cities_with_tickets: int | None
    city_names: str | None
    issues: int
    tickets: int
    max_heat: float | None
    category_name: str | None


@dataclass(frozen=True)
class Placement:
    """How tickets were placed in the national taxonomy: by mapping, by the classifier, not."""

    tickets: int
    placed_by_mapping: int
    placed_by_model: int
    not_placed: int
    placed_by_mapping_share: float | None
    placed_by_model_share: float | None
    not_placed_share: float | None


@dataclass(frozen=True)
class TicketPlacement(Placement):
    """A city's tickets of the year: ticket_placement_city_year."""

    city_code: str


@dataclass(frozen=True)
class NationalPlacement(Placement):
    """The year's tickets of every city: ticket_placement_national_year."""

    cities_with_tickets: int


@dataclass(frozen=True)
class TextClassifier:
    """The taxonomy classifier of the latest text analysis: the one row of text_classifier."""

    model_version: str | None
    status: str
    reason: str | None
    labelled_tickets: int
    training_tickets: int
    classes: int
    cv_folds: int | None
    cv_macro_f1: float | None
    min_confidence: float | None
    unclassified_tickets: int
    placed_by_model: int
    analysed_at: dt.datetime | None
    settings_json: str | None

    @property
    def settings(self) -> dict[str, Any]:
        """The text stage's settings in effect (classifier, hot_issues); {} when not known
        (a file an older analysis wrote)."""
        if not self.settings_json:
            return {}
        parsed = json.loads(self.settings_json)
        return parsed if isinstance(parsed, dict) else {}

    def hot_issue_rule(self, key: str) -> Any:
        """A value of the hot issues' settings (heat.* as heat_*), or None when not known."""
        rules = self.settings.get("hot_issues", {})
        if key.startswith("heat_"):
            return rules.get("heat", {}).get(key.removeprefix("heat_"))
        return rules.get(key)


@dataclass(frozen=True)
class TextMarts:
    """What the text stage found, for the year. `present`: the warehouse has the text
    stage's marts (a warehouse built before the stage has not); `classifier` is None until
    the first analysis, whose row it is."""

    present: bool
    classifier: TextClassifier | None
    hot_issues: tuple[HotIssue, ...]  # the listed issues, by city, month and rank
    themes: tuple[HotIssueTheme, ...]  # of several cities, the first THEMES_LISTED by rank
    placements: tuple[TicketPlacement, ...]  # by city
    national_placement: NationalPlacement | None = None

    @property
    def analysed(self) -> bool:
        """Whether the text analysis has run (and its marts are there)."""
        return self.present and self.classifier is not None


NO_TEXT_ANALYSIS = TextMarts(present=False, classifier=None, hot_issues=(), themes=(),
                             placements=(), national_placement=None)


# --- reading -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Marts:
    """The rows of every mart the report reads, for one year (and the years before it)."""

    national: tuple[NationalMonitoring, ...]  # the year and those before it, by year
    national_tickets: NationalKpi | None
    hotlines: tuple[HotlineYear, ...]  # the year and those before it, by year and rank
    regions: tuple[RegionYear, ...]
    awards: tuple[AwardWinner, ...]
    award_places: tuple[AwardPlaces, ...]
    kpis: tuple[CityKpi, ...]  # the year and those before it, by year and volume
    cities: tuple[City, ...]
    categories: tuple[CityCategory, ...]
    national_categories: tuple[NationalCategory, ...]
    mix: tuple[CityMix, ...]
    national_mix: tuple[NationalMix, ...]
    unmapped: tuple[UnmappedLabel, ...]
    unmapped_totals: tuple[UnmappedLabelTotal, ...]
    files: tuple[FileRow, ...]
    sources: tuple[SourceFiles, ...]
    city_files: tuple[CityFiles, ...]
    entities: tuple[EntityFiles, ...]
    coverage: DataCoverage
    rejects: tuple[RejectReason, ...]
    rules: BuildRules
    text: TextMarts = NO_TEXT_ANALYSIS


Row = TypeVar("Row")


def _select(con: duckdb.DuckDBPyConnection, row: type[Row], mart: str, tail: str = "",
            params: Sequence[object] = ()) -> tuple[Row, ...]:
    """The rows of `mart` as `row`s: its columns named like the class's fields."""
    names = [f.name for f in fields(row)]  # type: ignore[arg-type]
    cursor = con.execute(f"SELECT {', '.join(names)} FROM {mart} {tail}".rstrip(), list(params))
    return tuple(row(**dict(zip(names, values, strict=True))) for values in cursor.fetchall())


def monitoring_years(warehouse: Path) -> list[int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [y for (y,) in con.execute(
            "SELECT year FROM monitoring_national_year ORDER BY year").fetchall()]


def _build_rules(con: duckdb.DuckDBPyConnection, warehouse: Path) -> BuildRules:
    try:
        rows = _select(con, BuildRules, "build_rules")
    except duckdb.CatalogException:
        rows = ()
    if not rows:
        raise ReportDataError(f"{warehouse}: no build_rules mart (the rules the marts were "
                              "computed with); rebuild the warehouse (hotline build)")
    return rows[0]


def _text_marts(con: duckdb.DuckDBPyConnection, year: int) -> TextMarts:
    """The text stage's marts for the year; NO_TEXT_ANALYSIS when the warehouse has none of
    them (built before the text stage) or the files its views read are gone."""
    try:
        classifier = _select(con, TextClassifier, "text_classifier")
        return TextMarts(
            present=True,
            classifier=classifier[0] if classifier else None,
            hot_issues=_select(
                con, HotIssue, "hot_issues",
                "WHERE listed_year = ? AND is_listed "
                "ORDER BY city_code, listed_month, rank_in_city_month, first_day", [year]),
            themes=_select(
                con, HotIssueTheme, "hot_issue_themes_year",
                "WHERE listed_year = ? AND theme_rank <= ? AND cities > 1 ORDER BY theme_rank",
                [year, THEMES_LISTED]),
            placements=_select(con, TicketPlacement, "ticket_placement_city_year",
                               "WHERE received_year = ? ORDER BY city_code", [year]),
            national_placement=next(iter(_select(
                con, NationalPlacement, "ticket_placement_national_year",
                "WHERE received_year = ?", [year])), None),
        )
    except (duckdb.CatalogException, duckdb.IOException):
        return NO_TEXT_ANALYSIS


def read_marts(warehouse: Path, year: int) -> Marts:
    """One read-only pass over the marts: one query per mart."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        national = _select(con, NationalMonitoring, "monitoring_national_year",
                           "WHERE year <= ? ORDER BY year", [year])
        national_tickets = _select(con, NationalKpi, "kpi_national_year", "WHERE year = ?",
                                   [year])
        if (not national or national[-1].year != year) and not national_tickets:
            raise ReportDataError(
                f"{warehouse}: neither test calls nor work orders of {year} are in the "
                "warehouse; ingest that year's exports and rebuild"
            )
        (coverage,) = _select(con, DataCoverage, "data_coverage")
        return Marts(
            national=national,
            national_tickets=national_tickets[0] if national_tickets else None,
            hotlines=_select(con, HotlineYear, "monitoring_hotline_year",
                             "WHERE year <= ? ORDER BY year, national_rank", [year]),
            regions=_select(con, RegionYear, "monitoring_region_year",
                            "WHERE year = ? ORDER BY mean_total_score DESC, region", [year]),
            # 先锋奖 winners are listed best-ranked first, whatever their region is called.
            awards=_select(
                con, AwardWinner, "monitoring_awards",
                "WHERE year = ? ORDER BY award_order, CASE WHEN award_key = 'regional_pioneer' "
                "THEN national_rank ELSE award_place END, city_code", [year]),
            award_places=_select(con, AwardPlaces, "monitoring_award_places",
                                 "WHERE year = ? ORDER BY award_order, award_scope", [year]),
            # The ticket table's order: most tickets first.
            kpis=_select(con, CityKpi, "kpi_city_year",
                         "WHERE year <= ? ORDER BY year, ticket_count DESC NULLS LAST, "
                         "city_code", [year]),
            cities=_select(con, City, "dim_city", "ORDER BY city_code"),
            rules=_build_rules(con, warehouse),
            categories=_select(con, CityCategory, "category_city_year",
                               "WHERE year = ? ORDER BY city_code, category_code", [year]),
            national_categories=_select(con, NationalCategory, "category_national_year",
                                        "WHERE year = ? ORDER BY category_code", [year]),
            national_mix=_select(con, NationalMix, "ticket_mix_national_year",
                                 "WHERE year = ? ORDER BY dimension, dimension_value", [year]),
            mix=_select(con, CityMix, "ticket_mix_city_year",
                        "WHERE year = ? ORDER BY city_code, dimension, dimension_value", [year]),
            unmapped=_select(con, UnmappedLabel, "category_unmapped_labels",
                             "ORDER BY city_code, ticket_count DESC, source_label NULLS LAST"),
            unmapped_totals=_select(con, UnmappedLabelTotal, "category_unmapped_label_totals",
                                    "ORDER BY ticket_count DESC, source_label NULLS LAST"),
            files=_select(con, FileRow, "file_reconciliation", "ORDER BY source_id, source_file"),
            sources=_select(con, SourceFiles, "file_reconciliation_source", "ORDER BY source_id"),
            city_files=_select(con, CityFiles, "file_reconciliation_city", "ORDER BY city_code"),
            # Work orders first, then test calls.
            entities=_select(con, EntityFiles, "file_reconciliation_entity",
                             "ORDER BY entity DESC"),
            coverage=coverage,
            rejects=_select(
                con, RejectReason, "file_reject_reasons",
                "ORDER BY source_id, source_file, rejected_row_count DESC, reject_reason, "
                "rejected_field NULLS LAST"),
            text=_text_marts(con, year),
        )
