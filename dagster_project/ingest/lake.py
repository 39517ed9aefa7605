"""The lake's layout, atomic Parquet writes and the file manifest.

    lake/raw/<entity>/source=<id>/<sha256>.parquet    canonical rows of one landing file
    lake/raw/tickets/source=<id>/superseded/<sha256>.parquet
                                                       the same, once later files of the
                                                       source re-exported every row of it
    lake/rejects/source=<id>/<sha256>.parquet          rows that could not be made canonical
    lake/manifest/source=<id>/<sha256>.parquet         one row: the file's status and counts
    lake/landing_hashes/source=<id>.json               each landing file's SHA-256, by its stat

A file becomes visible only by an atomic rename after it is complete, and the manifest row is
written last, so a reader never sees a half-written file or counts for rows it cannot find.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dagster_project.canonical import Entity
from dagster_project.personal_data import mask_personal_data
from dagster_project.processes import process_alive

FileStatus = Literal["loaded", "failed"]

MANIFEST_SCHEMA = pa.schema(
    [
        ("source_id", pa.string()),
        ("entity", pa.string()),
        ("source_file", pa.string()),
        ("file_sha256", pa.string()),
        ("file_bytes", pa.int64()),
        ("status", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_written", pa.int64()),
        ("rows_rejected", pa.int64()),
        ("footer_rows", pa.int64()),
        ("missing_columns", pa.string()),
        ("unexpected_columns", pa.string()),
        ("error", pa.string()),
        ("ingested_at", pa.timestamp("us")),
        ("ingest_seconds", pa.float64()),
        ("key_fingerprint", pa.string()),
        ("exported_fields", pa.string()),
    ]
)


# Texts of a manifest entry that may quote what a sender wrote.
_MANIFEST_TEXTS = ("source_file", "missing_columns", "unexpected_columns", "error")


@dataclass(frozen=True)
class ManifestEntry:
    """What happened to one landing file."""

    source_id: str
    entity: str
    source_file: str
    file_sha256: str
    file_bytes: int
    status: FileStatus
    rows_read: int
    rows_written: int
    rows_rejected: int
    footer_rows: int
    missing_columns: str | None
    unexpected_columns: str | None
    error: str | None
    ingested_at: dt.datetime
    # Wall time from opening the file to its rows staged (None for files refused unopened).
    ingest_seconds: float | None = None
    # `key_fingerprint` of the key that hashed the file's callers (loaded files; None for
    # failed ones and for files ingested before fingerprints were recorded).
    key_fingerprint: str | None = None
    # The canonical fields the file gives (a column or a constant of its source), comma-joined:
    # a field it does not give is unknown in every figure built on it, not "never happened".
    # None for failed files and files ingested before this was recorded.
    exported_fields: str | None = None


class Lake:
    """Paths and writes under one lake directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def data_folder(self, entity: Entity, source_id: str) -> Path:
        """The source's current data files of the entity (`<sha256>.parquet`)."""
        return self.root / "raw" / entity.value / f"source={source_id}"

    def data_file(self, entity: Entity, source_id: str, sha256: str) -> Path:
        return self.data_folder(entity, source_id) / f"{sha256}.parquet"

    def superseded_file(self, entity: Entity, source_id: str, sha256: str) -> Path:
        """Where a data file goes when later files re-exported all its rows (`supersede`):
        beneath its folder, out of the glob that reads the current files."""
        return self.data_folder(entity, source_id) / "superseded" / f"{sha256}.parquet"

    def rejects_file(self, source_id: str, sha256: str) -> Path:
        return self.root / "rejects" / f"source={source_id}" / f"{sha256}.parquet"

    def manifest_file(self, source_id: str, sha256: str) -> Path:
        return self.root / "manifest" / f"source={source_id}" / f"{sha256}.parquet"

    def landing_hashes_file(self, source_id: str) -> Path:
        return self.root / "landing_hashes" / f"source={source_id}.json"

    def staging_dir(self) -> Path:
        """Scratch space on the lake's own disk, so that renames out of it are atomic."""
        path = self.root / "_staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remove_stale_scratch(self) -> None:
        """Scratch folders of ingestions that died (killed, crashed): their process is gone."""
        for folder in self.staging_dir().glob("ingest-*-*"):
            pid = folder.name.split("-")[1]
            if pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)

    def read_manifest_entry(self, source_id: str, sha256: str) -> ManifestEntry | None:
        path = self.manifest_file(source_id, sha256)
        if not path.exists():
            return None
        return _manifest_entry(path)

    def manifest_entries(self, source_id: str) -> list[ManifestEntry]:
        """Every manifest entry of the source, in no particular order."""
        folder = self.root / "manifest" / f"source={source_id}"
        return [_manifest_entry(path) for path in sorted(folder.glob("*.parquet"))]

    def write_manifest_entry(self, entry: ManifestEntry) -> ManifestEntry:
        """Write the entry with personal data masked in its texts, and return it so: a header,
        a file name or an error message may quote a cell (a headerless export's first row is
        read as its header), and the entry goes on to logs and run metadata."""
        entry = replace(entry, **{field: mask_personal_data(value) for field in _MANIFEST_TEXTS
                                  if isinstance(value := getattr(entry, field), str)})
        table = pa.Table.from_pylist([asdict(entry)], schema=MANIFEST_SCHEMA)
        target = self.manifest_file(entry.source_id, entry.file_sha256)
        staged = self.staging_dir() / f"manifest-{entry.file_sha256}.parquet"
        write_and_publish(staged, target, lambda path: pq.write_table(table, path))
        return entry


