"""The `ingest` and `report` jobs without dagster-dbt, for the commands that run them.

Neither job runs a dbt asset, but the code location (`dagster_project.definitions`) imports
dagster-dbt and dbt-core and builds the dbt assets from the manifest, which slows the start of
every `hotline ingest` and `hotline report` for nothing (BENCHMARKS.md, "Figures that were in
code comments"). The definitions here hold the same assets, checks and jobs minus the dbt
assets and the dbt resource, so the jobs have the same ops, dependencies, partitions and checks
(tests/test_operations.py compares them with the code location's).

The quality gate depends on every checked table, the marts among them: they are read from the
dbt manifest. When the manifest is missing or older than the dbt project, only the code
location (which parses the project first) knows them, and `job("report")` gives None.
"""

from functools import cache

import dagster as dg

# Loaded for its check of the schedule settings: a malformed one fails every command that runs
# a job, as it does when the code location loads.
import dagster_project.defs.schedules  # noqa: F401
from dagster_project.defs.assets.ingest import ingest_landing
from dagster_project.defs.assets.quality import build_quality_gate, quality_results
from dagster_project.defs.assets.report import annual_report
from dagster_project.defs.checks.quality import build_quality_checks, checked_assets
from dagster_project.defs.jobs import ingest_job, report_job
from dagster_project.warehouse.dbt_files import manifest_is_stale, mart_tables


@cache
def _ingest_definitions() -> dg.Definitions:
    return dg.Definitions(
        executor=dg.in_process_executor,
        assets=[ingest_landing],
        # Only the lake's checks: no mart is among these assets, so no manifest is needed.
        asset_checks=build_quality_checks([], assets=ingest_landing.keys),
        jobs=[ingest_job],
    )


@cache
def _report_definitions() -> dg.Definitions:
    quality_gate = build_quality_gate(checked_assets(build_quality_checks(mart_tables())))
    return dg.Definitions(
        executor=dg.in_process_executor,
        assets=[quality_gate, annual_report, quality_results],
        jobs=[report_job],
    )


def job(name: str) -> dg.JobDefinition | None:
    """The job `name` without dbt, or None: a job that runs dbt assets, or the report while
    the manifest is not current."""
    if name == ingest_job.name:
        return _ingest_definitions().resolve_job_def(name)
    if name == report_job.name and not manifest_is_stale():
        return _report_definitions().resolve_job_def(name)
    return None
