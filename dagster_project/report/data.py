"""What the yearly report shows, read from the marts: one query per mart and year, then grouped.

`load_report` returns the context of the national page and of every city page. The indicators,
national and regional ones included, are taken from the marts as they are (kpi_national_year,
category_national_year, ticket_mix_national_year, monitoring_national_year,
monitoring_region_year). What this module still adds up is bookkeeping of the pages: file
counts per source, line-class shares, how many hotlines rose or fell, which regions have fewer
先锋奖 winners than places, and a city's difference from the national mean, taken of the two
figures printed (formatting.difference). MARTS below lists every table the report reads and
what for; the operator's appendix prints it.

Two editions come from one load: the public pages (results, methods and a summary of data
coverage and quality in plain Chinese) and the operator's appendix (`internal`: sources, files,
reject reasons, unmapped labels and every check by its name), kept apart so that the public
text holds no table names, file paths or check names.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from dagster_project.quality import latest_results
from dagster_project.quality.suites import CHECK_FAMILIES, Suite, load_suite, suite_names
from dagster_project.report import charts
from dagster_project.report.formatting import difference, mask_personal, percent
from dagster_project.settings import PROJECT_ROOT

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
# The ticket rates by their column in kpi_city_year, as the public summary names the unknown.
RATE_LABELS = (("直接办结率", "direct_resolved_rate"), ("响应率", "response_rate"),
               ("按时办结率", "on_time_close_rate"), ("解决率", "resolution_rate"),
               ("满意率", "satisfaction_rate"), ("重复诉求率", "repeat_request_rate"))
REQUEST_TYPES = {"consult": "咨询", "help": "求助", "complaint": "投诉", "report": "举报",
                 "suggestion": "建议", "praise": "感谢", "other": "其他"}
# Every table the report reads, with what it takes from it: printed in the operator's appendix.
MARTS = (
    ("monitoring_national_year",
     "全国概况：监测热线数、拨测次数、各指标全国均值、中位数、最低与最高分及较上年变化、线路类别数、"
     "全国平均虚热差距"),
    ("monitoring_hotline_year", "热线排名、各指标得分、线路类别、较上年变化、虚热差距与虚热名单；"
                                "指标分布与城市页的排名历史"),
    ("monitoring_region_year",
     "区域比较：各区域热线数、平均总分及其变化、十佳与热线数、区域最佳热线；先锋奖各区域名单"),
    ("monitoring_awards", "各奖项获奖热线及评选依据值"),
    ("kpi_city_year", "各城市工单办理指标"),
    ("kpi_national_year", "全国工单办理指标（“合计”行）及各指标覆盖的城市数与工单占比"),
    ("category_city_year", "各城市诉求分类构成与热点诉求"),
    ("category_national_year", "全国诉求分类构成与热点诉求（各城市数量相加后按同一规则选出）"),
    ("ticket_mix_city_year", "各城市受理渠道与诉求类型构成"),
    ("ticket_mix_national_year", "全国受理渠道与诉求类型构成及其覆盖的城市数与工单占比"),
    ("dim_city", "城市名称、省份、区域与人口"),
    ("category_unmapped_labels", "未能归入全国分类的城市分类标签"),
    ("file_reconciliation",
     "数据来源与文件：读取、拒收、合计行、写入、被更新版本替代（去重）、进入事实表的行数"),
    ("file_reject_reasons", "拒收原因：各文件按原因与字段的拒收行数及首个行号"),
    ("fct_tickets", "各数据来源所属城市及其文件中本年度受理的工单数"),
    ("fct_test_calls", "各热线拨测记录所在的评估机构文件与拨测次数"),
    ("build_rules", "本次计算所用的规则：权重、阈值、时限与评奖规则（本节所列数值）"),
)


class ReportDataError(RuntimeError):
    """The marts hold nothing to report for the requested year."""


@dataclass(frozen=True)
class AwardLayout:
    """How the report lists one award of var monitoring_awards (its rule is in the template)."""

    key: str
    # Heading of the column with the value the award was decided on; None when that value is
    # the total score, which the winners table shows anyway.
    measure_label: str | None = None
    # The measure is a change (printed with its sign) rather than a score.
    measure_is_change: bool = False
    # The key of the award's number of places in its var (per region for 先锋奖).
    count_key: str = "count"


AWARDS = (
    AwardLayout("top_ten"),
    AwardLayout("regional_pioneer", count_key="count_per_region"),
    AwardLayout("fastest_riser", "较上年增幅", measure_is_change=True),
    AwardLayout("service_star", "礼仪与沟通平均分"),
)


@dataclass(frozen=True)
class ReportData:
    """The contexts of one year's pages: the national page and one per city, by city code."""

    year: int
    index: dict[str, Any]
    cities: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The operator's appendix: what the public pages leave out (sources, files, checks by name).
    internal: dict[str, Any] = field(default_factory=dict)


