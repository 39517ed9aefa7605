"""The quality gate's view of the suites: the latest result of every suite in `expectations/`,
read from the lake's quality results, and whether it blocks the report.

A suite blocks while it is an ERROR suite whose latest result failed, that never ran, or that
did not read the data the warehouse holds now (or is older than the lake files it validates).
The Dagster asset `quality_gate` and `hotline status` both read it from here.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from dagster_project.quality.runner import latest_results
from dagster_project.quality.suites import LakeData, QueryData, Suite, load_suite, suite_names
from dagster_project.settings import DataPaths
from dagster_project.warehouse.build_state import recorded_data_version


@dataclass(frozen=True)
class SuiteStatus:
    suite: str
    severity: str
    # passed | failed | not run | stale | no data (a lake suite whose entity has no file yet)
    result: str
    met: int
    total: int
    rows_validated: int
    checked_at: dt.datetime | None
    failures: list[str]

    @property
    def blocks(self) -> bool:
        return self.severity == "ERROR" and self.result not in ("passed", "no data")


def _utc_mtime(path: Path) -> dt.datetime | None:
    if not path.exists():
        return None
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None)


def _data_changed_at(suite: Suite, paths: DataPaths) -> dt.datetime | None:
    """When the data a suite validates last changed: the lake files of its entity, or the
    warehouse file for the suites that read the warehouse."""
    lake_files = _lake_files_read(suite, paths)
    if lake_files is not None:
        return max((t for f in lake_files if (t := _utc_mtime(f)) is not None), default=None)
    return _utc_mtime(paths.warehouse)


def _stale(suite: Suite, paths: DataPaths, checked_at: dt.datetime,
           checked_version: str | None, live_version: str | None) -> bool:
    """Whether the data changed since the suite ran. A suite of the warehouse that read the
    live data version is current even when a later build (another run's, of the same lake and
    code) replaced the file; a version known on both sides and different is stale. Otherwise
    the data's modification time decides."""
    if suite.reads_warehouse and checked_version is not None and live_version is not None:
        return checked_version != live_version
    changed = _data_changed_at(suite, paths)
    return changed is not None and checked_at < changed


def _lake_files_read(suite: Suite, paths: DataPaths) -> list[Path] | None:
    """The lake files a suite of the lake alone reads; None for a suite of the warehouse."""
    data = suite.meta.data
    if isinstance(data, LakeData):
        return list((paths.lake / "raw" / data.entity).glob("*/*.parquet"))
    if isinstance(data, QueryData) and not data.reads_warehouse:
        return [f for pattern in data.lake_files.values() for f in paths.lake.glob(pattern)]
    return None


def _lake_entity_absent(suite: Suite, paths: DataPaths) -> bool:
    """A suite of the lake alone whose files are not in the lake yet."""
    return _lake_files_read(suite, paths) == []


def _describe(row: dict) -> str:
    where = f" [{row['partition']}]" if row.get("partition") else ""
    column = f" on {row['column_name']}" if row.get("column_name") else ""
    count = row.get("unexpected_count")
    unexpected = f": {count} unexpected" if count else ""
    examples = json.loads(row.get("unexpected_examples") or "[]")
    shown = f", e.g. {', '.join(str(e) for e in examples[:2])}" if examples else ""
    return f"{row['expectation']}{column}{where}{unexpected}{shown}"


def suite_statuses(paths: DataPaths) -> list[SuiteStatus]:
    """Every suite in expectations/ with its latest result from lake/quality: for a suite of
    the warehouse, its latest on the live warehouse's data version where there is one."""
    version = recorded_data_version(paths.warehouse)
    rows = latest_results(paths.lake, version)
    statuses = []
    for name in suite_names():
        suite = load_suite(name)
        mine = [r for r in rows if r["suite"] == name]
        if not mine:
            # Nothing to validate is not a failure: a root may hold tickets before the
            # evaluator's test calls arrive.
            result = "no data" if _lake_entity_absent(suite, paths) else "not run"
            statuses.append(SuiteStatus(name, suite.meta.severity, result, 0,
                                        len(suite.expectations), 0, None, []))
            continue
        checked_at = max(r["checked_at"] for r in mine)
        failed = [r for r in mine if not r["success"]]
        if failed:
            result = "failed"
        elif _stale(suite, paths, checked_at, mine[0].get("data_version"), version):
            result = "stale"
        else:
            result = "passed"
        statuses.append(SuiteStatus(
            suite=name, severity=mine[0]["severity"], result=result,
            met=len(mine) - len(failed), total=len(mine),
            rows_validated=int(mine[0]["rows_validated"] or 0), checked_at=checked_at,
            failures=[_describe(r) for r in failed],
        ))
    return statuses
