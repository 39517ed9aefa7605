"""The quality gate: the latest result of every expectation suite, in one place.

The suites run as asset checks (blocking within a run) and by `hotline check`, each appending
its results to `lake/quality/`. The report is rendered in runs of its own (one partition per
year), so it cannot rely on a check blocking inside the same run: it depends on this gate,
which fails while any ERROR suite's latest result failed, was never run, or is older than the
data it validated.
"""


import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from dagster_project.quality import latest_results, load_suite, suite_names
from dagster_project.quality.suites import LakeData, QueryData, Suite
from dagster_project.settings import DataPaths, data_paths

QUALITY_GATE = dg.AssetKey(["quality_gate"])

# The result files the asset checks append to lake/quality/; dbt reads them as the source
# lake.quality_results. Declared so that it sits in the quality group, not in 'default'.
quality_results = dg.AssetSpec(
    dg.AssetKey(["lake", "quality_results"]),
    group_name="quality",
    description=(
        "Results of every quality-check run, appended as Parquet under lake/quality/ by the "
        "asset checks and `hotline check`; the warehouse reads them as stg_lake__quality_results."
    ),
)

STATUS_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("suite", "string"),
    dg.TableColumn("severity", "string"),
    dg.TableColumn("result", "string",
                   description="passed, failed, not run, stale or no data"),
    dg.TableColumn("expectations", "string", description="met / total"),
    dg.TableColumn("rows_validated", "int"),
    dg.TableColumn("checked_at", "string", description="UTC"),
    dg.TableColumn("failures", "string"),
])


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
    """Every suite in expectations/ with its latest result from lake/quality."""
    rows = latest_results(paths.lake)
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
        changed = _data_changed_at(suite, paths)
        if failed:
            result = "failed"
        elif changed is not None and checked_at < changed:
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


def _table(statuses: list[SuiteStatus]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord({
            "suite": s.suite, "severity": s.severity, "result": s.result,
            "expectations": f"{s.met}/{s.total}", "rows_validated": s.rows_validated,
            "checked_at": f"{s.checked_at:%Y-%m-%d %H:%M:%S}" if s.checked_at else "",
            "failures": "; ".join(s.failures[:5]),
        }) for s in statuses],
        schema=STATUS_SCHEMA,
    )


def build_quality_gate(checked_assets: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=QUALITY_GATE,
        group_name="quality",
        deps=sorted(set(checked_assets), key=lambda k: k.to_user_string()),
        # Unpartitioned: one evaluation per run, also in a run over a range of report years.
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=(
            "The latest result of every Great Expectations suite in expectations/, read from "
            "lake/quality/. Fails while an ERROR suite failed, was never run, or is older than "
            "the data it validates, and so blocks the report."
        ),
    )
    def quality_gate(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        statuses = suite_statuses(data_paths())
        metadata = {
            "suites": _table(statuses),
            "suites_passed": sum(s.result == "passed" for s in statuses),
            "suites_blocking": sum(s.blocks for s in statuses),
            "suites_warning": sum(s.severity == "WARN" and s.result != "passed"
                                  for s in statuses),
        }
        blocking = [s for s in statuses if s.blocks]
        for status in statuses:
            if status.result != "passed":
                context.log.warning(f"{status.suite} ({status.severity}): {status.result}"
                                    + (f": {'; '.join(status.failures[:3])}"
                                       if status.failures else ""))
        if blocking:
            reasons = {"failed": "failed", "not run": "has never run",
                       "stale": "has not run since its data changed"}
            raise dg.Failure(
                description=(
                    "the report is blocked by the quality gate: "
                    + "; ".join(f"suite {s.suite} {reasons[s.result]}"
                                + (f" ({', '.join(s.failures[:3])})" if s.failures else "")
                                for s in blocking)
                    + ". Fix the data or the suite, then rebuild (hotline build) or re-check "
                    "(hotline check)."
                ),
                metadata=metadata,
            )
        return dg.MaterializeResult(metadata=metadata)

    return quality_gate
