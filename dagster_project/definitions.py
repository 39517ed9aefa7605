"""The Dagster code location: landing -> lake -> warehouse -> text -> checks -> quality gate ->
report.

Groups: ingest (partitioned by source), warehouse (dbt, one build per run), text (the
classifier and the hot issues, after the build), quality (the gate
over every suite's latest result) and report (partitioned by monitoring year). Sensors and
schedules start stopped; turn them on in the UI (Automation) or with `dagster sensor start`.
"""

from __future__ import annotations

import os

import dagster as dg

from dagster_project.settings import DATA_ROOT_ENV, data_root

# dbt runs as a subprocess and reads the data root from the environment: make the default
# explicit before anything starts it.
os.environ.setdefault(DATA_ROOT_ENV, str(data_root()))

from dagster_project.defs.assets.ingest import ingest_landing
from dagster_project.defs.assets.quality import build_quality_gate, quality_results
from dagster_project.defs.assets.report import annual_report
from dagster_project.defs.assets.text import text_analysis
from dagster_project.defs.assets.warehouse import warehouse_models
from dagster_project.defs.checks.quality import build_quality_checks, checked_assets
from dagster_project.defs.jobs import JOBS
from dagster_project.defs.resources import dbt_resource
from dagster_project.defs.schedules import SCHEDULES
from dagster_project.defs.sensors import SENSORS
from dagster_project.warehouse.dbt_files import mart_tables

quality_checks = build_quality_checks(mart_tables())
quality_gate = build_quality_gate(checked_assets(quality_checks))

defs = dg.Definitions(
    # Steps run one after the other in the run's process: a refresh is a chain (ingest, one
    # dbt build, then checks that read what dbt wrote), and a process per step would import
    # the definitions again for each of the ~10 steps, which costs more than it parallelises.
    executor=dg.in_process_executor,
    assets=[ingest_landing, warehouse_models, text_analysis, quality_gate, annual_report,
            quality_results],
    asset_checks=quality_checks,
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"dbt": dbt_resource},
)
