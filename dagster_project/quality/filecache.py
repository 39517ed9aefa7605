"""Outcomes of a lake suite per lake file, kept so that a file is validated once.

A lake file is named by the sha256 of its landing file and is only ever replaced whole, by an
atomic rename; its name, inode, size and modification time therefore identify its content. An entry
holds one file's rows and outcomes under a fingerprint of the suite (its expectations and data
block), of the Great Expectations version and, for the personal-data suite, of the detector:
change any and every file is validated again.
Entries are JSON under `lake/quality/_validated/suite=<name>/`, outside the `*.parquet` results
the warehouse reads; each is written once, atomically, so concurrent checks cannot corrupt one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

from dagster_project.ingest.lake import Lake, write_and_publish
from dagster_project.personal_data import detector_identity
from dagster_project.quality.suites import Suite, TextColumnsData
from dagster_project.quality.validate import ExpectationOutcome

CACHE_VERSION = 1


def fingerprint(suite: Suite) -> str:
    identity = {
        "cache": CACHE_VERSION,
        "great_expectations": version("great_expectations"),
        "expectations": suite.expectations,
        "data": suite.meta.data.model_dump(),
        "extra_columns": suite.meta.extra_columns,
    }
    if isinstance(suite.meta.data, TextColumnsData):  # its verdicts are the detector's
        identity["detector"] = detector_identity()
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


class FileOutcomes:
    """The cached outcomes of one suite, one entry per lake file."""

    def __init__(self, suite: Suite, lake_root: Path) -> None:
        self._lake_root = lake_root
        self._directory = lake_root / "quality" / "_validated" / f"suite={suite.name}"
        self._fingerprint = fingerprint(suite)[:16]

    def _entry(self, file: Path) -> Path:
        # Two folders up: a raw file and its rejects share the folder and the file name.
        where = f"{file.parent.parent.name}-{file.parent.name}-{file.stem}"
        return self._directory / f"{where}-{self._fingerprint}.json"

    @staticmethod
    def identity(file: Path) -> dict[str, int]:
        stat = file.stat()
        return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}

    def load(self, file: Path) -> tuple[int, list[ExpectationOutcome]] | None:
        """The file's rows and outcomes if it was validated as it is now by this suite."""
        try:
            entry = json.loads(self._entry(file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if entry.get("file") != self.identity(file):
            return None
        return entry["rows"], [ExpectationOutcome(**o) for o in entry["outcomes"]]

    def store(self, file: Path, rows: int, outcomes: list[ExpectationOutcome],
              identity: dict[str, int]) -> None:
        """`identity`: the file's inode, size and time, taken before it was read."""
        if self.identity(file) != identity:
            return  # replaced while being validated: validate it again next time
        target = self._entry(file)
        staged = Lake(self._lake_root).staging_dir() / f"validated-{os.getpid()}-{target.name}"
        text = json.dumps(
            {"file": identity, "rows": rows, "outcomes": [asdict(o) for o in outcomes]},
            ensure_ascii=False, default=str)
        write_and_publish(staged, target, lambda path: path.write_text(text, encoding="utf-8"))

    def prune(self, files: list[Path]) -> None:
        """Drop the entries of files no longer in the lake or of earlier suite versions."""
        keep = {self._entry(f).name for f in files}
        for entry in self._directory.glob("*.json"):
            if entry.name not in keep:
                entry.unlink(missing_ok=True)
