"""Sensors: files arriving in landing/, and the reports that follow a successful refresh.

`landing_sensor` keeps, per landing path, the size, modification time and SHA-256 it last saw.
A file whose size and mtime did not change is not read again; a file that did is hashed, and
requests a run only when its content is new: neither the hash the sensor saw before nor a file
the lake's manifest already holds as loaded. One run per source with new content: the `refresh`
job on that source's partition (ingestion, the dbt build, every check).

Which years a file touches is known only once it is read, so the report follows in a second
step: `report_sensor` watches successful `refresh` runs that rebuilt the warehouse and requests
the report partition of each monitoring year whose rows that run loaded.
"""


import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from dagster_project.defs.assets.ingest import LAKE_MANIFEST, REPORT_YEARS_METADATA
from dagster_project.defs.assets.report import MART_DEPS
from dagster_project.defs.jobs import refresh_job, report_job
from dagster_project.defs.partitions import REPORT_YEARS_NAME, source_partitions
from dagster_project.ingest.lake import Lake, file_sha256
from dagster_project.settings import data_paths, sources_dir
from dagster_project.sources import SourceConfigError, load_source_config

# Bytes hashed per evaluation at most; files beyond it are looked at on the next tick, so that
# a first evaluation over a large landing folder stays within the sensor's time limit.
HASH_BUDGET_BYTES = 4 << 30


@dataclass(frozen=True)
class Seen:
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class LandingScan:
    """What one evaluation found: new or changed files per source, and the new cursor."""

    changed: dict[str, list[tuple[str, str]]]  # source -> [(landing path, sha256)]
    cursor: dict[str, Seen]
    deferred: int  # files left for the next tick (hash budget spent)
    problems: list[str]


def parse_cursor(cursor: str | None) -> dict[str, Seen]:
    if not cursor:
        return {}
    try:
        raw = json.loads(cursor)
        return {path: Seen(*value) for path, value in raw.get("files", {}).items()}
    except (ValueError, TypeError):
        return {}  # an unreadable cursor: start over; the manifest prevents re-ingestion


def dump_cursor(seen: dict[str, Seen]) -> str:
    return json.dumps(
        {"files": {p: [s.size, s.mtime_ns, s.sha256] for p, s in sorted(seen.items())}},
        separators=(",", ":"),
    )


def scan_landing(
    landing: Path, lake: Lake, sources: list[str], previous: dict[str, Seen],
    budget: int = HASH_BUDGET_BYTES,
) -> LandingScan:
    changed: dict[str, list[tuple[str, str]]] = {}
    cursor: dict[str, Seen] = {}
    problems: list[str] = []
    deferred = 0
    for source in sources:
        try:
            config = load_source_config(sources_dir() / f"{source}.yaml")
        except SourceConfigError as exc:
            problems.append(str(exc))
            # Keep what was known about its files: they are looked at again once it loads.
            cursor.update({p: s for p, s in previous.items()
                           if p.startswith(f"{source}/")})
            continue
        for path in config.landing_files(landing):
            relative = path.relative_to(landing).as_posix()
            stat = path.stat()
            before = previous.get(relative)
            if before and (before.size, before.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                cursor[relative] = before  # unchanged: not read again
                continue
            if stat.st_size > budget:
                deferred += 1
                if before:
                    cursor[relative] = before
                continue
            budget -= stat.st_size
            sha = file_sha256(path)
            cursor[relative] = Seen(stat.st_size, stat.st_mtime_ns, sha)
            if before and before.sha256 == sha:
                continue  # touched, same content
            entry = lake.read_manifest_entry(source, sha)
            if entry is not None and entry.status == "loaded":
                continue  # this content is in the lake already
            changed.setdefault(source, []).append((relative, sha))
    return LandingScan(changed, cursor, deferred, problems)


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


def report_years_of_run(instance: dg.DagsterInstance, run_id: str) -> tuple[list[int], bool]:
    """The monitoring years whose rows a run loaded that are report partitions, and whether
    the run rebuilt the marts."""
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
    return sorted(years & known), set(MART_DEPS) <= materialized


@dg.run_status_sensor(
    name="report_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[refresh_job],
    request_job=report_job,
    description=(
        "After a successful refresh that rebuilt the warehouse: the report of each monitoring "
        "year whose rows that refresh loaded (tickets by year of receipt, test calls by "
        "monitoring year)."
    ),
)
def report_sensor(context: dg.RunStatusSensorContext) -> list[dg.RunRequest] | dg.SkipReason:
    run = context.dagster_run
    years, rebuilt = report_years_of_run(context.instance, run.run_id)
    if not rebuilt:
        return dg.SkipReason(f"run {run.run_id} did not rebuild the marts the report reads")
    requests = [
        dg.RunRequest(
            run_key=f"{run.run_id}:{year}",
            partition_key=str(year),
            tags={"hotline/trigger": "report_sensor", "hotline/after_run": run.run_id},
        )
        for year in years
    ]
    return requests or dg.SkipReason(f"run {run.run_id} loaded no rows of a monitoring year")


SENSORS = [landing_sensor, report_sensor]
