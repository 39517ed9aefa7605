"""Build the warehouse beside the live one and swap it in only when the build succeeds.

dbt writes `warehouse.building.duckdb`, a copy of the live file (so a partial selection keeps the
models it does not rebuild); only a successful build replaces `warehouse.duckdb`, atomically.
A build that fails or is killed leaves the live warehouse as it was, still queryable, and
analysts who hold the old file open keep reading it until they reconnect.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb

BUILD_PATH_ENV = "HOTLINE_WAREHOUSE_BUILD_PATH"


def build_path(live: Path) -> Path:
    return live.with_name(f"{live.stem}.building{live.suffix}")


@contextlib.contextmanager
def building_warehouse(live: Path) -> Iterator[Path]:
    """Yield the path dbt must write; publish it over `live` if the block succeeds."""
    live.parent.mkdir(parents=True, exist_ok=True)
    building = build_path(live)
    for leftover in (building, _wal(building)):  # from a build that was killed
        leftover.unlink(missing_ok=True)
    if live.exists():
        _checkpoint(live)
        shutil.copy2(live, building)
    try:
        yield building
    except BaseException:
        for leftover in (building, _wal(building)):
            leftover.unlink(missing_ok=True)
        raise
    _checkpoint(building)
    with building.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(building, live)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _checkpoint(path: Path) -> None:
    """Fold a write-ahead log into the file, so that the file alone is the whole database."""
    if _wal(path).exists():
        with duckdb.connect(str(path)) as con:
            con.execute("CHECKPOINT")
