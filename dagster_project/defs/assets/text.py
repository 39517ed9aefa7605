"""Warehouse -> text: the taxonomy classifier and the hot issues (dagster_project/text)."""

import dagster as dg

from dagster_project import progress
from dagster_project.settings import data_paths
from dagster_project.text.run import analyse

TEXT_ANALYSIS = dg.AssetKey(["text_analysis"])
# The marts the analysis reads.
TEXT_INPUTS = [dg.AssetKey([name]) for name in ("fct_tickets", "fct_ticket_texts", "dim_category")]


@dg.asset(
    key=TEXT_ANALYSIS,
    group_name="text",
    deps=TEXT_INPUTS,
    description=(
        "What the tickets' texts say: the taxonomy classifier, retrained when the labelled "
        "tickets change, places the 未分类 tickets it is confident of (fct_ticket_classes), "
        "and the hot issues (热点议题) of every city are found (hot_issues, "
        "hot_issue_themes_year). Written to <data root>/text/; docs/text-analysis.md."
    ),
)
def text_analysis(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    progress.start("text", 1)
    result = analyse(data_paths(), log=context.log.info)
    progress.advance("text", detail="text analysis")
    run = result.classifier
    metadata: dict[str, object] = {
        "classifier_status": run.status,
        "labelled_tickets": run.labelled_tickets,
        "unclassified_tickets": run.unclassified_tickets,
        "placed_by_model": run.placed_by_model,
        "hot_issues": result.hot_issues,
        "hot_issue_tickets": result.hot_issue_tickets,
        "hot_issue_themes": result.themes,
        "files": dg.MetadataValue.json([str(p) for p in result.files]),
    }
    if run.model_version:
        metadata["model_version"] = run.model_version
    if run.cv_macro_f1 is not None:
        metadata["cv_macro_f1"] = dg.MetadataValue.float(run.cv_macro_f1)
    if run.reason:
        context.log.warning(f"no taxonomy model: {run.reason}")
        metadata["no_model_reason"] = run.reason
    return dg.MaterializeResult(metadata=metadata)
