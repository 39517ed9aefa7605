"""Ingest landing files into the lake: read, make canonical, reject with reasons, publish.

Each file is handled on its own in-memory DuckDB connection: a file that cannot be read fails
alone, leaves nothing behind in the lake but its manifest row, and never stops other files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project import personal_data
from dagster_project.canonical import LINEAGE_FIELDS, REQUIRED_FIELDS
from dagster_project.ingest.canonicalise import FieldPlan, canonical_sql
from dagster_project.ingest.errors import IngestError
from dagster_project.ingest.lake import (
    Lake,
    LandingHashes,
    ManifestEntry,
    file_sha256,
    landing_name,
    publish,
    refused_file_sha256,
)
from dagster_project.ingest.pseudonymise import PseudonymisationKeyError, key_fingerprint
from dagster_project.ingest.readers import (
    RAW_TABLE,
    RawFile,
    add_reader_rejects,
    drop_raw,
    read_raw,
)
from dagster_project.personal_data import find_personal_data, mask_personal_data, masked_sql
from dagster_project.sources import SourceConfig

# Per file, and files of two sources run at once: DuckDB spills to the scratch folder beyond
# this rather than take 80 % of the machine, its default.
INGEST_MEMORY_LIMIT = "2GB"

# DuckDB threads per file; None: one per core. Set in worker processes by `share_cores`.
_duckdb_threads: int | None = None


def share_cores(workers: int) -> None:
    """Run in each of `workers` ingestion processes that work side by side: each one's DuckDB
    takes its share of the cores instead of all of them. Measured at 10 M tickets with two
    workers on two cores, one thread each ingests faster than two each
    (BENCHMARKS.md, "What limits each stage")."""
    global _duckdb_threads
    _duckdb_threads = max(1, (os.cpu_count() or 1) // workers)


def duckdb_connection(scratch: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one file's work: this process's share of the cores, memory
    bounded, spilling into `scratch`, no progress bars on the caller's terminal."""
    settings: dict[str, str | int] = {"temp_directory": str(scratch / "duckdb_tmp"),
                                      "memory_limit": INGEST_MEMORY_LIMIT}
    if _duckdb_threads is not None:
        settings["threads"] = _duckdb_threads
    con = duckdb.connect(config=settings)
    con.execute("SET enable_progress_bar = false")
    personal_data.register(con)
    return con


@dataclass(frozen=True)
class FileOutcome:
    """The manifest entry of a file and whether this run did the work or found it done."""

    entry: ManifestEntry
    skipped: bool


def ingest_source(
    config: SourceConfig,
    landing_root: Path,
    lake: Lake,
    key: bytes,
    ingested_at: dt.datetime | None = None,
) -> list[FileOutcome]:
    """Ingest every landing file of one source; files already loaded (same SHA-256) are skipped."""
    when = ingested_at or utc_now()
    hashes = LandingHashes(lake, config.source_id)
    same_key = SameKey(config, lake, key)
    try:
        return [
            ingest_file(config, path, landing_root, lake, key, when, hashes, same_key)
            for path in config.landing_files(landing_root)
        ]
    finally:
        hashes.save()


def has_files_to_read(config: SourceConfig, landing_root: Path, lake: Lake) -> bool:
    """Whether any landing file of the source may need reading: its stat changed since it was
    hashed, or its content is not loaded (new, or failed before). Looks only at stats and
    the manifest, without the source's lock: it plans a run, and `ingest_source` decides
    again under the lock."""
    hashes = LandingHashes(lake, config.source_id)
    for path in config.landing_files(landing_root):
        sha256 = hashes.remembered(path, landing_name(path, landing_root))
        if sha256 is None:
            return True
        entry = lake.read_manifest_entry(config.source_id, sha256)
        if entry is None or entry.status != "loaded":
            return True
    return False


