"""Helpers of the tests that run the pipeline in subprocesses next to each other: a large
export, the `hotline` command in its own process, and warehouse counts checked against counts
computed from the lake without dbt."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from dagster_project.settings import DATA_ROOT_ENV, PROJECT_ROOT

HOTLINE = [sys.executable, "-m", "dagster_project.cli"]
GENERATED_AT = re.compile(r"生成时间 [0-9: -]+")


def without_generation_time(html: str) -> str:
    return GENERATED_AT.sub("", html)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def write_big_export(folder: Path, rows: int, name: str = "big.csv") -> None:
    """A standard-layout CSV of `rows` work orders; every 50th has an unknown status (a reject)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["工单编号,受理时间,受理渠道,诉求类型,诉求内容,来电号码,工单状态"]
    lines += [f"T{i},2019-{i % 12 + 1:02d}-{i % 28 + 1:02d} 10:{i % 60:02d}:00,电话,咨询,"
              f"市民反映第{i}号问题，联系电话1391234{i % 10000:04d},1391234{i % 10000:04d},"
              f"{'已办结' if i % 50 else '未知状态'}" for i in range(rows)]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def hotline_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a `hotline` subprocess working in data root `root`."""
    return {**os.environ, DATA_ROOT_ENV: str(root), "DAGSTER_HOME": str(root / "dagster_home"),
            "PYTHONPATH": str(PROJECT_ROOT), **extra}


def run_hotline(root: Path, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`hotline ARGV` in data root `root`, to its end; its output captured as text."""
    return subprocess.run([*HOTLINE, *argv], env=hotline_env(root), capture_output=True,
                          text=True, timeout=timeout)


def start_hotline(root: Path, *argv: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    """`hotline ARGV` in its own process group (so that the test can kill the whole of it),
    its output in `log`."""
    with log.open("wb") as sink:
        return subprocess.Popen([*HOTLINE, *argv], env=hotline_env(root, **extra), stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)


def lake_counts(root: Path) -> tuple[int, int, int]:
    """Tickets, test calls and landing files as the warehouse must count them, from the lake's
    Parquet files: distinct tickets per city, distinct test calls per year, manifest files."""
    lake = root / "lake"
    (tickets,) = duckdb.sql(  # type: ignore[misc]
        f"SELECT count(DISTINCT (city_code, ticket_id)) FROM '{lake}/raw/tickets/*/*.parquet'"
    ).fetchone()
    (calls,) = duckdb.sql(  # type: ignore[misc]
        f"SELECT count(DISTINCT (year, call_id)) FROM '{lake}/raw/test_calls/*/*.parquet'"
    ).fetchone()
    return tickets, calls, len(list((lake / "manifest").glob("*/*.parquet")))


def warehouse_counts(warehouse: Path) -> tuple[int, int, int]:
    """The same three counts from the warehouse, on a read-only connection (as an analyst)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(  # type: ignore[return-value]
            "SELECT (SELECT count(*) FROM fct_tickets), (SELECT count(*) FROM fct_test_calls), "
            "(SELECT count(*) FROM file_reconciliation)").fetchone()
