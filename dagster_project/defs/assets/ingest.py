"""Landing -> lake: each source's files become canonical Parquet, one partition per source."""


import datetime as dt
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq

from dagster_project import progress
from dagster_project.canonical import Entity
from dagster_project.defs.partitions import add_report_years, source_partitions
from dagster_project.ingest.lake import Lake, lake_report_years
from dagster_project.ingest.pipeline import (
    FileOutcome,
    has_files_to_read,
    share_cores,
    utc_now,
)
from dagster_project.ingest.runner import (
    SourceIngested,
    ingest_one_source,
    key_for,
    landing_folders_without_source,
)
from dagster_project.settings import DataPaths, data_paths, ingest_workers, sources_dir
from dagster_project.sources import (
    SourceConfig,
    SourceConfigError,
    load_source_config,
    load_source_configs,
)

LAKE_TICKETS = dg.AssetKey(["lake", "tickets"])
LAKE_TICKET_VERSIONS = dg.AssetKey(["lake", "ticket_versions"])
LAKE_TEST_CALLS = dg.AssetKey(["lake", "test_calls"])
LAKE_REJECTS = dg.AssetKey(["lake", "rejects"])
LAKE_MANIFEST = dg.AssetKey(["lake", "manifest"])
LAKE_KEYS = (LAKE_TICKETS, LAKE_TICKET_VERSIONS, LAKE_TEST_CALLS, LAKE_REJECTS, LAKE_MANIFEST)

# Metadata of the manifest materialization that the report sensor reads.
REPORT_YEARS_METADATA = "report_years"

FILES_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("source", "string"),
    dg.TableColumn("file", "string", description="path under landing/"),
    dg.TableColumn("status", "string", description="loaded, unchanged (skipped) or failed"),
    dg.TableColumn("rows_read", "int"),
    dg.TableColumn("rows_written", "int"),
    dg.TableColumn("rows_rejected", "int"),
    dg.TableColumn("error", "string"),
])


@dataclass(frozen=True)
class Ingested:
    config: SourceConfig
    outcome: FileOutcome


def configs_for(keys: list[str] | None, directory: Path) -> tuple[list[SourceConfig], list[str]]:
    """The configurations of the partition keys (every source when None) and the errors of
    those that cannot be loaded; a broken YAML stops only its own source."""
    if keys is None:
        return load_source_configs(directory), []
    configs, errors = [], []
    for key in keys:
        path = directory / f"{key}.yaml"
        if not path.exists():
            errors.append(f"{path}: source '{key}' has no configuration file any more; "
                          "reload the code location")
            continue
        try:
            configs.append(load_source_config(path))
        except SourceConfigError as exc:
            errors.append(str(exc))
    return configs, errors


# The time to ingest a byte of XLSX (zipped XML, parsed into Python objects), in bytes of CSV
# or JSON; measured at 10 M tickets (BENCHMARKS.md, "Figures that were in code comments").
_XLSX_COST_PER_BYTE = 10


def _ingest_sources(
    configs: list[SourceConfig], paths: DataPaths, key: bytes, when: dt.datetime,
    log: Callable[[str], None],
) -> Iterator[tuple[SourceConfig, SourceIngested]]:
    """Each source's outcomes as its ingestion ends. Sources whose files are all loaded
    already are confirmed here; the others run in parallel worker processes, the costliest
    first so that the last to finish is a small one, or here with every core when only one
    source has files to read (a daily delivery)."""
    lake = Lake(paths.lake)
    to_read = [c for c in configs if has_files_to_read(c, paths.landing, lake)]
    reading = {c.source_id for c in to_read}
    for config in configs:
        if config.source_id not in reading:
            yield config, ingest_one_source(config, paths, key, when)
    if not to_read:
        return
    # The lake checks run after this step: Great Expectations is imported meanwhile.
    from dagster_project.quality.validate import preloading

    workers = min(ingest_workers(), len(to_read))
    if workers <= 1:
        with preloading():
            for config in to_read:
                yield config, ingest_one_source(config, paths, key, when)
        return
    ordered = sorted(to_read, key=lambda c: -_ingest_cost(c, paths.landing))
    log(f"ingesting {len(to_read)} sources, {workers} at a time")
    # spawn: a fork would copy the Dagster process's threads and open handles.
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(workers, mp_context=context, initializer=share_cores,
                            initargs=(workers,)) as pool,
        preloading(),
    ):
        futures = {pool.submit(ingest_one_source, c, paths, key, when): c for c in ordered}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _ingest_cost(config: SourceConfig, landing: Path) -> int:
    size = sum(p.stat().st_size for p in config.landing_files(landing))
    return size * _XLSX_COST_PER_BYTE if config.format == "xlsx" else size


