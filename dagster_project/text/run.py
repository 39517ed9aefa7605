"""The text stage from end to end: read the published warehouse, train (or reuse) the
taxonomy classifier, predict the tickets no mapping places, find the hot issues, and write
everything as Parquet files in `<data root>/text/` (each file written whole, then renamed
into place, so a reader sees the previous file or the new one)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sklearn

from dagster_project.locks import text_lock, warehouse_read_lock
from dagster_project.settings import DataPaths
from dagster_project.text.classifier import (
    LEVEL_2_SEPARATOR,
    MODEL_CODE_VERSION,
    NO_LABELLED_TICKETS,
    ClassScores,
    Evaluation,
    LabelledTickets,
    NoModel,
    TaxonomyModel,
    cross_validate,
    load_model,
    model_version,
    train,
)
from dagster_project.text.hot_issues import TICKET_COLUMNS, HotIssues, find_hot_issues
from dagster_project.text.settings import TextSettings, load_text_settings

# The files of text/, as the warehouse's `text` source names its tables.
PREDICTIONS = "ticket_predictions"
CLASSIFIER_RUNS = "classifier_runs"
HOT_ISSUES = "hot_issues"
HOT_ISSUE_TICKETS = "hot_issue_tickets"
MODELS_DIR = "text_classifier"
UNCLASSIFIED_NAME = "未分类"


class WarehouseMissing(RuntimeError):
    """No published warehouse to read the texts from."""


# Labelled: a mapping placed the ticket's label in a national class other than 未分类.
_LABELLED = f"category_mapping <> 'unmapped' and category_name <> '{UNCLASSIFIED_NAME}'"


def labelled_fingerprint(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """How many labelled tickets there are, and a digest of which (with their class and the
    lake row holding their text): the model is retrained only when it changes."""
    count, digest = con.execute(f"""
        select count(*), coalesce(bit_xor(hash(city_code, ticket_id, category_code,
               coalesce(category_level_2, ''), file_sha256, source_sheet, source_row)), 0)
        from fct_tickets where {_LABELLED}""").fetchone() or (0, 0)
    return int(count), f"{count}:{digest}"


def read_labelled(con: duckdb.DuckDBPyConnection, max_per_class: int, seed: int
                  ) -> LabelledTickets:
    """A deterministic sample of at most max_per_class labelled tickets of each class."""
    table = con.execute(f"""
        with sample as (
            select city_code, ticket_id, category_code,
                   category_code || '{LEVEL_2_SEPARATOR}' || coalesce(category_level_2, '')
                       as level_2,
                   category_level_2 is not null and trim(category_level_2) <> '' as has_level_2
            from fct_tickets
            where {_LABELLED}
            qualify row_number() over (
                partition by category_code order by hash(city_code, ticket_id, ?)) <= ?
        )
        select sample.category_code, case when has_level_2 then level_2 else '' end as level_2,
               texts.title, texts.content
        from sample
        inner join fct_ticket_texts as texts using (city_code, ticket_id)
        order by sample.city_code, sample.ticket_id""", [seed, max_per_class]).to_arrow_table()
    return LabelledTickets(
        title=table["title"].combine_chunks(), content=table["content"].combine_chunks(),
        category_code=table["category_code"].to_numpy().astype(str),
        level_2=np.asarray(table["level_2"].to_pylist(), dtype=object))


def read_unclassified(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The tickets in 未分类 (no mapping placed their label), with their texts."""
    return con.execute(f"""
        select tickets.city_code, tickets.ticket_id, texts.title, texts.content
        from fct_tickets as tickets
        inner join fct_ticket_texts as texts using (city_code, ticket_id)
        where tickets.category_name = '{UNCLASSIFIED_NAME}'
        order by tickets.city_code, tickets.ticket_id""").to_arrow_table()


def read_issue_candidates(con: duckdb.DuckDBPyConnection, request_types: tuple[str, ...]
                          ) -> pa.Table:
    """The tickets that may form hot issues: of the request types named, or of no known
    type (a message board's posts have none)."""
    return con.execute("""
        select tickets.city_code, tickets.ticket_id, tickets.received_at, tickets.district,
               tickets.request_type, tickets.category_name, texts.title, texts.content
        from fct_tickets as tickets
        inner join fct_ticket_texts as texts using (city_code, ticket_id)
        where tickets.request_type in (select unnest(?::varchar[]))
           or tickets.request_type is null
        order by tickets.city_code, tickets.received_at, tickets.ticket_id""",
                       [list(request_types)]).to_arrow_table()


def class_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select category_code, category_name from dim_category").fetchall())


def class_names_of_root(paths: DataPaths) -> dict[str, str]:
    """The national classes' names by code, from the root's published warehouse."""
    with warehouse_read_lock(paths.warehouse), _open(paths) as con:
        return class_names(con)


