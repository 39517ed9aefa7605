"""A province-year end to end, stage by stage, against DuckDB's floor and a pandas baseline.

    .venv/bin/python benchmarks/run.py --tickets 1000000 --tickets 10000000 \\
        [--workdir /tmp/hotline-bench] [--json benchmarks/results.json] [--keep]

For each size: the province generator writes a data root (20 ticket sources in mixed layouts,
test calls for 350 hotlines), then every stage runs as the product runs it, each `hotline`
command in a fresh process, timed (wall) with its peak resident memory (the largest process of
the command, dbt included):

  parse      once, before any size: the dbt parse the first command of a fresh checkout runs
             (kept in dbt/target until the project changes; a cost of the code, not the data)
  generate   python -m dagster_project.demo --province (not part of the pipeline's time)
  ingest     hotline ingest: every landing file into the lake, and the lake checks
  build      hotline build: dbt build (models and tests), and the warehouse checks
  report     hotline report --year 2019: quality gate, HTML pages and PDF
  rerun      one re-exported source file of about 500,000 rows (one cell changed), then
             ingest, build and report again: what a daily delivery costs
  refresh    the same file re-exported again, then `hotline refresh`: the same delivery as
             one command in one process (ingest, build, the report of the year it loaded),
             as the sensors run it

From the Dagster runs, the same time split by what it is spent on: ingestion, dbt, quality
checks (every asset check and the quality gate), report. And in the same run, on the same files:

  floor      DuckDB read_csv of the UTF-8 CSV work-order files into a table, nothing else
  ours       our ingestion of exactly those files into a scratch lake, as `hotline ingest`
             runs it: `ingest_workers()` files at a time (two here), each with its share of
             the cores
  pandas     the script a user would otherwise write: pandas read_csv of every CSV work-order
             file (each in its encoding), headers renamed by the source's mapping,
             concatenated, and the kpi_city_year rates computed with groupby

The table is printed and, with --json, written as JSON. BENCHMARKS.md explains the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster_project.sources import SourceConfig

ROOT = Path(__file__).resolve().parents[1]
REPORT_YEAR = 2019
RERUN_ROWS = 500_000
UTF8 = ("utf-8", "utf-8-sig")


@dataclass
class Measure:
    stage: str
    seconds: float
    peak_rss_mb: float
    rows: int | None = None
    mb: float | None = None
    note: str = ""


def run_measured(stage: str, argv: list[str], env: dict[str, str], log: Path) -> Measure:
    """Run a command to completion; its wall time and the peak RSS of its largest process."""
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{stage} failed ({' '.join(argv)}); see {log}")
    return Measure(stage, seconds, usage.ru_maxrss / 1024)


def prepare_checkout(workdir: Path) -> Measure:
    """Parse the dbt project as the first command of a fresh checkout does (`dbt parse`, kept
    in dbt/target until the project changes), so that no size's first build pays for it: it
    is a cost of the code, not of the data."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", "import dagster_project.defs.project"]
    return run_measured("parse", argv, pipeline_env(workdir), workdir / "parse.log")


def pipeline_env(root: Path) -> dict[str, str]:
    return {**os.environ, "HOTLINE_DATA_ROOT": str(root),
            "HOTLINE_SOURCES_DIR": str(root / "sources"), "PYTHONPATH": str(ROOT)}


def hotline(*args: str) -> list[str]:
    return [sys.executable, "-m", "dagster_project.cli", *args]


def step_split(root: Path, run_count: int) -> dict[str, float]:
    """Seconds of the last `run_count` Dagster runs by kind of step."""
    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    import dagster as dg

    split = {"ingestion": 0.0, "dbt": 0.0, "quality checks": 0.0, "report": 0.0}
    # The rest of a command's wall time is starting Python, Dagster and the run itself.
    with dg.DagsterInstance.get() as instance:
        for run in instance.get_runs(limit=run_count):
            for step in instance.get_run_step_stats(run.run_id):
                seconds = (step.end_time or 0) - (step.start_time or 0)
                key = step.step_key
                if key.startswith("ingest_landing"):
                    split["ingestion"] += seconds
                elif key.startswith("warehouse_models"):
                    split["dbt"] += seconds
                elif key.startswith("annual_report"):
                    split["report"] += seconds
                else:  # asset checks, the quality gate and the quality results
                    split["quality checks"] += seconds
    return split


