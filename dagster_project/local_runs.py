"""Run the jobs of the code location in this process, and the Dagster instance they record in.

`run_everything()` materialises the whole graph (every source, the dbt build, every check, the
quality gate and every year's report) as two runs: `refresh` over the range of all source
partitions (one ingestion step, one dbt build), then `report` over the range of all years.
The `hotline` CLI runs its commands through `execute()` on the data root's own instance
(`<data root>/dagster_home`), which `hotline ui` shows.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_project.processes import process_alive
from dagster_project.settings import DATA_ROOT_ENV, data_root

if TYPE_CHECKING:
    import dagster as dg

DAGSTER_HOME_ENV = "DAGSTER_HOME"
PID_TAG = "hotline/pid"
HOST_TAG = "hotline/host"

# The instance settings every data root gets: the pool `duckdb_writer` has one slot, claimed per
# step (op granularity), which the in-process executor of the CLI honours as well as the runs
# that `dagster dev` launches.
DAGSTER_YAML = """\
# Written by `hotline`; edit freely, it is not overwritten.
concurrency:
  pools:
    granularity: op
    default_limit: 1
telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class JobOutcome:
    """One run: whether it succeeded, what it materialised, what failed and why, in words."""

    job: str
    run_id: str
    success: bool
    failed_checks: list[str]  # "asset:check" of ERROR checks that failed: they block
    warnings: list[str]  # "asset:check" of WARN checks that failed: reported only
    materialized: list[str]
    errors: list[str]  # one sentence per failed step
    check_details: dict[str, str] = field(default_factory=dict)  # failed check -> why


@dataclass(frozen=True)
class PipelineRun:
    success: bool
    failed_checks: list[str]
    warnings: list[str]
    materialized: list[str]
    errors: list[str] = field(default_factory=list)
    runs: list[JobOutcome] = field(default_factory=list)


def dagster_home() -> Path:
    """The Dagster instance of the data root: run history, sensor cursors, partitions."""
    return data_root() / "dagster_home"


def ensure_dagster_home(home: Path | None = None) -> Path:
    """Create the instance folder with its dagster.yaml (the writer pool) and point
    DAGSTER_HOME at it."""
    home = home or dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        # written whole and renamed: a process starting meanwhile never reads half a file
        staged = home / f".dagster.yaml.{os.getpid()}"
        staged.write_text(DAGSTER_YAML, encoding="utf-8")
        os.replace(staged, config)
    os.environ[DAGSTER_HOME_ENV] = str(home)
    return home


def local_instance() -> dg.DagsterInstance:
    """The data root's persistent instance (created on first use, by one process at a time:
    see `locks.instance_lock`)."""
    import dagster as dg

    from dagster_project.locks import instance_lock

    home = ensure_dagster_home()
    with instance_lock(home):
        instance = dg.DagsterInstance.get()
        # Each storage creates its database on first use: runs, schedules, the event index.
        instance.get_runs_count()
        instance.all_instigator_state()
        instance.get_latest_materialization_event(dg.AssetKey("hotline_instance_probe"))
    return instance