def indicator_config() -> dict[str, Any]:
    """The project's default rules, as dbt_project.yml states them. The pages print the rules
    the build used (the mart build_rules), which a data root or `dbt build --vars` may set."""
    return yaml.safe_load(DBT_PROJECT_FILE.read_text(encoding="utf-8"))["vars"]


def monitoring_years(warehouse: Path) -> list[int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [y for (y,) in con.execute(
            "SELECT DISTINCT year FROM monitoring_national_year ORDER BY year").fetchall()]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@dataclass
class _Marts:
    """The rows of every mart the report reads, for one year (and the years before it)."""

    national: list[dict[str, Any]]
    national_tickets: dict[str, Any] | None
    hotlines: list[dict[str, Any]]
    regions: list[dict[str, Any]]
    awards: list[dict[str, Any]]
    kpis: list[dict[str, Any]]
    cities: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    national_categories: list[dict[str, Any]]
    mix: list[dict[str, Any]]
    national_mix: list[dict[str, Any]]
    unmapped: list[dict[str, Any]]
    files: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    ticket_files: list[dict[str, Any]]
    call_files: list[dict[str, Any]]
    rules: dict[str, Any]


def _build_rules(con: duckdb.DuckDBPyConnection, warehouse: Path) -> dict[str, Any]:
    try:
        row = con.execute("SELECT rules_json FROM build_rules").fetchone()
    except duckdb.CatalogException:
        row = None
    if not row:
        raise ReportDataError(f"{warehouse}: no build_rules mart (the rules the marts were "
                              "computed with); rebuild the warehouse (hotline build)")
    rules: dict[str, Any] = json.loads(row[0])
    return rules


def _query_marts(warehouse: Path, year: int) -> _Marts:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        national = _rows(
            con, "SELECT * FROM monitoring_national_year WHERE year <= ? ORDER BY year", [year])
        national_tickets = _rows(
            con, "SELECT * FROM kpi_national_year WHERE year = ?", [year])
        if (not national or national[-1]["year"] != year) and not national_tickets:
            raise ReportDataError(
                f"{warehouse}: neither test calls nor work orders of {year} are in the "
                "warehouse; ingest that year's exports and rebuild"
            )
        return _Marts(
            national=national,
            national_tickets=national_tickets[0] if national_tickets else None,
            hotlines=_rows(
                con, "SELECT * FROM monitoring_hotline_year WHERE year <= ? "
                "ORDER BY year, national_rank", [year]),
            regions=_rows(
                con, "SELECT * FROM monitoring_region_year WHERE year = ? "
                "ORDER BY mean_total_score DESC, region", [year]),
            # 先锋奖 winners are listed best-ranked first, whatever their region is called.
            awards=_rows(
                con, "SELECT * FROM monitoring_awards WHERE year = ? "
                "ORDER BY award_order, CASE WHEN award_key = 'regional_pioneer' "
                "THEN national_rank ELSE award_place END, city_code", [year]),
            kpis=_rows(
                con, "SELECT * FROM kpi_city_year WHERE year <= ? ORDER BY year, city_code",
                [year]),
            cities=_rows(con, "SELECT * FROM dim_city ORDER BY city_code", []),
            rules=_build_rules(con, warehouse),
            categories=_rows(
                con, "SELECT * FROM category_city_year WHERE year = ? "
                "ORDER BY city_code, category_code", [year]),
            national_categories=_rows(
                con, "SELECT * FROM category_national_year WHERE year = ? "
                "ORDER BY category_code", [year]),
            national_mix=_rows(
                con, "SELECT * FROM ticket_mix_national_year WHERE year = ? "
                "ORDER BY dimension, dimension_value", [year]),
            mix=_rows(
                con, "SELECT * FROM ticket_mix_city_year WHERE year = ? "
                "ORDER BY city_code, dimension, dimension_value", [year]),
            unmapped=_rows(
                con, "SELECT * FROM category_unmapped_labels "
                "ORDER BY city_code, ticket_count DESC, source_label NULLS LAST", []),
            files=_rows(
                con, "SELECT * EXCLUDE (ingested_at, file_sha256) FROM file_reconciliation "
                "ORDER BY source_id, source_file", []),
            rejects=_rows(
                con, "SELECT * EXCLUDE (file_sha256) FROM file_reject_reasons ORDER BY "
                "source_id, source_file, rejected_row_count DESC, reject_reason, "
                "rejected_field NULLS LAST", []),
            ticket_files=_rows(
                con, "SELECT DISTINCT city_code, source_id, source_file FROM fct_tickets "
                "ORDER BY ALL", []),
            call_files=_rows(
                con, "SELECT city_code, source_id, source_file, count(*) AS call_count "
                "FROM fct_test_calls WHERE evaluation_year = ? GROUP BY ALL ORDER BY ALL",
                [year]),
        )


def award_sections(
    config: dict[str, Any], winners: list[dict[str, Any]], regions: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Every configured award in report order, with its name from the vars and its winners.

    An award without winners (no 骏马奖 in a first monitoring year) is still listed, so that the
    report states its rule and that nobody qualified. An award with fewer winners than places
    says so: `short` for a national award, and for 先锋奖 `short_regions`, each region of
    `regions` (those of the year's hotlines) with fewer winners than its places.
    """
    configured = config["monitoring_awards"]
    unknown = {w["award_key"] for w in winners} - {a.key for a in AWARDS}
    if unknown or set(configured) != {a.key for a in AWARDS}:
        raise ReportDataError(
            f"awards in the mart ({sorted(unknown)}) or in var monitoring_awards "
            f"({sorted(configured)}) differ from the awards the report knows: "
            f"{[a.key for a in AWARDS]}"
        )
    sections = []
    for layout in AWARDS:
        places = configured[layout.key][layout.count_key]
        listed = [w for w in winners if w["award_key"] == layout.key]
        per_region = {region: sum(w["award_scope"] == region for w in listed)
                      for region in regions}
        per_scope = layout.key == "regional_pioneer"
        sections.append({
            "key": layout.key,
            "name": configured[layout.key]["name"],
            "measure_label": layout.measure_label,
            "measure_is_change": layout.measure_is_change,
            "places": places,
            "winners": listed,
            "short": not per_scope and len(listed) < places,
            "short_regions": [{"region": region, "winner_count": count}
                              for region, count in per_region.items()
                              if per_scope and count < places],
        })
    return sections


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _sum(rows: Iterable[dict[str, Any]], key: str) -> int:
    return sum(r[key] or 0 for r in rows)


def national_hot_topics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The year's rows of category_national_year laid out for the national page: the ranked
    classes by rank, then 未分类 and the classes without tickets; the top classes and the
    risers as the mart flags them."""
    ranked = sorted((r for r in rows if r["national_rank"] is not None),
                    key=lambda r: r["national_rank"])
    return {
        "mix": ranked + [r for r in rows if r["national_rank"] is None],
        "top": [r for r in ranked if r["is_top_category"]],
        "risers": sorted((r for r in rows if r["is_fastest_riser"]),
                         key=lambda r: r["riser_rank"]),
        "ticket_count": rows[0]["year_ticket_count"] if rows else 0,
        "has_prior": any(r["prior_year_ticket_count"] for r in rows),
    }


def _mix(rows: list[dict[str, Any]], share: str) -> dict[str, list[dict[str, Any]]]:
    """Channel and request-type counts and shares (column `share` of the mart's rows) in the
    order of the enumerations, labelled in Chinese."""
    by_value = {(r["dimension"], r["dimension_value"]): r for r in rows}
    return {
        dimension: [{"label": label,
                     "ticket_count": (by_value.get((dimension, code)) or {}).get("ticket_count", 0),
                     "share": (by_value.get((dimension, code)) or {}).get(share)}
                    for code, label in labels.items()]
        for dimension, labels in (("channel", CHANNELS), ("request_type", REQUEST_TYPES))
    }


def _mix_coverage(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per dimension, how many of the year's cities give it and their share of the tickets."""
    return {r["dimension"]: {"known_city_count": r["known_city_count"],
                             "city_count": r["city_count"],
                             "known_ticket_share": r["known_ticket_share"]} for r in rows}


def _quality(lake: Path | None) -> list[dict[str, Any]]:
    if lake is None:
        return []
    rows = latest_results(lake)
    for row in rows:
        row["unexpected_examples"] = mask_personal(row["unexpected_examples"])
    return sorted(rows, key=lambda r: (
        bool(r["success"]), str(r["severity"]), str(r["suite"]), str(r["expectation"]),
        str(r["column_name"] or ""), str(r["partition"] or ""), r["unexpected_count"] or 0,
        str(r["unexpected_examples"])))


def _entity_summary(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sources of each entity (tickets, test calls) added up."""
    out = []
    for entity, rows in sorted(_group(sources, "entity").items(), reverse=True):
        summed: dict[str, Any] = {"entity": entity, "source_count": len(rows),
                                  "is_balanced": all(r["is_balanced"] for r in rows)}
        for key in ("file_count", "failed_count", "rows_read", "rows_rejected", "footer_rows",
                    "rows_written"):
            summed[key] = _sum(rows, key)
        for key in ("rows_superseded", "rows_in_facts"):  # ticket files only
            summed[key] = _sum(rows, key) if entity == "tickets" else None
        out.append(summed)
    return out


def _files_needing_attention(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Files that failed, do not balance, or lack or add columns."""
    return [f for f in files if f["file_status"] != "loaded" or not f["is_balanced"]
            or f["missing_columns"] or f["unexpected_columns"]]


def _unmapped_by_label(unmapped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unmapped labels over all cities: how many cities use each, with how many tickets."""
    per: dict[str | None, dict[str, Any]] = {}
    for row in unmapped:
        entry = per.setdefault(row["source_label"], {
            "source_label": row["source_label"], "city_count": 0, "ticket_count": 0,
            "examples": set(), "cities": []})
        entry["city_count"] += 1
        entry["ticket_count"] += row["ticket_count"] or 0
        if row["example_category"] is not None:
            entry["examples"].add(row["example_category"])
        entry["cities"].append(row["city_code"])
    out = []
    for entry in per.values():
        examples = sorted(entry.pop("examples"))
        entry["example_category"] = examples[0] if examples else None
        entry["cities"] = sorted(entry["cities"])
        out.append(entry)
    return sorted(out, key=lambda e: (-e["ticket_count"], e["source_label"] is None,
                                      e["source_label"] or ""))


def _quality_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks per suite: how many ran, passed and failed (latest run of each suite)."""
    out = []
    for suite, checks in sorted(_group(rows, "suite").items()):
        passed = sum(bool(c["success"]) for c in checks)
        out.append({"suite": suite, "severity": checks[0]["severity"], "checks": len(checks),
                    "passed": passed, "failed": len(checks) - passed})
    return out


def check_families(
    results: list[dict[str, Any]], suites: dict[str, Suite]
) -> list[dict[str, Any]]:
    """The checks as the public report shows them: per family, each suite by its Chinese
    title with its latest outcome (passed, failed with how many items, or not run)."""
    by_suite = _group(results, "suite")
    families = []
    for key, (label, covers) in CHECK_FAMILIES.items():
        checks = []
        for name, suite in sorted(suites.items()):
            public = suite.meta.public
            if public.family != key:
                continue
            rows = by_suite.get(name, [])
            failed = [r for r in rows if not r["success"]]
            checks.append({
                "title": public.title, "unit": public.unit, "severity": suite.meta.severity,
                "ran": bool(rows), "passed": bool(rows) and not failed,
                "failed_expectations": len(failed),
                "failed_items": failed[0]["unexpected_count"] if len(failed) == 1 else None,
            })
        if not checks:
            continue
        blocking = any(c["ran"] and not c["passed"] and c["severity"] == "ERROR" for c in checks)
        warned = any(c["ran"] and not c["passed"] for c in checks)
        families.append({
            "label": label, "covers": covers, "checks": checks,
            "status": "failed" if blocking else "warned" if warned
            else "passed" if all(c["ran"] for c in checks) else "not_run",
        })
    return families


def published_suites() -> dict[str, Suite]:
    """Every suite of expectations/, by name: the public summary lists each, run or not."""
    return {name: load_suite(name) for name in suite_names()}


def _city_coverage(
    sources: list[dict[str, Any]], kpis_year: list[dict[str, Any]], city_names: dict[str, str]
) -> list[dict[str, Any]]:
    """Per city with work orders: its sources' files added up, and what its year's figures
    could not use (未分类 tickets, the rates its exports leave unknown)."""
    kpi_by_city = {k["city_code"]: k for k in kpis_year}
    by_city = _group([s for s in sources if s["city_code"]], "city_code")
    rows = []
    # In the order of the ticket table: most tickets first, cities without the year's last.
    for code in sorted(by_city, key=lambda c: (-((kpi_by_city.get(c) or {}).get("ticket_count")
                                                  or 0), c)):
        summed = _entity_summary(by_city[code])[0]
        kpi = kpi_by_city.get(code)
        rows.append({
            **summed, "city_code": code, "city_name": city_names.get(code, code),
            "ticket_count": kpi["ticket_count"] if kpi else None,
            "unmapped_category_count": kpi["unmapped_category_count"] if kpi else None,
            "unknown_rates": [label for label, rate in RATE_LABELS if kpi and kpi[rate] is None],
        })
    return rows


def _source_summary(
    files: list[dict[str, Any]], source_city: dict[str, str], city_names: dict[str, str]
) -> list[dict[str, Any]]:
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in files:
        by_source[row["source_id"]].append(row)
    summary = []
    for source_id in sorted(by_source):
        rows = by_source[source_id]
        city = source_city.get(source_id)
        summary.append({
            "source_id": source_id,
            "entity": rows[0]["entity"],
            "city": city_names.get(city, city) if city else ("全部监测热线"
                                                           if rows[0]["entity"] == "test_calls"
                                                           else "—"),
            "city_code": city,
            "file_count": len(rows),
            "failed_count": sum(r["file_status"] != "loaded" for r in rows),
            "rows_read": _sum(rows, "rows_read"),
            "rows_rejected": _sum(rows, "rows_rejected"),
            "footer_rows": _sum(rows, "footer_rows"),
            "rows_written": _sum(rows, "rows_written"),
            "rows_superseded": _sum(rows, "rows_superseded") if rows[0]["entity"] == "tickets"
            else None,
            "rows_in_facts": _sum(rows, "rows_in_facts") if rows[0]["entity"] == "tickets"
            else None,
            "is_balanced": all(r["is_balanced"] for r in rows),
        })
    return summary


def load_report(
    warehouse: Path, year: int, lake: Path | None = None, config: dict[str, Any] | None = None
) -> ReportData:
    """Everything the pages of `year` show, from one read-only pass over the marts. A year
    with work orders but no test calls has pages too: they say it was not monitored. The
    rules printed are those the build used (`build_rules`), unless `config` is given."""
    marts = _query_marts(warehouse, year)
    config = config or marts.rules
    monitoring = _monitoring(marts, year, config)
    ranking = monitoring["ranking"]
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in marts.hotlines:
        history[row["city_code"]].append(row)
    hotline_count_by_year = {n["year"]: n["hotline_count"] for n in marts.national}

    city_rows = {c["city_code"]: c for c in marts.cities}
    city_names = {code: c["city_name"] for code, c in city_rows.items()}
    kpis_year = sorted((k for k in marts.kpis if k["year"] == year),
                       key=lambda k: (-(k["ticket_count"] or 0), k["city_code"]))
    for row in kpis_year:
        row["city_name"] = city_names.get(row["city_code"], row["city_code"])
    kpi_history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in marts.kpis:
        kpi_history[row["city_code"]].append(row)

    monitored = {r["city_code"] for r in ranking}
    with_tickets = {k["city_code"] for k in kpis_year}
    page_codes = sorted(monitored | with_tickets)

    hot = national_hot_topics(marts.national_categories)
    quality = _quality(lake)
    source_city: dict[str, str] = {}
    for row in marts.ticket_files:
        source_city.setdefault(row["source_id"], row["city_code"])
    sources = _source_summary(marts.files, source_city, city_names)
    unmapped = [dict(u, city_name=city_names.get(u["city_code"], u["city_code"]))
                for u in marts.unmapped]

    suites = published_suites()
    index = {
        **monitoring,
        "year": year,
        "tickets": kpis_year,
        "ticket_totals": marts.national_tickets,
        "hot_topics": hot,
        "mix": _mix(marts.national_mix, "share"),
        "mix_coverage": _mix_coverage(marts.national_mix),
        "entity_summary": _entity_summary(sources),
        "file_count": len(marts.files),
        "files_needing_attention": _files_needing_attention(marts.files),
        "city_coverage": _city_coverage(sources, kpis_year, city_names),
        "unmapped_by_label": _unmapped_by_label(unmapped),
        "check_families": check_families(quality, suites),
        "has_quality_results": bool(quality),
        "config": config,
        "indicator_labels": dict(INDICATORS),
        "request_type_labels": REQUEST_TYPES,
        "city_pages": [{"city_code": c, "city_name": city_names.get(c, c),
                        "hotline_name": (city_rows.get(c) or {}).get("hotline_name") or c,
                        "province": (city_rows.get(c) or {}).get("province"),
                        "region": (city_rows.get(c) or {}).get("region"),
                        "monitored": c in monitored, "has_tickets": c in with_tickets}
                       for c in page_codes],
        "page_codes": set(page_codes),
        "charts": {
            **monitoring["charts"],
            "hot_topics": charts.horizontal_bars(
                [charts.Bar(e["category_name"], e["share"] or 0.0, e["is_top_category"])
                 for e in hot["mix"] if e["ticket_count"]],
                title=f"{year}年全国诉求分类构成", max_value=max(
                    [e["share"] or 0.0 for e in hot["mix"]] + [0.01]),
                label_width=120, fmt=percent),
        },
    }

    cities: dict[str, dict[str, Any]] = {}
    categories_by_city = _group(marts.categories)
    mix_by_city = _group(marts.mix)
    unmapped_by_city = _group(unmapped)
    call_files_by_city = _group(marts.call_files)
    coverage_by_city = {row["city_code"]: row for row in index["city_coverage"]}
    for code in page_codes:
        cities[code] = _city_context(
            code=code, year=year, index=index, city=city_rows.get(code, {"city_code": code}),
            history=history.get(code, []), hotline_count_by_year=hotline_count_by_year,
            kpis=kpi_history.get(code, []), categories=categories_by_city.get(code, []),
            mix=mix_by_city.get(code, []), unmapped=unmapped_by_city.get(code, []),
            coverage=coverage_by_city.get(code), call_files=call_files_by_city.get(code, []),
        )
    file_city = {f["source_file"]: f["city_code"] for f in marts.ticket_files}
    internal = {
        "year": year,
        "sources": sources,
        "entity_summary": index["entity_summary"],
        "files": [dict(f, city_code=file_city.get(f["source_file"]),
                       city_name=city_names.get(file_city.get(f["source_file"], ""), ""))
                  for f in marts.files],
        "rejects": marts.rejects,
        "unmapped_by_label": index["unmapped_by_label"],
        "quality": quality,
        "quality_summary": _quality_summary(quality),
        "suite_titles": {name: s.meta.public.title for name, s in suites.items()},
        "marts": MARTS,
        "page_codes": index["page_codes"],
    }
    return ReportData(year=year, index=index, cities=cities, internal=internal)


def _monitoring(marts: _Marts, year: int, config: dict[str, Any]) -> dict[str, Any]:
    """The monitoring results of the year (test calls); empty when the evaluator's calls of
    the year are not in the warehouse (`monitored_year` false), so the pages say so."""
    summary = marts.national[-1] if marts.national and marts.national[-1]["year"] == year \
        else None
    # 先锋奖 is per region of the year's hotlines; hotlines without a region stand for none.
    awards = award_sections(config, marts.awards,
                            [r["region"] for r in marts.regions if r["region"] != "—"])
    if summary is None:
        return {"monitored_year": False, "national": None, "previous_national": None,
                "connect_rate": None, "indicators": [], "line_classes": [], "ranking": [],
                "awards": awards, "awards_by_city": {}, "top_ten_cities": [], "regions": [],
                "improvement": None, "hollow_heat": [], "mean_hollow_heat_gap": None,
                "charts": {"distributions": [], "score_vs_previous": None, "regions": None,
                           "hollow_heat": None}}
    previous = next((n for n in marts.national if n["year"] == year - 1), None)
    ranking = [r for r in marts.hotlines if r["year"] == year]
    awards_by_city: dict[str, list[str]] = {}
    for award in awards:
        for winner in award["winners"]:
            awards_by_city.setdefault(winner["city_code"], []).append(award["name"])
    top_ten = next(a for a in awards if a["key"] == "top_ten")
    top_ten_cities = sorted(w["city_code"] for w in top_ten["winners"])

    indicators = [
        {"key": key, "label": label, "mean": summary[f"mean_{key}_score"],
         "change": summary[f"mean_{key}_score_change"],
         "median": summary[f"median_{key}_score"], "min": summary[f"min_{key}_score"],
         "max": summary[f"max_{key}_score"]}
        for key, label in INDICATORS
    ]
    line_classes = [
        {"key": key, "label": label, "count": summary[f"{key}_line_count"],
         "share": _ratio(summary[f"{key}_line_count"] or 0, summary["hotline_count"] or 0),
         "previous": previous[f"{key}_line_count"] if previous else None}
        for key, label in LINE_CLASSES
    ]

    regions = marts.regions
    compared = [r for r in ranking if r["previous_total_score"] is not None]
    improvement = {
        "compared": len(compared),
        "improved": sum(1 for r in compared if (r["total_score_change"] or 0) > 0),
        "declined": sum(1 for r in compared if (r["total_score_change"] or 0) < 0),
        "new": len(ranking) - len(compared),
    }
    # The mart decides who is on the 虚热 list (var hollow_heat) and in which place.
    hollow = sorted((r for r in ranking if r["hollow_heat_place"] is not None),
                    key=lambda r: r["hollow_heat_place"])
    chart_set = {
        "distributions": [
            charts.histogram(
                [r[f"{i['key']}_score"] for r in ranking if r[f"{i['key']}_score"] is not None],
                title=i["label"], mean=i["mean"])
            for i in indicators
        ],
        "score_vs_previous": charts.scatter(
            [charts.Point(r["hotline_name"], r["previous_total_score"], r["total_score"],
                          r["city_code"] in top_ten_cities) for r in compared],
            title=f"{year}年与{year - 1}年监测总分",
            x_label=f"{year - 1}年总分", y_label=f"{year}年总分",
        ) if compared else None,
        "regions": charts.horizontal_bars(
            [charts.Bar(f"{r['region']}（{r['hotline_count']}）", r["mean_total_score"])
             for r in regions],
            title=f"{year}年各区域热线平均总分", label_width=110),
        "hollow_heat": charts.grouped_bars(
            [r["hotline_name"] for r in hollow],
            [charts.Series("接通率得分", [r["connect_score"] for r in hollow], charts.ACCENT),
             charts.Series("问题解决得分", [r["resolution_score"] for r in hollow],
                           charts.HIGHLIGHT)],
            title=f"{year}年虚热差距最大的热线：接通率得分与问题解决得分", label_width=120)
        if hollow else None,
    }
    return {
        "monitored_year": True,
        "national": summary,
        "previous_national": previous,
        "connect_rate": _ratio(summary["connected_call_count"] or 0, summary["call_count"] or 0),
        "indicators": indicators,
        "line_classes": line_classes,
        "ranking": ranking,
        "awards": awards,
        "awards_by_city": awards_by_city,
        "top_ten_cities": top_ten_cities,
        "regions": regions,
        "improvement": improvement,
        "hollow_heat": hollow,
        "mean_hollow_heat_gap": summary["mean_hollow_heat_gap"],
        "charts": chart_set,
    }


def _group(rows: list[dict[str, Any]], key: str = "city_code") -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def _city_context(
    *,
    code: str,
    year: int,
    index: dict[str, Any],
    city: dict[str, Any],
    history: list[dict[str, Any]],
    hotline_count_by_year: dict[int, int],
    kpis: list[dict[str, Any]],
    categories: list[dict[str, Any]],
    mix: list[dict[str, Any]],
    unmapped: list[dict[str, Any]],
    coverage: dict[str, Any] | None,
    call_files: list[dict[str, Any]],
) -> dict[str, Any]:
    national = index["national"]
    hotline = next((r for r in history if r["year"] == year), None)
    comparison = []
    if hotline is not None:
        for key, label in (("total", "总得分"), *INDICATORS):
            own = hotline[f"{key}_score"]
            mean = national[f"mean_{key}_score"]
            # The difference of the two figures printed beside it.
            comparison.append({"label": label, "city": own, "national": mean,
                               "difference": difference(own, mean)})
    rank_history = [
        {"year": r["year"], "rank": r["national_rank"],
         "of": hotline_count_by_year.get(r["year"]), "total_score": r["total_score"],
         "total_score_change": r["total_score_change"], "rank_change": r["rank_change"],
         "line_class": r["line_class"], "connect_rate": r["connect_rate"]}
        for r in sorted(history, key=lambda r: r["year"])
    ]
    kpi = next((k for k in kpis if k["year"] == year), None)
    ranked = sorted((c for c in categories if c["rank_in_city"] is not None),
                    key=lambda c: (c["rank_in_city"], c["category_code"]))
    unranked = [c for c in categories if c["rank_in_city"] is None and c["ticket_count"]]
    risers = sorted((c for c in categories if c["is_fastest_riser"]),
                    key=lambda c: (c["riser_rank"], c["category_code"]))
    name = city.get("hotline_name") or city.get("city_name") or code
    chart_set: dict[str, Any] = {"comparison": None, "rank_history": None}
    if hotline is not None:
        chart_set["comparison"] = charts.grouped_bars(
            [c["label"] for c in comparison],
            [charts.Series(name, [c["city"] for c in comparison], charts.ACCENT),
             charts.Series("全国平均", [c["national"] for c in comparison], charts.NATIONAL)],
            title=f"{name} {year}年各指标得分与全国平均",
        )
    if rank_history:
        chart_set["rank_history"] = charts.rank_history(
            [(r["year"], r["rank"], r["of"] or r["rank"]) for r in rank_history],
            title=f"{name}历年全国排名",
        )
    return {
        "year": year,
        "city": city,
        "name": name,
        "hotline": hotline,
        "national": national,
        "national_gap": index["mean_hollow_heat_gap"],
        "gap_difference": difference(hotline["hollow_heat_gap"], index["mean_hollow_heat_gap"])
        if hotline is not None else None,
        "awards": index["awards_by_city"].get(code, []),
        "comparison": comparison,
        "rank_history": rank_history,
        "kpi": kpi,
        "kpi_history": sorted(kpis, key=lambda k: k["year"]),
        "ticket_totals": index["ticket_totals"],
        "categories": ranked + unranked,
        "risers": risers,
        "mix": _mix(mix, "share_of_city") if mix else None,
        "unmapped": unmapped,
        "coverage": coverage,
        "call_count": _sum(call_files, "call_count"),
        "call_file_count": len({c["source_file"] for c in call_files}),
        "config": index["config"],
        "charts": chart_set,
    }
