"""`hotline`: the command line of the warehouse."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dagster_project.pipeline import run_everything
from dagster_project.settings import DATA_ROOT_ENV, data_paths, data_root


def _latest_report(site: Path) -> Path | None:
    reports = sorted(site.glob("*/index.html"), key=lambda p: p.parent.name)
    return reports[-1] if reports else None


def command_demo(args: argparse.Namespace) -> int:
    from dagster_project.demo.generator import generate_demo

    paths = data_paths()
    print(f"data root: {paths.root}")
    summary = generate_demo(paths.landing, seed=args.seed, total_tickets=args.tickets)
    print(f"demo exports written to {paths.landing} ({summary.total_tickets:,} tickets)")
    print("callers are hashed with the public demo key: set HOTLINE_PSEUDONYMISATION_KEY "
          "for real data")
    run = run_everything()
    for check in run.failed_checks:
        print(f"check failed (blocks the report): {check}", file=sys.stderr)
    for check in run.warnings:
        print(f"check warned: {check}", file=sys.stderr)
    if not run.success or "annual_report" not in run.materialized:
        print("the pipeline did not finish: see the messages above", file=sys.stderr)
        return 1
    report = _latest_report(paths.site)
    if report is None:
        print("no report was rendered", file=sys.stderr)
        return 1
    print(f"report: {report}")
    return 0


def command_check(args: argparse.Namespace) -> int:
    """Run every expectation suite against the current lake and warehouse."""
    import datetime as dt
    import uuid

    from dagster_project.quality import load_suite, run_suite, suite_names, write_results

    paths = data_paths()
    if not paths.warehouse.exists():
        print(f"no warehouse at {paths.warehouse}: run `hotline demo` or the pipeline first",
              file=sys.stderr)
        return 1
    run_id = f"cli-{uuid.uuid4()}"
    checked_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    failed_errors = 0
    print(f"{'suite':<26}{'severity':<10}{'rows':>12}  {'result':<8}details")
    for name in suite_names():
        outcome = run_suite(load_suite(name), paths)
        write_results(outcome, paths.lake, run_id, checked_at)
        met = len(outcome.expectations) - len(outcome.failures)
        verdict = "ok" if outcome.success else "FAILED"
        print(f"{name:<26}{outcome.severity:<10}{outcome.rows_validated:>12,}  {verdict:<8}"
              f"{met}/{len(outcome.expectations)} expectations met")
        for failure in outcome.failures:
            print(f"{'':<50}- {failure.describe()}")
        failed_errors += not outcome.success and outcome.severity == "ERROR"
    print(f"results appended to {paths.lake / 'quality'} (run {run_id})")
    return 1 if failed_errors else 0


def command_ui(args: argparse.Namespace) -> int:
    os.environ.setdefault(DATA_ROOT_ENV, str(data_root()))
    home = data_paths().root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    dagster = Path(sys.executable).parent / "dagster"
    argv = [str(dagster), "dev", "-m", "dagster_project.definitions",
            "-h", "127.0.0.1", "-p", str(args.port)]
    os.execv(argv[0], argv)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline",
        description="Data warehouse for the 12345 government service hotlines.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="generate the demo exports and run the whole pipeline on them"
    )
    demo.add_argument("--seed", type=int, default=2019, help="random seed (default 2019)")
    demo.add_argument("--tickets", type=int, default=150_000,
                      help="work orders over all cities and years (default 150000)")
    demo.set_defaults(handler=command_demo)
    check = commands.add_parser(
        "check", help="run every expectation suite on the current data and print the results"
    )
    check.set_defaults(handler=command_check)
    ui = commands.add_parser("ui", help="start the Dagster UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=command_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
