"""Data quality: Great Expectations suites in `expectations/`, run read-only, results kept."""

from dagster_project.quality.runner import SuiteOutcome, latest_results, run_suite, write_results
from dagster_project.quality.suites import EXPECTATIONS_DIR, Suite, load_suite, suite_names
from dagster_project.quality.validate import ExpectationOutcome, validate_frame

__all__ = [
    "EXPECTATIONS_DIR",
    "ExpectationOutcome",
    "Suite",
    "SuiteOutcome",
    "latest_results",
    "load_suite",
    "run_suite",
    "suite_names",
    "validate_frame",
    "write_results",
]
