"""`hotline`: the command line of the warehouse.

Every command that materialises assets runs the code location's own jobs in this process, on
the data root's Dagster instance (`<data root>/dagster_home`), so its runs appear in
`hotline status` and in the UI. Long steps show progress bars; what Dagster and dbt print goes
to a log file under `<data root>/logs/`. Errors are one paragraph and a non-zero exit code; set
HOTLINE_DEBUG=1 for a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from dagster_project.settings import DATA_ROOT_ENV, ScheduleConfigError, data_paths, data_root

if TYPE_CHECKING:
    import dagster as dg
    import duckdb

    from dagster_project.local_runs import JobOutcome
    from dagster_project.text.classifier import Evaluation

DEBUG_ENV = "HOTLINE_DEBUG"
PHASES = {
    "ingest": "ingest files",
    "dbt": "dbt build",
    "text": "text analysis",
    "checks": "quality suites",
    "report": "reports",
}


class CliError(RuntimeError):
    """A command cannot do what was asked; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------
# Output: progress bars on stderr, results on stdout, the chatter of Dagster and dbt in a log.
# ---------------------------------------------------------------------------------------------
class Bars:
    """Progress bars for the phases of a run (a `progress.ProgressListener`)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<15}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[detail]}", justify="left"),
            console=console,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def start(self, phase: str, total: int) -> None:
        if phase in self.tasks:
            self.progress.update(self.tasks[phase], total=total)
        else:
            self.tasks[phase] = self.progress.add_task(
                PHASES.get(phase, phase), total=total, detail="")

    def advance(self, phase: str, step: int = 1, detail: str = "") -> None:
        if phase not in self.tasks:
            self.start(phase, 0)
        task = self.progress.tasks[self.tasks[phase]]
        if task.total is not None and task.completed + step > task.total:
            self.progress.update(self.tasks[phase], total=task.completed + step)
        self.progress.update(self.tasks[phase], advance=step, detail=detail[:32])


class Ui:
    def __init__(self) -> None:
        self.out = Console(file=sys.stdout, highlight=False)
        self.err = Console(file=sys.stderr, highlight=False)

    def error(self, message: str) -> None:
        text = Text("error: ", style="bold red")
        text.append(" ".join(message.split()))
        self.err.print(text, soft_wrap=True)

    def note(self, message: str) -> None:
        self.err.print(Text(message, style="dim"), soft_wrap=True)

    @contextlib.contextmanager
    def running(self, command: str, phases: dict[str, int]) -> Iterator[Path]:
        """Progress bars for the phases, and the output of the run captured in a log file."""
        from dagster_project import progress

        logs = data_root() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{command}-{dt.datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}.log"
        bars = Bars(self.err)
        for phase, total in phases.items():
            bars.start(phase, total)
        with (
            log.open("a", encoding="utf-8") as sink,
            bars.progress,
            progress.reporting_to(bars),
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            yield log


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _instance() -> dg.DagsterInstance:
    from dagster_project.local_runs import local_instance

    return local_instance()


def _require_warehouse() -> Path:
    warehouse = data_paths().warehouse
    if not warehouse.exists():
        raise CliError(
            f"no warehouse at {warehouse}: build it first (`hotline ingest` then "
            "`hotline build`, or `hotline demo` for the demo data)")
    return warehouse


def _fail_if_failed(outcome: JobOutcome, log: Path) -> None:
    if outcome.success:
        return
    reasons = [e for e in outcome.errors
               if not (outcome.failed_checks and "blocking asset check failed" in e)]
    if outcome.failed_checks:
        reasons.append("blocking checks failed: " + ", ".join(
            f"{name} ({outcome.check_details[name]})" if outcome.check_details.get(name)
            else name for name in outcome.failed_checks))
    raise CliError(
        f"the {outcome.job} run failed: {'; '.join(reasons) or 'see the log'} "
        f"(run {outcome.run_id}; full log: {log})")


def _materialization_metadata(
    instance: dg.DagsterInstance, run_id: str
) -> dict[str, dict[str, Any]]:
    """Asset key -> metadata of its (last) materialisation in a run."""
    import dagster as dg

    records = instance.get_records_for_run(
        run_id=run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        materialization = record.asset_materialization
        if materialization is not None:
            found[materialization.asset_key.to_user_string()] = dict(materialization.metadata)
    return found


def _print_files(ui: Ui, instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The per-file table of an ingestion run; returns the errors of files that failed."""
    metadata = _materialization_metadata(instance, run_id).get("lake/manifest", {})
    files = metadata.get("files")
    records = getattr(files, "records", None) or []
    table = Table(title="landing files", title_justify="left")
    table.add_column("source", no_wrap=True)
    table.add_column("file", overflow="fold")
    table.add_column("status", no_wrap=True)
    for column in ("read", "written", "rejected"):
        table.add_column(column, justify="right")
    errors = []
    for record in records:
        row = record.data
        status = row["status"]
        style = {"failed": "red", "loaded": "green"}.get(status, "dim")
        name = row["file"].removeprefix(f"{row['source']}/")
        table.add_row(row["source"], name, Text(status, style=style),
                      f"{row['rows_read']:,}", f"{row['rows_written']:,}",
                      f"{row['rows_rejected']:,}")
        if status == "failed":
            errors.append(row["error"])
    if records:
        ui.out.print(table)
    return errors