@dataclass(frozen=True)
class ClassifierRun:
    """What the classifier did in one analysis: one row of classifier_runs.parquet."""

    model_version: str | None
    status: str  # trained, reused or not_trained
    reason: str | None  # why no model, when not_trained
    labelled_tickets: int
    training_tickets: int
    classes: int
    level_2_labels: int
    cv_folds: int | None
    cv_macro_f1: float | None
    min_confidence: float
    unclassified_tickets: int
    predicted_tickets: int
    placed_by_model: int
    analysed_at: dt.datetime
    settings_json: str  # every setting in effect, for the report to print the rules
    # A digest of the inputs and the settings: the next analysis of the same is skipped.
    analysed_build: str


@dataclass(frozen=True)
class TextAnalysis:
    classifier: ClassifierRun
    hot_issues: int
    hot_issue_tickets: int
    themes: int
    seconds: float
    files: list[Path]


def _write(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial)
    partial.replace(path)
    return path


def _model_file(paths: DataPaths, version: str) -> Path:
    return paths.models / MODELS_DIR / f"{version}.joblib"


def _evaluation_file(paths: DataPaths, version: str) -> Path:
    return paths.models / MODELS_DIR / f"{version}.json"


def _forget_other_models(paths: DataPaths, keep: str) -> None:
    for path in (paths.models / MODELS_DIR).glob("*"):
        if path.stem != keep and path.suffix in {".joblib", ".json"}:
            path.unlink(missing_ok=True)


def _model(paths: DataPaths, con: duckdb.DuckDBPyConnection, settings: TextSettings,
           labelled: int, digest: str, log: Callable[[str], None]
           ) -> tuple[TaxonomyModel, str, Evaluation | None]:
    """The root's model for its labelled set of now (`labelled_fingerprint`): the saved one
    if the set, the settings and the code are those it was trained on, else a new one (with
    its cross-validation)."""
    classifier = settings.classifier
    if labelled == 0:
        raise NoModel(NO_LABELLED_TICKETS)
    version = model_version(digest, settings.classifier.model_dump_json())
    saved = _model_file(paths, version)
    if saved.exists():
        log(f"classifier {version}: the labelled tickets are unchanged, the model is reused")
        evaluation = None
        if _evaluation_file(paths, version).exists():
            data = json.loads(_evaluation_file(paths, version).read_text(encoding="utf-8"))
            evaluation = Evaluation(**{
                **data, "per_class": [ClassScores(**c) for c in data["per_class"]],
                "reference_per_class": None})
        return load_model(saved), "reused", evaluation
    sample = read_labelled(con, classifier.max_tickets_per_class, classifier.seed)
    log(f"classifier {version}: training on {len(sample):,} of {labelled:,} labelled tickets")
    evaluation = cross_validate(
        read_labelled(con, classifier.cv_tickets_per_class, classifier.seed), classifier)
    model = train(sample, classifier, version, labelled_tickets=labelled)
    model.save(saved)
    _evaluation_file(paths, version).write_text(
        json.dumps(asdict(evaluation), ensure_ascii=False), encoding="utf-8")
    _forget_other_models(paths, version)
    return model, "trained", evaluation


PREDICTION_SCHEMA = pa.schema([
    ("city_code", pa.string()), ("ticket_id", pa.string()),
    ("predicted_category_code", pa.string()), ("predicted_category_name", pa.string()),
    ("confidence", pa.float64()), ("predicted_level_2", pa.string()),
    ("level_2_confidence", pa.float64()), ("is_used", pa.bool_()),
    ("model_version", pa.string())])


def predict_unclassified(unclassified: pa.Table, model: TaxonomyModel | None,
                         settings: TextSettings, names: dict[str, str]) -> pa.Table:
    """One row per unclassified ticket with the model's class, its probability, and whether
    it reaches min_confidence (is_used); the level-2 label only where it reaches it too.
    Without a model: no rows. Batch by batch, each one matrix product."""
    if model is None or unclassified.num_rows == 0:
        return PREDICTION_SCHEMA.empty_table()
    threshold = settings.classifier.min_confidence
    parts = []
    for start in range(0, unclassified.num_rows, settings.classifier.batch_tickets):
        rows = unclassified.slice(start, settings.classifier.batch_tickets)
        predicted = model.predict(rows["title"].combine_chunks(),
                                  rows["content"].combine_chunks())
        used = predicted.confidence >= threshold
        level_2_used = used & (np.nan_to_num(predicted.level_2_confidence) >= threshold)
        # "01/市政设施" -> "市政设施": the city's own level-2 text.
        level_2 = pc.replace_substring_regex(
            pa.array(np.where(level_2_used, predicted.level_2, None), pa.string()),
            f"^[^{LEVEL_2_SEPARATOR}]*{LEVEL_2_SEPARATOR}", "")
        parts.append(pa.table({
            "city_code": rows["city_code"], "ticket_id": rows["ticket_id"],
            "predicted_category_code": pa.array(predicted.category_code, pa.string()),
            "predicted_category_name": pa.array(
                pd.Series(predicted.category_code).map(names), pa.string(), from_pandas=True),
            "confidence": pa.array(np.round(predicted.confidence, 6)),
            "predicted_level_2": level_2,
            "level_2_confidence": pa.array(
                np.where(level_2_used, np.round(predicted.level_2_confidence, 6), np.nan),
                pa.float64(), from_pandas=True),
            "is_used": pa.array(used),
            "model_version": pa.array(np.full(rows.num_rows, model.version), pa.string()),
        }, schema=PREDICTION_SCHEMA))
    return pa.concat_tables(parts)