def _years_of(lake: Lake, item: Ingested) -> set[int]:
    """Years of the rows this run loaded from one file (receipt year, or monitoring year)."""
    entry = item.outcome.entry
    path = lake.data_file(item.config.entity, item.config.source_id, entry.file_sha256)
    if not path.exists():  # superseded by a later file of the same run
        path = lake.superseded_file(item.config.entity, item.config.source_id,
                                    entry.file_sha256)
    if not path.exists():
        return set()
    column = "year(received_at)" if item.config.entity is Entity.TICKETS else "year"
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT DISTINCT {column} FROM read_parquet(?) WHERE {column} IS NOT NULL",
            [str(path)],
        ).fetchall()
    return {int(y) for (y,) in rows}


def _lake_rows(lake_root: Path, entity: str, sources: list[str], pattern: str = "*.parquet") -> int:
    """Rows held in the lake for these sources, in the files that match `pattern` (from the
    Parquet footers, no data read)."""
    total = 0
    for source in sources:
        for file in (lake_root / entity / f"source={source}").glob(pattern):
            total += pq.read_metadata(file).num_rows
    return total


def _files_table(items: list[Ingested]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({
                "source": i.config.source_id,
                "file": i.outcome.entry.source_file,
                "status": "unchanged" if i.outcome.skipped else i.outcome.entry.status,
                "rows_read": int(i.outcome.entry.rows_read),
                "rows_written": int(i.outcome.entry.rows_written),
                "rows_rejected": int(i.outcome.entry.rows_rejected),
                "error": i.outcome.entry.error or "",
            })
            for i in items
        ],
        schema=FILES_SCHEMA,
    )


def _totals(items: list[Ingested], entity: Entity | None = None) -> dict[str, int]:
    done = [i for i in items if not i.outcome.skipped
            and (entity is None or i.config.entity is entity)]
    return {
        "files_loaded": sum(i.outcome.entry.status == "loaded" for i in done),
        "files_failed": sum(i.outcome.entry.status == "failed" for i in done),
        "files_unchanged": sum(
            i.outcome.skipped for i in items if entity is None or i.config.entity is entity),
        "rows_read": sum(int(i.outcome.entry.rows_read) for i in done),
        "rows_written": sum(int(i.outcome.entry.rows_written) for i in done),
        "rows_rejected": sum(int(i.outcome.entry.rows_rejected) for i in done),
    }


