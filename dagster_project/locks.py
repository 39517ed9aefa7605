"""File locks that make the warehouse single-writer across processes and threads.

DuckDB lets one process open a database file read-write, and a read-only connection in another
process fails while a writer holds that file (and the reverse). A build therefore never writes
the live `warehouse.duckdb`: dbt writes `warehouse.building.duckdb`, and only a successful build
replaces the live file with it (`dagster_project.warehouse.publish`). The Dagster pool
`duckdb_writer` serialises builds inside one Dagster instance; these locks do it for every
process on the machine (two `hotline build`, the UI and the CLI, an in-process run and a test):

- a build holds an exclusive `flock` on `warehouse.duckdb.lock` from start to end: one building
  file, one dbt at a time. Readers do not take this lock: they read the previous build meanwhile;
- readers (checks, reports, `hotline status`) hold a shared lock on `warehouse.duckdb.readers.lock`
  while their connections are open, and a build takes it exclusively for the moment it replaces
  the live file: a reader that opens several connections sees one build in all of them.

Two smaller exclusive locks, under `<data root>/.locks/`, keep two runs from ingesting the same
source or rendering the same year's report at the same moment.

`flock` locks belong to an open file description, so two threads of one process exclude each
other too, and the kernel releases them when a process dies: a crash never leaves a stale lock.

Every stage takes these locks (ingestion a source's, the build the warehouse's, checks and
reports the readers'), as do `hotline status` and the job runner: they sit beneath the stages
and import nothing of the project or of Dagster.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_TIMEOUT_ENV = "HOTLINE_WAREHOUSE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_SECONDS = 2 * 3600.0
POLL_SECONDS = 0.2
LOCKS_DIR = ".locks"  # under the data root: the locks of sources and reports


class WarehouseLockTimeout(RuntimeError):
    """Another process kept the warehouse (or a source's lake folder) locked for too long."""


def lock_timeout() -> float:
    """Seconds a run waits for the warehouse before giving up (HOTLINE_WAREHOUSE_LOCK_TIMEOUT)."""
    value = os.environ.get(LOCK_TIMEOUT_ENV)
    if not value:
        return DEFAULT_LOCK_TIMEOUT_SECONDS
    try:
        seconds = float(value)
    except ValueError as exc:
        raise WarehouseLockTimeout(
            f"{LOCK_TIMEOUT_ENV}={value!r} is not a number of seconds"
        ) from exc
    return max(seconds, 0.0)


def warehouse_lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def readers_lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".readers.lock")


def lock_holder(lock_path: Path) -> str:
    """Who holds the writer lock, as the writer recorded it (empty when nobody wrote)."""
    try:
        return lock_path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


@contextlib.contextmanager
def file_lock(
    lock_path: Path,
    *,
    exclusive: bool,
    what: str,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold a shared or exclusive `flock` on `lock_path`, waiting up to `timeout` seconds.

    `on_wait` is told once, in words, who is being waited for. An exclusive holder writes its
    pid, host and start time into the file so that waiters can name it.
    """
    limit = lock_timeout() if timeout is None else timeout
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        operation = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        started = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(fd, operation)
                break
            except BlockingIOError:
                holder = lock_holder(lock_path) or "a reader"
                if time.monotonic() - started >= limit:
                    raise WarehouseLockTimeout(
                        f"{what} is still locked by {holder} after {limit:.0f} s "
                        f"({lock_path}); wait for that run to finish or stop it, then try "
                        f"again (set {LOCK_TIMEOUT_ENV} to wait longer)"
                    ) from None
                if not told and on_wait is not None:
                    on_wait(f"waiting for {what}, locked by {holder}")
                    told = True
                time.sleep(POLL_SECONDS)
        if exclusive:
            stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
            note = f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, note, 0)
        try:
            yield
        finally:
            if exclusive:
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def warehouse_write_lock(
    warehouse: Path, *, timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> contextlib.AbstractContextManager[None]:
    """Exclusive, for a whole build: the one process that writes the building copy (dbt)."""
    return file_lock(warehouse_lock_path(warehouse), exclusive=True,
                     what="the warehouse", timeout=timeout, on_wait=on_wait)


def build_running(warehouse: Path) -> str:
    """Who is building the warehouse right now, or an empty string when nobody is."""
    lock_path = warehouse_lock_path(warehouse)
    if not lock_path.exists():
        return ""
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return lock_holder(lock_path) or "another process"
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return ""
    finally:
        os.close(fd)


def warehouse_read_lock(
    warehouse: Path, *, timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> contextlib.AbstractContextManager[None]:
    """Shared: any number of read-only connections, also while a build runs; it only waits
    for the moment a finished build replaces the live file."""
    return file_lock(readers_lock_path(warehouse), exclusive=False,
                     what="the warehouse", timeout=timeout, on_wait=on_wait)


def warehouse_publish_lock(
    warehouse: Path, *, timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> contextlib.AbstractContextManager[None]:
    """Exclusive, for the instant a build replaces the live file: no reader of the project has
    a connection open then."""
    return file_lock(readers_lock_path(warehouse), exclusive=True,
                     what="the readers of the warehouse", timeout=timeout, on_wait=on_wait)


def source_lock(
    root: Path, source_id: str, *, on_wait: Callable[[str], None] | None = None
) -> contextlib.AbstractContextManager[None]:
    """Exclusive per source: two runs never ingest the same source's files at once (they
    would stage the same manifest file)."""
    return file_lock(root / LOCKS_DIR / f"source-{source_id}.lock", exclusive=True,
                     what=f"the lake of source {source_id}", on_wait=on_wait)


def report_lock(
    root: Path, year: int, *, on_wait: Callable[[str], None] | None = None
) -> contextlib.AbstractContextManager[None]:
    """Exclusive per year: two runs never write the same year's report at once."""
    return file_lock(root / LOCKS_DIR / f"report-{year}.lock", exclusive=True,
                     what=f"the report of {year}", on_wait=on_wait)


def text_lock(
    root: Path, *, on_wait: Callable[[str], None] | None = None
) -> contextlib.AbstractContextManager[None]:
    """Exclusive: one text analysis at a time writes a root's text/ files and models."""
    return file_lock(root / LOCKS_DIR / "text.lock", exclusive=True,
                     what="the text analysis", on_wait=on_wait)


def instance_lock(home: Path) -> contextlib.AbstractContextManager[None]:
    """Exclusive while a process opens the data root's Dagster instance. The first to open it
    creates its SQLite databases and stamps their schema version; two doing so at once (two
    commands started together on a new data root) fail, or leave two versions stamped."""
    return file_lock(home / ".instance.lock", exclusive=True, what="the Dagster instance")