def utf8_csv_files(root: Path) -> list[tuple[Path, int, str]]:
    """(file, title rows to skip, source) of the UTF-8 CSV work-order files."""
    from dagster_project.sources import load_source_configs

    files = []
    for config in load_source_configs(root / "sources"):
        if config.format != "csv" or config.entity.value != "tickets":
            continue
        for path in config.landing_files(root / "landing"):
            if config.encoding in UTF8 or (config.encoding == "auto" and _is_utf8(path)):
                files.append((path, config.skip_rows, config.source_id))
    return files


def _is_utf8(path: Path) -> bool:
    from dagster_project.ingest.readers import detect_encoding

    return detect_encoding(path, "auto") in UTF8


def floor_stage(root: Path) -> dict[str, float]:
    """In a fresh process: DuckDB read_csv of each UTF-8 CSV file into a table."""
    import duckdb

    con = duckdb.connect()
    rows = 0
    started = time.perf_counter()
    for n, (path, skip, _) in enumerate(utf8_csv_files(root)):
        con.execute(f"CREATE TABLE t{n} AS SELECT * FROM read_csv(?, skip = {skip})",
                    [str(path)])
        (count,) = con.execute(f"SELECT count(*) FROM t{n}").fetchone() or (0,)
        rows += int(count)
        con.execute(f"DROP TABLE t{n}")
    return {"seconds": time.perf_counter() - started, "rows": rows}


def pandas_stage(root: Path) -> dict[str, float]:
    """In a fresh process: the pandas script over every CSV work-order file."""
    import pandas as pd

    from dagster_project.canonical import REQUIRED_FIELDS, Entity
    from dagster_project.sources import load_source_configs

    started = time.perf_counter()
    wanted = {"ticket_id", "received_at", "direct_resolved", "closed_at", "due_at",
              "resolved", "satisfaction", "city_code"}
    frames = []
    for config in load_source_configs(root / "sources"):
        if config.format != "csv" or config.entity.value != "tickets":
            continue
        mapping = {h: f for h, f in config.column_map.items() if f in wanted}
        for path in config.landing_files(root / "landing"):
            encoding = config.encoding if config.encoding != "auto" else "utf-8"
            frame = pd.read_csv(path, dtype=str, skiprows=config.skip_rows, encoding=encoding,
                                usecols=lambda h, m=mapping: h in m)
            frame = frame.rename(columns=mapping)
            if "city_code" not in frame:
                frame["city_code"] = config.city_code
            for field in ("direct_resolved", "resolved"):
                if field in frame:
                    frame[field] = frame[field].str.strip().isin(config.true_values)
            if "satisfaction" in frame:
                codes = frame["satisfaction"].str.strip().replace(
                    config.value_map.get("satisfaction", {}))
                frame["satisfied"] = codes.isin(["satisfied", "basically_satisfied"]).where(
                    codes.notna())
            frames.append(frame)
    tickets = pd.concat(frames, ignore_index=True)
    tickets = tickets.dropna(subset=list(REQUIRED_FIELDS[Entity.TICKETS]))
    for field in ("received_at", "closed_at", "due_at"):
        tickets[field] = pd.to_datetime(tickets[field], errors="coerce", format="mixed")
    tickets = tickets.drop_duplicates(["city_code", "ticket_id"], keep="last")
    tickets["year"] = tickets["received_at"].dt.year
    tickets["on_time"] = (tickets["closed_at"] <= tickets["due_at"]).where(
        tickets["closed_at"].notna() & tickets["due_at"].notna())
    kpis = tickets.groupby(["city_code", "year"]).agg(
        tickets=("ticket_id", "size"),
        direct_resolved_rate=("direct_resolved", "mean"),
        on_time_close_rate=("on_time", "mean"),
        resolution_rate=("resolved", "mean"),
        satisfaction_rate=("satisfied", "mean"),
    )
    return {"seconds": time.perf_counter() - started, "rows": len(tickets),
            "groups": len(kpis)}


def reference_stage(stage: str, root: Path, log: Path) -> Measure:
    argv = [sys.executable, __file__, "--reference", stage, "--workdir", str(root)]
    out = root / f"{stage}.json"
    measure = run_measured(stage, [*argv, "--json", str(out)], pipeline_env(root), log)
    result = json.loads(out.read_text())
    measure.seconds = result["seconds"]  # the work alone, without starting Python
    measure.rows = int(result["rows"])
    return measure


