"""The Dagster code location: landing -> lake -> warehouse -> checks -> report."""

from __future__ import annotations

import os

import dagster as dg

from dagster_project.settings import DATA_ROOT_ENV, data_root

# dbt runs as a subprocess and reads the data root from the environment: make the default
# explicit before anything starts it.
os.environ.setdefault(DATA_ROOT_ENV, str(data_root()))

from dagster_project.defs.assets.ingest import ingest_landing
from dagster_project.defs.assets.report import annual_report
from dagster_project.defs.assets.warehouse import mart_tables, warehouse_models
from dagster_project.defs.checks.quality import build_quality_checks
from dagster_project.defs.resources import dbt_resource

defs = dg.Definitions(
    assets=[ingest_landing, warehouse_models, annual_report],
    asset_checks=build_quality_checks(mart_tables()),
    resources={"dbt": dbt_resource},
)
