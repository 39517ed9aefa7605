"""Every suite in `expectations/` as Dagster asset checks. An ERROR suite blocks what is
downstream of its asset (the report, in the end); a WARN suite is reported. Each run's results
are appended to the lake's quality results."""

import datetime as dt
from collections.abc import Collection

import dagster as dg

from dagster_project.quality import SuiteOutcome, load_suite, suite_names, write_results
from dagster_project.quality.runner import check_suite
from dagster_project.quality.suites import Suite, TextColumnsData
from dagster_project.settings import data_paths


def _asset_key(path: str) -> dg.AssetKey:
    return dg.AssetKey(path.split("/"))


def _severity(suite: Suite) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if suite.meta.severity == "ERROR" \
        else dg.AssetCheckSeverity.WARN


def _run_and_record(suite: Suite, context: dg.AssetCheckExecutionContext) -> SuiteOutcome:
    outcome = check_suite(suite, data_paths(), on_wait=context.log.info)
    _record(outcome, context)
    for failure in outcome.failures:
        context.log.warning(f"{suite.name}: {failure.describe()}")
    return outcome


def _record(outcome: SuiteOutcome, context: dg.AssetCheckExecutionContext) -> None:
    write_results(outcome, data_paths().lake, context.run.run_id,
                  dt.datetime.now(dt.UTC).replace(tzinfo=None))


def _result(suite: Suite, outcome: SuiteOutcome, **key: object) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=_severity(suite),
        description=(
            f"{len(outcome.expectations) - len(outcome.failures)}/{len(outcome.expectations)} "
            f"expectations met over {outcome.rows_validated:,} rows"
        ),
        metadata={
            "suite": f"expectations/{suite.name}.json",
            "rows_validated": outcome.rows_validated,
            "failures": dg.MetadataValue.md(
                "\n".join(f"- {f.describe()}" for f in outcome.failures) or "none"
            ),
        },
        **key,  # type: ignore[arg-type]
    )


def _suite_check(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=_asset_key(suite.meta.asset),
        name=f"ge_{suite.name}",
        blocking=suite.meta.severity == "ERROR",
        description=f"{suite.meta.severity}: {suite.meta.notes or suite.name}",
    )
    def check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        current = load_suite(suite.name)  # read at run time: the suite file is the truth
        return _result(current, _run_and_record(current, context))

    return check


def _text_columns_check(suite: Suite, tables: list[str]) -> dg.AssetChecksDefinition:
    """One check per table, from one pass over the warehouse. Subsettable: a run that builds
    some of the tables (a backfill starts with those that need nothing from the lake) reports
    the checks of those tables only."""

    @dg.multi_asset_check(
        name=f"ge_{suite.name}",
        specs=[dg.AssetCheckSpec(f"ge_{suite.name}", asset=dg.AssetKey([table]),
                                 blocking=suite.meta.severity == "ERROR",
                                 description=suite.meta.notes) for table in tables],
        can_subset=True,
    )
    def check(context: dg.AssetCheckExecutionContext):
        outcome = check_suite(load_suite(suite.name), data_paths(), on_wait=context.log.info)
        _record(outcome, context)
        selected = {key.asset_key for key in context.selected_asset_check_keys}
        for table in tables:
            if dg.AssetKey([table]) not in selected:
                continue
            mine = [e for e in outcome.expectations if e.partition == table]
            per_table = SuiteOutcome(suite.name, table, suite.meta.severity,
                                     outcome.rows_validated, mine)
            for failure in per_table.failures:
                context.log.warning(f"{suite.name}: {table}: {failure.describe()}")
            yield _result(suite, per_table, asset_key=dg.AssetKey([table]),
                          check_name=f"ge_{suite.name}")

    return check


def checked_assets(checks: list[dg.AssetChecksDefinition]) -> list[dg.AssetKey]:
    """The assets the suites validate (the quality gate depends on them)."""
    return sorted({spec.asset_key for check in checks for spec in check.check_specs},
                  key=lambda k: k.to_user_string())


def build_quality_checks(
    mart_tables: list[str], assets: Collection[dg.AssetKey] | None = None
) -> list[dg.AssetChecksDefinition]:
    """A check per suite; a suite over text columns checks the tables it names, or every mart.
    With `assets`, only the checks of those assets (a text-column suite keeps its tables among
    them, and is left out when none is)."""
    checks = []
    for name in suite_names():
        suite = load_suite(name)
        if isinstance(suite.meta.data, TextColumnsData):
            tables = suite.meta.data.tables or mart_tables
            if assets is None:
                checks.append(_text_columns_check(suite, tables))
            elif mine := [t for t in tables if dg.AssetKey([t]) in assets]:
                checks.append(_text_columns_check(suite, mine))
        elif assets is None or _asset_key(suite.meta.asset) in assets:
            checks.append(_suite_check(suite))
    return checks