def release_abandoned_slots(instance: dg.DagsterInstance) -> list[str]:
    """Free pool slots still claimed by runs that are over, or whose in-process runner (a CLI
    killed without a chance to clean up) is gone. Returns the run ids freed."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    freed = []
    for run_id in storage.get_concurrency_run_ids():
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
            continue
        pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if pid and host == socket.gethostname() and not process_alive(int(pid)):
            instance.report_run_failed(run, "the process running it ended without finishing")
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed


def _message(error: object) -> str:
    """The innermost meaningful message of a serialised error, without the class name."""
    info = error
    while getattr(info, "cause", None) is not None and (
        (getattr(info, "cls_name", "") or "").startswith("Dagster")
        and "DbtCli" not in (getattr(info, "cls_name", "") or "")
    ):
        info = info.cause  # type: ignore[attr-defined]
    text = (getattr(info, "message", "") or "").strip()
    name = getattr(info, "cls_name", "") or ""
    head, sep, rest = text.partition(": ")
    if sep and name and head.endswith(name):
        text = rest
    return " ".join(text.split())


def outcome_of(job: str, result: dg.ExecuteInProcessResult) -> JobOutcome:
    import dagster as dg

    failed_checks: list[str] = []
    warnings: list[str] = []
    materialized: list[str] = []
    errors: list[str] = []
    details: dict[str, str] = {}
    for event in result.all_events:
        data = event.event_specific_data
        if isinstance(data, dg.AssetCheckEvaluation) and not data.passed:
            name = f"{data.asset_key.to_user_string()}:{data.check_name}"
            is_warning = data.severity == dg.AssetCheckSeverity.WARN
            (warnings if is_warning else failed_checks).append(name)
            failures = getattr(data.metadata.get("failures"), "value", "") or ""
            first = [line.removeprefix("- ") for line in str(failures).splitlines()[:2]
                     if line.strip() and line.strip() != "none"]
            details[name] = "; ".join(filter(None, [data.description or "", *first]))
        elif event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key:
            name = event.asset_key.to_user_string()
            if name not in materialized:
                materialized.append(name)
        elif event.event_type_value == "STEP_FAILURE" and event.step_failure_data:
            errors.append(f"{event.step_key}: {_message(event.step_failure_data.error)}")
        elif event.event_type_value == "RUN_FAILURE" and not errors:
            failure = getattr(data, "error", None)
            if failure is not None:
                errors.append(_message(failure))
    return JobOutcome(job, result.run_id, result.success, failed_checks, warnings,
                      materialized, errors, details)


def job_definition(job_name: str) -> dg.JobDefinition:
    """A job of the code location."""
    from dagster_project.definitions import defs

    return defs.resolve_job_def(job_name)


def execute(
    job_name: str,
    *,
    instance: dg.DagsterInstance | None = None,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    asset_selection: Sequence[dg.AssetKey] | None = None,
    log_level: str = "INFO",
) -> JobOutcome:
    """Execute one job of the code location in this process."""
    import dagster as dg

    os.environ.setdefault(DATA_ROOT_ENV, str(data_root()))
    job = job_definition(job_name)
    instance = instance or dg.DagsterInstance.ephemeral()
    release_abandoned_slots(instance)
    run_tags = {**(tags or {}), PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    result = job.execute_in_process(
        instance=instance,
        partition_key=partition_key,
        tags=run_tags,
        asset_selection=list(asset_selection) if asset_selection else None,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )
    return outcome_of(job_name, result)


def report_range_tags(instance: dg.DagsterInstance) -> dict[str, str]:
    from dagster_project.defs.partitions import range_tags, report_years

    years = report_years(instance)
    return range_tags(years[0], years[-1]) if years else {}


def run_everything(
    log_level: str = "INFO", instance: dg.DagsterInstance | None = None
) -> PipelineRun:
    """Materialise every asset: all sources, the dbt build, every check, the quality gate and
    every year's report. Without an instance, an ephemeral one (no DAGSTER_HOME needed)."""
    import dagster as dg

    from dagster_project.defs.partitions import all_sources_tags

    instance = instance or dg.DagsterInstance.ephemeral()
    runs = [execute("refresh", instance=instance, tags=all_sources_tags(), log_level=log_level)]
    if runs[0].success:
        tags = report_range_tags(instance)
        if tags:
            runs.append(execute("report", instance=instance, tags=tags, log_level=log_level))
    return PipelineRun(
        success=all(r.success for r in runs),
        failed_checks=[c for r in runs for c in r.failed_checks],
        warnings=[w for r in runs for w in r.warnings],
        materialized=[m for r in runs for m in r.materialized],
        errors=[e for r in runs for e in r.errors],
        runs=runs,
    )
