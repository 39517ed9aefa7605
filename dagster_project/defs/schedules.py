"""Schedules: a daily refresh of every source, and the yearly report for year Y on a date in Y+1.

Both are set by environment variables, read when the definitions load:

- `HOTLINE_REFRESH_CRON`: cron of the daily refresh (default `0 2 * * *`, 02:00);
- `HOTLINE_REPORT_DUE`: the day (and time) the report of the previous year is due, `MM-DD` or
  `MM-DD HH:MM` (default `03-01 09:00`);
- `HOTLINE_TIMEZONE`: the zone both are read in (default `Asia/Shanghai`).
"""


import datetime as dt
import zoneinfo

import dagster as dg

from dagster_project.defs.jobs import refresh_job, report_job
from dagster_project.defs.partitions import REPORT_YEARS_NAME, all_sources_tags
from dagster_project.settings import REFRESH_CRON_ENV, REPORT_DUE_ENV, schedule_settings

SETTINGS = schedule_settings()


@dg.schedule(
    name="daily_refresh",
    cron_schedule=SETTINGS.refresh_cron,
    job=refresh_job,
    execution_timezone=SETTINGS.timezone,
    description=(
        "Every day: ingest whatever is new in landing/ for every source (one run over all "
        f"source partitions), rebuild the warehouse and run every check. Set by "
        f"{REFRESH_CRON_ENV}."
    ),
)
def daily_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    tags = all_sources_tags()
    if not tags:
        return dg.SkipReason("no source configuration: nothing to refresh")
    day = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"daily-refresh-{day:%Y-%m-%d}" if day else None,
        tags={**tags, "hotline/trigger": "daily_refresh"},
    )


@dg.schedule(
    name="yearly_report",
    cron_schedule=SETTINGS.report_cron,
    job=report_job,
    execution_timezone=SETTINGS.timezone,
    description=(
        f"On {SETTINGS.report_month:02d}-{SETTINGS.report_day:02d} "
        f"{SETTINGS.report_hour:02d}:{SETTINGS.report_minute:02d} of year Y+1: the quality gate "
        f"and the report of year Y. Set by {REPORT_DUE_ENV}."
    ),
)
def yearly_report(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    when = context.scheduled_execution_time or dt.datetime.now(
        zoneinfo.ZoneInfo(SETTINGS.timezone))
    year = when.year - 1
    if str(year) not in context.instance.get_dynamic_partitions(REPORT_YEARS_NAME):
        return dg.SkipReason(
            f"the report of {year} is due, but the lake holds no monitoring data (test calls) "
            f"for {year}: ingest the evaluator's export, then run `hotline report --year {year}`")
    return dg.RunRequest(
        run_key=f"yearly-report-{year}",
        partition_key=str(year),
        tags={"hotline/trigger": "yearly_report"},
    )


SCHEDULES = [daily_refresh, yearly_report]
