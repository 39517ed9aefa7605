"""Every published rate against an independent oracle.

The demo exports are generated once and run through `hotline refresh` in a subprocess, as a
deployment runs it. `oracle_helpers` then recomputes, with pandas and from the landing files
alone, every column of `kpi_city_year` (each numerator, denominator and rate, durations,
backlog and impossible records) and of `monitoring_hotline_year` (the five scores, the total,
the ranking and what derives from them), and the warehouse must agree for every city and
year: floats within 1e-9 relative, NULLs where the oracle has NULLs, counts exactly.

A mapping error anywhere upstream (a value word, a yes/no word, a timestamp format, a column)
changes a figure here. The last two tests show that the oracle notices: one value word of a
source's configuration is changed, the data are ingested and built again, and the oracle, which
still reads the original configuration, must disagree on that rate and nowhere else — once in
a new data root, once in a data root whose warehouse exists and whose lake is made again.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from oracle_helpers import (
    BEIJING,
    KPI_COLUMNS,
    MONITORING_COLUMNS,
    Mismatch,
    compare,
    kpi_city_year,
    load_reference,
    load_sources,
    monitoring_hotline_year,
    read_test_calls,
    read_tickets,
)
from pipeline_helpers import HOTLINE, hotline_env

from dagster_project.demo.generator import generate_demo
from dagster_project.settings import BUNDLED_SOURCES_DIR, PROJECT_ROOT, SOURCES_DIR_ENV, DataPaths

TICKETS = 20_000
DBT_DIR = PROJECT_ROOT / "dbt"
KPI_KEYS = ("city_code", "year")
MONITORING_KEYS = ("year", "city_code")
# Columns that are no figure: the build's lineage, and labels from the city dimension.
KPI_NOT_FIGURES = {"lake_files_fingerprint"}
MONITORING_NOT_FIGURES = {"hotline_name", "region"}

# The changed mapping of the sensitivity tests: 广州 swaps what 基本满意 and 不满意 mean.
CHANGED_SOURCE = "guangzhou_12345"
CHANGED_CITY = "440100"
SWAPPED = {"基本满意": "dissatisfied", "不满意": "basically_satisfied"}
# What the swap may change: who counts as satisfied, hence 满意率 and the 三率 it enters.
AFFECTED_COLUMNS = ("satisfied_count", "satisfaction_rate", "three_rate_score")


@dataclass(frozen=True, repr=False)
class Oracle:
    kpi: pd.DataFrame
    monitoring: pd.DataFrame

    def __repr__(self) -> str:
        return f"Oracle({len(self.kpi)} city-years, {len(self.monitoring)} hotline-years)"


@dataclass(frozen=True)
class Built:
    root: Path
    # A moment before the pipeline ingested anything (Beijing time): event times after it are
    # future-dated records.
    started: dt.datetime
    oracle: Oracle


def refresh(root: Path, sources: Path) -> None:
    """`hotline refresh` on data root `root` with the source configurations in `sources`."""
    done = subprocess.run([*HOTLINE, "refresh"], capture_output=True, text=True, timeout=1800,
                          env=hotline_env(root, **{SOURCES_DIR_ENV: str(sources)}))
    assert done.returncode == 0, f"hotline refresh failed:\n{done.stdout}\n{done.stderr}"


def compute_oracle(root: Path, sources: Path, started: dt.datetime) -> Oracle:
    """The oracle's figures for the landing files of `root`, read with the source
    configurations in `sources`."""
    configs = load_sources(sources)
    reference = load_reference(DBT_DIR, root / "reference")
    landing = root / "landing"
    return Oracle(
        kpi=kpi_city_year(read_tickets(landing, configs), reference, started),
        monitoring=monitoring_hotline_year(read_test_calls(landing, configs), reference),
    )


def warehouse_table(root: Path, table: str) -> pd.DataFrame:
    with duckdb.connect(str(DataPaths(root=root).warehouse), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table}").df()


def report(mismatches: list[Mismatch], limit: int = 60) -> str:
    lines = [str(m) for m in mismatches[:limit]]
    if len(mismatches) > limit:
        lines.append(f"… and {len(mismatches) - limit} more")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("rate_oracle") / "data"
    generate_demo(root / "landing", total_tickets=TICKETS)
    started = dt.datetime.now(BEIJING).replace(tzinfo=None)
    refresh(root, BUNDLED_SOURCES_DIR)
    yield Built(root, started, compute_oracle(root, BUNDLED_SOURCES_DIR, started))


def test_every_ticket_indicator_of_every_city_and_year_matches_the_oracle(built: Built) -> None:
    warehouse = warehouse_table(built.root, "kpi_city_year")
    # A column added to the mart must be added to the oracle too.
    assert set(warehouse.columns) == {*KPI_KEYS, *KPI_COLUMNS, *KPI_NOT_FIGURES}
    # Every city of every ticket source, in both years of the demo.
    cities = {s.city_code for s in load_sources(BUNDLED_SOURCES_DIR).values() if s.city_code}
    assert set(built.oracle.kpi.city_code) == cities
    assert set(built.oracle.kpi.year) == {2018, 2019}
    # The oracle meets every case of the known/unknown/zero rule somewhere: rates over
    # nothing (Open311 and the message board say nothing of direct resolution or callbacks).
    assert built.oracle.kpi.direct_resolved_rate.isna().any()
    assert built.oracle.kpi.repeat_request_rate.isna().any()
    assert (built.oracle.kpi.repeat_request_rate == 0).any()

    mismatches = compare(built.oracle.kpi, warehouse, KPI_KEYS, KPI_COLUMNS)
    assert not mismatches, (
        f"kpi_city_year disagrees with the oracle (city/year column):\n{report(mismatches)}")


def test_the_monitoring_index_and_ranking_match_the_oracle(built: Built) -> None:
    warehouse = warehouse_table(built.root, "monitoring_hotline_year")
    assert set(warehouse.columns) == {*MONITORING_KEYS, *MONITORING_COLUMNS,
                                      *MONITORING_NOT_FIGURES}
    oracle = built.oracle.monitoring
    # Both monitoring years, a 死线 among them, and hotlines compared with the previous year.
    assert set(oracle.year) == {2018, 2019}
    assert (oracle.line_class == "死线").any()
    assert oracle.total_score_change.notna().any()

    mismatches = compare(oracle, warehouse, MONITORING_KEYS, MONITORING_COLUMNS)
    assert not mismatches, (
        f"monitoring_hotline_year disagrees with the oracle (year/city column):\n"
        f"{report(mismatches)}")


def changed_sources(folder: Path) -> Path:
    """`folder` holding the bundled source configurations, 广州's satisfaction words swapped."""
    shutil.copytree(BUNDLED_SOURCES_DIR, folder)
    path = folder / f"{CHANGED_SOURCE}.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    words = config["values"]["satisfaction"]
    assert set(SWAPPED) <= set(words) and {words[w] for w in SWAPPED} == set(SWAPPED.values())
    words.update(SWAPPED)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return folder


