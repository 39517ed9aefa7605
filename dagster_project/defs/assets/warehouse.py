"""Lake -> warehouse: the dbt project builds and tests every model (the only writer)."""


from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from dagster_project import progress
from dagster_project.defs.project import hotline_dbt_project
from dagster_project.locks import warehouse_write_lock
from dagster_project.quality.runner import ensure_results_schema
from dagster_project.quality.validate import preloading
from dagster_project.settings import data_paths
from dagster_project.warehouse.build_plan import plan_build, row_counts
from dagster_project.warehouse.build_state import (
    project_fingerprint,
    record_fingerprint,
)
from dagster_project.warehouse.dbt_files import (
    DBT_PROJECT_DIR,
    RULE_OVERRIDES,
    build_vars,
    forget_parse_of_other_project,
    rule_overrides,
)
from dagster_project.warehouse.publish import (
    BuildNotPublished,
    flushing,
    prepare_building,
    publish,
)

# The Dagster concurrency pool of everything that opens the warehouse read-write. Its limit
# (1) is set in the instance's dagster.yaml (see local_runs.ensure_dagster_home).
WRITER_POOL = "duckdb_writer"


class HotlineDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "warehouse"


def _event_name(context: dg.AssetExecutionContext, event: object) -> str:
    if isinstance(event, dg.Output):
        return context.asset_key_for_output(event.output_name).path[-1]
    if isinstance(event, dg.AssetCheckResult) and event.check_name:
        return event.check_name
    return ""


@dbt_assets(
    manifest=hotline_dbt_project.manifest_path,
    project=hotline_dbt_project,
    dagster_dbt_translator=HotlineDbtTranslator(),
    pool=WRITER_POOL,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """Seeds, staging views, intermediate models and marts, with their dbt tests: one
    `dbt build` per run, whatever partitions of the lake the run covers. The only writer of
    the warehouse: it holds the pool `duckdb_writer` and the exclusive warehouse lock, writes
    warehouse.building.duckdb and replaces the live file with it only when dbt ends without an
    error (see `publish`)."""
    paths = data_paths()
    warehouse, building = paths.warehouse, paths.building_warehouse
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    ensure_results_schema(paths.lake)
    progress.start("dbt", len(context.selected_asset_keys)
                   + len(context.selected_asset_check_keys))
    events: list[Any] = []
    counts: dict[str, int] = {}
    with warehouse_write_lock(warehouse, on_wait=context.log.info):
        fingerprint = project_fingerprint(DBT_PROJECT_DIR, paths.reference)
        plan = plan_build(context.selected_asset_keys == context.assets_def.keys, warehouse,
                          fingerprint)
        context.log.info(
            "building from a copy of the live warehouse" if plan.from_previous
            else "building from an empty warehouse (none yet, or built from other code or "
                 "reference data)")
        prepare_building(warehouse, building, from_previous=plan.from_previous)
        # Unit tests check the SQL on fixed rows, not the data: `make test` runs them
        # (tests/test_end_to_end.py); a production build need not repeat them each time.
        args = ["build", "--exclude-resource-type", "unit_test"]
        if (overrides := rule_overrides(paths.root)) is not None:
            context.log.info(f"rules set by {paths.root / RULE_OVERRIDES}: {overrides}")
        args += ["--vars", build_vars(building, overrides)]
        if plan.full_refresh:
            args.append("--full-refresh")
        if forget_parse_of_other_project(paths.dbt_target):
            context.log.info("dbt parses the whole project: its saved parse came from a "
                             "checkout in another folder")
        invocation = dbt.cli(args, context=context, raise_on_error=False,
                             target_path=paths.dbt_target)
        # The warehouse checks run after this step: Great Expectations is imported meanwhile.
        with preloading(), flushing(building):
            for event in invocation.stream():
                events.append(event)
                if isinstance(event, (dg.Output, dg.AssetMaterialization, dg.AssetCheckResult)):
                    progress.advance("dbt", detail=_event_name(context, event))
        error = invocation.get_error()
        if error is None:
            if plan.covers_every_model:
                # A partial run leaves some models as the previous code built them: it keeps
                # the previous fingerprint, so the next complete build starts afresh.
                record_fingerprint(building, fingerprint)
            publish(warehouse, building, on_wait=context.log.info)
            # Counted on the published file, while no other build can replace it.
            counts = row_counts(warehouse, [_event_name(context, e) for e in events
                                            if isinstance(e, dg.Output)])
    if error is not None:
        # The test results say why; nothing was materialised in the live warehouse.
        yield from (e for e in events if isinstance(e, dg.AssetCheckResult))
        raise BuildNotPublished(
            f"the warehouse is unchanged ({warehouse} is still the previous build; the failed "
            f"build is kept in {building} until the next one). {error}") from error
    for event in events:
        if isinstance(event, dg.Output):
            name = _event_name(context, event)
            if name in counts:
                event = event.with_metadata({**event.metadata, "dagster/row_count": counts[name]})
        yield event
