"""Lake -> warehouse: the dbt project builds and tests every model (the only writer)."""


from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from dagster_project import progress
from dagster_project.defs.project import hotline_dbt_project
from dagster_project.locks import warehouse_write_lock
from dagster_project.quality.runner import ensure_results_schema
from dagster_project.quality.validate import preloading
from dagster_project.settings import data_paths
from dagster_project.warehouse.build_plan import plan_build, row_counts
from dagster_project.warehouse.build_state import (
    data_version,
    forget_data_version,
    lake_digest,
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
from dagster_project.warehouse.dbt_tests import (
    DataTestResult,
    data_test_count,
    model_summary,
    not_passed,
)
from dagster_project.warehouse.engines import (
    Engine,
    check_spark_can_run,
    configured_engine,
    spark_file_vars,
    spark_warehouse_dir,
)
from dagster_project.warehouse.publish import (
    BuildNotPublished,
    flushing,
    prepare_building,
    publish,
)
from dagster_project.warehouse.serving import copy_spark_tables, create_views
from dagster_project.warehouse.text_files import ensure_text_files

# The Dagster concurrency pool of everything that opens the warehouse read-write. Its limit
# (1) is set in the instance's dagster.yaml (see local_runs.ensure_dagster_home).
WRITER_POOL = "duckdb_writer"


class HotlineDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "warehouse"


def _event_name(context: dg.AssetExecutionContext, event: object) -> str:
    if isinstance(event, dg.Output):
        return context.asset_key_for_output(event.output_name).path[-1]
    return ""


def _test_result(event: object) -> DataTestResult | None:
    """A dbt test's result, as dagster-dbt observes it on a model the test reads; None for
    any other event."""
    if not isinstance(event, dg.AssetObservation):
        return None
    metadata = event.metadata
    unique_id = str(getattr(metadata.get("unique_id"), "value", ""))
    if not unique_id.startswith("test."):
        return None
    failed = metadata.get("dagster_dbt/failed_row_count")
    return DataTestResult(
        unique_id=unique_id,
        model=event.asset_key.path[-1],
        status=str(getattr(metadata.get("status"), "value", "")),
        failed_rows=None if failed is None else int(getattr(failed, "value", 0)))


@dbt_assets(
    manifest=hotline_dbt_project.manifest_path,
    project=hotline_dbt_project,
    # dbt's tests are summarised on the models, not recorded as asset checks (dbt_tests).
    dagster_dbt_translator=HotlineDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=False)),
    pool=WRITER_POOL,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """Seeds, staging views, intermediate models and marts, with their dbt tests: one
    `dbt build` per run, whatever partitions of the lake the run covers. Each model's
    materialisation counts its tests (`dbt_tests_passed`, and `dbt_tests_not_passed` by name);
    a failing test fails the step by name. The only writer of the warehouse: it holds the pool
    `duckdb_writer` and the exclusive warehouse lock, writes warehouse.building.duckdb and
    replaces the live file with it only when dbt ends without an error (see `publish`).

    With HOTLINE_ENGINE=spark, dbt builds on Spark (its Parquet tables in warehouse/spark/),
    and warehouse.building.duckdb is then made from them for the readers (`serving`)."""
    paths = data_paths()
    engine = configured_engine()
    if engine is Engine.SPARK:
        check_spark_can_run()
    warehouse, building = paths.warehouse, paths.building_warehouse
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    ensure_results_schema(paths.lake)
    # The views on the text stage's files are created over them (empty before its first run).
    ensure_text_files(paths.text, hotline_dbt_project.manifest_path)
    models = {key.path[-1] for key in context.selected_asset_keys}
    progress.start("dbt", len(models) + data_test_count(models))
    events: list[Any] = []
    tests: list[DataTestResult] = []
    tested: set[str] = set()
    counts: dict[str, int] = {}
    with warehouse_write_lock(warehouse, on_wait=context.log.info):
        fingerprint = project_fingerprint(DBT_PROJECT_DIR, paths.reference)
        lake_before = lake_digest(paths.lake)
        plan = plan_build(context.selected_asset_keys == context.assets_def.keys, warehouse,
                          fingerprint)
        context.log.info(
            "building from a copy of the live warehouse" if plan.from_previous
            else "building from an empty warehouse (none yet, or built from other code or "
                 "reference data)")
        # Spark keeps its tables from build to build in its own folder: the serving file is
        # made anew from them after each build.
        prepare_building(warehouse, building,
                         from_previous=plan.from_previous and engine is Engine.DUCKDB)
        # Unit tests check the SQL on fixed rows, not the data: `make test` runs them
        # (tests/test_end_to_end.py); a production build need not repeat them each time.
        args = ["build", "--exclude-resource-type", "unit_test", "--target", engine.dbt_target]
        if (overrides := rule_overrides(paths.root)) is not None:
            context.log.info(f"rules set by {paths.root / RULE_OVERRIDES}: {overrides}")
        spark_vars = (spark_file_vars(paths, DBT_PROJECT_DIR) if engine is Engine.SPARK
                      else {})
        args += ["--vars", build_vars(building, {**(overrides or {}), **spark_vars})]
        # A build that does not start from the previous one rebuilds Spark's kept tables.
        if plan.full_refresh or (engine is Engine.SPARK and not plan.from_previous):
            args.append("--full-refresh")
        if forget_parse_of_other_project(paths.dbt_target):
            context.log.info("dbt parses the whole project: its saved parse came from a "
                             "checkout in another folder")
        invocation = dbt.cli(args, context=context, raise_on_error=False,
                             target_path=paths.dbt_target)
        # The warehouse checks run after this step: Great Expectations is imported meanwhile.
        with preloading(), flushing(building):
            for event in invocation.stream():
                if (test := _test_result(event)) is not None:
                    if test.unique_id not in tested:  # a test reading two models: once
                        tested.add(test.unique_id)
                        progress.advance("dbt", detail=test.name)
                    tests.append(test)
                    continue
                events.append(event)
                if isinstance(event, (dg.Output, dg.AssetMaterialization)):
                    progress.advance("dbt", detail=_event_name(context, event))
        error = invocation.get_error()
        if error is None and engine is Engine.SPARK:
            copied = copy_spark_tables(spark_warehouse_dir(paths),
                                       building, paths.dbt_target / "manifest.json")
            context.log.info(f"copied {len(copied)} tables of the Spark build into {building}")
            create_views(building, paths.dbt_target / "serving", overrides)
        if error is None:
            if plan.covers_every_model:
                record_fingerprint(building, fingerprint, data_version(
                    fingerprint, lake_before, lake_digest(paths.lake)))
            else:
                # A partial run leaves some models as the previous code built them: it keeps
                # the previous fingerprint, so the next complete build starts afresh.
                forget_data_version(building)
            publish(warehouse, building, on_wait=context.log.info)
            # Counted on the published file, while no other build can replace it.
            counts = row_counts(warehouse, [_event_name(context, e) for e in events
                                            if isinstance(e, dg.Output)])
    for warning in not_passed(tests, "warn"):
        context.log.warning(f"dbt test warned: {warning}")
    if error is not None:
        # Nothing was materialised in the live warehouse; the failing tests say why.
        failing = not_passed(tests, "fail") + not_passed(tests, "error")
        kept = (f"Spark's tables in {spark_warehouse_dir(paths)} may hold part of it; the "
                "next build rebuilds the cities whose rows are not current"
                if engine is Engine.SPARK else
                f"the failed build is kept in {building} until the next one")
        raise BuildNotPublished(
            f"the warehouse is unchanged ({warehouse} is still the previous build; {kept}). "
            + (f"Failing dbt tests: {'; '.join(failing)}. " if failing else "")
            + str(error)) from error
    for event in events:
        if isinstance(event, dg.Output):
            name = _event_name(context, event)
            metadata = {**event.metadata, **model_summary(tests, name)}
            if name in counts:
                metadata["dagster/row_count"] = counts[name]
            event = event.with_metadata(metadata)
        yield event
