"""`hotline status`: what is loaded, what waits, what failed — read-only, never blocking long.

Nothing here writes: the lake is read from its Parquet files, the warehouse on a read-only
connection under the shared readers lock (a build in progress does not block it: the previous
build is shown), and the runs from the data root's Dagster instance when it exists.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dagster_project.ingest.lake import (
    Lake,
    LandingHashes,
    file_sha256,
    landing_name,
    refused_file_sha256,
)
from dagster_project.processes import process_alive
from dagster_project.settings import DataPaths, sources_dir

if TYPE_CHECKING:
    import dagster as dg

LOCK_WAIT_SECONDS = 3.0
RUNS_SHOWN = 8
REJECT_REASONS_SHOWN = 8


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def _local(value: dt.datetime | float | None, short: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        value = _utc(value)
    pattern = "%m-%d %H:%M" if short else "%Y-%m-%d %H:%M"
    return value.replace(tzinfo=dt.UTC).astimezone().strftime(pattern)


def _rows(sql: str, params: list[Any] | None = None,
          con: duckdb.DuckDBPyConnection | None = None) -> list[dict[str, Any]]:
    if con is None:
        with duckdb.connect() as own:
            return _rows(sql, params, own)
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)


PARQUET = "read_parquet(?, union_by_name = true, hive_partitioning = false)"


def _parquet_files(folder: Path) -> list[str]:
    return [str(f) for f in sorted(folder.glob("*/*.parquet"))]


@dataclass(frozen=True)
class SourceState:
    source_id: str
    files: int
    loaded: int
    failed: int
    waiting: int
    rows_read: int
    rows_written: int
    rows_rejected: int
    last_ingested: dt.datetime | None
    problem: str | None
    # Files refused before they were read, as ingestion recorded them: (file, why).
    refused: tuple[tuple[str, str], ...] = ()


def source_states(paths: DataPaths) -> list[SourceState]:
    """Per configured source: its landing files and what the manifest says about each. A file
    waits until the manifest holds its content (its SHA-256, as ingestion skips it), so a file
    delivered again unchanged is not waiting. Its SHA-256 is the one ingestion remembered for
    the file's stat (inode, size, mtime, ctime) when that is unchanged; only the other files
    are read and hashed. A file that ingestion refuses unopened (a control character in its
    name, a link leading out of landing/) is not read here either: it is refused, with the
    reason, once the manifest holds its refusal (keyed by its name), and waits until then."""
    from dagster_project.ingest.errors import IngestError
    from dagster_project.ingest.pipeline import check_landing_path
    from dagster_project.sources import SourceConfigError, load_source_config, source_ids

    files = _parquet_files(paths.lake / "manifest")
    manifest = _rows(f"SELECT * FROM {PARQUET} ORDER BY ingested_at", [files]) if files else []
    by_content: dict[tuple[str, str], dict[str, Any]] = {}
    for row in manifest:
        by_content[row["source_id"], row["file_sha256"]] = row  # by time: the last one wins
    lake = Lake(paths.lake)
    states = []
    for source in source_ids(sources_dir()):
        mine = [r for r in manifest if r["source_id"] == source]
        try:
            config = load_source_config(sources_dir() / f"{source}.yaml")
        except SourceConfigError as exc:
            states.append(SourceState(source, 0, 0, 0, 0, 0, 0, 0, None, str(exc)))
            continue
        loaded = failed = waiting = 0
        refused: list[tuple[str, str]] = []
        files = config.landing_files(paths.landing)
        hashes = LandingHashes(lake, source)
        for path in files:
            name = landing_name(path, paths.landing)
            try:
                check_landing_path(path, paths.landing)
            except IngestError:
                # Refused unopened: recorded by its name, not its content.
                entry = by_content.get((source, refused_file_sha256(name)))
                if entry is None:
                    waiting += 1
                else:
                    refused.append((name, entry["error"] or f"{name}: no reason recorded"))
                continue
            sha256 = hashes.remembered(path, name) or file_sha256(path)
            entry = by_content.get((source, sha256))
            if entry is None:
                waiting += 1
            elif entry["status"] == "failed":
                failed += 1
            else:
                loaded += 1
        done = [r for r in mine if r["status"] == "loaded"]
        states.append(SourceState(
            source, len(files), loaded, failed, waiting,
            sum(r["rows_read"] for r in done), sum(r["rows_written"] for r in done),
            sum(r["rows_rejected"] for r in done),
            max((r["ingested_at"] for r in mine), default=None), None, tuple(refused)))
    return states


def sources_table(paths: DataPaths) -> RenderableType:
    table = _table("sources (landing -> lake)")
    table.add_column("source", no_wrap=True)
    for column in ("loaded", "failed", "refused", "waiting", "rows", "rejected"):
        table.add_column(column, justify="right", min_width=len(column))
    table.add_column("ingested", no_wrap=True, min_width=11)
    refusals: list[str] = []
    for s in source_states(paths):
        if s.problem:
            table.add_row(s.source_id, Text(s.problem, style="red"))
            continue
        table.add_row(
            s.source_id, str(s.loaded),
            Text(str(s.failed), style="red" if s.failed else ""),
            Text(str(len(s.refused)), style="red" if s.refused else ""),
            Text(str(s.waiting), style="yellow" if s.waiting else ""),
            f"{s.rows_written:,}", f"{s.rows_rejected:,}", _local(s.last_ingested, short=True))
        # Ingestion's reason names the file by its path.
        refusals += [f"refused: {why}" for _, why in s.refused]
    if refusals:  # below the table, as wide as the terminal: the reasons hold paths
        return Group(table, Text("\n".join(refusals), style="red"))
    return table


def warehouse_table(paths: DataPaths) -> RenderableType:
    from dagster_project.locks import (
        WarehouseLockTimeout,
        build_running,
        lock_holder,
        readers_lock_path,
        warehouse_read_lock,
    )

    if not paths.warehouse.exists():
        return Text(f"warehouse: not built yet ({paths.warehouse}); run `hotline build`",
                    style="yellow")
    built = _local(paths.warehouse.stat().st_mtime)
    builder = build_running(paths.warehouse)
    table = _table(f"warehouse {paths.warehouse} (built {built})"
                   + (f"; a new build is running ({builder})" if builder else ""))
    table.add_column("year", justify="right")
    table.add_column("hotlines monitored", justify="right")
    table.add_column("tickets", justify="right")
    table.add_column("report")
    try:
        with (warehouse_read_lock(paths.warehouse, timeout=LOCK_WAIT_SECONDS),
              duckdb.connect(str(paths.warehouse), read_only=True) as con):
            monitored = {r["year"]: r["n"] for r in _rows(
                "SELECT year, count(*) AS n FROM monitoring_hotline_year GROUP BY year",
                con=con)}
            tickets = {r["year"]: r["n"] for r in _rows(
                "SELECT year, sum(ticket_count) AS n FROM kpi_city_year GROUP BY year",
                con=con)}
    except WarehouseLockTimeout:
        holder = lock_holder(readers_lock_path(paths.warehouse)) or "another process"
        return Text(f"warehouse: a new build is being published right now by {holder}; try "
                    "again in a moment", style="yellow")
    except duckdb.Error as exc:
        return Text(f"warehouse: cannot be read ({' '.join(str(exc).split())})", style="red")
    for year in sorted(set(monitored) | set(tickets)):
        report = paths.site / str(year) / "index.html"
        table.add_row(str(year), f"{monitored.get(year, 0):,}", f"{int(tickets.get(year, 0)):,}",
                      f"{report} ({_local(report.stat().st_mtime)})" if report.exists()
                      else Text("not rendered", style="yellow"))
    return table


def quality_table(paths: DataPaths) -> Table:
    from dagster_project.quality.gate import suite_statuses

    table = _table("checks (latest result of each suite)")
    for column in ("suite", "severity", "result", "checked"):
        table.add_column(column, no_wrap=True)
    table.add_column("failures")
    for s in suite_statuses(paths):
        style = "green" if s.result == "passed" else ("red" if s.blocks else "yellow")
        table.add_row(s.suite, s.severity, Text(s.result, style=style),
                      _local(s.checked_at, short=True),
                      "\n".join(s.failures[:3]) + (f"\n(+{len(s.failures) - 3})"
                                                   if len(s.failures) > 3 else ""))
    return table


def rejects_table(paths: DataPaths) -> RenderableType:
    files = _parquet_files(paths.lake / "rejects")
    rows = _rows(
        f"SELECT source_id, reason, coalesce(field, '') AS field, count(*) AS n FROM {PARQUET} "
        f"GROUP BY ALL ORDER BY n DESC, source_id LIMIT {REJECT_REASONS_SHOWN}", [files]
    ) if files else []
    if not rows:
        return Text("rejects: none", style="green")
    table = _table("most frequent rejects (lake/rejects)")
    for column in ("source", "reason", "field"):
        table.add_column(column)
    table.add_column("rows", justify="right")
    for r in rows:
        table.add_row(r["source_id"], r["reason"], r["field"], f"{r['n']:,}")
    return table


# Dagster's statuses of a run whose process is at work; when that process is gone (killed, out
# of memory, its machine restarted) the run never records an end and keeps the status.
UNFINISHED = frozenset({"STARTING", "STARTED", "CANCELING"})
# A process that started this long after its run is another one, given the run's pid anew.
PID_REUSE_SLACK_SECONDS = 5.0
ENGINE_EVENTS_READ = 20


def _process_stat(pid: int) -> tuple[str, float] | None:
    """A process's state letter ("Z": it ended, its parent has not collected it yet) and when
    it started (Unix time), from Linux's /proc; None where that is unknown."""
    try:
        # After the name in parentheses (which may hold spaces): field 3, the state, and
        # field 22, the start in clock ticks since boot.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in
                    Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None


