"""Validate a pandas frame with a Great Expectations 1.x suite; plain outcomes out.

GE's SQL datasource does not work on DuckDB, so the runner hands GE bounded pandas frames read
read-only from the warehouse or the lake (one file, one partition, or candidate rows).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# GE reports usage to a remote service unless told not to; the warehouse runs offline.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

MAX_EXAMPLES = 20


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result on one frame (or merged over the frames of a suite run)."""

    expectation: str
    column: str | None
    success: bool
    observed_value: Any = None
    unexpected_count: int | None = None
    unexpected_examples: list[Any] = field(default_factory=list)
    partition: str | None = None

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        part = f" [{self.partition}]" if self.partition else ""
        if self.success:
            return f"{self.expectation}{where}{part}: ok"
        examples = ", ".join(repr(v) for v in self.unexpected_examples[:5])
        if examples:
            return (f"{self.expectation}{where}{part}: {self.unexpected_count} unexpected, "
                    f"e.g. {examples}")
        return f"{self.expectation}{where}{part}: failed (observed {self.observed_value!r})"


class FrameValidator:
    """One GE context and suite, reused for every frame of a suite run (creating them costs
    more than validating a partition)."""

    def __init__(self, suite_name: str, expectations: list[dict[str, Any]]) -> None:
        import great_expectations as gx  # heavy import, paid only when a check runs

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = {"globally": False}
        self._suite = gx.ExpectationSuite(name=suite_name, expectations=expectations)
        self._batches = (
            context.data_sources.add_pandas(f"{suite_name}_source")
            .add_dataframe_asset(suite_name)
            .add_batch_definition_whole_dataframe(f"{suite_name}_batch")
        )

    def validate(self, frame: pd.DataFrame) -> list[ExpectationOutcome]:
        result = self._batches.get_batch(batch_parameters={"dataframe": frame}).validate(
            self._suite)
        outcomes = []
        for item in result.results:
            details = item.result or {}
            kwargs = item.expectation_config.kwargs
            column = kwargs.get("column") or ",".join(
                kwargs.get("column_list") or [c for c in (kwargs.get("column_A"),
                                                          kwargs.get("column_B")) if c]
            ) or None
            outcomes.append(
                ExpectationOutcome(
                    expectation=item.expectation_config.type,
                    column=column,
                    success=bool(item.success),
                    observed_value=_plain(details.get("observed_value")),
                    unexpected_count=details.get("unexpected_count"),
                    unexpected_examples=[
                        _plain(v) for v in (details.get("partial_unexpected_list") or [])
                    ][:MAX_EXAMPLES],
                )
            )
        return outcomes


def validate_frame(
    frame: pd.DataFrame, suite_name: str, expectations: list[dict[str, Any]]
) -> list[ExpectationOutcome]:
    """Run GE's pandas engine over one frame with the given expectation configurations."""
    return FrameValidator(suite_name, expectations).validate(frame)


def _plain(value: Any) -> Any:
    """JSON-friendly copies of GE's values (numpy scalars, NaN, tuples)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
