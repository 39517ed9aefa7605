"""The report years as dynamic partitions: adding them is safe when two runs add them at once."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy.exc import IntegrityError

from dagster_project.defs.partitions import REPORT_YEARS_NAME, add_report_years


def test_a_year_another_run_added_meanwhile_is_not_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ingest runs at once: both find 2018 missing, the other run inserts it first, and
    this run's insert breaks the storage's unique key (as a concurrent pipeline test saw:
    "UNIQUE constraint failed: dynamic_partitions"). The run reads again and adds only what
    is still missing."""
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        real_add = instance.add_dynamic_partitions
        inserts: list[list[str]] = []

        def other_run_first(name: str, keys: list[str]) -> None:
            inserts.append(list(keys))
            if len(inserts) == 1:
                real_add(name, ["2018"])  # the other run, a moment earlier
                raise IntegrityError("INSERT INTO dynamic_partitions", {},
                                     Exception("UNIQUE constraint failed"))
            real_add(name, keys)

        monkeypatch.setattr(instance, "add_dynamic_partitions", other_run_first)
        assert add_report_years(instance, [2019, 2018]) == ["2019"]
        assert inserts == [["2018", "2019"], ["2019"]]
        assert sorted(instance.get_dynamic_partitions(REPORT_YEARS_NAME)) == ["2018", "2019"]
        assert add_report_years(instance, [2018, 2019]) == []
