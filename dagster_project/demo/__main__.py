"""`python -m dagster_project.demo --root DIR [--seed N] [--tickets N]`: write the demo landing.

With `--province`, DIR is a data root: landing files of 20+ sources (10 M tickets by default),
test calls for 350 hotlines, reference/cities.csv and the sources/ directory to run them with.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dagster_project.demo.generator import DEFAULT_SEED, DEFAULT_TOTAL_TICKETS, generate_demo
from dagster_project.demo.province import (
    PROVINCE_HOTLINES,
    PROVINCE_TICKET_SOURCES,
    PROVINCE_TOTAL_TICKETS,
    PROVINCE_WORKERS,
    generate_province,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_project.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--root", type=Path, required=True,
        help="landing directory to write into (with --province: the data root)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--tickets", type=int, default=None,
        help=f"distinct tickets (default {DEFAULT_TOTAL_TICKETS:,}; "
             f"with --province {PROVINCE_TOTAL_TICKETS:,})",
    )
    parser.add_argument("--cities", type=Path, default=None, help="cities CSV (default: dbt seed)")
    province = parser.add_argument_group("province scale")
    province.add_argument("--province", action="store_true", help="write a province-scale root")
    province.add_argument("--hotlines", type=int, default=PROVINCE_HOTLINES,
                          help="hotlines in the test calls (the seed's, then synthetic ones)")
    province.add_argument("--sources", type=int, default=PROVINCE_TICKET_SOURCES,
                          help="ticket sources")
    province.add_argument("--workers", type=int, default=PROVINCE_WORKERS,
                          help="processes writing the sources")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.province:
        summary = generate_province(
            args.root,
            seed=args.seed,
            total_tickets=args.tickets or PROVINCE_TOTAL_TICKETS,
            hotlines=args.hotlines,
            ticket_sources=args.sources,
            workers=args.workers,
            cities_csv=args.cities,
        )
    else:
        summary = generate_demo(
            args.root,
            seed=args.seed,
            total_tickets=args.tickets or DEFAULT_TOTAL_TICKETS,
            cities_csv=args.cities,
        )
    print(summary.table())
    elapsed = time.perf_counter() - started
    print(f"seed {summary.seed}, {summary.total_tickets:,} tickets, {elapsed:.1f} s")
    if args.province:
        print(summary.how_to_run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
