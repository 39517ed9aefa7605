"""Warehouse -> site: the yearly monitoring report, one partition per monitoring year.

A run renders the HTML pages; a run tagged PUBLISH_TAG (`hotline publish`, the demo) also
typesets the publication, report.pdf. Both pass the quality gate first.
"""


import dagster as dg

from dagster_project import progress
from dagster_project.defs.assets.quality import QUALITY_GATE
from dagster_project.defs.assets.text import TEXT_ANALYSIS
from dagster_project.defs.partitions import report_year_partitions
from dagster_project.locks import report_lock, warehouse_read_lock
from dagster_project.report.marts import MARTS
from dagster_project.report.publication import load_publication
from dagster_project.report.render import INTERNAL_PAGE, render_year
from dagster_project.settings import data_paths
from dagster_project.warehouse.build_state import published_build

ANNUAL_REPORT = dg.AssetKey(["annual_report"])
# Per year rendered: the live warehouse it was rendered from (`PublishedBuild`), which the
# report sensor compares with the warehouse of now.
RENDERED_FROM_METADATA = "rendered_from"
# Set to "true" on a run of the report job to typeset the PDF too.
PUBLISH_TAG = "hotline/publish"

# Every mart the report reads: a build that rebuilt them makes the report stale.
MART_DEPS = [dg.AssetKey([name]) for name, _ in MARTS]


@dg.asset(
    group_name="report",
    deps=[*MART_DEPS, QUALITY_GATE, TEXT_ANALYSIS],
    partitions_def=report_year_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "年度监测成果: site/<year>/index.html, the self-contained HTML report of one monitoring "
        "year rendered by Jinja2 from the marts (read-only), and in a run tagged "
        f"{PUBLISH_TAG}=true (`hotline publish`) the publication site/<year>/report.pdf. One "
        "partition per year the evaluator monitored; blocked while the quality gate fails."
    ),
)
def annual_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    paths = data_paths()
    years = [int(k) for k in context.partition_keys]
    publish = context.run.tags.get(PUBLISH_TAG) == "true"
    # Read before anything is rendered: a bad publication.yml fails the run, not a page.
    publication = load_publication(paths.reference) if publish else None
    progress.start("report", len(years))
    rendered = []
    rendered_from: dict[str, object] = {}
    for year in years:
        # Two runs may render the same year (a sensor and the schedule): one at a time.
        with (report_lock(paths.root, year, on_wait=context.log.info),
              warehouse_read_lock(paths.warehouse, on_wait=context.log.info)):
            source = published_build(paths.warehouse)
            report = render_year(paths.warehouse, paths.site, year, lake=paths.lake,
                                 publish=publish, publication=publication)
        if source is not None:
            rendered_from[str(year)] = source.as_metadata()
        context.log.info(f"report {report.year}: {report.index_path}")
        if report.pdf is not None and report.pdf.stale:
            context.log.info(f"report {report.year}: {report.pdf.describe()}")
        rendered.append(report)
        progress.advance("report", detail=str(year))
    metadata: dict[str, object] = {
        "years": dg.MetadataValue.json([r.year for r in rendered]),
        "report": dg.MetadataValue.path(str(rendered[-1].index_path)),
        "operator_appendix": dg.MetadataValue.path(
            str(rendered[-1].index_path.parent / INTERNAL_PAGE)),
        RENDERED_FROM_METADATA: dg.MetadataValue.json(rendered_from),
        "published": dg.MetadataValue.bool(publish),
        "pdf_stale_years": dg.MetadataValue.json(
            [r.year for r in rendered if r.pdf is not None and r.pdf.stale]),
    }
    if publish and rendered[-1].pdf_path is not None:
        metadata["pdf"] = dg.MetadataValue.path(str(rendered[-1].pdf_path))
    if len(rendered) > 1:
        metadata["reports"] = dg.MetadataValue.md(
            "\n".join(f"- {r.year}: `{r.index_path}`" for r in rendered))
    return dg.MaterializeResult(metadata=metadata)
