"""Ingest every configured source into the lake and summarise what happened."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from dagster_project.canonical import Entity
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.pipeline import FileOutcome, ingest_source, utc_now
from dagster_project.ingest.pseudonymise import ingestion_key
from dagster_project.ingest.supersede import SupersededFile, move_superseded, superseded_files
from dagster_project.locks import WarehouseLockTimeout, source_lock, warehouse_write_lock
from dagster_project.settings import DataPaths
from dagster_project.sources import SourceConfig


@dataclass(frozen=True)
class IngestSummary:
    outcomes: list[FileOutcome]

    def count(self, status: str, *, skipped: bool | None = None) -> int:
        return sum(
            1 for o in self.outcomes
            if o.entry.status == status and (skipped is None or o.skipped == skipped)
        )

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.entry.status == "failed"]

    def total(self, counter: str) -> int:
        return sum(int(getattr(o.entry, counter)) for o in self.outcomes if not o.skipped)


def ingest_all(
    configs: list[SourceConfig], paths: DataPaths, ingested_at: dt.datetime | None = None
) -> IngestSummary:
    """Ingest each source's landing files; one failing file never stops the others."""
    key = key_for(configs, paths)
    lake = Lake(paths.lake)
    when = ingested_at or utc_now()
    outcomes: list[FileOutcome] = []
    for config in configs:
        outcomes.extend(ingest_source(config, paths.landing, lake, key, when))
    return IngestSummary(outcomes)


def key_for(configs: list[SourceConfig], paths: DataPaths) -> bytes:
    """The pseudonymisation key to ingest these sources with, checked before anything is read:
    the demo key is refused if a source with landing files is not demo data."""
    with_files = [c.source_id for c in configs if c.landing_files(paths.landing)]
    return ingestion_key(with_files, paths.root)


@dataclass(frozen=True)
class SourceIngested:
    """What one source's ingestion did: each landing file's outcome, and the lake files that
    files loaded now superseded whole, moved out of the current files."""

    outcomes: list[FileOutcome]
    superseded: list[SupersededFile]
    # Why superseded files stay among the current files for now (a build was reading them).
    superseded_deferred: str | None = None


def ingest_one_source(
    config: SourceConfig, paths: DataPaths, key: bytes, when: dt.datetime
) -> SourceIngested:
    """Every landing file of one source, under the source's lock (so no other run stages the
    same files), then the source's lake files that the files loaded now superseded whole
    move out of the current files. The function ingestion worker processes run: it lives
    outside the Dagster modules so that a worker starts without importing Dagster."""
    lake = Lake(paths.lake)
    with source_lock(paths.root, config.source_id):
        outcomes = ingest_source(config, paths.landing, lake, key, when)
        loaded = any(not o.skipped and o.entry.status == "loaded" for o in outcomes)
        if not loaded or config.entity is not Entity.TICKETS:
            return SourceIngested(outcomes, [])
        superseded = superseded_files(lake, config.source_id)
        if not superseded:
            return SourceIngested(outcomes, [])
        try:
            # A build lists the lake's files when a query starts and opens them as it scans:
            # a file must not move under it. Builds hold this lock from start to end.
            with warehouse_write_lock(paths.warehouse, timeout=0):
                for file in superseded:
                    move_superseded(lake, config.source_id, file.sha256)
        except WarehouseLockTimeout:
            return SourceIngested(outcomes, [], superseded_deferred=(
                "a build is reading the lake: files superseded whole stay among the current "
                "files until the next delivery of this source"))
        return SourceIngested(outcomes, superseded)


def landing_folders_without_source(configs: list[SourceConfig], landing: Path) -> list[str]:
    """Landing folders that no source configuration claims: their files are not ingested."""
    known = {c.source_id for c in configs}
    if not landing.is_dir():
        return []
    return sorted(p.name for p in landing.iterdir() if p.is_dir() and p.name not in known)
