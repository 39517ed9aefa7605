"""Lake -> warehouse: the dbt project builds and tests every model (the only writer)."""


from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from dagster_project.defs.project import hotline_dbt_project
from dagster_project.settings import data_paths


class HotlineDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "warehouse"


@dbt_assets(
    manifest=hotline_dbt_project.manifest_path,
    project=hotline_dbt_project,
    dagster_dbt_translator=HotlineDbtTranslator(),
    pool="duckdb_writer",
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Seeds, staging views, intermediate models and marts, with their dbt tests."""
    data_paths().warehouse.parent.mkdir(parents=True, exist_ok=True)
    yield from dbt.cli(["build"], context=context).stream()
