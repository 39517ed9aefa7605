"""How a build of the warehouse starts (from an empty file or a copy of the live one), and the
rows of what it built: read from dbt's manifest, without dbt."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import duckdb

from dagster_project.warehouse.build_state import recorded_fingerprint
from dagster_project.warehouse.dbt_files import manifest_nodes, stored_nodes


def _relations() -> dict[str, str]:
    """Model or seed name -> quoted relation, for the nodes stored as tables (counted)."""
    return {node["name"]: f'"{node["schema"]}"."{node.get("alias") or node["name"]}"'
            for node in stored_nodes()}


def keeps_previous_state() -> bool:
    """Whether a build reads what the previous one wrote: incremental models and snapshots do.
    Without them every relation is created anew and a build can start from an empty file."""
    return any(
        node["resource_type"] == "snapshot"
        or node["config"].get("materialized") == "incremental"
        for node in manifest_nodes().values()
    )


class BuildPlan(NamedTuple):
    """How a build starts: from an empty file or a copy of the live one, and whether dbt
    rebuilds incremental models in full."""

    from_previous: bool
    full_refresh: bool
    covers_every_model: bool


def plan_build(covers_every_model: bool, warehouse: Path, fingerprint: str) -> BuildPlan:
    """How a build into `warehouse` starts. A run of some models only (a selection in the UI)
    keeps the others as they are: it starts from a copy of the live warehouse. So does a build
    of a project that keeps state (incremental models), as long as the live warehouse was
    built from the same code and reference data; otherwise it starts from an empty file, or
    refreshes in full the incremental models of a partial run (see `build_state`)."""
    same_code = recorded_fingerprint(warehouse) == fingerprint
    from_previous = not covers_every_model or (keeps_previous_state() and same_code)
    return BuildPlan(from_previous=from_previous, full_refresh=from_previous and not same_code,
                     covers_every_model=covers_every_model)


def row_counts(warehouse: Path, names: list[str]) -> dict[str, int]:
    """Rows of each named table, counted on a read-only connection once dbt has exited."""
    relations = _relations()
    wanted = [n for n in names if n in relations]
    if not wanted or not warehouse.exists():
        return {}
    counts = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name in wanted:
            try:
                (count,) = con.execute(f"SELECT count(*) FROM {relations[name]}").fetchone() \
                    or (0,)
            except duckdb.Error:
                continue  # not built (a failed model): no count rather than a wrong one
            counts[name] = int(count)
    return counts
