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
        print(f"check failed: {check}", file=sys.stderr)
    if not run.success or "annual_report" not in run.materialized:
        print("the pipeline did not finish: see the messages above", file=sys.stderr)
        return 1
    report = _latest_report(paths.site)
    if report is None:
        print("no report was rendered", file=sys.stderr)
        return 1
    print(f"report: {report}")
    return 0


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
    ui = commands.add_parser("ui", help="start the Dagster UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=command_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
