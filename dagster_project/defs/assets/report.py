"""Warehouse -> site: the yearly monitoring report rendered from the marts."""


import dagster as dg

from dagster_project.report.render import monitoring_years, render_year
from dagster_project.settings import data_paths

MART_DEPS = [
    dg.AssetKey(["monitoring_hotline_year"]),
    dg.AssetKey(["monitoring_national_year"]),
    dg.AssetKey(["monitoring_awards"]),
    dg.AssetKey(["kpi_city_year"]),
    dg.AssetKey(["file_reconciliation"]),
    dg.AssetKey(["dim_city"]),
]


@dg.asset(
    group_name="report",
    deps=MART_DEPS,
    description=(
        "年度监测成果: site/<year>/index.html for every monitoring year in the warehouse, "
        "self-contained HTML rendered by Jinja2. Blocked while an ERROR check fails."
    ),
)
def annual_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    paths = data_paths()
    rendered = [render_year(paths.warehouse, paths.site, year, lake=paths.lake)
                for year in monitoring_years(paths.warehouse)]
    for report in rendered:
        context.log.info(f"report {report.year}: {report.index_path}")
    return dg.MaterializeResult(
        metadata={
            "years": [r.year for r in rendered],
            "latest_report": dg.MetadataValue.path(str(rendered[-1].index_path))
            if rendered else "none",
        }
    )