def _configured_sources() -> list[str]:
    """The configured source ids; none is an error that says what to do."""
    from dagster_project.defs.partitions import source_partitions

    known = source_partitions.get_partition_keys()
    if not known:
        raise CliError("no source is configured: add a YAML file per source to the sources "
                       "folder (see docs/onboarding.md)")
    return known


def _fail_if_files_failed(errors: list[str]) -> None:
    """After the others were ingested: the landing files that could not be, with why."""
    if errors:
        raise CliError(f"{len(errors)} file(s) could not be ingested, the others were: "
                       + " / ".join(errors))


def _count_landing_files(sources: list[str] | None) -> int:
    from dagster_project.defs.partitions import source_partitions
    from dagster_project.settings import sources_dir
    from dagster_project.sources import SourceConfigError, load_source_config

    total = 0
    for source in sources or source_partitions.get_partition_keys():
        with contextlib.suppress(SourceConfigError):
            config = load_source_config(sources_dir() / f"{source}.yaml")
            total += len(config.landing_files(data_paths().landing))
    return total


def _dbt_steps() -> int:
    from dagster_project.definitions import defs
    from dagster_project.warehouse.dbt_tests import data_test_count

    job = defs.resolve_job_def("build")
    return len(list(job.asset_layer.selected_asset_keys)) + data_test_count()


def _suite_count(lake: bool = True, warehouse: bool = True) -> int:
    """How many suites a run will validate: those of the lake, of the warehouse, or both."""
    from dagster_project.quality import load_suite, suite_names
    from dagster_project.quality.suites import LakeData

    kinds = [isinstance(load_suite(n).meta.data, LakeData) for n in suite_names()]
    return sum((lake and is_lake) or (warehouse and not is_lake) for is_lake in kinds)


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
def command_demo(args: argparse.Namespace, ui: Ui) -> int:
    from dagster_project.defs.assets.report import PUBLISH_TAG
    from dagster_project.demo.generator import generate_demo
    from dagster_project.local_runs import execute, report_range_tags, run_everything

    paths = data_paths()
    ui.note(f"data root: {paths.root}")
    with ui.err.status("writing the demo exports"):
        summary = generate_demo(paths.landing, seed=args.seed, total_tickets=args.tickets)
    ui.out.print(f"demo exports written to {paths.landing} ({summary.total_tickets:,} tickets)",
                 soft_wrap=True)
    ui.note("callers are hashed with the public demo key: set HOTLINE_PSEUDONYMISATION_KEY "
            "for real data")
    instance = _instance()
    phases = {"ingest": _count_landing_files(None), "dbt": _dbt_steps(),
              "checks": _suite_count(), "report": 0}
    with ui.running("demo", phases) as log:
        run = run_everything(instance=instance)
        # The demo ends as a year ends: every year's publication typeset.
        published = (execute("report", instance=instance,
                             tags={**report_range_tags(instance), PUBLISH_TAG: "true"})
                     if run.success and report_range_tags(instance) else None)
    for check in run.warnings:
        ui.note(f"check warned: {check}")
    for outcome in run.runs:
        _fail_if_failed(outcome, log)
    if "annual_report" not in run.materialized:
        raise CliError(f"the pipeline did not render a report (full log: {log})")
    if published is not None:
        _fail_if_failed(published, log)
    reports = sorted(paths.site.glob("*/index.html"), key=lambda p: p.parent.name)
    if not reports:
        raise CliError("no report was rendered")
    for report in reports:
        _report_lines(ui, report.parent.name)
    ui.out.print(f"report: {reports[-1]}", soft_wrap=True)
    return 0


