"""`python -m dagster_project.demo --root DIR [--seed N] [--tickets N]`: write the demo landing."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dagster_project.demo.generator import DEFAULT_SEED, DEFAULT_TOTAL_TICKETS, generate_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagster_project.demo", description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="landing directory to write into")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--tickets", type=int, default=DEFAULT_TOTAL_TICKETS, help="distinct tickets"
    )
    parser.add_argument("--cities", type=Path, default=None, help="cities CSV (default: dbt seed)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = generate_demo(
        args.root, seed=args.seed, total_tickets=args.tickets, cities_csv=args.cities
    )
    print(summary.table())
    elapsed = time.perf_counter() - started
    print(f"seed {summary.seed}, {summary.total_tickets:,} tickets, {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
