"""Jobs: the selections that sensors, schedules and the CLI run. Checks of the selected assets
run with them."""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.partitions import report_year_partitions, source_partitions

INGEST = dg.AssetSelection.groups("ingest")
WAREHOUSE = dg.AssetSelection.groups("warehouse")
# The text analysis reads what the build published: it runs with every build.
TEXT = dg.AssetSelection.groups("text")
PUBLISH = dg.AssetSelection.groups("quality", "report")

refresh_job = dg.define_asset_job(
    name="refresh",
    selection=INGEST | WAREHOUSE | TEXT,
    partitions_def=source_partitions,
    description=(
        "Ingest the landing files of the selected sources (one partition per source, or a "
        "range in one run), then one dbt build of the whole warehouse, every check and the "
        "text analysis."
    ),
)

ingest_job = dg.define_asset_job(
    name="ingest",
    selection=INGEST,
    partitions_def=source_partitions,
    description="Ingest the landing files of the selected sources into the lake, and check them.",
)

build_job = dg.define_asset_job(
    name="build",
    selection=WAREHOUSE | TEXT,
    description=("One dbt build of the warehouse from the lake as it is, every check and the "
                 "text analysis."),
)

report_job = dg.define_asset_job(
    name="report",
    selection=PUBLISH,
    partitions_def=report_year_partitions,
    description="Pass the quality gate, then render the report of the selected year(s).",
)

JOBS = [refresh_job, ingest_job, build_job, report_job]