def _placed(candidates: pa.Table, predictions: pa.Table) -> pa.Table:
    """The candidates' category_name, with the model's class where it placed the ticket."""
    used = predictions.filter(predictions["is_used"]).select(
        ["city_code", "ticket_id", "predicted_category_name"])
    if used.num_rows == 0:
        return candidates
    joined = candidates.join(used, ["city_code", "ticket_id"], join_type="left outer")
    name = pc.coalesce(joined["predicted_category_name"], joined["category_name"])
    joined = joined.drop_columns(["predicted_category_name", "category_name"])
    return joined.append_column("category_name", name).select(list(TICKET_COLUMNS))


def _inputs_and_settings(con: duckdb.DuckDBPyConnection, settings: TextSettings) -> str:
    """A digest of what the analysis reads (every ticket's id, the lake row that holds its
    texts, and what it is grouped and classified by), of the settings and of the model's
    code. A build that changed none of it (a rerun of the same lake) is not analysed again."""
    count, digest = con.execute("""
        select count(*), coalesce(bit_xor(hash(city_code, ticket_id, file_sha256,
               source_sheet, source_row, category_code, category_mapping, request_type,
               district, received_at)), 0)
        from fct_tickets""").fetchone() or (0, 0)
    return (f"{count}:{digest}|{settings.fingerprint()}|{sklearn.__version__}|"
            f"{MODEL_CODE_VERSION}")


def _previous_analysis(paths: DataPaths, analysed_build: str) -> TextAnalysis | None:
    """What the last analysis wrote, when it analysed the same inputs with these settings and
    its files are all there; else None. A rerun on an unchanged warehouse so changes nothing (the
    report it renders is the same, to the byte)."""
    files = [paths.text / f"{name}.parquet"
             for name in (PREDICTIONS, CLASSIFIER_RUNS, HOT_ISSUES, HOT_ISSUE_TICKETS)]
    if not all(f.exists() for f in files):
        return None
    runs = pq.read_table(files[1])
    if "analysed_build" not in runs.column_names or runs.num_rows != 1:
        return None
    row = runs.to_pylist()[0]
    if row["analysed_build"] != analysed_build:
        return None
    issues = pq.read_table(files[2], columns=["theme_id"])
    return TextAnalysis(
        ClassifierRun(**{f.name: row.get(f.name) for f in fields(ClassifierRun)}),
        issues.num_rows, pq.read_metadata(files[3]).num_rows,
        len(set(issues["theme_id"].to_pylist())), 0.0, files)


def _open(paths: DataPaths) -> duckdb.DuckDBPyConnection:
    if not paths.warehouse.exists():
        raise WarehouseMissing(f"{paths.warehouse} does not exist: build the warehouse first "
                               "(`hotline build`)")
    return duckdb.connect(str(paths.warehouse), read_only=True)