def satisfaction_in_lake_and_warehouse(root: Path) -> str:
    """广州's satisfaction codes as the lake holds them (every version) and as fct_tickets
    holds them (the latest): which of the two took the changed mapping."""
    lake = root / "lake" / "raw" / "tickets" / f"source={CHANGED_SOURCE}"
    with duckdb.connect() as con:
        in_lake = con.execute(
            f"SELECT satisfaction, count(*) FROM read_parquet('{lake}/*.parquet') "
            "GROUP BY ALL ORDER BY ALL").fetchall()
    with duckdb.connect(str(DataPaths(root=root).warehouse), read_only=True) as con:
        in_warehouse = con.execute(
            "SELECT satisfaction, count(*) FROM fct_tickets WHERE city_code = ? "
            "GROUP BY ALL ORDER BY ALL", [CHANGED_CITY]).fetchall()
    return f"lake (all versions): {in_lake}\nfct_tickets: {in_warehouse}"


def assert_only_the_swapped_rate_differs(built: Built, root: Path, sources: Path) -> None:
    """The oracle with the original configuration disagrees with the warehouse of `root`
    exactly on 广州's satisfied count, 满意率 and 三率 of both years; with the changed
    configuration it agrees everywhere."""
    warehouse = warehouse_table(root, "kpi_city_year")
    mismatches = compare(built.oracle.kpi, warehouse, KPI_KEYS, KPI_COLUMNS)
    expected = {((CHANGED_CITY, year), column)
                for year in (2018, 2019) for column in AFFECTED_COLUMNS}
    assert {(m.key, m.column) for m in mismatches} == expected, (
        f"after swapping 基本满意 and 不满意 in {CHANGED_SOURCE}.yaml, the oracle (original "
        f"mapping) should disagree with the warehouse on {sorted(expected)} and nowhere "
        f"else; it disagrees on:\n{report(mismatches) or '(nothing)'}\n"
        f"{satisfaction_in_lake_and_warehouse(root)}")
    changed = compute_oracle(root, sources, built.started)
    mismatches = compare(changed.kpi, warehouse, KPI_KEYS, KPI_COLUMNS)
    assert not mismatches, (
        f"with the changed mapping the oracle should agree again:\n{report(mismatches)}")
    monitoring = compare(built.oracle.monitoring, warehouse_table(root, "monitoring_hotline_year"),
                         MONITORING_KEYS, MONITORING_COLUMNS)
    assert not monitoring, f"the monitoring index should not move:\n{report(monitoring)}"


def test_the_oracle_notices_one_changed_value_word_in_a_new_data_root(
    built: Built, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    shutil.copytree(built.root / "landing", root / "landing")
    shutil.copy2(built.root / "demo-data.json", root / "demo-data.json")
    sources = changed_sources(root / "sources")
    refresh(root, sources)
    assert_only_the_swapped_rate_differs(built, root, sources)


def test_a_lake_made_again_under_a_changed_mapping_reaches_the_warehouse(
    built: Built, tmp_path: Path
) -> None:
    """The same, in a data root that already has its warehouse: a copy of the built root (its
    Dagster instance and warehouse with it), whose lake is made again from `landing/` under the
    changed configuration, as docs/onboarding.md makes a lake again (move it aside, ingest,
    build). The rebuilt warehouse must show the lake's new figures."""
    root = tmp_path / "data"
    shutil.copytree(built.root, root, symlinks=True)
    sources = changed_sources(root / "sources")
    (root / "lake").rename(root / "lake.old")
    refresh(root, sources)
    assert_only_the_swapped_rate_differs(built, root, sources)
