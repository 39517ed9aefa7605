"""How the work is cut: ingestion by source, the report by monitoring year.

Sources: a `StaticPartitionsDefinition` of the source configuration files found when the
definitions load (one key per `<source_id>.yaml`). Sources are configuration that ships with
the code location; a new YAML appears as a new partition on the next reload, without code
change, and the keys never depend on state kept in the Dagster instance. Only the file names are
read here: a broken YAML fails its own partition's runs with a readable error instead of
stopping the whole code location from loading.

Years: a `DynamicPartitionsDefinition` filled from the data. A report exists for a year the
evaluator monitored (its test calls are in the lake) or whose work orders are (its ticket
operations, the monitoring said to be missing); a static range would show years that cannot be
rendered, and would need editing every year. Ingestion adds the years of the lake's test calls
and tickets after each run (idempotent), so the partitions are exactly the publishable years.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dagster_project.sources import source_ids

REPORT_YEARS_NAME = "report_years"

source_partitions = dg.StaticPartitionsDefinition(source_ids())
report_year_partitions = dg.DynamicPartitionsDefinition(name=REPORT_YEARS_NAME)


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags for one run over a partition range (assets with a single-run backfill policy)."""
    return {
        ASSET_PARTITION_RANGE_START_TAG: first,
        ASSET_PARTITION_RANGE_END_TAG: last,
    }


def all_sources_tags() -> dict[str, str]:
    """Run tags for one run over every configured source."""
    keys = source_partitions.get_partition_keys()
    if not keys:
        return {}
    return range_tags(keys[0], keys[-1])


def add_report_years(instance: dg.DagsterInstance, years: list[int]) -> list[str]:
    """Make each year a report partition (in year order); returns the keys this call added.

    Two runs at once (two ingest runs, a sensor's and a person's) may both find a year missing
    and both add it: the second insert then breaks the storage's unique key. That run reads
    the partitions again and adds what is still missing."""
    from sqlalchemy.exc import IntegrityError  # Dagster's storage is SQLAlchemy

    attempts = 3
    for attempt in range(attempts):
        known = set(instance.get_dynamic_partitions(REPORT_YEARS_NAME))
        new = [str(y) for y in sorted(set(years)) if str(y) not in known]
        if not new:
            return []
        try:
            instance.add_dynamic_partitions(REPORT_YEARS_NAME, new)
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            continue
        return new
    return []


def report_years(instance: dg.DagsterInstance) -> list[str]:
    return list(instance.get_dynamic_partitions(REPORT_YEARS_NAME))