def ingest_file(
    config: SourceConfig,
    path: Path,
    landing_root: Path,
    lake: Lake,
    key: bytes,
    ingested_at: dt.datetime,
    hashes: LandingHashes | None = None,
    same_key: SameKey | None = None,
) -> FileOutcome:
    """Ingest one landing file unless its content is loaded already; `hashes` remembers the
    SHA-256 of files unchanged since the last run (without it, every file is read).
    `same_key` checks once per run of the source that its lake files were pseudonymised
    with `key`; it raises `KeyChangedError` before the first file is written if not."""
    source_file = landing_name(path, landing_root)
    try:
        check_landing_path(path, landing_root)
    except IngestError as exc:
        # Never opened: the manifest keys the refusal by the name, not by the content.
        return _record_failure(config, lake, source_file, exc, ingested_at)
    started = time.perf_counter()
    sha256 = hashes.sha256(path, source_file) if hashes else file_sha256(path)
    previous = lake.read_manifest_entry(config.source_id, sha256)
    if previous is not None and previous.status == "loaded":
        return FileOutcome(previous, skipped=True)
    (same_key or SameKey(config, lake, key)).require()
    base = {
        "source_id": config.source_id,
        "entity": config.entity.value,
        "source_file": source_file,
        "file_sha256": sha256,
        "file_bytes": path.stat().st_size,
        "ingested_at": ingested_at,
    }
    try:
        with scratch_folder(lake) as scratch:
            counts = _load(config, path, source_file, sha256, lake, scratch, key, ingested_at)
    except IngestError as exc:
        entry = ManifestEntry(**base, status="failed", rows_read=0, rows_written=0,
                              rows_rejected=0, footer_rows=0, missing_columns=None,
                              unexpected_columns=None, error=str(exc),
                              ingest_seconds=time.perf_counter() - started)
    else:
        entry = ManifestEntry(**base, status="loaded", error=None,
                              ingest_seconds=time.perf_counter() - started,
                              key_fingerprint=key_fingerprint(key), **counts)
    return FileOutcome(lake.write_manifest_entry(entry), skipped=False)


def _record_failure(
    config: SourceConfig, lake: Lake, source_file: str, exc: IngestError,
    ingested_at: dt.datetime,
) -> FileOutcome:
    entry = ManifestEntry(
        source_id=config.source_id, entity=config.entity.value, source_file=source_file,
        file_sha256=refused_file_sha256(source_file), file_bytes=0,
        status="failed", rows_read=0, rows_written=0, rows_rejected=0, footer_rows=0,
        missing_columns=None, unexpected_columns=None, error=str(exc), ingested_at=ingested_at,
    )
    return FileOutcome(lake.write_manifest_entry(entry), skipped=False)


class KeyChangedError(PseudonymisationKeyError):
    """A source's lake files were pseudonymised with another key than the current one."""


class SameKey:
    """Pseudonyms made with two keys never match (a repeat caller would look like two
    callers), so a source's files are written only with the key its loaded lake files were
    made with. The source's manifest is read once, when the first file of a run is to be
    written; files ingested before fingerprints were recorded are not compared."""

    NAMES_SHOWN = 5

    def __init__(self, config: SourceConfig, lake: Lake, key: bytes) -> None:
        self.config = config
        self.lake = lake
        self.fingerprint = key_fingerprint(key)
        self.checked = False

    def require(self) -> None:
        if self.checked:
            return
        others = sorted(
            (e for e in self.lake.manifest_entries(self.config.source_id)
             if e.status == "loaded" and e.key_fingerprint not in (None, self.fingerprint)),
            key=lambda e: e.source_file)
        if others:
            names = ", ".join(e.source_file for e in others[:self.NAMES_SHOWN])
            more = len(others) - self.NAMES_SHOWN
            fingerprints = ", ".join(sorted({e.key_fingerprint or "" for e in others}))
            raise KeyChangedError(
                f"source '{self.config.source_id}': {len(others)} file(s) in the lake "
                f"({self.lake.root}) were pseudonymised with another key (fingerprint "
                f"{fingerprints}) than the current key ({self.fingerprint}): {names}"
                f"{f' and {more} more' if more > 0 else ''}. Nothing of the source was "
                "ingested: pseudonyms of two keys never match. Either set the key those files "
                "were ingested with again and ingest, or, to change the key, delete the lake "
                "and ingest every landing file again with the new key (docs/onboarding.md, "
                "'The pseudonymisation key')."
            )
        self.checked = True


