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
    province.add_argument("--hotlines", type=int,
                          help=f"hotlines in the test calls, the seed's then synthetic ones "
                               f"(default {PROVINCE_HOTLINES})")
    province.add_argument("--sources", type=int,
                          help=f"ticket sources (default {PROVINCE_TICKET_SOURCES})")
    province.add_argument("--workers", type=int,
                          help=f"processes writing the sources (default {PROVINCE_WORKERS})")
    args = parser.parse_args(argv)
    province_only = {"--hotlines": args.hotlines, "--sources": args.sources,
                     "--workers": args.workers}
    if not args.province and any(v is not None for v in province_only.values()):
        given = ", ".join(k for k, v in province_only.items() if v is not None)
        parser.error(f"only with --province: {given}")
    started = time.perf_counter()
    if args.province:
        summary = generate_province(
            args.root,
            seed=args.seed,
            total_tickets=PROVINCE_TOTAL_TICKETS if args.tickets is None else args.tickets,
            hotlines=PROVINCE_HOTLINES if args.hotlines is None else args.hotlines,
            ticket_sources=PROVINCE_TICKET_SOURCES if args.sources is None else args.sources,
            workers=PROVINCE_WORKERS if args.workers is None else args.workers,
            cities_csv=args.cities,
        )
    else:
        summary = generate_demo(
            args.root,
            seed=args.seed,
            total_tickets=DEFAULT_TOTAL_TICKETS if args.tickets is None else args.tickets,
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
