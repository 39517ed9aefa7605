"""Lake files whose every row a later file of the same source exported again.

A sender that re-exports a whole year every day would otherwise add every row to the lake
again each day, and each rebuild of its city would rank all those versions. A work order's
latest version is the one ingested last (then the one in the later file name, see the dbt
macro `reexported_versions`), and the lake only grows: a file every row of which has a newer
version in a later file of its source can never hold a latest version again. Such a file
moves beneath its folder, to `superseded/`, out of the glob the facts read (`stg_lake__tickets`).
Its rows stay in the lake: the file reconciliation counts them as superseded, and
`stg_lake__ticket_versions` reads every version, these included.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from dagster_project.canonical import Entity
from dagster_project.ingest.lake import Lake
from dagster_project.ingest.pipeline import duckdb_connection, scratch_folder


class SupersededFile(NamedTuple):
    sha256: str
    source_file: str  # the landing file's name, as in the manifest


def superseded_files(lake: Lake, source_id: str) -> list[SupersededFile]:
    """The current ticket files of the source whose every work order (city and ticket id)
    has a version in a later file of the source, in the order they were ingested."""
    ordered = []
    for path in lake.data_folder(Entity.TICKETS, source_id).glob("*.parquet"):
        entry = lake.read_manifest_entry(source_id, path.stem)
        if entry is None or entry.status != "loaded":
            # Left by a crash before its manifest row was written: its place in the order is
            # unknown until the file is loaded again, so nothing moves meanwhile.
            return []
        ordered.append((entry.ingested_at, entry.source_file, path))
    ordered.sort()
    order_keys = [(when, name) for when, name, _ in ordered]
    if len(ordered) < 2 or len(set(order_keys)) < len(order_keys):
        # Two files with the same time and name would be ranked row by row, not file by file.
        return []
    # Each file read with its place in the order; a work order's newest file is the highest
    # place among its rows. A file that is the newest for no work order is superseded whole.
    # Rows without a city or id are not ranked as versions: their file stays.
    scans = " UNION ALL ".join(
        f"SELECT {place} AS place, city_code, ticket_id FROM read_parquet($file_{place})"
        for place in range(len(ordered)))
    with scratch_folder(lake) as scratch, duckdb_connection(scratch) as con:
        newest = {place for (place,) in con.execute(
            f"WITH versions AS ({scans}) "
            "SELECT DISTINCT max(place) FROM versions "
            "WHERE city_code IS NOT NULL AND ticket_id IS NOT NULL "
            "GROUP BY city_code, ticket_id "
            "UNION SELECT DISTINCT place FROM versions "
            "WHERE city_code IS NULL OR ticket_id IS NULL",
            {f"file_{place}": str(path) for place, (_, _, path) in enumerate(ordered)},
        ).fetchall()}
    return [SupersededFile(path.stem, name) for place, (_, name, path) in enumerate(ordered)
            if place not in newest]


def move_superseded(lake: Lake, source_id: str, sha256: str) -> None:
    """Move one superseded file out of the current files (a rename on the lake's disk, so a
    reader sees it in one place or the other)."""
    target = lake.superseded_file(Entity.TICKETS, source_id, sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(lake.data_file(Entity.TICKETS, source_id, sha256), target)
