"""Great Expectations suites stored in `expectations/`, run on pandas frames read from DuckDB.

GE's SQL datasource does not work on DuckDB, so the runner reads the table (or a bounded part of
it) read-only and validates it with GE's pandas engine.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from dagster_project.settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
Severity = Literal["ERROR", "WARN"]

# GE reports usage to a remote service unless told not to; the warehouse runs offline.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    observed_value: Any
    unexpected_count: int | None
    unexpected_examples: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        if self.success:
            return f"{self.expectation}{where}: ok"
        examples = ", ".join(repr(v) for v in self.unexpected_examples[:5])
        return (f"{self.expectation}{where}: {self.unexpected_count} unexpected"
                f" (e.g. {examples})" if examples else f"{self.expectation}{where}: failed "
                f"(observed {self.observed_value!r})")


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    severity: Severity
    rows_validated: int
    expectations: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(e.success for e in self.expectations)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]


def load_suite_definition(name: str, directory: Path | None = None) -> dict[str, Any]:
    path = (directory or EXPECTATIONS_DIR) / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot load the expectation suite: {exc}") from exc


def validate_frame(
    frame: pd.DataFrame, name: str, directory: Path | None = None
) -> SuiteOutcome:
    """Validate a frame against the suite `expectations/<name>.json`."""
    import great_expectations as gx  # heavy import, paid only when a check runs

    definition = load_suite_definition(name, directory)
    severity: Severity = definition.get("meta", {}).get("severity", "ERROR")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    suite = gx.ExpectationSuite(
        name=definition["name"], expectations=definition["expectations"],
        meta=definition.get("meta", {}),
    )
    batch = (
        context.data_sources.add_pandas(f"{name}_source")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe(f"{name}_batch")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(suite)
    outcomes = []
    for item in result.results:
        details = item.result or {}
        outcomes.append(
            ExpectationOutcome(
                expectation=item.expectation_config.type,
                column=item.expectation_config.kwargs.get("column")
                or ",".join(item.expectation_config.kwargs.get("column_list", [])) or None,
                success=bool(item.success),
                observed_value=details.get("observed_value"),
                unexpected_count=details.get("unexpected_count"),
                unexpected_examples=_plain(details.get("partial_unexpected_list") or []),
            )
        )
    return SuiteOutcome(name, severity, len(frame), outcomes)


def _plain(values: list[Any]) -> list[Any]:
    """JSON-friendly copies of GE's example values (numpy scalars, NaN)."""
    plain = []
    for value in values:
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and value != value:
            value = None
        plain.append(value)
    return plain
