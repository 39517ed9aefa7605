"""Resources shared by the assets."""

from __future__ import annotations

from dagster_dbt import DbtCliResource

from dagster_project.defs.project import hotline_dbt_project
from dagster_project.warehouse.dbt_files import DBT_EXECUTABLE
from dagster_project.warehouse.engines import configured_engine, dbt_executable

# The engine's dbt; while Spark's is not installed, this environment's, and the warehouse
# asset says what to install before it would run (engines.check_spark_can_run).
_engine_dbt = dbt_executable(configured_engine())
dbt_resource = DbtCliResource(
    project_dir=hotline_dbt_project,
    profiles_dir=str(hotline_dbt_project.profiles_dir),
    dbt_executable=str(_engine_dbt if _engine_dbt.exists() else DBT_EXECUTABLE),
)
