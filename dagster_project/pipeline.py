"""Run the whole asset graph in this process: ingest -> dbt -> checks -> report."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dagster_project.settings import DATA_ROOT_ENV, data_root


@dataclass(frozen=True)
class PipelineRun:
    success: bool
    failed_checks: list[str]
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
    failed_checks = []
    materialized = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:  # type: ignore[union-attr]
                failed_checks.append(
                    f"{evaluation.asset_key.to_user_string()}:"  # type: ignore[union-attr]
                    f"{evaluation.check_name}"  # type: ignore[union-attr]
                )
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            materialized.append(event.asset_key.to_user_string())  # type: ignore[union-attr]
    return PipelineRun(result.success, failed_checks, materialized)