def check_landing_path(path: Path, landing_root: Path) -> None:
    """Refuse names with control characters or personal data, and links that lead out of the
    landing folder."""
    name = path.relative_to(landing_root).as_posix()
    if any(not ch.isprintable() for ch in name):
        raise IngestError(
            f"{landing_root / landing_name(path, landing_root)}: the file name contains control "
            "characters; "
            "rename the file (nothing was read)"
        )
    if find_personal_data(name):
        raise IngestError(
            f"{landing_root / mask_personal_data(name)}: the file name holds personal data "
            "(masked here), which would be kept with every row as its lineage; rename the file "
            "without it, e.g. after the source, the period and the export date (nothing was "
            "read)"
        )
    if not path.resolve().is_relative_to(landing_root.resolve()):
        raise IngestError(
            f"{path}: resolves to {path.resolve()}, outside the landing folder; land a copy of "
            "the file instead of a link (nothing was read)"
        )


def _load(
    config: SourceConfig,
    path: Path,
    source_file: str,
    sha256: str,
    lake: Lake,
    scratch: Path,
    key: bytes,
    ingested_at: dt.datetime,
) -> dict[str, object]:
    con = duckdb_connection(scratch)
    try:
        raw = read_raw(con, config, path, scratch)
        statements = canonical_sql(config, raw.headers, RAW_TABLE, key)
        plans = statements.plans
        _require_columns(config, path, raw, plans)
        for statement in statements.hash_tables:
            con.execute(statement)
        con.execute(statements.typed)
        # Malformed lines and formulas without a value: rejects like the others, so that they
        # count as rows read and are written, masked, with them.
        add_reader_rejects(con, config, raw, "typed")
        drop_raw(con)
        lineage = {
            "source_id": config.source_id,
            "source_file": source_file,
            "file_sha256": sha256,
            "ingested_at": ingested_at,
        }
        lineage_sql = ", ".join(
            f"CAST(${name} AS {LINEAGE_FIELDS[name]}) AS {name}" for name in lineage
        )
        fields = ", ".join(p.field for p in plans)
        data_staged = scratch / "data.parquet"
        rejects_staged = scratch / "rejects.parquet"
        # Rows keep their sheet and line; their order in the file carries no meaning, and
        # sorting a large file back into line order was a large share of the write
        # (BENCHMARKS.md, "Figures that were in code comments"). zstd level 1 writes faster
        # than the default level 3, for slightly larger files
        # (BENCHMARKS.md, "What limits each stage").
        con.execute(
            f"COPY (SELECT {fields}, {lineage_sql}, source_sheet, source_row FROM typed "
            f"WHERE reject_reason IS NULL) "
            f"TO '{data_staged}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)",
            lineage,
        )
        con.execute(
            f"COPY (SELECT $source_id AS source_id, $source_file AS source_file, "
            f"$file_sha256 AS file_sha256, source_sheet, source_row, reject_reason AS reason, "
            f"reject_field AS field, {masked_sql('reject_value')} AS raw_value, "
            f"CAST($ingested_at AS TIMESTAMP) AS ingested_at FROM typed "
            f"WHERE reject_reason IS NOT NULL ORDER BY source_sheet, source_row) "
            f"TO '{rejects_staged}' (FORMAT parquet, COMPRESSION zstd)",
            lineage,
        )
        rows_read, rows_rejected = con.execute(
            "SELECT count(*), count(reject_reason) FROM typed"
        ).fetchone() or (0, 0)
        (rows_written,) = con.execute(
            f"SELECT count(*) FROM read_parquet('{data_staged}')"
        ).fetchone() or (0,)
    except duckdb.Error as exc:
        raise IngestError(f"{path}: {str(exc).strip().splitlines()[0]}") from exc
    finally:
        con.close()
    if rows_read != rows_written + rows_rejected:  # the promise of the manifest, kept in code
        raise IngestError(
            f"{path}: rows read ({rows_read}) != written ({rows_written}) + rejected "
            f"({rows_rejected}); nothing was published"
        )
    publish(rejects_staged, lake.rejects_file(config.source_id, sha256))
    publish(data_staged, lake.data_file(config.entity, config.source_id, sha256))
    # Headers the configuration expects that the file lacks: the fields stay NULL; say so.
    missing = sorted(h for h in config.column_map if h not in raw.headers)
    # Headers neither mapped nor declared ignorable: perhaps a column the sender added.
    unexpected = [
        h for h in raw.headers if h not in config.column_map and h not in config.ignored_columns
    ]
    return {
        "rows_read": int(rows_read),
        "rows_written": int(rows_written),
        "rows_rejected": int(rows_rejected),
        "footer_rows": raw.footer_rows,
        "missing_columns": ", ".join(missing) or None,
        "unexpected_columns": ", ".join(unexpected) or None,
        "exported_fields": ",".join(
            p.field for p in plans
            if p.source_column is not None or not p.value_sql.startswith("CAST(NULL")),
    }


