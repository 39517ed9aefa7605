"""Lake -> warehouse: the dbt project builds and tests every model (the only writer)."""


import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from dagster_project.defs.project import hotline_dbt_project
from dagster_project.settings import data_paths


def mart_tables() -> list[str]:
    """The dbt models built as tables (marts) and seeds: what analysts and the report read."""
    manifest = json.loads(hotline_dbt_project.manifest_path.read_text(encoding="utf-8"))
    return sorted(
        node["name"] for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
        and node["config"].get("materialized", "seed") in ("table", "seed")
    )


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