def command_ingest(args: argparse.Namespace, ui: Ui) -> int:
    from dagster_project.defs.partitions import all_sources_tags, source_partitions
    from dagster_project.local_runs import execute

    known = source_partitions.get_partition_keys()
    wanted = list(dict.fromkeys(args.source or []))
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise CliError(
            f"unknown source {', '.join(unknown)}: the configured sources are "
            f"{', '.join(known) or 'none'} (one YAML file each in the sources folder)")
    _configured_sources()
    instance = _instance()
    runs = [{"partition_key": s} for s in wanted] or [{"tags": all_sources_tags()}]
    phases = {"ingest": _count_landing_files(wanted or None),
              "checks": _suite_count(warehouse=False) * len(runs)}
    failed_files: list[str] = []
    with ui.running("ingest", phases) as log:
        outcomes = [execute("ingest", instance=instance, **run) for run in runs]  # type: ignore[arg-type]
    for outcome in outcomes:
        failed_files += _print_files(ui, instance, outcome.run_id)
        for warning in outcome.warnings:
            ui.note(f"check warned: {warning}")
    for outcome in outcomes:
        _fail_if_failed(outcome, log)
    _fail_if_files_failed(failed_files)
    ui.out.print("the lake is up to date; `hotline build` rebuilds the warehouse from it")
    return 0


