"""The `ingest` and `report` jobs without dagster-dbt, for the commands that run them.

Neither job runs a dbt asset, but the code location (`dagster_project.definitions`) imports
dagster-dbt and dbt-core and builds the dbt assets from the manifest: about 2 s of every
`hotline ingest` and `hotline report`. The definitions here hold the same assets, checks and
jobs minus the dbt assets and the dbt resource, so the jobs have the same ops, dependencies,
partitions and checks (tests/test_operations.py compares them with the code location's).

The quality gate depends on every checked table, the marts among them: they are read from the
dbt manifest. When the manifest is missing or older than the dbt project, only the code
location (which parses the project first) knows them, and `job("report")` gives None.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

# Loaded for its check of the schedule settings: a malformed one fails every command that runs
# a job, as it does when the code location loads.
import dagster_project.defs.schedules  # noqa: F401
from dagster_project.defs.assets.ingest import ingest_landing
from dagster_project.defs.assets.quality import build_quality_gate, quality_results
from dagster_project.defs.assets.report import annual_report
from dagster_project.defs.checks.quality import build_quality_checks, checked_assets
from dagster_project.defs.jobs import ingest_job, report_job
from dagster_project.settings import PROJECT_ROOT

# As in defs/project.py (DbtProject's default target path).
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
PARSED_FOLDERS = ("models", "macros", "seeds", "tests", "snapshots", "analyses")


def manifest_is_current(project_dir: Path = DBT_PROJECT_DIR,
                        manifest: Path = MANIFEST_PATH) -> bool:
    """The manifest exists and is newer than every file a dbt parse reads: the opposite of
    `defs.project.manifest_is_stale`, which cannot be imported without dagster-dbt."""
    if not manifest.exists():
        return False
    files = [project_dir / "dbt_project.yml", project_dir / "packages.yml"]
    for folder in PARSED_FOLDERS:
        files += (project_dir / folder).rglob("*")
    built = manifest.stat().st_mtime
    return not any(f.is_file() and f.stat().st_mtime > built for f in files)


def mart_tables(manifest: Path = MANIFEST_PATH) -> list[str]:
    """The dbt models built as tables and the seeds, as `warehouse.mart_tables` lists them."""
    nodes: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    return sorted(
        node["name"] for node in nodes.values()
        if node["resource_type"] in ("model", "seed")
        and node["config"].get("materialized", "seed") in ("table", "seed")
    )


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
    if name == report_job.name and manifest_is_current():
        return _report_definitions().resolve_job_def(name)
    return None