def _require_columns(
    config: SourceConfig, path: Path, raw: RawFile, plans: list[FieldPlan]
) -> None:
    """A file without a required column, or with a mapped header twice, cannot be ingested;
    nor one whose header row may hide a configured column (a header cell with a control
    character, a blank or merged cell over data), whose data would be silently lost. Only the
    header row decides: the rows below it never make a column missing."""
    headers = raw.headers
    where = f" (line {raw.header_line})" if raw.header_line else ""
    for position, name, text in raw.damaged_headers:
        if text in config.column_map and text not in headers:
            raise IngestError(
                f"{path}: the header cell of column {position}{where} reads '{name}': the "
                f"configured column {text} with a control character in it (\\x00 is a NUL), so "
                f"its data ('{config.column_map[text]}') would be lost. Ask the sender to "
                "re-export the file with a clean header row"
            )
    missing = [h for h in config.column_map if h not in headers]
    if missing and raw.blank_headers:
        positions = ", ".join(str(p) for p, _ in raw.blank_headers)
        raise IngestError(
            f"{path}: the header{where} is blank over column(s) {positions}, which hold data "
            f"(an empty or merged header cell), and the configured column(s) "
            f"{', '.join(missing)} are not found: their data may be under the blank cell. Ask "
            "the sender to name every column of the header row (no merged cells); if the "
            "export does not have those columns, list their fields in 'not_exported' or "
            f"remove them from 'columns' of source '{config.source_id}'"
        )
    for header in config.column_map:
        # Readers name a repeated header <name>_1, <name>_2 ...
        if header in headers and f"{header}_1" in headers and f"{header}_1" not in (
                config.column_map):
            raise IngestError(
                f"{path}: the header {header} appears more than once, so which column holds "
                f"'{config.column_map[header]}' is ambiguous; ask the sender to fix the export"
            )
    found = {p.field for p in plans if p.source_column is not None or p.field == "city_code"}
    for field in REQUIRED_FIELDS[config.entity]:
        if field in found:
            continue
        expected = [h for h, f in config.column_map.items() if f == field]
        raise IngestError(
            f"{path}: required column {' or '.join(expected)} (canonical field '{field}') is "
            f"missing from the header{where}, which has "
            f"{', '.join(headers) or 'no columns'}. Fix the export or the 'columns' mapping "
            f"(or 'skip_rows') of source '{config.source_id}'"
        )


@contextlib.contextmanager
def scratch_folder(lake: Lake) -> Iterator[Path]:
    """A private scratch folder in the lake's staging area, removed whatever happens."""
    lake.remove_stale_scratch()
    path = Path(tempfile.mkdtemp(prefix=f"ingest-{os.getpid()}-", dir=lake.staging_dir()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def utc_now() -> dt.datetime:
    """Ingestion time in UTC, to the microsecond: the latest ingestion of a ticket wins."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
