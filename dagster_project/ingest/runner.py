"""Ingest every configured source into the lake and summarise what happened."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from dagster_project.defs.locks import source_lock
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.pipeline import FileOutcome, ingest_source, utc_now
from dagster_project.ingest.pseudonymise import load_key
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
    key, _is_demo_key = load_key()
    lake = Lake(paths.lake)
    when = ingested_at or utc_now()
    outcomes: list[FileOutcome] = []
    for config in configs:
        outcomes.extend(ingest_source(config, paths.landing, lake, key, when))
    return IngestSummary(outcomes)


def ingest_one_source(
    config: SourceConfig, paths: DataPaths, key: bytes, when: dt.datetime
) -> list[FileOutcome]:
    """Every landing file of one source, under the source's lock (so no other run stages the
    same files). The function ingestion worker processes run: it lives outside the Dagster
    modules so that a worker starts without importing Dagster."""
    with source_lock(paths.root, config.source_id):
        return ingest_source(config, paths.landing, Lake(paths.lake), key, when)


def landing_folders_without_source(configs: list[SourceConfig], landing: Path) -> list[str]:
    """Landing folders that no source configuration claims: their files are not ingested."""
    known = {c.source_id for c in configs}
    if not landing.is_dir():
        return []
    return sorted(p.name for p in landing.iterdir() if p.is_dir() and p.name not in known)
