"""Run the whole asset graph in this process: ingest -> dbt -> checks -> report."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dagster_project.settings import DATA_ROOT_ENV, data_root


@dataclass(frozen=True)
class PipelineRun:
    success: bool
    failed_checks: list[str]  # "asset:check" of ERROR checks that failed: they block
    warnings: list[str]  # "asset:check" of WARN checks that failed: reported only
    materialized: list[str]


def run_everything(log_level: str = "INFO") -> PipelineRun:
    """Materialise every asset with an ephemeral Dagster instance (no DAGSTER_HOME needed)."""
    import dagster as dg

    os.environ.setdefault(DATA_ROOT_ENV, str(data_root()))
    from dagster_project.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )
    failed_checks: list[str] = []
    warnings: list[str] = []
    materialized: list[str] = []
    for event in result.all_events:
        data = event.event_specific_data
        if isinstance(data, dg.AssetCheckEvaluation) and not data.passed:
            name = f"{data.asset_key.to_user_string()}:{data.check_name}"
            is_warning = data.severity == dg.AssetCheckSeverity.WARN
            (warnings if is_warning else failed_checks).append(name)
        elif event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key:
            materialized.append(event.asset_key.to_user_string())
    return PipelineRun(result.success, failed_checks, warnings, materialized)