def run_process(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[int, str | None] | None:
    """The id of the process running `run`, and its host when recorded. `hotline` tags its
    runs with both; a run that the UI or the daemon launched names its run worker's pid in its
    first engine event (the worker runs beside them, on the machine of the instance)."""
    import dagster as dg

    from dagster_project.local_runs import HOST_TAG, PID_TAG

    pid = run.tags.get(PID_TAG, "")
    if pid.isdigit():
        return int(pid), run.tags.get(HOST_TAG)
    events = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=ENGINE_EVENTS_READ).records
    for event in events:
        data = event.event_log_entry.dagster_event
        metadata = getattr(data.event_specific_data, "metadata", None) if data else None
        value = str(getattr((metadata or {}).get("pid"), "value", ""))
        if value.isdigit():
            return int(value), None
    return None


def interrupted_pid(instance: dg.DagsterInstance, record: dg.RunRecord) -> int | None:
    """The pid of the process that ran an unfinished run, when that process is gone: no
    process has the pid, it has ended (a zombie), or the one that has it started after the
    run (the pid was reused). None for a finished run, a run whose process is unknown or on
    another host, or alive."""
    run = record.dagster_run
    if run.status.value not in UNFINISHED:
        return None
    found = run_process(instance, run)
    if found is None:
        return None
    pid, host = found
    if host is not None and host != socket.gethostname():
        return None  # its process cannot be seen from here
    if not process_alive(pid):
        return pid
    stat = _process_stat(pid)
    if stat is None:
        return None
    state, started = stat
    reused = (record.start_time is not None
              and started > record.start_time + PID_REUSE_SLACK_SECONDS)
    return pid if state == "Z" or reused else None


