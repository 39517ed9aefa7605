"""The same lake built by DuckDB and by a local Spark: wall time and peak memory of `dbt build`.

    .venv/bin/python benchmarks/engines.py --tickets 1000000 \\
        [--workdir /tmp/hotline-engines] [--rounds 2] [--json results.json]

The province generator writes a data root and `hotline ingest` makes its lake; then the whole dbt
project (seeds, models and data tests; not the unit tests, as `hotline build` runs it) is built
from nothing on each engine, the engines alternating, `--rounds` times each:

  duckdb       dbt build --target local into a new DuckDB file
  spark        dbt build --target spark --full-refresh into a new Spark warehouse folder
  spark_start  dbt run --target spark of the one-row model build_rules: what starting dbt,
               the JVM and a Spark session costs before any data is read

Memory is the peak of the summed resident memory of the command's process tree (dbt's Python
and Spark's JVM together), sampled every 0.2 s from /proc. The table is printed and, with
--json, written as JSON; BENCHMARKS.md, "DuckDB and Spark on the same lake", explains it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dagster_project.settings import DataPaths  # noqa: E402
from dagster_project.warehouse.dbt_files import DBT_PROJECT_DIR  # noqa: E402
from dagster_project.warehouse.engines import (  # noqa: E402
    SPARK_WAREHOUSE_ENV,
    Engine,
    dbt_executable,
    spark_file_vars,
)

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _tree_rss_mb(pid: int) -> float:
    tree, todo, total_kb = _children(), [pid], 0
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError, ValueError, IndexError):
            total_kb += int((Path("/proc") / str(current) / "statm").read_text().split()[1]) \
                * PAGE_KB
        todo += tree.get(current, [])
    return total_kb / 1024


def measured(argv: list[str], env: dict[str, str], log: Path) -> dict[str, float]:
    """Run a command; its wall time and the peak resident memory of its process tree."""
    started = time.perf_counter()
    peak = 0.0
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=DBT_PROJECT_DIR)
        while process.poll() is None:
            peak = max(peak, _tree_rss_mb(process.pid))
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed; see {log}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak)}


def dbt(engine: Engine, *args: str) -> list[str]:
    return [str(dbt_executable(engine)), *args, "--target", engine.dbt_target,
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hotline-engines"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()

    work = options.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    paths = DataPaths(root=work / "root")
    log = work / "engines.log"
    env = {**os.environ, "HOTLINE_DATA_ROOT": str(paths.root),
           "HOTLINE_SOURCES_DIR": str(paths.root / "sources"), "PYTHONPATH": str(ROOT)}
    paths.root.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "dagster_project.demo", "--root", str(paths.root),
                    "--province", "--tickets", str(options.tickets)], env=env, check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "dagster_project.cli", "ingest"], env=env, check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spark_vars = json.dumps(spark_file_vars(paths, DBT_PROJECT_DIR))

    results: dict[str, list[dict[str, float]]] = {"duckdb": [], "spark": [], "spark_start": []}
    for round_number in range(options.rounds):
        duck_file = work / f"duck-{round_number}.duckdb"
        results["duckdb"].append(measured(
            dbt(Engine.DUCKDB, "build", "--exclude-resource-type", "unit_test",
                "--target-path", str(work / "target-duckdb"),
                "--vars", json.dumps({"hotline_warehouse_path": str(duck_file)})),
            env, log))
        duck_file.unlink()
        spark_dir = work / f"spark-{round_number}"
        spark_env = {**env, SPARK_WAREHOUSE_ENV: str(spark_dir)}
        results["spark"].append(measured(
            dbt(Engine.SPARK, "build", "--exclude-resource-type", "unit_test", "--full-refresh",
                "--target-path", str(work / "target-spark"), "--vars", spark_vars),
            spark_env, log))
        results["spark_start"].append(measured(
            dbt(Engine.SPARK, "run", "--select", "build_rules",
                "--target-path", str(work / "target-spark"), "--vars", spark_vars),
            spark_env, log))
        shutil.rmtree(spark_dir)

    summary = {"tickets": options.tickets, "cores": os.cpu_count(), "results": results}
    print(f"{options.tickets:,} tickets, {os.cpu_count()} cores")
    for name, runs in results.items():
        print(f"  {name:12} " + "  ".join(
            f"{r['seconds']:7.1f} s {r['peak_rss_mb']:6,.0f} MB" for r in runs))
    if options.json:
        options.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
