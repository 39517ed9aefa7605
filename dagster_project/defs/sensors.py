"""Sensors: files arriving in landing/, and the reports that follow a successful refresh.

`landing_sensor` keeps, per landing path, the size, modification time and SHA-256 it last saw.
A file whose size and mtime did not change is not read again; a file that did is hashed, and
requests a run only when its content is new: neither the hash the sensor saw before nor a file
the lake's manifest already holds as loaded. One run per source with new content: the `refresh`
job on that source's partition (ingestion, the dbt build, every check).

Which years a file touches is known only once it is read, so the report follows in a second
step. `report_sensor` compares state, not events: each report records the live warehouse it was
rendered from, each run records the years its ingestion loaded, and a year whose rows a build
changed since its report was rendered gets a report run. A build that finished while the
sensor was off is therefore caught up on its first evaluation.
"""


import hashlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from dagster_project.defs.assets.ingest import LAKE_MANIFEST, REPORT_YEARS_METADATA
from dagster_project.defs.assets.report import ANNUAL_REPORT, MART_DEPS, RENDERED_FROM_METADATA
from dagster_project.defs.jobs import refresh_job, report_job
from dagster_project.defs.partitions import REPORT_YEARS_NAME, source_partitions
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.landing_scan import dump_cursor, parse_cursor, scan_landing
from dagster_project.settings import data_paths
from dagster_project.warehouse.build_state import PublishedBuild, published_build


def run_request_for(source: str, files: list[tuple[str, str]]) -> dg.RunRequest:
    digest = hashlib.sha256("\n".join(sorted(sha for _, sha in files)).encode()).hexdigest()
    names = ", ".join(sorted(path for path, _ in files))
    return dg.RunRequest(
        run_key=f"{source}:{digest[:16]}",
        partition_key=source,
        tags={"hotline/trigger": "landing_sensor",
              "hotline/files": names if len(names) <= 200 else names[:197] + "..."},
    )


@dg.sensor(
    name="landing_sensor",
    job=refresh_job,
    minimum_interval_seconds=30,
    description=(
        "Watches landing/<source_id>/ for new or changed files (by content: SHA-256) and "
        "requests a refresh of that source only: its ingestion, the dbt build and every check. "
        "Files already ingested request nothing."
    ),
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    paths = data_paths()
    scan = scan_landing(paths.landing, Lake(paths.lake), source_partitions.get_partition_keys(),
                        parse_cursor(context.cursor))
    for problem in scan.problems:
        context.log.warning(problem)
    requests = [run_request_for(source, files) for source, files in sorted(scan.changed.items())]
    if scan.deferred:
        context.log.info(f"{scan.deferred} file(s) left for the next evaluation")
    skip = None if requests else dg.SkipReason("no new or changed landing file")
    return dg.SensorResult(run_requests=requests, cursor=dump_cursor(scan.cursor),
                           skip_reason=skip)


@dataclass(frozen=True)
class RunChanges:
    """What one run changed for the reports."""

    years: list[int]  # report years whose rows its ingestion loaded
    ingested: bool  # it ran the ingestion: `years` is then all it changed
    rebuilt: bool  # it rebuilt the marts the report reads


def run_changes(instance: dg.DagsterInstance, run_id: str) -> RunChanges:
    records = instance.get_records_for_run(
        run_id=run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    materialized = set()
    years: set[int] = set()
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        materialized.add(materialization.asset_key)
        if materialization.asset_key == LAKE_MANIFEST:
            value = materialization.metadata.get(REPORT_YEARS_METADATA)
            years.update(int(y) for y in (getattr(value, "value", None) or []))
    known = {int(y) for y in instance.get_dynamic_partitions(REPORT_YEARS_NAME)}
    return RunChanges(sorted(years & known), LAKE_MANIFEST in materialized,
                      set(MART_DEPS) <= materialized)


def report_years_of_run(instance: dg.DagsterInstance, run_id: str) -> tuple[list[int], bool]:
    """The monitoring years whose rows a run loaded that are report partitions, and whether
    the run rebuilt the marts."""
    changes = run_changes(instance, run_id)
    return changes.years, changes.rebuilt


PARTITION_TAG = "dagster/partition"  # the tag of a run of one partition
# Runs looked at per evaluation after a report's warehouse; beyond, the year is rendered again.
RUNS_LOOKED_AT = 200
REPORT_RUNNING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                  dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


@dataclass(frozen=True)
class StaleReport:
    year: int
    reason: str


def last_rendered_from(instance: dg.DagsterInstance, year: int) -> PublishedBuild | None:
    """The warehouse the latest report of the year was rendered from (None: never rendered,
    or rendered before reports recorded it)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=ANNUAL_REPORT, asset_partitions=[str(year)]),
        limit=1).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get(RENDERED_FROM_METADATA)
    per_year = getattr(value, "value", None)
    return PublishedBuild.from_metadata(
        per_year.get(str(year)) if isinstance(per_year, dict) else None)


def years_changed_since(instance: dg.DagsterInstance, timestamp: float) -> set[int] | None:
    """Report years whose rows runs rebuilt the marts with after the warehouse published at
    `timestamp` (None: every year: a build that ingested nothing, such as `hotline build`,
    may change any year)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=MART_DEPS[0], after_timestamp=timestamp),
        limit=RUNS_LOOKED_AT, ascending=True).records
    if len(records) >= RUNS_LOOKED_AT:
        return None
    runs = list(dict.fromkeys(r.run_id for r in records))
    # A build records its marts as soon as it has published, before the next build can have
    # run dbt: the first run to record them after `timestamp`, if it had started by then,
    # published that warehouse, which the report read.
    first = instance.get_run_record_by_id(runs[0]) if runs else None
    if first is not None and first.start_time is not None and first.start_time <= timestamp:
        runs = runs[1:]
    years: set[int] = set()
    for run_id in runs:
        changes = run_changes(instance, run_id)
        if not changes.rebuilt:
            continue
        if not changes.ingested:
            return None
        years.update(changes.years)
    return years


