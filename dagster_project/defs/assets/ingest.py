"""Landing -> lake: every configured source's files become canonical Parquet."""


import dagster as dg

from dagster_project.ingest.runner import ingest_all, landing_folders_without_source
from dagster_project.settings import data_paths, sources_dir
from dagster_project.sources import load_source_configs

LAKE_TICKETS = dg.AssetKey(["lake", "tickets"])
LAKE_TEST_CALLS = dg.AssetKey(["lake", "test_calls"])
LAKE_REJECTS = dg.AssetKey(["lake", "rejects"])
LAKE_MANIFEST = dg.AssetKey(["lake", "manifest"])


@dg.multi_asset(
    name="ingest_landing",
    group_name="ingest",
    specs=[
        dg.AssetSpec(LAKE_TICKETS, description="Canonical work orders, one Parquet per file."),
        dg.AssetSpec(LAKE_TEST_CALLS, description="Canonical test calls, one Parquet per file."),
        dg.AssetSpec(LAKE_REJECTS, description="Rows rejected at ingestion, with reasons."),
        dg.AssetSpec(LAKE_MANIFEST, description="Every landing file seen, status and counts."),
    ],
    description=(
        "Reads each source's landing files as its YAML configuration describes, maps them to "
        "the canonical fields, pseudonymises callers, masks numbers in free text and writes the "
        "lake. Files already ingested (same SHA-256) are skipped."
    ),
)
def ingest_landing(context: dg.AssetExecutionContext):
    paths = data_paths()
    configs = load_source_configs(sources_dir())
    summary = ingest_all(configs, paths)
    for outcome in summary.failed:
        context.log.error(f"file failed, others go on: {outcome.entry.error}")
    for folder in landing_folders_without_source(configs, paths.landing):
        context.log.warning(f"landing/{folder} has no source configuration: not ingested")
    table = "\n".join(
        ["| file | status | read | written | rejected |", "|---|---|---|---|---|"]
        + [
            f"| {o.entry.source_file} | {'skipped (unchanged)' if o.skipped else o.entry.status} "
            f"| {o.entry.rows_read} | {o.entry.rows_written} | {o.entry.rows_rejected} |"
            for o in summary.outcomes
        ]
    )
    common = {
        "files_loaded": summary.count("loaded", skipped=False),
        "files_unchanged": summary.count("loaded", skipped=True),
        "files_failed": len(summary.failed),
        "rows_read": summary.total("rows_read"),
        "rows_written": summary.total("rows_written"),
        "rows_rejected": summary.total("rows_rejected"),
    }
    yield dg.MaterializeResult(
        asset_key=LAKE_MANIFEST, metadata={**common, "files": dg.MetadataValue.md(table)}
    )
    for key in (LAKE_TICKETS, LAKE_TEST_CALLS, LAKE_REJECTS):
        yield dg.MaterializeResult(asset_key=key, metadata=common)