def ours_stage(root: Path) -> dict[str, float]:
    """In a fresh process: our ingestion of the floor's files into a scratch lake, on the
    whole machine as `hotline ingest` uses it: `ingest_workers()` files at a time, each
    worker's DuckDB with its share of the cores, the largest files first."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from dagster_project.ingest.lake import Lake
    from dagster_project.ingest.pipeline import share_cores
    from dagster_project.settings import ingest_workers
    from dagster_project.sources import load_source_configs

    configs = {c.source_id: c for c in load_source_configs(root / "sources")}
    lake = Lake(root / "bench_lake")
    shutil.rmtree(lake.root, ignore_errors=True)
    files = sorted(utf8_csv_files(root), key=lambda f: -f[0].stat().st_size)
    workers = ingest_workers()
    jobs = [(configs[source_id], path, root / "landing", lake.root)
            for path, _, source_id in files]
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=share_cores, initargs=(workers,)) as pool:
        rows = sum(pool.map(_ingest_one, jobs))
    seconds = time.perf_counter() - started
    shutil.rmtree(lake.root, ignore_errors=True)
    return {"seconds": seconds, "rows": rows, "workers": workers}


def _ingest_one(job: tuple[SourceConfig, Path, Path, Path]) -> int:
    """One file of `ours_stage`, in a worker process: its rows read."""
    from dagster_project.ingest.lake import Lake
    from dagster_project.ingest.pipeline import ingest_file
    from dagster_project.ingest.pseudonymise import DEMO_KEY

    config, path, landing, lake_root = job
    outcome = ingest_file(config, path, landing, Lake(lake_root), DEMO_KEY.encode(),
                          dt.datetime(2020, 1, 1))
    if outcome.entry.status != "loaded":
        raise SystemExit(outcome.entry.error)
    return int(outcome.entry.rows_read)


def re_export(root: Path) -> tuple[Path, int]:
    """Rewrite the UTF-8 CSV file nearest RERUN_ROWS rows with one cell changed (a corrected
    re-export): its last line's status. Row counts come from the manifest of the first run."""
    import duckdb

    candidates = [str(p.relative_to(root / "landing")) for p, _, _ in utf8_csv_files(root)]
    best = duckdb.execute(
        "SELECT source_file, rows_read FROM read_parquet(?, union_by_name = true) "
        "WHERE source_file IN (SELECT unnest(?)) ORDER BY abs(rows_read - ?), source_file "
        "LIMIT 1",
        [str(root / "lake" / "manifest" / "*" / "*.parquet"), candidates, RERUN_ROWS],
    ).fetchone()
    assert best is not None, "no UTF-8 CSV file to re-export"
    path, rows = root / "landing" / best[0], int(best[1])
    data = path.read_bytes()
    body, last = data.rstrip(b"\n").rsplit(b"\n", 1)
    changed = last.replace("已办结".encode(), "办理中".encode(), 1)
    if changed == last:
        changed = last + b" "
    path.write_bytes(body + b"\n" + changed + b"\n")
    return path, rows


def measure_size(tickets: int, workdir: Path, keep: bool) -> dict[str, object]:
    root = workdir / f"tickets_{tickets}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    log = root / "benchmark.log"
    env = pipeline_env(root)
    print(f"== {tickets:,} tickets in {root} (log: {log})", flush=True)
    generate = run_measured("generate", [sys.executable, "-m", "dagster_project.demo",
                                         "--root", str(root), "--province",
                                         "--tickets", str(tickets)], env, log)
    landing_mb = sum(p.stat().st_size for p in (root / "landing").rglob("*") if p.is_file())
    generate.mb = landing_mb / 1e6
    print(f"   generated {generate.mb:,.0f} MB in {generate.seconds:.1f} s", flush=True)
    stages = []
    for stage, argv in (("ingest", hotline("ingest")), ("build", hotline("build")),
                        ("report", hotline("report", "--year", str(REPORT_YEAR)))):
        stages.append(run_measured(stage, argv, env, log))
        print(f"   {stage}: {stages[-1].seconds:.1f} s", flush=True)
    split = step_split(root, run_count=3)
    references = [reference_stage(stage, root, log) for stage in ("floor", "ours", "pandas")]
    print("   references: " + ", ".join(f"{r.stage} {r.seconds:.1f} s" for r in references),
          flush=True)
    changed, changed_rows = re_export(root)
    rerun = []
    for stage, argv in (("ingest", hotline("ingest")), ("build", hotline("build")),
                        ("report", hotline("report", "--year", str(REPORT_YEAR)))):
        rerun.append(run_measured(f"rerun {stage}", argv, env, log))
    rerun_split = step_split(root, run_count=3)
    # The same delivery once more, as one command: a refresh run and the report run after it.
    re_export(root)
    refresh = run_measured("rerun refresh", hotline("refresh"), env, log)
    refresh_split = step_split(root, run_count=2)
    result = {
        "tickets": tickets,
        "landing_mb": landing_mb / 1e6,
        "generate": asdict(generate),
        "stages": [asdict(m) for m in stages],
        "end_to_end_seconds": sum(m.seconds for m in stages),
        "peak_rss_mb": max(m.peak_rss_mb for m in stages),
        "split_seconds": split,
        "references": [asdict(m) for m in references],
        "rerun": {"file": str(changed.relative_to(root)), "rows": changed_rows,
                  "stages": [asdict(m) for m in rerun],
                  "seconds": sum(m.seconds for m in rerun), "split_seconds": rerun_split},
        "refresh": {**asdict(refresh), "split_seconds": refresh_split},
    }
    if not keep:
        shutil.rmtree(root / "landing", ignore_errors=True)
    return result


