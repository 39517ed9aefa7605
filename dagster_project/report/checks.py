"""The quality checks as the report shows them: the latest result of every suite, read from the
lake (lake/quality/), summarised per suite for the operator's appendix and per family for the
public page.

These are results of the check runs, not figures of the warehouse: no mart holds them (the
report must say what the checks found even about a build whose marts it cannot trust), so
they are counted here, and this module is the one place of the report's package besides
formatting and charts that counts anything (tests/test_report_is_a_view.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster_project.quality import latest_results
from dagster_project.quality.suites import CHECK_FAMILIES, Suite, load_suite, suite_names
from dagster_project.report.formatting import mask_personal


@dataclass(frozen=True)
class CheckResult:
    """One expectation of a suite's latest run."""

    suite: str
    success: bool
    unexpected_count: int | None = None
    severity: str | None = None
    expectation: str | None = None
    column_name: str | None = None
    partition: str | None = None
    unexpected_examples: str = ""


@dataclass(frozen=True)
class SuiteSummary:
    """A suite's latest run: how many expectations ran, passed and failed."""

    suite: str
    severity: str | None
    checks: int
    passed: int
    failed: int


@dataclass(frozen=True)
class PublicCheck:
    """A suite as the public page names it, with its latest outcome."""

    title: str
    unit: str
    severity: str
    ran: bool
    passed: bool
    failed_expectations: int
    failed_items: int | None


@dataclass(frozen=True)
class CheckFamily:
    """A family of suites on the public page, and what its suites found."""

    label: str
    covers: str
    checks: tuple[PublicCheck, ...]
    status: str  # passed, warned, failed or not_run


def latest_checks(lake: Path | None) -> tuple[CheckResult, ...]:
    """The latest result of every suite, personal data masked in the examples, failures
    first."""
    if lake is None:
        return ()
    rows: list[Mapping[str, Any]] = latest_results(lake)
    results = [CheckResult(
        suite=str(r["suite"]), success=bool(r["success"]),
        unexpected_count=r["unexpected_count"], severity=r["severity"],
        expectation=r["expectation"], column_name=r["column_name"], partition=r["partition"],
        unexpected_examples=mask_personal(r["unexpected_examples"])) for r in rows]
    return tuple(sorted(results, key=lambda r: (
        r.success, str(r.severity), r.suite, str(r.expectation), str(r.column_name or ""),
        str(r.partition or ""), r.unexpected_count or 0, r.unexpected_examples)))


def _by_suite(results: Sequence[CheckResult]) -> dict[str, list[CheckResult]]:
    grouped: dict[str, list[CheckResult]] = defaultdict(list)
    for result in results:
        grouped[result.suite].append(result)
    return grouped


def quality_summary(results: Sequence[CheckResult]) -> tuple[SuiteSummary, ...]:
    """Checks per suite: how many ran, passed and failed (latest run of each suite)."""
    out = []
    for suite, checks in sorted(_by_suite(results).items()):
        passed = sum(c.success for c in checks)
        out.append(SuiteSummary(suite=suite, severity=checks[0].severity, checks=len(checks),
                                passed=passed, failed=len(checks) - passed))
    return tuple(out)


def check_families(
    results: Sequence[CheckResult], suites: Mapping[str, Suite]
) -> tuple[CheckFamily, ...]:
    """The checks as the public report shows them: per family, each suite by its Chinese
    title with its latest outcome (passed, failed with how many items, or not run)."""
    by_suite = _by_suite(results)
    families = []
    for key, (label, covers) in CHECK_FAMILIES.items():
        checks = []
        for name, suite in sorted(suites.items()):
            public = suite.meta.public
            if public.family != key:
                continue
            rows = by_suite.get(name, [])
            failed = [r for r in rows if not r.success]
            checks.append(PublicCheck(
                title=public.title, unit=public.unit, severity=suite.meta.severity,
                ran=bool(rows), passed=bool(rows) and not failed,
                failed_expectations=len(failed),
                failed_items=failed[0].unexpected_count if len(failed) == 1 else None,
            ))
        if not checks:
            continue
        blocking = any(c.ran and not c.passed and c.severity == "ERROR" for c in checks)
        warned = any(c.ran and not c.passed for c in checks)
        families.append(CheckFamily(
            label=label, covers=covers, checks=tuple(checks),
            status="failed" if blocking else "warned" if warned
            else "passed" if all(c.ran for c in checks) else "not_run",
        ))
    return tuple(families)


def published_suites() -> dict[str, Suite]:
    """Every suite of expectations/, by name: the public summary lists each, run or not."""
    return {name: load_suite(name) for name in suite_names()}
