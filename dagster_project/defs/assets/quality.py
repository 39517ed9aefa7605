"""The quality gate: the latest result of every expectation suite, in one place.

The suites run as asset checks (blocking within a run) and by `hotline check`, each appending
its results to `lake/quality/`. The report is rendered in runs of its own (one partition per
year), so it cannot rely on a check blocking inside the same run: it depends on this gate,
which fails while any ERROR suite's latest result failed, was never run, or did not read the
data the live warehouse holds (quality/gate.py).
"""


import dagster as dg

from dagster_project.quality.gate import SuiteStatus, suite_statuses
from dagster_project.settings import data_paths

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
            "lake/quality/. Fails while an ERROR suite failed, was never run, or did not read "
            "the data as they are now, and so blocks the report."
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
