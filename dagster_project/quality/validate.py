"""Validate a pandas frame with a Great Expectations 1.x suite; plain outcomes out.

GE's SQL datasource does not work on DuckDB, so the runner hands GE bounded pandas frames read
read-only from the warehouse or the lake: a small table or summary whole, or the candidate rows
DuckDB selected from a large one (see `pushdown`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
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


def preload() -> None:
    """Import Great Expectations now, while this process only waits on the ingestion workers
    or dbt, so that the checks after them start at once: the import is slow
    (BENCHMARKS.md, "What limits each stage"). A full dbt build keeps both cores busy and
    takes about as much longer; a build of one city's delivery leaves room, and measured at
    10 M it came out shorter (BENCHMARKS.md, "Figures that were in code comments")."""
    import great_expectations  # noqa: F401


@contextlib.contextmanager
def preloading() -> Iterator[None]:
    """`preload` in a thread while the block runs (DuckDB and dbt's process release the GIL
    while they work); on leaving, the import is complete."""
    thread = threading.Thread(target=preload, name="preload-great-expectations", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


class FrameValidator:
    """One GE context and suite, reused for every frame of a suite run (creating them costs
    more than validating a partition). `validate(frame, only=...)` runs some of the
    expectations: GE's cost grows with their number more than with the frame's rows."""

    def __init__(self, suite_name: str, expectations: list[dict[str, Any]]) -> None:
        import great_expectations as gx  # heavy import, paid only when a check runs

        self._gx = gx
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = {"globally": False}
        self._name = suite_name
        # Our own ids give GE's results back in the suite's order (GE reorders them).
        self._expectations = [{**e, "id": str(uuid.UUID(int=index))}
                              for index, e in enumerate(expectations)]
        self._suites: dict[tuple[int, ...] | None, Any] = {}
        self._batches = (
            context.data_sources.add_pandas(f"{suite_name}_source")
            .add_dataframe_asset(suite_name)
            .add_batch_definition_whole_dataframe(f"{suite_name}_batch")
        )

    def _suite(self, only: tuple[int, ...] | None) -> Any:
        if only not in self._suites:
            chosen = self._expectations if only is None else [self._expectations[i]
                                                              for i in only]
            self._suites[only] = self._gx.ExpectationSuite(name=self._name,
                                                           expectations=chosen)
        return self._suites[only]

    def validate(self, frame: pd.DataFrame, only: tuple[int, ...] | None = None,
                 label_column: str | None = None) -> list[ExpectationOutcome]:
        """The outcomes of all the suite's expectations, or of those at `only`, in order.
        With `label_column`, each failing value is shown with its row's label."""
        batch = self._batches.get_batch(batch_parameters={"dataframe": frame})
        if label_column is None:
            result = batch.validate(self._suite(only))
        else:
            result = batch.validate(self._suite(only), result_format={
                "result_format": "SUMMARY", "unexpected_index_column_names": [label_column]})
        outcomes = []
        for item in sorted(result.results, key=lambda r: r.expectation_config.id or ""):
            details = item.result or {}
            column = column_label(item.expectation_config.kwargs)
            labelled = details.get("partial_unexpected_index_list") if label_column else None
            examples = ([_labelled(row, label_column, column) for row in labelled]
                        if labelled and label_column
                        else [_plain(v) for v in (details.get("partial_unexpected_list") or [])])
            outcomes.append(
                ExpectationOutcome(
                    expectation=item.expectation_config.type,
                    column=column,
                    success=bool(item.success),
                    observed_value=_plain(details.get("observed_value")),
                    unexpected_count=details.get("unexpected_count"),
                    unexpected_examples=examples[:MAX_EXAMPLES],
                )
            )
        return outcomes


def column_label(kwargs: dict[str, Any]) -> str | None:
    """The column(s) an expectation reads, as results name them: 'a' or 'a,b'."""
    return kwargs.get("column") or ",".join(
        kwargs.get("column_list") or [c for c in (kwargs.get("column_A"),
                                                  kwargs.get("column_B")) if c]
    ) or None


def validate_frame(
    frame: pd.DataFrame, suite_name: str, expectations: list[dict[str, Any]]
) -> list[ExpectationOutcome]:
    """Run GE's pandas engine over one frame with the given expectation configurations."""
    return FrameValidator(suite_name, expectations).validate(frame)


def _labelled(row: dict[str, Any], label_column: str, column: str | None) -> str:
    """'<label>: <value(s)>' for one unexpected row as GE indexes it."""
    values = [_plain(row[c]) for c in (column or "").split(",") if c in row]
    shown = values[0] if len(values) == 1 else values
    return f"{row.get(label_column)}: {shown}"


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