def runs_table(paths: DataPaths) -> RenderableType:
    from dagster_project.local_runs import dagster_home

    home = dagster_home()
    if not (home / "dagster.yaml").exists():
        return Text("runs: none recorded yet", style="dim")
    from dagster_project.local_runs import local_instance

    with local_instance() as instance:
        records = instance.get_run_records(limit=RUNS_SHOWN)
        interrupted = {r.dagster_run.run_id: pid for r in records
                       if (pid := interrupted_pid(instance, r)) is not None}
    if not records:
        return Text("runs: none recorded yet", style="dim")
    table = _table("last runs")
    for column in ("run", "job", "partitions", "status", "started", "took"):
        table.add_column(column)
    for record in records:
        run = record.dagster_run
        tags = run.tags
        partitions = tags.get("dagster/partition") or (
            f"{tags['dagster/asset_partition_range_start']}…"
            f"{tags['dagster/asset_partition_range_end']}"
            if "dagster/asset_partition_range_start" in tags else "")
        took = (f"{record.end_time - record.start_time:.0f} s"
                if record.start_time and record.end_time else "")
        status = "INTERRUPTED" if run.run_id in interrupted else run.status.value
        style = {"SUCCESS": "green", "FAILURE": "red", "CANCELED": "yellow",
                 "INTERRUPTED": "red"}.get(status, "")
        table.add_row(run.run_id[:8], run.job_name, partitions, Text(status, style=style),
                      _local(record.start_time), took)
    if interrupted:
        pids = ", ".join(str(pid) for pid in interrupted.values())
        return Group(table, Text(
            f"INTERRUPTED: Dagster still records the run as under way, but the process that "
            f"ran it (pid {pids}) is gone (killed, or its machine restarted): it will not "
            "finish; start it again", style="red"))
    return table


def tables(paths: DataPaths) -> Iterator[RenderableType]:
    """The tables one at a time, each shown as soon as it is made: the last runs need Dagster,
    whose import takes longer than all the others together."""
    for table in (sources_table, warehouse_table, quality_table, rejects_table, runs_table):
        yield table(paths)
