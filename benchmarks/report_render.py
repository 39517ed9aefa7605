"""Rendering the yearly report for many hotlines: every HTML page, then the PDF.

    .venv/bin/python benchmarks/report_render.py [--hotlines 350] [--repeat 3] [--json out.json]
        [--warehouse data/warehouse/warehouse.duckdb --lake data/lake | --demo-tickets 150000]

The marts of a built warehouse (by default a demo warehouse of 150,000 tickets built here by the
whole pipeline) are scaled to N hotlines: each city is cloned with a new code and name, its five
indicator scores jittered (seeded) and the total, ranks, changes, line classes, national means
and awards recomputed with the vars of dbt_project.yml.
Every cloned hotline also gets the ticket marts of one of the demo's ticket cities, so N city
pages carry the full ticket, category and reconciliation sections (the worst case).

Then, over --repeat runs (median printed), it times each stage of render_year:
  load        every mart queried once (read-only) and the page contexts built
  html        index.html and the N city pages rendered by Jinja2
  write       the pages written atomically
  pdf         report.pdf typeset by WeasyPrint
  render_year the whole call, end to end
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from dagster_project.report import render
from dagster_project.report.data import indicator_config

YEAR = 2019
SCORES = ("connect", "time_to_human", "etiquette", "communication", "resolution")


def build_demo(root: Path, tickets: int) -> tuple[Path, Path]:
    """A demo warehouse built by the whole pipeline in `root` (its output silenced)."""
    import contextlib
    import io
    import os

    from dagster_project.demo.generator import generate_demo
    from dagster_project.local_runs import run_everything
    from dagster_project.settings import DATA_ROOT_ENV, DataPaths

    os.environ[DATA_ROOT_ENV] = str(root)
    paths = DataPaths(root=root)
    generate_demo(paths.landing, seed=11, total_tickets=tickets)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        run = run_everything(log_level="ERROR")
    if not run.success:
        raise SystemExit(f"the demo pipeline failed: {run}")
    return paths.warehouse, paths.lake


def _awards(hotlines: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """monitoring_awards by the rules of var monitoring_awards (ties by national rank)."""
    rules = config["monitoring_awards"]
    barred = set(config["monitoring_award_ineligible_line_classes"])
    frames = []
    for year, rows in hotlines.groupby("year"):
        rows = rows.sort_values("national_rank")
        eligible = rows[~rows["line_class"].isin(barred)]
        top = rows.head(rules["top_ten"]["count"]).assign(
            award_key="top_ten", award_order=1, award_scope="全国",
            award_place=lambda f: f["national_rank"], award_measure=lambda f: f["total_score"])
        rest = eligible[eligible["national_rank"] > rules["top_ten"]["count"]]
        pioneer = rest.groupby("region").head(rules["regional_pioneer"]["count_per_region"])
        pioneer = pioneer.assign(
            award_key="regional_pioneer", award_order=2, award_scope=pioneer["region"],
            award_place=pioneer.groupby("region").cumcount() + 1,
            award_measure=pioneer["total_score"])
        risers = eligible[eligible["total_score_change"] > 0]
        if not rules["fastest_riser"]["top_ten_eligible"]:
            risers = risers[risers["national_rank"] > rules["top_ten"]["count"]]
        risers = risers.sort_values(["total_score_change", "national_rank"],
                                    ascending=[False, True]).head(rules["fastest_riser"]["count"])
        risers = risers.assign(award_key="fastest_riser", award_order=3, award_scope="全国",
                               award_place=range(1, len(risers) + 1),
                               award_measure=risers["total_score_change"])
        stars = eligible.sort_values(["service_score", "national_rank"],
                                     ascending=[False, True]).head(rules["service_star"]["count"])
        stars = stars.assign(award_key="service_star", award_order=4, award_scope="全国",
                             award_place=range(1, len(stars) + 1),
                             award_measure=stars["service_score"])
        for frame in (top, pioneer, risers, stars):
            frames.append(frame.assign(year=year))
    awards = pd.concat(frames, ignore_index=True)
    awards["award_name"] = awards["award_key"].map(lambda k: rules[k]["name"])
    return awards[["year", "award_key", "award_name", "award_order", "award_scope",
                   "award_place", "city_code", "hotline_name", "region", "national_rank",
                   "line_class", "total_score", "total_score_change", "service_score",
                   "award_measure"]]


def _national(hotlines: pd.DataFrame, template: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for year, f in hotlines.groupby("year"):
        row: dict[str, Any] = {
            "year": year, "hotline_count": len(f), "call_count": int(f["call_count"].sum()),
            "connected_call_count": int(f["connected_call_count"].sum()),
            "mean_total_score": f["total_score"].mean(),
        }
        for key in SCORES:
            row[f"mean_{key}_score"] = f[f"{key}_score"].mean()
        for key, label in (("hot", "热线"), ("warm", "温线"), ("cold", "冷线"), ("dead", "死线")):
            row[f"{key}_line_count"] = int((f["line_class"] == label).sum())
        rows.append(row)
    national = pd.DataFrame(rows).sort_values("year")
    for key in ("total", *SCORES):
        column = f"mean_{key}_score"
        previous = national.set_index("year")[column]
        national[f"{column}_change"] = [
            value - previous[year - 1] if (year - 1) in previous.index else None
            for year, value in zip(national["year"], national[column], strict=True)]
    return national[list(template.columns)]


def scale_warehouse(source: Path, target: Path, hotlines: int, seed: int = 7) -> None:
    """Write to `target` the marts the report reads, scaled to `hotlines` hotlines."""
    config = indicator_config()
    weights = config["monitoring_weights"]
    thresholds = config["line_class_thresholds"]
    rng = np.random.default_rng(seed)
    src = duckdb.connect(str(source), read_only=True)

    def table(name: str) -> pd.DataFrame:
        return src.execute(f"SELECT * FROM {name}").df()

    cities = table("dim_city").sort_values("city_code").reset_index(drop=True)
    clones = []
    for index in range(hotlines):
        base = cities.iloc[index % len(cities)]
        copy = index // len(cities)
        code = base["city_code"] if copy == 0 else f"{900000 + index:06d}"
        name = base["city_name"] if copy == 0 else f"{base['city_name']}{copy}"
        clones.append({"new_code": code, "city_code": base["city_code"], "copy": copy,
                       "city_name": name, "hotline_name": f"{name}12345"})
    mapping = pd.DataFrame(clones)
    dim_city = mapping.merge(cities.drop(columns=["city_name", "hotline_name"]), on="city_code")
    dim_city = dim_city.assign(city_code=dim_city["new_code"])[list(cities.columns)]

    hot = table("monitoring_hotline_year")
    hot = mapping.merge(hot.drop(columns=["hotline_name"]), on="city_code")
    jitter = rng.normal(0, 3, size=(len(hot), len(SCORES))) * (hot["copy"].to_numpy() > 0)[:, None]
    for i, key in enumerate(SCORES):
        hot[f"{key}_score"] = (hot[f"{key}_score"] + jitter[:, i]).clip(0, 100)
    hot["connect_rate"] = hot["connect_score"] / 100
    hot["total_score"] = sum(weights[k] * hot[f"{k}_score"] for k in SCORES)
    hot["city_code"] = hot["new_code"]
    hot = hot.sort_values(["year", "total_score", "connect_score", "resolution_score",
                           "city_code"], ascending=[True, False, False, False, True])
    hot["national_rank"] = hot.groupby("year").cumcount() + 1
    hot["line_class"] = np.select(
        [hot["connect_rate"] >= thresholds["hot_min_connect_rate"],
         hot["connect_rate"] >= thresholds["warm_min_connect_rate"], hot["connect_rate"] > 0],
        ["热线", "温线", "冷线"], "死线")
    hot["hollow_heat_gap"] = hot["connect_score"] - hot["resolution_score"]
    hot["service_score"] = (hot["etiquette_score"] + hot["communication_score"]) / 2
    before = hot[["year", "city_code", "total_score", "national_rank", "line_class"]].assign(
        year=lambda f: f["year"] + 1).rename(columns={
            "total_score": "previous_total_score", "national_rank": "previous_national_rank",
            "line_class": "previous_line_class"})
    hot = hot.drop(columns=["previous_total_score", "previous_national_rank",
                            "previous_line_class"]).merge(before, on=["year", "city_code"],
                                                          how="left")
    hot["total_score_change"] = hot["total_score"] - hot["previous_total_score"]
    hot["rank_change"] = (hot["previous_national_rank"] - hot["national_rank"]).astype("Int64")
    hot = hot[list(table("monitoring_hotline_year").columns)]

    # Ticket marts: every cloned city takes the tickets of one of the demo's ticket cities.
    kpi = table("kpi_city_year")
    ticket_cities = sorted(kpi["city_code"].unique())
    tickets_of = pd.DataFrame({"new_code": mapping["new_code"],
                               "city_code": [ticket_cities[i % len(ticket_cities)]
                                             for i in range(len(mapping))]})

    def per_city(frame: pd.DataFrame) -> pd.DataFrame:
        out = tickets_of.merge(frame, on="city_code")
        return out.assign(city_code=out["new_code"]).drop(columns=["new_code"])

    files = table("file_reconciliation")
    ticket_files = files[files["entity"] == "tickets"]
    source_city = src.execute(
        "SELECT DISTINCT source_id, city_code FROM fct_tickets").df()
    scaled_files = per_city(ticket_files.merge(source_city, on="source_id"))
    scaled_files["source_id"] = scaled_files["source_id"] + "_" + scaled_files["city_code"]
    scaled_files["source_file"] = (scaled_files["source_id"] + "/"
                                   + scaled_files["source_file"].str.split("/").str[-1])
    fct = src.execute(
        "SELECT city_code, source_id, source_file, received_year, count(*) AS n "
        "FROM fct_tickets GROUP BY ALL").df()
    fct = per_city(fct)
    fct["source_id"] = fct["source_id"] + "_" + fct["city_code"]
    fct["source_file"] = fct["source_id"] + "/" + fct["source_file"].str.split("/").str[-1]
    calls = src.execute(
        "SELECT evaluation_year, city_code, source_id, source_file, count(*) AS n "
        "FROM fct_test_calls GROUP BY ALL").df()
    calls = mapping[["new_code", "city_code"]].merge(calls, on="city_code")
    calls = calls.assign(city_code=calls["new_code"]).drop(columns=["new_code"])

    out = duckdb.connect(str(target))
    frames = {
        "dim_city": dim_city,
        "dim_category": table("dim_category"),
        "monitoring_hotline_year": hot,
        "monitoring_national_year": _national(hot, table("monitoring_national_year")),
        "monitoring_awards": _awards(hot, config),
        "kpi_city_year": per_city(kpi),
        "category_city_year": per_city(table("category_city_year")),
        "ticket_mix_city_year": per_city(table("ticket_mix_city_year")),
        "category_unmapped_labels": per_city(table("category_unmapped_labels")),
        "file_reconciliation": pd.concat(
            [scaled_files[list(files.columns)], files[files["entity"] != "tickets"]],
            ignore_index=True),
        "fct_tickets_grouped": fct,
        "fct_test_calls_grouped": calls,
    }
    for name, frame in frames.items():
        out.register("frame", frame)
        out.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        out.unregister("frame")
    # The fact tables at their real size per city (one row per ticket or call), with the columns
    # the report reads.
    out.execute("""
        CREATE TABLE fct_tickets AS
        SELECT city_code, source_id, source_file, received_year
        FROM fct_tickets_grouped, range(n::BIGINT)
    """)
    out.execute("""
        CREATE TABLE fct_test_calls AS
        SELECT evaluation_year, city_code, source_id, source_file
        FROM fct_test_calls_grouped, range(n::BIGINT)
    """)
    out.execute("DROP TABLE fct_tickets_grouped; DROP TABLE fct_test_calls_grouped")
    out.close()
    src.close()


def _time(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _pdf(data: Any, stamp: str, env: Any, target: Path) -> Path:
    return render.render_pdf(render.render_pdf_html(data, stamp, env), target)


def run(warehouse: Path, lake: Path | None, site: Path, repeat: int) -> dict[str, Any]:
    stamp = "2019-09-17 09:00"
    timings: dict[str, list[float]] = {k: [] for k in
                                       ("load", "html", "write", "pdf", "render_year")}
    pages = 0
    folder = site / str(YEAR)
    env = render.environment()
    for _ in range(repeat):
        seconds, data = _time(partial(render.load_report, warehouse, YEAR, lake))
        timings["load"].append(seconds)
        seconds, html = _time(partial(render.render_pages, data, stamp, env))
        timings["html"].append(seconds)
        pages = len(html)
        seconds, _ = _time(partial(render.write_pages, folder, html))
        timings["write"].append(seconds)
        seconds, _ = _time(partial(_pdf, data, stamp, env, folder / render.PDF_NAME))
        timings["pdf"].append(seconds)
        seconds, _ = _time(partial(render.render_year, warehouse, site, YEAR, lake=lake))
        timings["render_year"].append(seconds)
    return {"pages": pages, "timings": timings,
            "median": {k: statistics.median(v) for k, v in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hotlines", type=int, default=350)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warehouse", type=Path, help="a built warehouse to scale")
    parser.add_argument("--demo-tickets", type=int, default=150_000,
                        help="tickets of the demo built when no --warehouse is given")
    parser.add_argument("--lake", type=Path, help="its lake (for the quality results)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        workdir = Path(tmp)
        if args.warehouse is None:
            print(f"building a demo warehouse of {args.demo_tickets:,} tickets …", flush=True)
            seconds, (args.warehouse, args.lake) = _time(
                partial(build_demo, workdir / "demo", args.demo_tickets))
            print(f"built in {seconds:.0f} s")
        scaled = workdir / "scaled.duckdb"
        seconds, _ = _time(lambda: scale_warehouse(args.warehouse, scaled, args.hotlines))
        with duckdb.connect(str(scaled), read_only=True) as con:
            (n,), (t,) = (con.execute(
                f"SELECT count(*) FROM monitoring_hotline_year WHERE year = {YEAR}").fetchone(),
                con.execute("SELECT count(*) FROM fct_tickets").fetchone())
        print(f"scaled warehouse: {n} hotlines in {YEAR}, {t:,} ticket rows "
              f"(built in {seconds:.1f} s)")
        result = run(scaled, args.lake, workdir / "site", args.repeat)
    median = result["median"]
    print(f"\n{result['pages']} HTML pages + report.pdf, {args.hotlines} hotlines, "
          f"median of {args.repeat} runs\n")
    print("| stage | seconds |")
    print("|---|---:|")
    for stage in ("load", "html", "write", "pdf", "render_year"):
        print(f"| {stage} | {median[stage]:.2f} |")
    html_total = median["load"] + median["html"] + median["write"]
    print(f"| all HTML pages (load + html + write) | {html_total:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"hotlines": args.hotlines, **result}, indent=2))


if __name__ == "__main__":
    main()