def print_table(results: list[dict]) -> None:
    print()
    print(f"machine: {os.cpu_count()} cores, {_memory_gb():.0f} GB, Python "
          f"{platform.python_version()}, load average at the end "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    header = f"{'':36}" + "".join(f"{r['tickets']:>22,}" for r in results)
    print(header + "   (tickets)")

    def row(label: str, values: list[str]) -> None:
        print(f"{label:36}" + "".join(f"{v:>22}" for v in values))

    row("landing files, MB", [f"{r['landing_mb']:,.0f}" for r in results])
    row("dbt parse of the checkout, s", [f"{r['checkout_parse_seconds']:.1f}" for r in results])
    row("generate, s", [f"{r['generate']['seconds']:.1f}" for r in results])
    for n, name in enumerate(("ingest", "build", "report")):
        row(f"hotline {name}, s (peak RSS MB)",
            [f"{r['stages'][n]['seconds']:.1f} ({r['stages'][n]['peak_rss_mb']:,.0f})"
             for r in results])
    row("end to end, s", [f"{r['end_to_end_seconds']:.1f}" for r in results])
    row("peak RSS, MB", [f"{r['peak_rss_mb']:,.0f}" for r in results])
    for part in ("ingestion", "dbt", "quality checks", "report"):
        spent = [(r["split_seconds"][part], r["end_to_end_seconds"]) for r in results]
        row(f"  of which {part}, s", [f"{s:.1f} ({s / total:.0%})" for s, total in spent])
    for n, name in enumerate(("floor: DuckDB read_csv", "ours on the same files",
                              "pandas baseline")):
        row(f"{name}, s", [f"{r['references'][n]['seconds']:.1f}" for r in results])
    row("ours vs floor (throughput)", [
        f"{r['references'][0]['seconds'] / r['references'][1]['seconds']:.0%}" for r in results])
    ours = [r["stages"][0]["seconds"] + r["stages"][1]["seconds"] for r in results]
    row("pandas / (ingest + build)", [
        f"{r['references'][2]['seconds'] / o:.2f}x" for r, o in zip(results, ours, strict=True)])
    row("rerun, one file changed, s", [
        f"{r['rerun']['seconds']:.1f} ({r['rerun']['rows']:,} rows)" for r in results])
    row("  of which ingest / build / report", [
        " / ".join(f"{m['seconds']:.1f}" for m in r["rerun"]["stages"]) for r in results])
    row("the same as `hotline refresh`, s", [
        f"{r['refresh']['seconds']:.1f} ({r['refresh']['peak_rss_mb']:,.0f})" for r in results])


def _memory_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, action="append",
                        help="distinct tickets of a run (repeatable; default 1,000,000)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hotline-bench"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the landing files")
    parser.add_argument("--reference", choices=("floor", "ours", "pandas"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference:
        stage = {"floor": floor_stage, "ours": ours_stage, "pandas": pandas_stage}
        args.json.write_text(json.dumps(stage[args.reference](args.workdir)))
        return
    parse = prepare_checkout(args.workdir)
    print(f"== parsing the dbt project of this checkout (once per checkout and code change): "
          f"{parse.seconds:.1f} s", flush=True)
    results = [measure_size(n, args.workdir, args.keep) | {"checkout_parse_seconds": parse.seconds}
               for n in (args.tickets or [1_000_000])]
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