def command_build(args: argparse.Namespace, ui: Ui) -> int:
    from dagster_project.local_runs import execute

    paths = data_paths()
    if not any((paths.lake / "manifest").glob("*/*.parquet")):
        ui.note(f"nothing has been ingested into {paths.lake} yet: the warehouse's tables "
                "will be empty until `hotline ingest` loads a landing file")
    instance = _instance()
    with ui.running("build", {"dbt": _dbt_steps(), "checks": _suite_count(lake=False)}) as log:
        outcome = execute("build", instance=instance)
    for warning in outcome.warnings:
        ui.note(f"check warned: {warning}")
    _fail_if_failed(outcome, log)
    metadata = _materialization_metadata(instance, outcome.run_id)
    table = Table(title=f"warehouse {paths.warehouse}", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, values in sorted(metadata.items()):
        count = values.get("dagster/row_count")
        if count is not None:
            table.add_row(name, f"{count.value:,}")
    ui.out.print(table)
    ui.out.print(f"built and checked in run {outcome.run_id}")
    return 0


def command_refresh(args: argparse.Namespace, ui: Ui) -> int:
    """What the sensors do after a delivery, in one process: ingest every source's new files,
    build and check the warehouse (one `refresh` run), then render the report of each
    monitoring year whose rows that run loaded."""
    from dagster_project.defs.partitions import all_sources_tags
    from dagster_project.defs.sensors import report_years_of_run
    from dagster_project.local_runs import execute

    _configured_sources()
    instance = _instance()
    phases = {"ingest": _count_landing_files(None), "dbt": _dbt_steps(),
              "checks": _suite_count(), "report": 0}
    with ui.running("refresh", phases) as log:
        refreshed = execute("refresh", instance=instance, tags=all_sources_tags())
        years, rebuilt = report_years_of_run(instance, refreshed.run_id)
        wanted = years if refreshed.success and rebuilt else []
        reports = [execute("report", instance=instance, partition_key=str(y)) for y in wanted]
    failed_files = _print_files(ui, instance, refreshed.run_id)
    for outcome in (refreshed, *reports):
        for warning in outcome.warnings:
            ui.note(f"check warned: {warning}")
    for outcome in (refreshed, *reports):
        _fail_if_failed(outcome, log)
    ui.out.print(f"ingested, built and checked in run {refreshed.run_id}")
    for year in wanted:
        # A path is printed whole, never wrapped: it is copied from the terminal.
        _report_lines(ui, year)
    if not wanted:
        ui.out.print("no rows of a monitoring year were loaded: no report to render again")
    _fail_if_files_failed(failed_files)
    return 0


def command_check(args: argparse.Namespace, ui: Ui) -> int:
    """Run every expectation suite against the current lake and warehouse."""
    from dagster_project.quality import load_suite, suite_names, write_results
    from dagster_project.quality.runner import check_suite

    paths = data_paths()
    _require_warehouse()
    run_id = f"cli-{uuid.uuid4()}"
    checked_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    outcomes = []
    with ui.running("check", {"checks": len(suite_names())}):
        for name in suite_names():
            outcome = check_suite(load_suite(name), paths, on_wait=ui.note)
            write_results(outcome, paths.lake, run_id, checked_at)
            outcomes.append(outcome)
    table = Table(title="expectation suites", title_justify="left")
    table.add_column("suite")
    table.add_column("severity")
    table.add_column("rows", justify="right")
    table.add_column("result")
    table.add_column("details")
    failed_errors = 0
    for outcome in outcomes:
        met = len(outcome.expectations) - len(outcome.failures)
        verdict = Text("ok", style="green") if outcome.success else Text("FAILED", style="red")
        details = f"{met}/{len(outcome.expectations)} expectations met"
        details += "".join(f"\n- {f.describe()}" for f in outcome.failures)
        table.add_row(outcome.suite, outcome.severity, f"{outcome.rows_validated:,}",
                      verdict, details)
        failed_errors += not outcome.success and outcome.severity == "ERROR"
    ui.out.print(table)
    ui.out.print(f"results appended to {paths.lake / 'quality'} (run {run_id})", soft_wrap=True)
    if failed_errors:
        raise CliError(f"{failed_errors} ERROR suite(s) failed: the report stays blocked until "
                       "they pass")
    return 0


def _print_evaluation(ui: Ui, evaluation: Evaluation, labelled: int, per_class: int) -> None:
    from dagster_project.text.run import class_names_of_root

    names = class_names_of_root(data_paths())
    reference = {c.category_code: c for c in evaluation.reference_per_class or []}
    ui.out.print(
        f"{evaluation.folds}-fold stratified cross-validation on {evaluation.tickets:,} of "
        f"{labelled:,} labelled tickets (at most {per_class:,} per class), the same folds for "
        "both models", soft_wrap=True)
    summary = Table(title="macro-F1", title_justify="left")
    summary.add_column("model")
    summary.add_column("macro-F1", justify="right")
    summary.add_row("this project's classifier (character n-grams of title and content, "
                    "TF-IDF, logistic regression)", f"{evaluation.macro_f1:.4f}")
    if evaluation.reference_macro_f1 is not None:
        summary.add_row("reference (character 1–3-gram TF-IDF, linear SVM)",
                        f"{evaluation.reference_macro_f1:.4f}")
    ui.out.print(summary)
    table = Table(title="per class", title_justify="left")
    for column in ("code", "class", "tickets", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column in {"code", "class"} else "right")
    if reference:
        table.add_column("reference F1", justify="right")
    for scores in evaluation.per_class:
        row = [scores.category_code, names.get(scores.category_code, ""),
               f"{scores.support:,}", f"{scores.precision:.3f}", f"{scores.recall:.3f}",
               f"{scores.f1:.3f}"]
        if reference:
            row.append(f"{reference[scores.category_code].f1:.3f}")
        table.add_row(*row)
    ui.out.print(table)


def command_classify(args: argparse.Namespace, ui: Ui) -> int:
    """Run the text analysis, or (--evaluate) cross-validate the classifier."""
    from dagster_project.text.classifier import NoModel
    from dagster_project.text.run import analyse, evaluate
    from dagster_project.text.settings import load_text_settings

    paths = data_paths()
    _require_warehouse()
    settings = load_text_settings(paths.reference)
    if args.per_class is not None:
        from pydantic import ValidationError

        try:
            settings = settings.model_validate({**settings.model_dump(), "classifier": {
                **settings.classifier.model_dump(), "cv_tickets_per_class": args.per_class}})
        except ValidationError as exc:
            raise CliError(f"--per-class {args.per_class}: "
                           f"{exc.errors()[0]['msg']}") from exc
    if args.evaluate:
        try:
            with ui.err.status("cross-validating the classifier and the reference") as status:
                evaluation, labelled = evaluate(
                    paths, settings=settings, on_fold=lambda k: status.update(
                        f"cross-validating: fold {k} of {settings.classifier.cv_folds} done"))
        except NoModel as exc:
            ui.out.print(f"no model can be trained: {exc}", soft_wrap=True)
            return 0
        _print_evaluation(ui, evaluation, labelled, settings.classifier.cv_tickets_per_class)
        return 0
    with ui.err.status("classifying and finding hot issues"):
        result = analyse(paths, settings=settings, log=ui.note)
    run = result.classifier
    if run.status == "not_trained":
        ui.out.print(f"no model can be trained: {run.reason}", soft_wrap=True)
    else:
        ui.out.print(
            f"classifier {run.model_version} ({run.status}; cross-validated macro-F1 "
            f"{run.cv_macro_f1 if run.cv_macro_f1 is not None else '—'}): placed "
            f"{run.placed_by_model:,} of {run.unclassified_tickets:,} unclassified tickets at a "
            f"probability of {run.min_confidence} or more", soft_wrap=True)
    ui.out.print(f"hot issues: {result.hot_issues:,} ({result.hot_issue_tickets:,} tickets, "
                 f"{result.themes:,} themes); files in {paths.text}", soft_wrap=True)
    return 0


def _report_lines(ui: Ui, year: int | str) -> None:
    """Where the year's pages are, the operator's appendix among them, and whether the year's
    PDF is published and as current as the warehouse: refresh and report render HTML only, so
    the publication can fall behind."""
    from dagster_project.report.render import INTERNAL_PAGE, pdf_state

    paths = data_paths()
    folder = paths.site / str(year)
    # A path is printed whole, never wrapped: it is copied from the terminal.
    ui.out.print(f"report {year}: {folder / 'index.html'}", soft_wrap=True)
    ui.out.print(f"operator appendix {year} (not for publication): {folder / INTERNAL_PAGE}",
                 soft_wrap=True)
    state = pdf_state(folder, paths.warehouse)
    if state.absent:
        ui.out.print(f"pdf {year}: not published; `hotline publish --year {year}` typesets it",
                     soft_wrap=True)
    elif state.stale:
        ui.out.print(f"pdf {year}: stale (typeset {state.published_at:%Y-%m-%d %H:%M}, before "
                     f"the warehouse was last built); `hotline publish --year {year}` typesets "
                     "it again", soft_wrap=True)
    else:
        ui.out.print(f"pdf {year}: {state.path} (current)", soft_wrap=True)


def _run_report(args: argparse.Namespace, ui: Ui, publish: bool) -> str:
    """Run the report job for one year (the quality gate, then the pages; with `publish`
    the PDF too); returns the year."""
    from dagster_project.defs.assets.report import PUBLISH_TAG
    from dagster_project.defs.partitions import add_report_years, report_years
    from dagster_project.ingest.lake import lake_report_years
    from dagster_project.local_runs import execute

    paths = data_paths()
    _require_warehouse()
    instance = _instance()
    year = str(args.year)
    if year not in report_years(instance):
        available = lake_report_years(paths.lake)
        if args.year not in available:
            raise CliError(
                f"no data for {year}: the lake holds test calls or work orders of "
                f"{', '.join(map(str, available)) or 'no year'}; ingest that year's exports "
                "first")
        add_report_years(instance, available)
    tags = {PUBLISH_TAG: "true"} if publish else None
    with ui.running("publish" if publish else "report", {"report": 1}) as log:
        outcome = execute("report", instance=instance, partition_key=year, tags=tags)
    _fail_if_failed(outcome, log)
    _report_lines(ui, year)
    return year


def command_report(args: argparse.Namespace, ui: Ui) -> int:
    _run_report(args, ui, publish=False)
    return 0


def command_publish(args: argparse.Namespace, ui: Ui) -> int:
    """The yearly publication: the pages and report.pdf, behind the same quality gate."""
    _run_report(args, ui, publish=True)
    return 0


def command_status(args: argparse.Namespace, ui: Ui) -> int:
    from dagster_project import status

    paths = data_paths()
    ui.out.print(Text(f"data root: {paths.root}", style="bold"))
    for table in status.tables(paths):
        ui.out.print(table)
    return 0


def command_init_key(args: argparse.Namespace, ui: Ui) -> int:
    from dagster_project.ingest.pseudonymise import KEY_ENV, KEY_FILE_ENV, create_key_file

    created = create_key_file(data_root())
    ui.out.print(f"created {created.path} (mode 600), key fingerprint {created.fingerprint}",
                 soft_wrap=True)
    ui.note("keep a copy of it somewhere safe: files ingested with another key get other "
            "pseudonyms, so losing it means ingesting every landing file again")
    for variable in (KEY_ENV, KEY_FILE_ENV):
        if os.environ.get(variable):
            ui.note(f"{variable} is set and takes precedence over the file")
    return 0


def command_onboard(args: argparse.Namespace, ui: Ui) -> int:
    """A dry run for a new sender: the proposed source YAML for a landing file and what
    ingesting it would reject; writes only with --write."""
    from dagster_project.onboard import OnboardError, propose, write_proposal

    try:
        proposal = propose(args.file, source_id=args.source_id, city_code=args.city_code,
                           layout=args.layout, file_format=args.format,
                           encoding=args.encoding, skip_rows=args.skip_rows,
                           source_timezone=args.source_timezone, sample_rows=args.sample)
        ui.out.print(Text(proposal.render()), soft_wrap=True)
        if args.write is None:
            ui.note("nothing was written (--write PATH writes the proposed YAML)")
        else:
            ui.out.print(f"written: {write_proposal(proposal, args.write)}", soft_wrap=True)
    except OnboardError as exc:
        raise CliError(str(exc)) from exc
    return 0


def _cell(value: object) -> str:
    """A value as the SQL result shows it: booleans as DuckDB writes them, NULL as nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _duckdb_message(exc: BaseException) -> str:
    """DuckDB's message without the echo of the query that follows it ("LINE 1: …")."""
    lines = str(exc).splitlines()
    kept = lines[: next((i for i, line in enumerate(lines) if line.startswith("LINE ")),
                        len(lines))]
    return " ".join(" ".join(kept).split())


SQL_PIPED_MAX_WIDTH = 100_000
SQL_TABLE_ROWS = 1000
SQL_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                     "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def _print_result(ui: Ui, result: duckdb.DuckDBPyRelation, as_csv: bool) -> None:
    """A query's rows: CSV on stdout (all of them), or a table of the first SQL_TABLE_ROWS."""
    import csv

    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        while rows := result.fetchmany(10_000):
            writer.writerows([_cell(v) for v in row] for row in rows)
        return
    table = Table(header_style="bold")
    for name, kind in zip(result.columns, result.types, strict=True):
        numeric = str(kind).startswith(SQL_NUMERIC_TYPES)
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    rows = result.fetchmany(SQL_TABLE_ROWS + 1)
    for row in rows[:SQL_TABLE_ROWS]:
        table.add_row(*(_cell(v) if v is not None else Text("NULL", style="dim") for v in row))
    if ui.out.is_terminal:
        ui.out.print(table)
    else:
        # Piped output is not cut to 80 columns: it is as wide as the table. A console prints
        # nothing wider than itself, and one without a terminal is 80 wide: print on one as
        # wide as the table measures without that bound.
        unbounded = ui.out.options.update(max_width=SQL_PIPED_MAX_WIDTH)
        width = ui.out.measure(table, options=unbounded).maximum
        Console(file=ui.out.file, width=width, highlight=False).print(table, crop=False)
    shown = min(len(rows), SQL_TABLE_ROWS)
    more = " (more not shown: --csv prints every row)" if len(rows) > SQL_TABLE_ROWS else ""
    ui.note(f"{shown:,} row(s){more}")


def _run_sql(ui: Ui, con: duckdb.DuckDBPyConnection, sql: str, as_csv: bool) -> None:
    import duckdb

    from dagster_project.analyst import AnalystAccessError, check_read_only

    try:
        check_read_only(con, sql)
        result = con.sql(sql)
    except (AnalystAccessError, duckdb.Error) as exc:
        raise CliError(_duckdb_message(exc)) from exc
    if result is not None:
        try:
            _print_result(ui, result, as_csv)
        except duckdb.Error as exc:
            raise CliError(_duckdb_message(exc)) from exc


def _sql_prompt(ui: Ui, con: duckdb.DuckDBPyConnection, as_csv: bool) -> None:
    """Read queries from the terminal until `.quit` or the end of input; a query ends with
    `;` at the end of a line."""
    ui.note("one query per statement, ending with ';'; .quit or Ctrl-D to leave")
    lines: list[str] = []
    while True:
        try:
            line = input("sql> " if not lines else "...> ")
        except EOFError:
            ui.err.print()
            return
        if not lines and line.strip() in {"", ".quit", ".exit"}:
            if line.strip():
                return
            continue
        lines.append(line)
        if line.rstrip().endswith(";"):
            sql, lines = "\n".join(lines), []
            try:
                _run_sql(ui, con, sql, as_csv)
            except CliError as exc:
                ui.error(str(exc))


def command_sql(args: argparse.Namespace, ui: Ui) -> int:
    """One query on the analysts' connection (dagster_project.analyst): read-only, no file
    outside the folders the views read, queries only."""
    from dagster_project.analyst import AnalystAccessError, analyst_connection

    _require_warehouse()
    sql = args.query
    if sql is None and not sys.stdin.isatty():
        sql = sys.stdin.read()
    if sql is not None and not sql.strip():
        raise CliError("no SQL given: pass the query as an argument, or on stdin")
    try:
        con = analyst_connection(data_paths())
    except AnalystAccessError as exc:
        raise CliError(str(exc)) from exc
    with con:
        if sql is None:
            _sql_prompt(ui, con, args.csv)
        else:
            _run_sql(ui, con, sql, args.csv)
    return 0


def command_ui(args: argparse.Namespace, ui: Ui) -> int:
    from dagster_project.local_runs import ensure_dagster_home

    os.environ.setdefault(DATA_ROOT_ENV, str(data_root()))
    ensure_dagster_home()
    dagster = Path(sys.executable).parent / "dagster"
    argv = [str(dagster), "dev", "-m", "dagster_project.definitions",
            "-h", "127.0.0.1", "-p", str(args.port)]
    ui.note(f"Dagster UI on http://127.0.0.1:{args.port} (instance {os.environ['DAGSTER_HOME']})")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
    return 0  # not reached


def command_automation(args: argparse.Namespace, ui: Ui) -> int:
    """Switch the data root's sensors and schedules on or off, or show them."""
    from dagster_project import automation
    from dagster_project.local_runs import dagster_home

    instance = _instance()
    home = dagster_home()
    if args.action == "on":
        ui.note("starting the sensors and schedules (the code location loads first)")
        log = data_root() / "logs" / f"automation-{dt.datetime.now():%Y%m%dT%H%M%S}.log"
        try:
            found = automation.switch_on(instance, home, log)
        except automation.AutomationError as exc:
            raise CliError(str(exc)) from exc
    elif args.action == "off":
        found = automation.switch_off(instance)
    else:
        found = automation.states(instance)
    for part in automation.report(found, automation.daemon_state(instance), home):
        ui.out.print(part, soft_wrap=isinstance(part, Text))
    return 0


# ---------------------------------------------------------------------------------------------
# Parser and entry point
# ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline",
        description=(
            "Data warehouse for the 12345 government service hotlines. Every command works on "
            f"the data root ({DATA_ROOT_ENV}, default data/ in the checkout)."),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace, Ui], int], summary: str,
            description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=description)
        sub.set_defaults(handler=handler)
        return sub

    demo = add("demo", command_demo, "generate the demo exports and run the whole pipeline",
               "Write synthetic exports of eleven senders into landing/, then ingest, build, "
               "check, render every year's report and publish its PDF.")
    demo.add_argument("--seed", type=int, default=2019, help="random seed (default 2019)")
    demo.add_argument("--tickets", type=int, default=150_000,
                      help="work orders over all cities and years (default 150000)")
    ingest = add("ingest", command_ingest, "ingest new landing files into the lake",
                 "Ingest the landing files of every source, or of the given ones, into the "
                 "lake; files already ingested (same SHA-256) are skipped. Exits 1 when a file "
                 "could not be read.")
    ingest.add_argument("--source", action="append", metavar="SOURCE_ID",
                        help="only this source (repeatable); default: every source")
    add("build", command_build, "rebuild the warehouse from the lake and check it",
        "Run `dbt build` (models and their tests) into warehouse.duckdb, one writer at a "
        "time, then every expectation suite.")
    add("refresh", command_refresh, "ingest, build and report a delivery in one go",
        "What the sensors do after a delivery, in this process: ingest the new landing "
        "files of every source, rebuild and check the warehouse, then render the report of "
        "each monitoring year whose rows were loaded (HTML; the PDF is typeset by `hotline "
        "publish`, and said to be stale when it is older than the warehouse). Exits 1 when a "
        "file could not be read (the others are built and reported).")
    add("check", command_check, "run every expectation suite on the current data",
        "Validate the lake and the warehouse with every suite in expectations/ (read-only) "
        "and append the results to lake/quality/. Exits 1 when an ERROR suite fails.")
    report = add("report", command_report, "render the report of one year",
                 "Pass the quality gate and render site/<year>/index.html and the city pages "
                 "from the warehouse (HTML only: says whether the PDF is stale).")
    report.add_argument("--year", type=int, required=True, help="monitoring year, e.g. 2019")
    publish = add("publish", command_publish, "publish one year: the report and its PDF",
                  "Pass the quality gate, render the year's pages and typeset the publication "
                  "site/<year>/report.pdf (cover, contents, page numbers), after checking that "
                  "an installed Chinese font covers its text (Debian: fonts-noto-cjk). The "
                  "cover's publisher line and title come from <data root>/reference/"
                  "publication.yml (keys publisher, title) when it exists.")
    publish.add_argument("--year", type=int, required=True, help="monitoring year, e.g. 2019")
    add("status", command_status, "what is loaded, last runs, rejects, failing checks",
        "Show the sources and their files, the warehouse, the reports, the latest result of "
        "every suite, the most frequent reject reasons and the last runs.")
    add("init-key", command_init_key, "create the data root's pseudonymisation key",
        "Write a random key to <data root>/secrets/pseudonymisation.key (mode 600), with which "
        "ingestion hashes callers when neither HOTLINE_PSEUDONYMISATION_KEY nor "
        "HOTLINE_PSEUDONYMISATION_KEY_FILE is set. An existing key file is never replaced.")
    onboard = add("onboard", command_onboard, "propose a source YAML for a new sender's file",
                  "A dry run: read a landing file's header and a sample of its values, print a "
                  "proposed source configuration and what ingesting the file with it would "
                  "reject. Nothing is written unless --write is given (docs/onboarding.md).")
    onboard.add_argument("file", type=Path, help="a landing file of the new sender")
    onboard.add_argument("--source-id", help="source id (default: from the file name)")
    onboard.add_argument("--city-code", help="GB/T 2260 code of the hotline's city")
    onboard.add_argument("--layout", choices=["standard", "open311", "message_board", "custom"],
                         help="a known layout (default: guessed from the header)")
    onboard.add_argument("--format", choices=["csv", "xlsx", "json", "jsonl", "open311"],
                         help="file format (default: from the suffix)")
    onboard.add_argument("--encoding", default="auto",
                         choices=["auto", "utf-8", "utf-8-sig", "gbk", "gb18030"])
    onboard.add_argument("--skip-rows", type=int, help="title rows above the header "
                         "(default: guessed)")
    onboard.add_argument("--source-timezone", metavar="ZONE", help="zone of times written "
                         "without an offset, e.g. America/New_York (default: Beijing time)")
    onboard.add_argument("--sample", type=int, default=10_000, help="rows sampled for values "
                         "and the dry run (default 10000)")
    onboard.add_argument("--write", type=Path, metavar="PATH", help="write the YAML there (a "
                         "file, or a folder for <source_id>.yaml); else nothing is written")
    classify = add(
        "classify", command_classify, "classify 未分类 tickets and find hot issues",
        "Run the text analysis on the warehouse as the pipeline does after a build: the "
        "taxonomy classifier (retrained when the labelled tickets changed) places the 未分类 "
        "tickets it is confident of, and the hot issues are found; written to <data root>/"
        "text/ (docs/text-analysis.md). With --evaluate, cross-validate the classifier on the "
        "labelled tickets beside a reference model instead, and change nothing.")
    classify.add_argument("--evaluate", action="store_true",
                          help="print stratified k-fold macro-F1 and per-class precision and "
                               "recall, beside the reference (character 1–3-gram TF-IDF, "
                               "linear SVM)")
    classify.add_argument("--per-class", type=int, metavar="N",
                          help="with --evaluate: at most N labelled tickets of each class "
                               "(default: classifier.cv_tickets_per_class, 600)")
    sql = add("sql", command_sql, "run a read-only query on the warehouse",
              "Run one query (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN …) on the "
              "warehouse as an analyst: a read-only connection that reads only the folders "
              "the warehouse's views read and writes no file (docs/analysts.md). The query "
              "comes from the argument, else from stdin; at a terminal without one, a prompt "
              "reads queries until .quit. Prints a table (the first "
              f"{SQL_TABLE_ROWS:,} rows), or CSV with --csv.")
    sql.add_argument("query", nargs="?", help="the SQL (default: read from stdin)")
    sql.add_argument("--csv", action="store_true", help="print every row as CSV, with a header")
    ui_cmd = add("ui", command_ui, "start the Dagster UI on 127.0.0.1",
                 "Start `dagster dev` on 127.0.0.1 with the data root's instance "
                 "(<data root>/dagster_home).")
    ui_cmd.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    automation = add("automation", command_automation, "switch the sensors and schedules on or off",
                     "Start (on) or stop (off) every sensor and schedule in the data root's "
                     "Dagster instance, or show them (status): running or not, the last tick, "
                     "what each does, and whether a daemon is running to evaluate them.")
    automation.add_argument("action", choices=["on", "off", "status"])
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    import duckdb

    from dagster_project.ingest.errors import IngestError
    from dagster_project.ingest.pseudonymise import PseudonymisationKeyError
    from dagster_project.locks import WarehouseLockTimeout
    from dagster_project.quality.suites import SuiteError
    from dagster_project.report.render import ReportDataError
    from dagster_project.sources import SourceConfigError
    from dagster_project.text.run import WarehouseMissing
    from dagster_project.text.settings import TextSettingsError
    from dagster_project.warehouse.engines import EngineSettingError

    errors: list[type[BaseException]] = [
        CliError, SourceConfigError, IngestError, PseudonymisationKeyError, SuiteError,
        ReportDataError, WarehouseLockTimeout, ScheduleConfigError, EngineSettingError,
        TextSettingsError, WarehouseMissing, duckdb.Error,
    ]
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ui = Ui()
    try:
        return int(args.handler(args, ui))
    except KeyboardInterrupt:
        ui.error("interrupted")
        return 130
    except subprocess.CalledProcessError as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        ui.error(f"{' '.join(map(str, exc.cmd))} failed with exit code {exc.returncode}; "
                 "run it by hand to see why")
        return 1
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        # A CliError is recognised without importing the others' modules (which load Dagster).
        known = CliError if isinstance(exc, CliError) else _known_errors()
        if isinstance(exc, known):
            ui.error(str(exc))
        else:
            ui.error(f"unexpected {type(exc).__name__}: {exc}. Set {DEBUG_ENV}=1 for the "
                     "traceback.")
        return 1


if __name__ == "__main__":
    sys.exit(main())