def analyse(paths: DataPaths, *, settings: TextSettings | None = None,
            log: Callable[[str], None] = lambda _: None) -> TextAnalysis:
    """Classify the unclassified tickets and find the hot issues of the published warehouse;
    write text/*.parquet. A root with no labelled tickets gets no model, says why in
    classifier_runs, and its hot issues are found all the same."""
    started = time.monotonic()
    settings = settings or load_text_settings(paths.reference)
    classifier = settings.classifier
    with text_lock(paths.root, on_wait=log):
        # The texts are read under the readers' lock (one build throughout), then released:
        # a build may publish while the models compute.
        with warehouse_read_lock(paths.warehouse, on_wait=log), _open(paths) as con:
            analysed_build = _inputs_and_settings(con, settings)
            if (previous := _previous_analysis(paths, analysed_build)) is not None:
                log("text analysis: this build was analysed with these settings already")
                return previous
            names = class_names(con)
            unclassified = read_unclassified(con)
            candidates = read_issue_candidates(con, settings.hot_issues.request_types)
            labelled, digest = labelled_fingerprint(con)
            model: TaxonomyModel | None = None
            evaluation: Evaluation | None = None
            reason = None
            try:
                model, status, evaluation = _model(paths, con, settings, labelled, digest, log)
            except NoModel as exc:
                status, reason = "not_trained", str(exc)
                log(f"classifier: no model can be trained: {exc}")
        predictions = predict_unclassified(unclassified, model, settings, names)
        placed = int(pc.sum(predictions["is_used"]).as_py() or 0)
        log(f"classifier: {placed:,} of {unclassified.num_rows:,} unclassified tickets placed "
            f"at a probability of {classifier.min_confidence} or more")
        issues = find_hot_issues(_placed(candidates, predictions), settings.hot_issues)
        log(f"hot issues: {len(issues.issues):,} issues of {len(issues.tickets):,} tickets")
        run = ClassifierRun(
            model_version=model.version if model else None, status=status, reason=reason,
            labelled_tickets=labelled,
            training_tickets=model.training_tickets if model else 0,
            classes=len(model.classes) if model else 0,
            level_2_labels=len(model.level_2.classes_) if model and model.level_2 else 0,
            cv_folds=evaluation.folds if evaluation else None,
            cv_macro_f1=round(evaluation.macro_f1, 4) if evaluation else None,
            min_confidence=classifier.min_confidence,
            unclassified_tickets=unclassified.num_rows,
            predicted_tickets=predictions.num_rows, placed_by_model=placed,
            analysed_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
            settings_json=settings.model_dump_json(), analysed_build=analysed_build)
        files = _write_all(paths, run, predictions, issues)
    return TextAnalysis(run, len(issues.issues), len(issues.tickets),
                        int(issues.issues["theme_id"].nunique()) if len(issues.issues) else 0,
                        round(time.monotonic() - started, 1), files)


RUN_SCHEMA = pa.schema([
    ("model_version", pa.string()), ("status", pa.string()), ("reason", pa.string()),
    ("labelled_tickets", pa.int64()), ("training_tickets", pa.int64()),
    ("classes", pa.int64()), ("level_2_labels", pa.int64()), ("cv_folds", pa.int64()),
    ("cv_macro_f1", pa.float64()), ("min_confidence", pa.float64()),
    ("unclassified_tickets", pa.int64()), ("predicted_tickets", pa.int64()),
    ("placed_by_model", pa.int64()), ("analysed_at", pa.timestamp("us")),
    ("settings_json", pa.string()), ("analysed_build", pa.string())])
ISSUE_SCHEMA = pa.schema([
    ("issue_id", pa.string()), ("city_code", pa.string()), ("district", pa.string()),
    ("listed_month", pa.date32()), ("first_day", pa.date32()), ("last_day", pa.date32()),
    ("tickets", pa.int64()), ("active_days", pa.int64()), ("growth", pa.float64()),
    ("heat", pa.float64()), ("rank_in_city_month", pa.int64()), ("is_listed", pa.bool_()),
    ("representative_title", pa.string()), ("representative_text", pa.string()),
    ("category_name", pa.string()), ("category_share", pa.float64()),
    ("theme_id", pa.string()), ("theme_label", pa.string())])
ISSUE_TICKET_SCHEMA = pa.schema([
    ("issue_id", pa.string()), ("city_code", pa.string()), ("ticket_id", pa.string())])


def _write_all(paths: DataPaths, run: ClassifierRun, predictions: pa.Table,
               issues: HotIssues) -> list[Path]:
    text = paths.text
    return [
        _write(predictions, text / f"{PREDICTIONS}.parquet"),
        _write(pa.Table.from_pylist([asdict(run)], schema=RUN_SCHEMA),
               text / f"{CLASSIFIER_RUNS}.parquet"),
        _write(pa.Table.from_pandas(issues.issues, schema=ISSUE_SCHEMA, preserve_index=False),
               text / f"{HOT_ISSUES}.parquet"),
        _write(pa.Table.from_pandas(issues.tickets, schema=ISSUE_TICKET_SCHEMA,
                                    preserve_index=False),
               text / f"{HOT_ISSUE_TICKETS}.parquet"),
    ]


def evaluate(paths: DataPaths, *, settings: TextSettings | None = None,
             with_reference: bool = True,
             on_fold: Callable[[int], None] | None = None) -> tuple[Evaluation, int]:
    """Cross-validate the classifier (and the reference) on the root's labelled tickets:
    the evaluation and how many labelled tickets the root has. NoModel when none can be
    trained."""
    settings = settings or load_text_settings(paths.reference)
    classifier = settings.classifier
    with warehouse_read_lock(paths.warehouse), _open(paths) as con:
        labelled, _ = labelled_fingerprint(con)
        sample = read_labelled(con, classifier.cv_tickets_per_class, classifier.seed)
    return cross_validate(sample, classifier, with_reference=with_reference,
                          on_fold=on_fold), labelled
