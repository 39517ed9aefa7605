"""Resources shared by the assets."""

from __future__ import annotations

from dagster_dbt import DbtCliResource

from dagster_project.defs.project import hotline_dbt_project
from dagster_project.warehouse.dbt_files import DBT_EXECUTABLE

dbt_resource = DbtCliResource(
    project_dir=hotline_dbt_project,
    profiles_dir=str(hotline_dbt_project.profiles_dir),
    dbt_executable=str(DBT_EXECUTABLE),
)