@dg.multi_asset(
    name="ingest_landing",
    group_name="ingest",
    specs=[
        dg.AssetSpec(LAKE_TICKETS, description=(
            "Canonical work orders, one Parquet file per landing file: "
            "lake/raw/tickets/source=<id>/<sha256>.parquet: the current files, those that "
            "may hold a work order's latest version. Callers are pseudonymised.")),
        dg.AssetSpec(LAKE_TICKET_VERSIONS, description=(
            "Every work-order row the lake holds: the current files and, beneath them in "
            "superseded/, the files whose every work order a later file of the source holds "
            "again (moved there by ingestion, never deleted).")),
        dg.AssetSpec(LAKE_TEST_CALLS, description=(
            "The evaluator's scored test calls, one Parquet file per landing file: "
            "lake/raw/test_calls/source=<id>/<sha256>.parquet.")),
        dg.AssetSpec(LAKE_REJECTS, description=(
            "Rows that could not be made canonical, with the reason, the field, the raw value "
            "and the source line: lake/rejects/source=<id>/<sha256>.parquet.")),
        dg.AssetSpec(LAKE_MANIFEST, description=(
            "Every landing file seen, with its SHA-256, status and counts (rows read = "
            "written + rejected): lake/manifest/source=<id>/<sha256>.parquet.")),
    ],
    partitions_def=source_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Reads each source's landing files as its YAML configuration describes, maps them to "
        "the canonical fields, pseudonymises callers, masks numbers in free text and writes the "
        "lake. One partition per source configuration; a run over several partitions ingests "
        "them in parallel processes (HOTLINE_INGEST_WORKERS, default 2). Files already "
        "ingested (same SHA-256) are skipped; a file that cannot be read fails alone."
    ),
)
def ingest_landing(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    paths = data_paths()
    partitioned = context.has_partition_key or context.has_partition_key_range
    # Without a partition (an ad-hoc materialisation) every source configured now is ingested.
    keys = list(context.partition_keys) if partitioned else None
    configs, config_errors = configs_for(keys, sources_dir())
    key = key_for(configs, paths)
    lake = Lake(paths.lake)
    when = utc_now()
    planned = [(c, p) for c in configs for p in c.landing_files(paths.landing)]
    progress.start("ingest", len(planned))
    items: list[Ingested] = []
    for config, ingested in _ingest_sources(configs, paths, key, when, context.log.info):
        for outcome in ingested.outcomes:
            items.append(Ingested(config, outcome))
            entry = outcome.entry
            if outcome.skipped:
                context.log.debug(f"{entry.source_file}: unchanged, skipped")
            elif entry.status == "failed":
                context.log.error(f"file failed, others go on: {entry.error}")
            else:
                context.log.info(
                    f"{entry.source_file}: read {entry.rows_read:,}, written "
                    f"{entry.rows_written:,}, rejected {entry.rows_rejected:,}")
            progress.advance("ingest", detail=entry.source_file)
        if ingested.superseded:
            names = ", ".join(f"{f.source_file} ({f.sha256[:12]})" for f in ingested.superseded)
            context.log.info(
                f"{config.source_id}: every work order of {names} is in a later file: moved "
                "to superseded/, out of the files the facts read")
        if ingested.superseded_deferred:
            context.log.info(f"{config.source_id}: {ingested.superseded_deferred}")
    if keys is None or set(keys) == set(source_partitions.get_partition_keys()):
        for folder in landing_folders_without_source(configs, paths.landing):
            context.log.warning(f"landing/{folder} has no source configuration: not ingested")

    loaded = [i for i in items if not i.outcome.skipped and i.outcome.entry.status == "loaded"]
    years_loaded = sorted(set().union(*(_years_of(lake, i) for i in loaded)))
    publishable_years = lake_report_years(paths.lake)
    new_partitions = add_report_years(context.instance, publishable_years)
    if new_partitions:
        context.log.info(f"report partitions added: {', '.join(new_partitions)}")
    report_years = [y for y in years_loaded if y in publishable_years]
    sources = [c.source_id for c in configs]
    if config_errors:
        # The valid sources are in the lake; their partitions are recorded by the next run.
        raise SourceConfigError(
            f"{len(config_errors)} source configuration(s) could not be loaded (the other "
            f"sources were ingested): {' / '.join(config_errors)}"
        )

    yield dg.MaterializeResult(
        asset_key=LAKE_MANIFEST,
        metadata={
            **_totals(items),
            "files": _files_table(items),
            "years_loaded": dg.MetadataValue.json(years_loaded),
            REPORT_YEARS_METADATA: dg.MetadataValue.json(report_years),
        },
    )
    for asset_key, entity, pattern in (
        (LAKE_TICKETS, Entity.TICKETS, "*.parquet"),
        (LAKE_TICKET_VERSIONS, Entity.TICKETS, "**/*.parquet"),
        (LAKE_TEST_CALLS, Entity.TEST_CALLS, "*.parquet"),
    ):
        yield dg.MaterializeResult(asset_key=asset_key, metadata={
            **_totals(items, entity),
            "dagster/row_count": _lake_rows(paths.lake / "raw", entity.value, sources, pattern),
        })
    yield dg.MaterializeResult(asset_key=LAKE_REJECTS, metadata={
        "rows_rejected": _totals(items)["rows_rejected"],
        "dagster/row_count": _lake_rows(paths.lake, "rejects", sources),
    })