def stale_reports(instance: dg.DagsterInstance, live: PublishedBuild) -> list[StaleReport]:
    """The report years whose report was not rendered from a warehouse holding their latest
    rows. A year is up to date when its report was rendered from the live warehouse, or when
    no run rebuilt its rows since the warehouse it was rendered from (same code and reference
    data); otherwise it is stale, whatever the report sensor saw or missed."""
    stale = []
    since: dict[float, set[int] | None] = {}
    for key in instance.get_dynamic_partitions(REPORT_YEARS_NAME):
        year = int(key)
        rendered = last_rendered_from(instance, year)
        if rendered is None:
            stale.append(StaleReport(year, "no report rendered from a recorded warehouse"))
            continue
        if rendered.same_file(live):
            continue
        if rendered.fingerprint != live.fingerprint:
            stale.append(StaleReport(year, "the warehouse was rebuilt by other code or "
                                           "reference data"))
            continue
        after = rendered.mtime_ns / 1e9
        if after not in since:
            since[after] = years_changed_since(instance, after)
        changed = since[after]
        if changed is None or year in changed:
            stale.append(StaleReport(year, "a build since its report loaded rows of the year"))
    return stale


def report_running(instance: dg.DagsterInstance, year: int) -> bool:
    return bool(instance.get_run_records(
        filters=dg.RunsFilter(job_name=report_job.name, statuses=REPORT_RUNNING,
                              tags={PARTITION_TAG: str(year)}),
        limit=1))


def report_requests(instance: dg.DagsterInstance, warehouse: Path) -> list[dg.RunRequest]:
    """A report run for each stale year, keyed by the warehouse it will read: one run per
    year and warehouse, however many evaluations see it."""
    live = published_build(warehouse)
    if live is None:
        return []
    return [
        dg.RunRequest(
            run_key=f"report:{s.year}:{live.mtime_ns}:{live.size}",
            partition_key=str(s.year),
            tags={"hotline/trigger": "report_sensor", "hotline/reason": s.reason},
        )
        for s in stale_reports(instance, live)
        if not report_running(instance, s.year)
    ]


@dg.sensor(
    name="report_sensor",
    job=report_job,
    minimum_interval_seconds=30,
    description=(
        "Renders the report of each monitoring year whose warehouse is newer than its report: "
        "rows of the year loaded by a build since the warehouse the report was rendered from "
        "(tickets by year of receipt, test calls by monitoring year), other code or reference "
        "data, or no report yet. Builds that finished while it was off are caught up."
    ),
)
def report_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    requests = report_requests(context.instance, data_paths().warehouse)
    skip = None if requests else dg.SkipReason("every report is up to date with the warehouse")
    return dg.SensorResult(run_requests=requests, skip_reason=skip)


SENSORS = [landing_sensor, report_sensor]
