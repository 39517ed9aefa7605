"""What is new in landing/ since the last look: per landing path, the size, modification time
and SHA-256 seen then (the landing sensor's cursor). A file whose size and mtime did not change
is not read again; a file that did is hashed, and counts as new only when its content is: not
the hash seen before, and not a file the lake's manifest holds as loaded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dagster_project.ingest.lake import Lake, file_sha256
from dagster_project.settings import sources_dir
from dagster_project.sources import SourceConfigError, load_source_config

# Bytes hashed per evaluation at most; files beyond it are looked at on the next tick, so that
# a first evaluation over a large landing folder stays within the sensor's time limit.
HASH_BUDGET_BYTES = 4 << 30


@dataclass(frozen=True)
class Seen:
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class LandingScan:
    """What one evaluation found: new or changed files per source, and the new cursor."""

    changed: dict[str, list[tuple[str, str]]]  # source -> [(landing path, sha256)]
    cursor: dict[str, Seen]
    deferred: int  # files left for the next tick (hash budget spent)
    problems: list[str]


def parse_cursor(cursor: str | None) -> dict[str, Seen]:
    if not cursor:
        return {}
    try:
        raw = json.loads(cursor)
        return {path: Seen(*value) for path, value in raw.get("files", {}).items()}
    except (ValueError, TypeError):
        return {}  # an unreadable cursor: start over; the manifest prevents re-ingestion


def dump_cursor(seen: dict[str, Seen]) -> str:
    return json.dumps(
        {"files": {p: [s.size, s.mtime_ns, s.sha256] for p, s in sorted(seen.items())}},
        separators=(",", ":"),
    )


def scan_landing(
    landing: Path, lake: Lake, sources: list[str], previous: dict[str, Seen],
    budget: int = HASH_BUDGET_BYTES,
) -> LandingScan:
    changed: dict[str, list[tuple[str, str]]] = {}
    cursor: dict[str, Seen] = {}
    problems: list[str] = []
    deferred = 0
    for source in sources:
        try:
            config = load_source_config(sources_dir() / f"{source}.yaml")
        except SourceConfigError as exc:
            problems.append(str(exc))
            # Keep what was known about its files: they are looked at again once it loads.
            cursor.update({p: s for p, s in previous.items()
                           if p.startswith(f"{source}/")})
            continue
        for path in config.landing_files(landing):
            relative = path.relative_to(landing).as_posix()
            stat = path.stat()
            before = previous.get(relative)
            if before and (before.size, before.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                cursor[relative] = before  # unchanged: not read again
                continue
            if stat.st_size > budget:
                deferred += 1
                if before:
                    cursor[relative] = before
                continue
            budget -= stat.st_size
            sha = file_sha256(path)
            cursor[relative] = Seen(stat.st_size, stat.st_mtime_ns, sha)
            if before and before.sha256 == sha:
                continue  # touched, same content
            entry = lake.read_manifest_entry(source, sha)
            if entry is not None and entry.status == "loaded":
                continue  # this content is in the lake already
            changed.setdefault(source, []).append((relative, sha))
    return LandingScan(changed, cursor, deferred, problems)
