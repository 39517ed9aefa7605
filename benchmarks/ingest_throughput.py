"""Ingestion throughput against DuckDB's own CSV reader, on the same files, in one run.

    .venv/bin/python benchmarks/ingest_throughput.py [--rows 1000000] [--json out.json]

Builds a standard export of N rows (UTF-8) and the same rows in GBK from the demo generator's
Beijing file, then times, each in a fresh subprocess (wall time and peak RSS):
  duckdb_read_csv   DuckDB read_csv of the UTF-8 file into a table, nothing else (the floor)
  ingest_utf8       our ingestion of the UTF-8 file (read, map, type, pseudonymise, reject,
                    write Parquet and manifest)
  ingest_gbk        our ingestion of the GBK file (transcoding included)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

STAGES = ("duckdb_read_csv", "ingest_utf8", "ingest_gbk")


def build_files(workdir: Path, rows: int) -> tuple[Path, Path]:
    """A standard export of `rows` rows, tiled from a generated Beijing file with unique ids."""
    from dagster_project.demo.generator import generate_demo

    landing = workdir / "landing"
    generate_demo(landing, seed=7, total_tickets=150_000)
    sample = next((landing / "beijing_12345").glob("*2019*.csv"))
    table = pacsv.read_csv(
        sample, convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in _header(sample)}))
    copies = -(-rows // table.num_rows)
    tiles = []
    for copy in range(copies):
        ids = pc.binary_join_element_wise(table["工单编号"], pa.scalar(f"-{copy}"), "")
        tiles.append(table.set_column(0, "工单编号", ids))
    big = pa.concat_tables(tiles).slice(0, rows)
    utf8 = workdir / "bench" / "standard_utf8.csv"
    utf8.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(big, utf8)
    gbk = workdir / "bench_gbk" / "standard_gbk.csv"
    gbk.parent.mkdir(parents=True, exist_ok=True)
    with utf8.open(encoding="utf-8") as src, gbk.open("w", encoding="gbk", errors="replace") as out:
        while chunk := src.read(1 << 24):
            out.write(chunk)
    return utf8, gbk


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return handle.readline().rstrip("\n").split(",")


def run_stage(stage: str, path: Path, workdir: Path) -> dict[str, float]:
    """Run in this (fresh) process; prints nothing, returns the counts."""
    started = time.perf_counter()
    if stage == "duckdb_read_csv":
        import duckdb

        con = duckdb.connect()
        con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(path)])
        (rows,) = con.execute("SELECT count(*) FROM t").fetchone()
    else:
        from dagster_project.ingest.lake import Lake
        from dagster_project.ingest.pipeline import ingest_file
        from dagster_project.sources import SourceConfig

        config = SourceConfig.model_validate({
            "source_id": path.parent.name, "name": "bench", "entity": "tickets",
            "city_code": "110000", "format": "csv", "layout": "standard",
            "encoding": "gbk" if stage == "ingest_gbk" else "utf-8",
        })
        outcome = ingest_file(config, path, path.parent.parent, Lake(workdir / f"lake_{stage}"),
                              b"bench-key", dt.datetime(2020, 1, 1))
        if outcome.entry.status != "loaded":
            raise SystemExit(outcome.entry.error)
        rows = outcome.entry.rows_read
    return {"seconds": time.perf_counter() - started, "rows": float(rows)}


def measure(stage: str, path: Path, workdir: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, __file__, "--stage", stage, "--file", str(path), "--workdir",
         str(workdir)], check=True, capture_output=True, text=True)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.stdout)
    # ru_maxrss of children is the largest child so far: run the stages from small to large
    # or read it per stage as an upper bound.
    result["peak_rss_mb"] = max(peak_kib, before) / 1024
    result["mb"] = path.stat().st_size / 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--stage", choices=STAGES)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(run_stage(args.stage, args.file, args.workdir)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        utf8, gbk = build_files(workdir, args.rows)
        results = {
            "duckdb_read_csv": measure("duckdb_read_csv", utf8, workdir),
            "ingest_utf8": measure("ingest_utf8", utf8, workdir),
            "ingest_gbk": measure("ingest_gbk", gbk, workdir),
        }
    floor = results["duckdb_read_csv"]["seconds"]
    print(f"{'stage':<18}{'rows':>11}{'MB':>8}{'seconds':>9}{'rows/s':>12}{'MB/s':>8}"
          f"{'vs floor':>10}{'peak RSS MB':>13}")
    for stage, r in results.items():
        print(f"{stage:<18}{r['rows']:>11,.0f}{r['mb']:>8.0f}{r['seconds']:>9.2f}"
              f"{r['rows'] / r['seconds']:>12,.0f}{r['mb'] / r['seconds']:>8.0f}"
              f"{floor / r['seconds']:>10.2f}{r['peak_rss_mb']:>13,.0f}")
    gbk_ratio = results["ingest_gbk"]["seconds"] / results["ingest_utf8"]["seconds"]
    print(f"ingestion reaches {floor / results['ingest_utf8']['seconds']:.0%} of the floor's "
          f"throughput (target >= 50%); GBK takes {gbk_ratio:.2f}x UTF-8 (target <= 2x)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
