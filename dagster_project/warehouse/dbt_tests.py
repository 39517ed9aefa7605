"""dbt's data tests in a build, summarised per model.

A build runs about 175 data tests. Recorded as Dagster asset checks, each costs a planned and a
result event in the instance's storage, a few seconds of every build and delivery
(BENCHMARKS.md, "dbt's tests summarised on the models"). So the tests are not asset checks:
their results are counted on each model's materialisation, and a failing one stops the build
by name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dagster_project.warehouse.dbt_files import MANIFEST_PATH, manifest_nodes

PASSED = "pass"


@dataclass(frozen=True)
class DataTestResult:
    """One data test's result for one model it reads (a test reading two models, such as a
    relationship, has a result for each)."""

    unique_id: str  # test.hotline.<name>.<hash>
    model: str
    status: str  # pass, warn, fail or error
    failed_rows: int | None

    @property
    def name(self) -> str:
        return self.unique_id.split(".")[2] if self.unique_id.count(".") >= 2 else self.unique_id

    def describe(self) -> str:
        rows = "" if self.failed_rows is None else f", {self.failed_rows:,} failing row(s)"
        return f"{self.name} ({self.status}{rows})"


def model_summary(results: Iterable[DataTestResult], model: str) -> dict[str, int | str]:
    """What a model's materialisation records of its tests: how many passed, and the others by
    name and status."""
    mine = [r for r in results if r.model == model]
    summary: dict[str, int | str] = {
        "dbt_tests_passed": sum(r.status == PASSED for r in mine)}
    others = sorted(f"{r.name} ({r.status})" for r in mine if r.status != PASSED)
    if others:
        summary["dbt_tests_not_passed"] = "; ".join(others)
    return summary


def not_passed(results: Iterable[DataTestResult], status: str) -> list[str]:
    """The tests of a status (`fail`, `error`, `warn`), each once with the models it reads."""
    models: dict[str, list[str]] = {}
    first: dict[str, DataTestResult] = {}
    for result in results:
        if result.status == status:
            first.setdefault(result.unique_id, result)
            models.setdefault(result.unique_id, []).append(result.model)
    return sorted(f"{', '.join(models[u])}: {r.describe()}" for u, r in first.items())


def data_test_count(models: set[str] | None = None, manifest: Path = MANIFEST_PATH) -> int:
    """How many data tests a build of `models` (None: all) runs: those reading any of them."""
    nodes = manifest_nodes(manifest)
    names = {unique_id: node["name"] for unique_id, node in nodes.items()}
    return sum(
        1 for node in nodes.values()
        if node["resource_type"] == "test"
        and (models is None or any(names.get(n) in models for n in node["depends_on"]["nodes"]))
    )
