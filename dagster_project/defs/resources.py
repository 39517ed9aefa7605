"""Resources shared by the assets."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging.version import Version

from dagster_project.defs.project import hotline_dbt_project
from dagster_project.warehouse.dbt_files import DBT_EXECUTABLE


class HotlineDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource, told the version of this environment's dbt."""

    @cached_property
    def _cli_version(self) -> Version:
        # dagster-dbt runs `dbt --version` before each dbt command to learn it: about 3 s in
        # front of every build. This environment's executable runs this environment's
        # dbt-core, whose version the package metadata gives; any other executable is asked.
        if Path(self.dbt_executable) == DBT_EXECUTABLE:
            return Version(installed_version("dbt-core"))
        return DbtCliResource._cli_version.func(self)  # type: ignore[attr-defined]

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        # dagster-dbt loads dbt's project, profile and macros in this process (about 3 s per
        # build) for an adapter that only its fetch_row_counts / fetch_column_metadata use.
        # This project counts rows itself (warehouse.row_counts), so there is no adapter.
        return None


dbt_resource = HotlineDbtCliResource(
    project_dir=hotline_dbt_project,
    profiles_dir=str(hotline_dbt_project.profiles_dir),
    dbt_executable=str(DBT_EXECUTABLE),
)
