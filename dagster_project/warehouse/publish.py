"""A build writes a copy of the warehouse and publishes it only when it succeeded.

Readers keep querying the live `warehouse.duckdb` while dbt writes `warehouse.building.duckdb`.
When `dbt build` ends without an error the copy is checkpointed (self-contained, no `.wal`),
flushed to disk and renamed over the live file: `os.replace` is atomic, so a reader opens either
the previous build or the new one, and a connection already open keeps reading the previous
file (its inode) until it closes. A build that fails, or a process killed with `kill -9`, leaves
the live file as it was; the unpublished copy stays beside it (to look into) until the next
build deletes it. All of this runs under the exclusive writer lock (`locks.py`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from dagster_project.locks import warehouse_publish_lock


class BuildNotPublished(RuntimeError):
    """dbt failed: the live warehouse is the previous build."""


def wal_path(database: Path) -> Path:
    """DuckDB's write-ahead log beside a database file."""
    return database.with_name(database.name + ".wal")


def _remove(database: Path) -> None:
    for path in (database, wal_path(database)):
        path.unlink(missing_ok=True)


def prepare_building(warehouse: Path, building: Path, *, from_previous: bool) -> None:
    """Delete what a failed or killed build left, then start the copy: empty (dbt creates
    everything), or the live warehouse with its write-ahead log when the build needs it."""
    _remove(building)
    if from_previous and warehouse.exists():
        shutil.copyfile(warehouse, building)
        if wal_path(warehouse).exists():
            shutil.copyfile(wal_path(warehouse), wal_path(building))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def flushing(building: Path) -> Iterator[None]:
    """While the block runs (dbt), write the copy's pages to disk in a thread: the copy
    leaves the whole file dirty in the page cache, and `publish`'s fsync would otherwise
    write it on the critical path (BENCHMARKS.md, "A province-year end to end", the table
    "What this round changed"). The final fsync then flushes only what dbt wrote meanwhile."""
    if not building.exists():  # a build from an empty file: dbt creates it
        yield
        return
    thread = threading.Thread(target=_fsync, args=(building,), name="flush-copy", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def publish(
    warehouse: Path, building: Path, *, on_wait: Callable[[str], None] | None = None
) -> None:
    """Make the finished copy the live warehouse, atomically."""
    with duckdb.connect(str(building)) as con:
        con.execute("CHECKPOINT")
    if wal_path(building).exists():
        raise RuntimeError(f"{wal_path(building)} is left after a checkpoint; the build is not "
                           "published, the live warehouse is unchanged")
    _fsync(building)
    with warehouse_publish_lock(warehouse, on_wait=on_wait):
        # A log left beside the live file belongs to the previous file: never replay it on the
        # new one. Removing it first means a crash in between leaves the previous build, as
        # of its last checkpoint.
        wal_path(warehouse).unlink(missing_ok=True)
        os.replace(building, warehouse)
        _fsync(warehouse.parent)
