"""Where the project's data lives: one root directory for landing, lake, warehouse and site.

`HOTLINE_DATA_ROOT` points a deployment (or a test) at its own disk; by default the data lives in
the git-ignored `data/` folder of the checkout.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = Path(__file__).resolve().parent

DATA_ROOT_ENV = "HOTLINE_DATA_ROOT"
SOURCES_DIR_ENV = "HOTLINE_SOURCES_DIR"
INGEST_WORKERS_ENV = "HOTLINE_INGEST_WORKERS"


class DataPaths(BaseModel):
    """The folders of one data root, one per stage of the flow."""

    model_config = ConfigDict(frozen=True)

    root: Path

    @property
    def landing(self) -> Path:
        """What senders deliver, one folder per source id; never modified."""
        return self.root / "landing"

    @property
    def lake(self) -> Path:
        """Canonical Parquet files, rejects and the file manifest."""
        return self.root / "lake"

    @property
    def warehouse(self) -> Path:
        """The live warehouse: the last build that succeeded; what readers open."""
        return self.root / "warehouse" / "warehouse.duckdb"

    @property
    def building_warehouse(self) -> Path:
        """Where a build writes; it replaces `warehouse` only when the build succeeds."""
        return self.root / "warehouse" / "warehouse.building.duckdb"

    @property
    def dbt_target(self) -> Path:
        """dbt's artifacts and log for this root's builds. One folder, kept from build to
        build, so dbt re-parses only the files that changed since the last build."""
        return self.root / "warehouse" / "dbt"

    @property
    def text(self) -> Path:
        """What the text analysis derived from the warehouse: predicted classes, hot issues
        and the models (Parquet files the warehouse's `text` source reads)."""
        return self.root / "text"

    @property
    def models(self) -> Path:
        """Trained models (the taxonomy classifier). Not under text/, which analysts' views
        read: a model file is loaded as code, so no analyst connection may reach it."""
        return self.root / "models"

    @property
    def reference(self) -> Path:
        """Reference data of this root that the models read besides the seeds (cities.csv)."""
        return self.root / "reference"

    @property
    def sources(self) -> Path:
        """A real deployment's source configurations (one YAML file per sender), kept with
        its data rather than in the checkout; used when it exists (`sources_dir`)."""
        return self.root / "sources"

    @property
    def site(self) -> Path:
        """The rendered report, one folder per year."""
        return self.root / "site"


def data_root() -> Path:
    return Path(os.environ.get(DATA_ROOT_ENV) or PROJECT_ROOT / "data").resolve()


def data_paths() -> DataPaths:
    return DataPaths(root=data_root())


BUNDLED_SOURCES_DIR = PACKAGE_ROOT / "config" / "sources"


def sources_dir() -> Path:
    """The directory of source configuration YAML files: `HOTLINE_SOURCES_DIR` if set, else
    `<data root>/sources/` when that folder exists (a real deployment), else the bundled demo
    senders."""
    if configured := os.environ.get(SOURCES_DIR_ENV):
        return Path(configured).resolve()
    deployed = data_paths().sources
    return deployed if deployed.is_dir() else BUNDLED_SOURCES_DIR.resolve()


def ingest_workers() -> int:
    """Sources ingested at once, each in its own process (default: one per core, at most 2:
    DuckDB already uses every core within a file, a second process fills the single-threaded
    stretches — hashing the file, decoding GBK, reading JSON and XLSX)."""
    value = os.environ.get(INGEST_WORKERS_ENV)
    if value is None:
        return max(1, min(2, os.cpu_count() or 1))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{INGEST_WORKERS_ENV}={value!r}: expected a whole number of at least 1")
    return int(value)


# --- schedules (defs/schedules.py), read when the definitions load ---------------------------
REFRESH_CRON_ENV = "HOTLINE_REFRESH_CRON"
REPORT_DUE_ENV = "HOTLINE_REPORT_DUE"
TIMEZONE_ENV = "HOTLINE_TIMEZONE"
DUE = re.compile(r"^(\d{2})-(\d{2})(?: (\d{2}):(\d{2}))?$")


class ScheduleConfigError(ValueError):
    """A schedule setting in the environment is malformed."""


@dataclass(frozen=True)
class ScheduleSettings:
    refresh_cron: str
    report_month: int
    report_day: int
    report_hour: int
    report_minute: int
    timezone: str

    @property
    def report_cron(self) -> str:
        return (f"{self.report_minute} {self.report_hour} {self.report_day} "
                f"{self.report_month} *")


def schedule_settings(environ: dict[str, str] | None = None) -> ScheduleSettings:
    env = os.environ if environ is None else environ
    refresh = env.get(REFRESH_CRON_ENV) or "0 2 * * *"
    if len(refresh.split()) != 5:
        raise ScheduleConfigError(
            f"{REFRESH_CRON_ENV}={refresh!r}: expected a cron expression of five fields, "
            "e.g. '0 2 * * *' for 02:00 every day")
    due = env.get(REPORT_DUE_ENV) or "03-01 09:00"
    match = DUE.match(due)
    if not match:
        raise ScheduleConfigError(
            f"{REPORT_DUE_ENV}={due!r}: expected MM-DD or 'MM-DD HH:MM', e.g. '03-01 09:00'")
    month, day = int(match[1]), int(match[2])
    hour, minute = int(match[3] or 9), int(match[4] or 0)
    try:
        dt.datetime(2001, month, day, hour, minute)  # not a leap year: 02-29 would skip years
    except ValueError as exc:
        raise ScheduleConfigError(
            f"{REPORT_DUE_ENV}={due!r}: not a date and time of every year ({exc})") from exc
    zone = env.get(TIMEZONE_ENV) or "Asia/Shanghai"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleConfigError(f"{TIMEZONE_ENV}={zone!r}: unknown time zone") from exc
    return ScheduleSettings(refresh, month, day, hour, minute, zone)
