"""Render the yearly report from the marts: read-only queries, Jinja2 templates, atomic writes."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dagster_project.quality import latest_results
from dagster_project.report import charts
from dagster_project.report.formatting import FILTERS
from dagster_project.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "reports" / "templates"
DBT_PROJECT_FILE = PROJECT_ROOT / "dbt" / "dbt_project.yml"

INDICATORS = (
    ("connect", "接通率"),
    ("time_to_human", "转人工时长"),
    ("etiquette", "接待礼仪"),
    ("communication", "沟通规范"),
    ("resolution", "问题解决"),
)


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


class ReportDataError(RuntimeError):
    """The marts hold nothing to report for the requested year."""


@dataclass(frozen=True)
class RenderedReport:
    year: int
    index_path: Path


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def monitoring_years(warehouse: Path) -> list[int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [y for (y,) in con.execute(
            "SELECT DISTINCT year FROM monitoring_national_year ORDER BY year").fetchall()]


def indicator_config() -> dict[str, Any]:
    """The vars the marts computed with, read from the same file dbt reads."""
    return yaml.safe_load(DBT_PROJECT_FILE.read_text(encoding="utf-8"))["vars"]


def load_context(warehouse: Path, year: int, lake: Path | None = None) -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        national = _rows(con, "SELECT * FROM monitoring_national_year WHERE year = ?", [year])
        if not national:
            raise ReportDataError(
                f"{warehouse}: monitoring_national_year has no row for {year}; "
                "ingest the evaluator's export for that year and rebuild"
            )
        ranking = _rows(
            con,
            "SELECT * FROM monitoring_hotline_year WHERE year = ? ORDER BY national_rank",
            [year],
        )
        tickets = _rows(
            con,
            "SELECT k.*, c.city_name FROM kpi_city_year k JOIN dim_city c USING (city_code) "
            "WHERE k.year = ? ORDER BY k.ticket_count DESC, k.city_code",
            [year],
        )
        files = _rows(
            con,
            "SELECT * EXCLUDE (ingested_at, file_sha256) FROM file_reconciliation "
            "ORDER BY source_id, source_file",
            [],
        )
        # 先锋奖 winners are listed best-ranked first, whatever their region is called.
        winners = _rows(
            con,
            "SELECT * FROM monitoring_awards WHERE year = ? "
            "ORDER BY award_order, CASE WHEN award_key = 'regional_pioneer' "
            "THEN national_rank ELSE award_place END",
            [year],
        )
    config = indicator_config()
    awards = award_sections(config, winners)
    awards_by_city: dict[str, list[str]] = {}
    for award in awards:
        for winner in award["winners"]:
            awards_by_city.setdefault(winner["city_code"], []).append(award["name"])
    top_ten = next(a for a in awards if a["key"] == "top_ten")
    top_ten_cities = {w["city_code"] for w in top_ten["winners"]}
    summary = national[0]
    indicator_means = [
        {"key": key, "label": label, "mean": summary[f"mean_{key}_score"],
         "change": summary[f"mean_{key}_score_change"]}
        for key, label in INDICATORS
    ]
    ranking_chart = charts.horizontal_bars(
        [charts.Bar(r["hotline_name"], r["total_score"], r["city_code"] in top_ten_cities)
         for r in ranking],
        title=f"{year}年各热线监测总分",
    )
    indicator_chart = charts.horizontal_bars(
        [charts.Bar(i["label"], i["mean"]) for i in indicator_means],
        title=f"{year}年全国各指标平均得分",
        bar_height=20,
        label_width=100,
    )
    return {
        "year": year,
        "national": summary,
        "indicators": indicator_means,
        "ranking": ranking,
        "awards": awards,
        "awards_by_city": awards_by_city,
        "top_ten_cities": top_ten_cities,
        "tickets": tickets,
        "files": files,
        "quality": latest_results(lake) if lake is not None else [],
        "config": config,
        "indicator_labels": dict(INDICATORS),
        "charts": {"ranking": ranking_chart, "indicators": indicator_chart},
    }


def award_sections(
    config: dict[str, Any], winners: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every configured award in report order, with its name from the vars and its winners.

    An award without winners (no 骏马奖 in a first monitoring year) is still listed, so that the
    report states its rule and that nobody qualified.
    """
    configured = config["monitoring_awards"]
    unknown = {w["award_key"] for w in winners} - {a.key for a in AWARDS}
    if unknown or set(configured) != {a.key for a in AWARDS}:
        raise ReportDataError(
            f"awards in the mart ({sorted(unknown)}) or in var monitoring_awards "
            f"({sorted(configured)}) differ from the awards the report knows: "
            f"{[a.key for a in AWARDS]}"
        )
    return [
        {
            "key": layout.key,
            "name": configured[layout.key]["name"],
            "measure_label": layout.measure_label,
            "measure_is_change": layout.measure_is_change,
            "winners": [w for w in winners if w["award_key"] == layout.key],
        }
        for layout in AWARDS
    ]


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def render_year(
    warehouse: Path,
    site: Path,
    year: int,
    generated_at: dt.datetime | None = None,
    lake: Path | None = None,
) -> RenderedReport:
    """Render site/<year>/index.html from the marts (and the latest quality results)."""
    context = load_context(warehouse, year, lake)
    context["generated_at"] = (generated_at or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    html = environment().get_template("index.html.j2").render(**context)
    target = site / str(year) / "index.html"
    _write_atomically(target, html)
    return RenderedReport(year=year, index_path=target)


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, target)
