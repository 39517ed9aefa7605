"""Great Expectations suites as Dagster asset checks; an ERROR failure blocks the report."""


import dagster as dg
import duckdb

from dagster_project.quality import SuiteOutcome, validate_frame
from dagster_project.settings import data_paths


def _check_result(outcome: SuiteOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR
        if outcome.severity == "ERROR"
        else dg.AssetCheckSeverity.WARN,
        description=(
            f"suite {outcome.suite}: {len(outcome.expectations) - len(outcome.failures)}/"
            f"{len(outcome.expectations)} expectations met"
        ),
        metadata={
            "rows_validated": outcome.rows_validated,
            "failures": dg.MetadataValue.md(
                "\n".join(f"- {f.describe()}" for f in outcome.failures) or "none"
            ),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey(["monitoring_hotline_year"]),
    name="ge_monitoring_hotline_year",
    blocking=True,
    description="Great Expectations suite expectations/monitoring_hotline_year.json.",
)
def ge_monitoring_hotline_year() -> dg.AssetCheckResult:
    with duckdb.connect(str(data_paths().warehouse), read_only=True) as con:
        frame = con.sql("SELECT * FROM monitoring_hotline_year").df()
    return _check_result(validate_frame(frame, "monitoring_hotline_year"))
