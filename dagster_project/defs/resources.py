"""Resources shared by the assets."""

from __future__ import annotations

from dagster_dbt import DbtCliResource

from dagster_project.defs.project import DBT_EXECUTABLE, hotline_dbt_project

dbt_resource = DbtCliResource(
    project_dir=hotline_dbt_project,
    profiles_dir=str(hotline_dbt_project.profiles_dir),
    dbt_executable=str(DBT_EXECUTABLE),
)