def _manifest_entry(path: Path) -> ManifestEntry:
    # One known file: `pq.read_table` would go through pyarrow.dataset, which imports pandas,
    # a slow import for an ingestion worker that only skips files
    # (BENCHMARKS.md, "Figures that were in code comments").
    with pq.ParquetFile(path) as file:
        row = file.read().to_pylist()[0]
    # Entries written before a field existed lack it.
    return ManifestEntry(**{f: row.get(f) for f in ManifestEntry.__dataclass_fields__})


def landing_name(path: Path, landing_root: Path) -> str:
    """A landing file's name in the manifest and the lake: its path under landing/, control
    characters shown as escapes (fit for logs and reports)."""
    name = path.relative_to(landing_root).as_posix()
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)


def refused_file_sha256(source_file: str) -> str:
    """The manifest key of a file refused unopened (by its name, as its content was not read;
    masked, as the manifest keeps it)."""
    return hashlib.sha256(f"name:{mask_personal_data(source_file)}".encode()).hexdigest()


def publish(staged: Path, target: Path) -> None:
    """Move a complete file into place atomically (same file system), durable on return."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with staged.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(staged, target)


def write_and_publish(staged: Path, target: Path, write: Callable[[Path], object]) -> None:
    """Write the file at `staged` with `write`, then publish it to `target`. If either step
    fails the staged file is removed: scratch space keeps no half-written leftovers."""
    try:
        write(staged)
        publish(staged, target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


class LandingHashes:
    """The SHA-256 of each landing file of one source, remembered with the file's inode, size,
    mtime and ctime as git's index does, so that a run reads only the files that changed.
    Rewriting or replacing a file gives it a new ctime, which no tool can set back, so a file
    is never taken for its old content. Used under the source's lock."""

    # File times tick coarsely: a file changed within this long of its hashing could be
    # changed again with the same times, so it is not remembered (git's "racy clean" rule).
    RACY_NS = 2_000_000_000

    def __init__(self, lake: Lake, source_id: str) -> None:
        self.lake = lake
        self.path = lake.landing_hashes_file(source_id)
        self._known = self._load()
        self._seen: dict[str, list[object]] = {}

    def _load(self) -> dict[str, list[object]]:
        try:
            known = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: every file is hashed again
        return known if isinstance(known, dict) else {}

    def sha256(self, path: Path, name: str) -> str:
        """The file's SHA-256: remembered if its stat is unchanged, else read and hashed.
        The stat is taken first, so a file changed while it is read is hashed again later."""
        stat = path.stat()
        key = self._stat_key(stat)
        sha = self._remembered(name, key) or file_sha256(path)
        if time.time_ns() - stat.st_ctime_ns > self.RACY_NS:
            self._seen[name] = [*key, sha]
        return sha

    def remembered(self, path: Path, name: str) -> str | None:
        """The SHA-256 remembered for the file if its stat is unchanged, else None; reads
        nothing of the file and remembers nothing for the next run."""
        return self._remembered(name, self._stat_key(path.stat()))

    @staticmethod
    def _stat_key(stat: os.stat_result) -> list[object]:
        return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]

    def _remembered(self, name: str, key: list[object]) -> str | None:
        known = self._known.get(name)
        if isinstance(known, list) and known[:4] == key and isinstance(known[-1], str):
            return known[-1]
        return None

    def save(self) -> None:
        """Remember the files hashed or confirmed in this run; files gone are forgotten."""
        if self._seen == self._known:
            return
        text = json.dumps(self._seen, ensure_ascii=False, sort_keys=True)
        staged = self.lake.staging_dir() / f"landing-hashes-{os.getpid()}.json"
        # Only a shortcut: if it cannot be written, the next run hashes these files again.
        with contextlib.suppress(OSError):
            write_and_publish(staged, self.path, lambda p: p.write_text(text, encoding="utf-8"))


def lake_report_years(lake: Path) -> list[int]:
    """Years a report can be made for: those the lake holds evaluator test calls of (the
    monitoring results) or work orders received in (a year not monitored yet still reports
    its ticket operations)."""
    reads = [
        ("year", sorted((lake / "raw" / "test_calls").glob("*/*.parquet"))),
        ("year(received_at)", sorted((lake / "raw" / "tickets").glob("*/*.parquet"))),
    ]
    years: set[int] = set()
    with duckdb.connect() as con:
        for expression, files in reads:
            if files:
                years.update(y for (y,) in con.execute(
                    f"SELECT DISTINCT {expression} AS y FROM read_parquet(?) WHERE y IS NOT NULL",
                    [[str(f) for f in files]],
                ).fetchall())
    return sorted(int(y) for y in years)
