"""Exports as real senders write them, onboarded by configuration alone, and every published
ticket figure checked against a computation of its own.

One data root holds four senders, each with its YAML in `<data root>/sources/` and its labels
in `<data root>/reference/category_mappings.csv`:

- 长沙's government message board (XLSX under a title row): 留言时间 and 答复时间 hold text times
  in two spellings and real Excel date-times in one column, cells padded with line breaks, tabs
  and no-break spaces, users who post several times within a month, a few replies dated before
  their post;
- 杭州's posts-only board (XLSX): no reply, no status, no category;
- a New York 311 export (CSV): 12-hour local times (America/New_York), the category from two
  columns, closes before opens, a city of its own (region 境外, no population);
- 广州's standard export (CSV with a 合计 row) without 直接办结 and 满意度: dispatch, response,
  due and close times, statuses with withdrawals, callbacks, phone numbers that call again.

The root is ingested, built and reported once, as a deployment does it (`hotline init-key`,
`ingest`, `build`, `report` in processes of their own). The expected figures are computed here
with pandas from the rows the fixtures generated, by the definitions of
shared/domain/HOTLINE.md and the column documentation of the marts; only the configuration
(vars of dbt/dbt_project.yml, the seed's populations) is read from the project.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import openpyxl
import pandas as pd
import pytest
import yaml
from pipeline_helpers import HOTLINE, hotline_env

from dagster_project.settings import PROJECT_ROOT, SOURCES_DIR_ENV, DataPaths

SEED = 12345
YEAR = 2019
VARS = yaml.safe_load((PROJECT_ROOT / "dbt" / "dbt_project.yml").read_text(encoding="utf-8"))[
    "vars"]
SEED_POPULATION = {
    row.city_code: row.population_2019
    for row in pd.read_csv(PROJECT_ROOT / "dbt" / "seeds" / "cities.csv",
                           dtype={"city_code": str}).itertuples()
}
NEW_YORK = ZoneInfo("America/New_York")
BEIJING = ZoneInfo("Asia/Shanghai")
US_TIME = "%m/%d/%Y %I:%M:%S %p"
ISO_TIME = "%Y-%m-%d %H:%M:%S"
# The top-level classes of the national taxonomy (HOTLINE.md): a label spelled like one needs
# no mapping.
NATIONAL_CLASSES = (
    "城乡建设", "党务政务", "国土资源", "环境保护", "纪检监察", "交通运输", "经济管理",
    "科技与信息产业", "民政", "农村农业", "商贸旅游", "卫生计生", "政法", "教育文体",
    "劳动和社会保障")
UNCLASSIFIED = "未分类"
# Padding real exports carry around cell text.
PADDING = ("", "", "\n", "\t", "\u00a0", " \u00a0", "\r\n")

CHANGSHA, HANGZHOU, NEW_YORK_CITY, GUANGZHOU = "430100", "330100", "990100", "440100"

# label of a city -> national class, as the data root's reference/category_mappings.csv says
CATEGORY_MAPPINGS = {
    (CHANGSHA, "市政设施"): "城乡建设",
    (NEW_YORK_CITY, "Noise - Residential"): "环境保护",
    (NEW_YORK_CITY, "Noise - Street／Sidewalk"): "环境保护",
    (NEW_YORK_CITY, "HEAT／HOT WATER"): "城乡建设",
    (NEW_YORK_CITY, "Illegal Parking"): "交通运输",
    (NEW_YORK_CITY, "Blocked Driveway"): "交通运输",
    (GUANGZHOU, "人力社保"): "劳动和社会保障",
}

CHANGSHA_YAML = """
source_id: changsha_board
name: 长沙市政府门户网站问政留言
entity: tickets
city_code: "430100"
format: xlsx
file_pattern: "*.xlsx"
layout: message_board
skip_rows: 1
"""
HANGZHOU_YAML = """
source_id: hangzhou_posts
name: 杭州问政留言（仅留言）
entity: tickets
city_code: "330100"
format: xlsx
file_pattern: "*.xlsx"
layout: message_board
not_exported: [closed_at, category]
"""
NYC_YAML = f"""
source_id: nyc_311
name: New York City 311
entity: tickets
city_code: "990100"
format: csv
file_pattern: "*.csv"
columns:
  Unique Key: ticket_id
  Created Date: received_at
  Closed Date: closed_at
  Agency: department
  Status: status
ignore_columns: [Borough, Incident Zip]
category_columns: [Complaint Type, Descriptor]
timestamp_formats: ["{US_TIME}"]
source_timezone: America/New_York
values:
  status: {{Open: open, Pending: open, Assigned: open, Closed: closed}}
"""
GUANGZHOU_YAML = """
source_id: guangzhou_std
name: 广州12345
entity: tickets
city_code: "440100"
format: csv
file_pattern: "*.csv"
layout: standard
not_exported: [direct_resolved, satisfaction, district, title, content, caller_name, department]
"""
CITIES_CSV = "city_code,city_name,province,region,population_2019\n990100,纽约,New York,境外,\n"


@dataclass
class Ticket:
    """One generated work order as the warehouse must understand it: Beijing times, canonical
    codes, None where the export says nothing."""

    city_code: str
    ticket_id: str
    received_at: dt.datetime
    label: str | None = None  # the city's own top-level category label
    caller: str | None = None  # phone number or message-board user
    caller_kind: str | None = None  # phone, account
    channel: str | None = None
    request_type: str | None = None
    direct_resolved: bool | None = None
    dispatched_at: dt.datetime | None = None
    responded_at: dt.datetime | None = None
    due_at: dt.datetime | None = None  # as exported
    closed_at: dt.datetime | None = None
    status: str = "unknown"
    resolved: bool | None = None
    satisfaction: str | None = None


@dataclass
class Fixture:
    root: DataPaths
    tickets: list[Ticket] = field(default_factory=list)
    # the moment before ingestion: nothing after it (+8 h, the exports' clock) can have happened
    ingest_started_utc: dt.datetime = dt.datetime.min
    report_index: str = ""


def pad(rng: random.Random, text: str) -> str:
    return rng.choice(PADDING) + text + rng.choice(PADDING)


def some_hours(rng: random.Random, low: float, high: float) -> dt.timedelta:
    """Between `low` and `high` hours, in whole seconds as exports write times."""
    return dt.timedelta(seconds=round(rng.uniform(low, high) * 3600))


def random_time(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    return start + dt.timedelta(seconds=rng.randrange(int((end - start).total_seconds())))


# ----------------------------------------------------------------------------- message boards

def board_time_cell(rng: random.Random, moment: dt.datetime) -> object:
    """A time as boards export it: a real Excel date-time, or text in one of two spellings."""
    kind = rng.randrange(3)
    if kind == 0:
        return moment
    if kind == 1:
        return pad(rng, moment.strftime(ISO_TIME))
    return pad(rng, f"{moment.year}/{moment.month}/{moment.day} {moment.hour}:"
                    f"{moment.minute:02d}:{moment.second:02d}")


def board_posts(rng: random.Random, city: str, prefix: str, users: int,
                labels: list[str | None]) -> list[Ticket]:
    """Posts of `users` users; a user posts again 1 to 45 days later, mostly on the same
    subject, so that some posts repeat within 30 days and some do not."""
    posts: list[Ticket] = []
    for user in range(users):
        account = f"网友{prefix}{user:02d}"
        moment = random_time(rng, dt.datetime(YEAR, 1, 1), dt.datetime(YEAR, 12, 31, 23))
        label = rng.choice(labels)
        for _ in range(rng.choice((1, 1, 2, 3, 4))):
            posts.append(Ticket(city, f"{prefix}{len(posts) + 1:04d}", moment, label=label,
                                caller=account, caller_kind="account", channel="web"))
            moment += some_hours(rng, 24, 45 * 24)
            if rng.random() < 0.3:
                label = rng.choice(labels)
    # one post in the last minutes of the year, its reply in the next
    posts.append(Ticket(city, f"{prefix}{len(posts) + 1:04d}", dt.datetime(YEAR, 12, 31, 23, 50),
                        label=labels[0], caller=f"网友{prefix}99", caller_kind="account",
                        channel="web"))
    return posts


def write_changsha(rng: random.Random, folder: Path) -> list[Ticket]:
    posts = board_posts(rng, CHANGSHA, "CS", 22, ["城乡建设", "交通运输", "环境保护", "市政设施",
                                                  "其他事项", None])
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["长沙市政府门户网站 问政留言导出（2019年）"])
    sheet.append(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见",
                  "答复时间", "一级分类"])
    replies_before_post = 0
    for n, post in enumerate(posts):
        reply: dt.datetime | None = None
        if post.received_at.month == 12 and post.received_at.day == 31:
            reply = dt.datetime(YEAR + 1, 1, 2, 9, 30)
        elif rng.random() < 0.8:
            if replies_before_post < 3 and n % 7 == 3:
                replies_before_post += 1
                reply = post.received_at - some_hours(rng, 1, 30)
            else:
                reply = post.received_at + some_hours(rng, 0.5, 500)
        post.closed_at = reply
        post.status = "closed" if reply else "open"
        sheet.append([
            pad(rng, post.ticket_id),
            pad(rng, post.caller or ""),
            pad(rng, f"关于{post.label or '问题'}的留言"),
            board_time_cell(rng, post.received_at),
            pad(rng, "小区门口路面破损，请尽快处理。\n谢谢！"),
            "已转相关部门办理。" if reply else None,
            board_time_cell(rng, reply) if reply else None,
            pad(rng, post.label) if post.label else None,
        ])
    workbook.save(folder / "问政留言2019.xlsx")
    return posts


def write_hangzhou(rng: random.Random, folder: Path) -> list[Ticket]:
    posts = board_posts(rng, HANGZHOU, "HZ", 12, [None])
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情"])
    for post in posts:
        sheet.append([pad(rng, post.ticket_id), pad(rng, post.caller or ""), "噪音扰民",
                      board_time_cell(rng, post.received_at), pad(rng, "夜间施工\t扰民")])
    workbook.save(folder / "留言.xlsx")
    return posts


# ----------------------------------------------------------------------------------- 311

def unambiguous_new_york(moment: dt.datetime) -> bool:
    """Not in the hour skipped in spring nor in the hour repeated in autumn."""
    return (moment.replace(tzinfo=NEW_YORK, fold=0).utcoffset()
            == moment.replace(tzinfo=NEW_YORK, fold=1).utcoffset())


def beijing_of_new_york(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=NEW_YORK).astimezone(BEIJING).replace(tzinfo=None)


NYC_COMPLAINTS = [
    ("Noise - Residential", ["Loud Music/Party", "Banging/Pounding"]),
    ("Noise - Street/Sidewalk", ["Loud Talking", ""]),
    ("HEAT/HOT WATER", ["ENTIRE BUILDING", "APARTMENT ONLY"]),
    ("Illegal Parking", ["Blocked Hydrant", "Double Parked Blocking Traffic"]),
    ("Blocked Driveway", ["No Access", "Partial Access"]),
    ("Rodent", ["Rat Sighting", ""]),
]


def write_new_york(rng: random.Random, folder: Path) -> list[Ticket]:
    lines = ["Unique Key,Created Date,Closed Date,Agency,Complaint Type,Descriptor,Borough,"
             "Incident Zip,Status"]
    tickets: list[Ticket] = []
    # local times around both year ends: the first is 2019 in Beijing, the last 2020
    created_times = [dt.datetime(YEAR - 1, 12, 31, 22, 0), dt.datetime(YEAR, 12, 31, 9, 15),
                     dt.datetime(YEAR, 12, 31, 11, 30)]
    # 70 requests, the last in 2020 in Beijing time (a year just begun)
    while len(created_times) < 70:
        moment = random_time(rng, dt.datetime(YEAR, 1, 1), dt.datetime(YEAR, 12, 31, 23))
        if unambiguous_new_york(moment):
            created_times.append(moment)
    created_times.append(dt.datetime(YEAR, 12, 31, 23, 30))
    for n, created in enumerate(created_times):
        complaint, descriptors = rng.choice(NYC_COMPLAINTS)
        descriptor = rng.choice(descriptors)
        closed: dt.datetime | None = None
        if n % 13 == 5:  # closed before it was opened: an impossible record
            closed = created - some_hours(rng, 0.5, 72)
        elif rng.random() < 0.7:
            closed = created + some_hours(rng, 0.1, 400)
        if closed is not None and not unambiguous_new_york(closed):
            closed += dt.timedelta(hours=2)
        status = "Closed" if closed else rng.choice(("Open", "Pending", "Assigned"))
        key = str(41_000_000 + n * 37)
        lines.append(",".join([
            key, created.strftime(US_TIME), closed.strftime(US_TIME) if closed else "", "NYPD",
            f'"{complaint}"', f'"{descriptor}"', "BROOKLYN", "11201", status]))
        tickets.append(Ticket(
            NEW_YORK_CITY, key, beijing_of_new_york(created),
            label=complaint.replace("/", "／"),
            closed_at=beijing_of_new_york(closed) if closed else None,
            status="closed" if closed else "open"))
    (folder / "311_Service_Requests_2019.csv").write_text("\n".join(lines) + "\n",
                                                          encoding="utf-8")
    return tickets


# ----------------------------------------------------------------------------- standard export

REQUEST_TYPES = {"咨询": "consult", "求助": "help", "投诉": "complaint", "举报": "report",
                 "建议": "suggestion", "感谢": "praise", "其他": "other"}
CHANNELS = {"电话": "phone", "网站": "web", "微信": "wechat"}
STATUSES = {"办理中": "open", "已办结": "closed", "已撤销": "withdrawn"}


def write_guangzhou(rng: random.Random, folder: Path) -> list[Ticket]:
    header = ("工单编号,受理时间,受理渠道,诉求类型,诉求分类,来电号码,派单时间,首次响应时间,"
              "办理时限,办结时间,工单状态,是否解决")
    phones = [f"139{rng.randrange(10**8):08d}" for _ in range(45)]
    categories = ["城乡建设/物业管理", "交通运输/公交线路", "人力社保/工资拖欠", "环境保护/噪声",
                  "城乡建设/供水"]
    rows = [header]
    tickets: list[Ticket] = []

    def text(moment: dt.datetime | None) -> str:
        return moment.strftime(ISO_TIME) if moment else ""

    for n in range(140):
        if n < 6:  # received in December of the year before
            received = random_time(rng, dt.datetime(YEAR - 1, 12, 1), dt.datetime(YEAR, 1, 1))
        elif n < 16:  # late in the year: due and closed around the cut-off
            received = random_time(rng, dt.datetime(YEAR, 12, 20), dt.datetime(YEAR, 12, 31, 23))
        else:
            received = random_time(rng, dt.datetime(YEAR, 1, 1), dt.datetime(YEAR, 12, 20))
        channel = rng.choice(list(CHANNELS))
        request_type = rng.choices(list(REQUEST_TYPES), weights=(60, 28, 6, 2, 2, 1, 1))[0]
        category = rng.choice(categories)
        phone = rng.choice(phones)
        dispatched = responded = due = closed = None
        if rng.random() < 0.85:
            dispatched = received + some_hours(rng, 0.1, 6)
            if n % 17 == 4:  # a first response before the dispatch: impossible
                responded = dispatched - dt.timedelta(hours=1)
            elif rng.random() < 0.85:
                responded = dispatched + some_hours(rng, 0.2, 48)
            if rng.random() < 0.5:
                due = dispatched + dt.timedelta(days=rng.choice((1, 3, 5, 10, 15)))
        draw = rng.random()
        status = "办理中" if draw < 0.12 else "已撤销" if draw < 0.18 else "已办结"
        if n == 31:
            status = "已办结"
        if status == "已办结":
            if n % 23 == 7:  # closed before it was received: impossible
                closed = received - some_hours(rng, 1, 48)
            elif n == 31:  # a close in the far future: impossible (after the ingestion)
                closed = dt.datetime(2099, 1, 1, 12, 0)
            else:
                closed = received + some_hours(rng, 0.5, 600)
        resolved = None
        if status == "已办结" and rng.random() < 0.7:
            resolved = rng.random() < 0.75
        rows.append(",".join([
            f"GZ{YEAR}{n:05d}", text(received), channel, request_type, category, phone,
            text(dispatched), text(responded), text(due), text(closed), status,
            {True: "已解决", False: "未解决", None: ""}[resolved]]))
        tickets.append(Ticket(
            GUANGZHOU, f"GZ{YEAR}{n:05d}", received, label=category.split("/")[0], caller=phone,
            caller_kind="phone", channel=CHANNELS[channel],
            request_type=REQUEST_TYPES[request_type], dispatched_at=dispatched,
            responded_at=responded, due_at=due, closed_at=closed, status=STATUSES[status],
            resolved=resolved))
    rows.append(f"合计,{len(tickets)}件,,,,,,,,,,")
    (folder / "工单导出_2019.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tickets


# ----------------------------------------------------------------------------- the data root

def hotline(root: DataPaths, *argv: str) -> str:
    done = subprocess.run([*HOTLINE, *argv], capture_output=True, text=True,
                          env=hotline_env(root.root, **{SOURCES_DIR_ENV: str(root.sources)}))
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    root = DataPaths(root=tmp_path_factory.mktemp("real_exports") / "data")
    root.root.mkdir()
    fixture = Fixture(root)
    rng = random.Random(SEED)
    root.sources.mkdir()
    root.reference.mkdir()
    (root.reference / "cities.csv").write_text(CITIES_CSV, encoding="utf-8")
    (root.reference / "category_mappings.csv").write_text(
        "city_code,source_label,national_category_name,note\n" + "".join(
            f"{city},{label},{national},\n"
            for (city, label), national in CATEGORY_MAPPINGS.items()), encoding="utf-8")
    for source_id, yaml_text, write in (
        ("changsha_board", CHANGSHA_YAML, write_changsha),
        ("hangzhou_posts", HANGZHOU_YAML, write_hangzhou),
        ("nyc_311", NYC_YAML, write_new_york),
        ("guangzhou_std", GUANGZHOU_YAML, write_guangzhou),
    ):
        (root.sources / f"{source_id}.yaml").write_text(yaml_text, encoding="utf-8")
        folder = root.landing / source_id
        folder.mkdir(parents=True)
        fixture.tickets += write(rng, folder)

    hotline(root, "init-key")
    fixture.ingest_started_utc = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    hotline(root, "ingest")
    hotline(root, "build")
    hotline(root, "report", "--year", str(YEAR))
    fixture.report_index = (root.site / str(YEAR) / "index.html").read_text(encoding="utf-8")
    yield fixture


def query(root: DataPaths, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(root.warehouse), read_only=True) as con:
        return con.execute(sql).df()


# ----------------------------------------------------------------------------- the oracle

def national_class(city: str, label: str | None) -> str:
    if label is not None and (city, label) in CATEGORY_MAPPINGS:
        return CATEGORY_MAPPINGS[(city, label)]
    return label if label in NATIONAL_CLASSES else UNCLASSIFIED


# Which event times each city's export gives (its YAML above): a time an export does not give
# is unknown, so its tickets are neither responded late nor closed late.
EXPORTS_RESPONSE = {"430100": False, "330100": False, "990100": False, "440100": True}
EXPORTS_CLOSE = {"430100": True, "330100": False, "990100": True, "440100": True}


def measured(fixture: Fixture) -> pd.DataFrame:
    """One row per generated ticket with every flag the figures count, from HOTLINE.md."""
    sla = dt.timedelta(hours=VARS["response_sla_hours"])
    due_days = VARS["due_days_by_request_type"]
    window = dt.timedelta(days=VARS["repeat_window_days"])
    latest_possible = fixture.ingest_started_utc + dt.timedelta(hours=8)
    rows = []
    for t in fixture.tickets:
        year = t.received_at.year
        cutoff = dt.datetime(year + 1, 1, 1) + dt.timedelta(days=VARS["cutoff_days_after_year_end"])
        events = [e for e in (t.received_at, t.dispatched_at, t.responded_at, t.closed_at) if e]
        future = max(events) > latest_possible
        closed_before_received = t.closed_at is not None and t.closed_at < t.received_at
        dispatched = t.dispatched_at is not None and t.direct_resolved is not True
        due = t.due_at
        if due is None and t.request_type is not None:
            due = (t.dispatched_at or t.received_at) + dt.timedelta(days=due_days[t.request_type])
        closed_by_cutoff = t.closed_at is not None and t.closed_at <= cutoff
        close_known = t.closed_at is not None or EXPORTS_CLOSE[t.city_code]
        due_by_cutoff = (dispatched and close_known and t.status != "withdrawn"
                         and due is not None and due <= cutoff)
        hours = None
        if t.closed_at is not None and not closed_before_received and not future:
            hours = (t.closed_at - t.received_at).total_seconds() / 3600
        rows.append({
            "city_code": t.city_code, "ticket_id": t.ticket_id, "year": year,
            "received_at": t.received_at, "caller": t.caller,
            "category_group": national_class(t.city_code, t.label)
            if national_class(t.city_code, t.label) != UNCLASSIFIED else f"label:{t.label}",
            "direct_resolved_known": t.direct_resolved is not None,
            "direct_resolved": t.direct_resolved is True,
            "dispatched": dispatched,
            "response_measured": dispatched and (
                t.responded_at is not None or EXPORTS_RESPONSE[t.city_code]),
            "responded_within_sla": dispatched and t.responded_at is not None
            and t.dispatched_at <= t.responded_at <= t.dispatched_at + sla,
            "due_by_cutoff": due_by_cutoff,
            "closed_on_time": due_by_cutoff and closed_by_cutoff and t.closed_at <= due,
            "callback": t.resolved is not None,
            "resolved": t.resolved is True,
            "rated": t.satisfaction in ("satisfied", "basically_satisfied", "dissatisfied"),
            "satisfied": t.satisfaction in ("satisfied", "basically_satisfied"),
            "known_caller": t.caller is not None,
            "account_caller": t.caller_kind == "account",
            "hours_to_close": hours,
            "closed_valid": closed_by_cutoff and hours is not None,
            "status_known": t.status != "unknown",
            # a ticket said closed without a close time is not counted open
            "backlog": t.status not in ("unknown", "withdrawn") and not closed_by_cutoff
            and not (t.status == "closed" and t.closed_at is None),
            "withdrawn": t.status == "withdrawn",
            "closed_before_received": closed_before_received,
            "future_dated": future,
            "status": t.status,
            "category_name": national_class(t.city_code, t.label),
        })
    frame = pd.DataFrame(rows)
    # 重复诉求: another ticket of the same caller and top-level class (own label when
    # unclassified) received at most 30 days before, in the same city, whatever the year.
    frame["repeat"] = False
    for _, group in frame[frame.known_caller].groupby(["city_code", "caller", "category_group"]):
        times = sorted(group.received_at)
        for index, moment in zip(group.index, group.received_at, strict=True):
            frame.loc[index, "repeat"] = any(
                other < moment and moment - other <= window for other in times)
    return frame


RATES = {  # rate: (numerator, denominator), kpi_city_year's documentation
    "direct_resolved_rate": ("direct_resolved_count", "direct_resolved_known_count"),
    "response_rate": ("responded_within_sla_count", "response_measured_count"),
    "on_time_close_rate": ("closed_on_time_count", "due_by_cutoff_count"),
    "resolution_rate": ("resolved_count", "callback_count"),
    "satisfaction_rate": ("satisfied_count", "rated_count"),
    "repeat_request_rate": ("repeat_request_count", "known_caller_count"),
}
COUNTS = {  # column of the marts: flag of `measured` it counts
    "direct_resolved_known_count": "direct_resolved_known",
    "direct_resolved_count": "direct_resolved",
    "dispatched_count": "dispatched",
    "response_measured_count": "response_measured",
    "responded_within_sla_count": "responded_within_sla",
    "due_by_cutoff_count": "due_by_cutoff",
    "closed_on_time_count": "closed_on_time",
    "callback_count": "callback",
    "resolved_count": "resolved",
    "rated_count": "rated",
    "satisfied_count": "satisfied",
    "known_caller_count": "known_caller",
    "account_caller_count": "account_caller",
    "repeat_request_count": "repeat",
    "closed_count": "closed_valid",
    "status_known_count": "status_known",
    "withdrawn_count": "withdrawn",
    "closed_before_received_count": "closed_before_received",
    "future_dated_count": "future_dated",
}


def rate(numerator: float, denominator: float | None) -> float | None:
    return numerator / denominator if denominator else None


def quantiles(hours: pd.Series) -> tuple[float | None, float | None]:
    """Median and P90 by linear interpolation (pandas' default, DuckDB's quantile_cont)."""
    hours = hours.dropna()
    if hours.empty:
        return None, None
    return float(hours.quantile(0.5)), float(hours.quantile(0.9))


def expected_city_years(fixture: Fixture) -> dict[tuple[str, int], dict[str, Any]]:
    frame = measured(fixture)
    populations = {**SEED_POPULATION, NEW_YORK_CITY: None}
    expected = {}
    for (city, year), group in frame.groupby(["city_code", "year"]):
        row: dict[str, Any] = {"ticket_count": len(group)}
        row |= {column: int(group[flag].sum()) for column, flag in COUNTS.items()}
        for name, (numerator, denominator) in RATES.items():
            row[name] = rate(row[numerator], row[denominator])
        population = populations[city]
        row["population"] = population
        row["tickets_per_10k_residents"] = rate(len(group) * 10_000, population)
        row["median_hours_to_close"], row["p90_hours_to_close"] = quantiles(
            group.hours_to_close[group.closed_valid])
        row["open_backlog_count"] = (int(group.backlog.sum()) if group.status_known.any()
                                     else None)
        expected[(city, int(year))] = row
    return expected


def expected_national_years(fixture: Fixture) -> dict[int, dict[str, Any]]:
    cities = expected_city_years(fixture)
    frame = measured(fixture)
    expected = {}
    for year in sorted({y for _, y in cities}):
        rows = [row for (_, y), row in cities.items() if y == year]
        tickets = sum(r["ticket_count"] for r in rows)
        national: dict[str, Any] = {"city_count": len(rows), "ticket_count": tickets}
        with_population = [r for r in rows if r["population"] is not None]
        national["population_city_count"] = len(with_population)
        national["tickets_per_10k_residents"] = rate(
            sum(r["ticket_count"] for r in with_population) * 10_000,
            sum(r["population"] for r in with_population))
        for name, (numerator, denominator) in RATES.items():
            known = [r for r in rows if r[denominator] > 0]
            national[numerator] = sum(r[numerator] for r in known)
            national[denominator] = sum(r[denominator] for r in known)
            national[name] = rate(national[numerator], national[denominator])
            national[f"{name}_city_count"] = len(known)
            national[f"{name}_ticket_share"] = sum(r["ticket_count"] for r in known) / tickets
        backlog_known = [r for r in rows if r["open_backlog_count"] is not None]
        national["open_backlog_city_count"] = len(backlog_known)
        national["open_backlog_count"] = (sum(r["open_backlog_count"] for r in backlog_known)
                                          if backlog_known else None)
        national["withdrawn_count"] = sum(r["withdrawn_count"] for r in rows)
        of_year = frame[(frame.year == year) & frame.closed_valid]
        national["closed_count"] = len(of_year)
        national["median_hours_to_close"], national["p90_hours_to_close"] = quantiles(
            of_year.hours_to_close)
        expected[year] = national
    return expected


def differences(actual: dict[Any, dict[str, Any]],
                expected: dict[Any, dict[str, Any]]) -> list[str]:
    """Every (row, column) where the mart differs from the computation, to see them all."""
    found = []
    if set(actual) != set(expected):
        found.append(f"rows: {sorted(actual)} != {sorted(expected)}")
    for key in sorted(set(actual) & set(expected)):
        for column, want in expected[key].items():
            got = actual[key][column]
            got = None if got is None or (isinstance(got, float) and math.isnan(got)) else got
            same = (got is None and want is None) or (
                got is not None and want is not None
                and math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9))
            if not same:
                found.append(f"{key} {column}: mart {got!r}, expected {want!r}")
    return found


def mart_rows(root: DataPaths, sql: str, key: list[str]) -> dict[Any, dict[str, Any]]:
    frame = query(root, sql).astype(object)
    frame = frame.where(frame.notna(), None)
    records = frame.to_dict("records")
    return {tuple(r[k] for k in key) if len(key) > 1 else r[key[0]]: r for r in records}


# ----------------------------------------------------------------------------- the tests

def test_every_row_of_every_export_arrives_with_its_beijing_time_and_status(
    deployment: Fixture,
) -> None:
    lake = query(deployment.root, """
        SELECT city_code, ticket_id, received_at, closed_at, status, caller_key_kind,
               category_name, received_year
        FROM fct_tickets ORDER BY city_code, ticket_id""")
    frame = measured(deployment)
    expected = sorted(
        (t.city_code, t.ticket_id, t.received_at, t.closed_at, t.status,
         t.caller_kind, row.category_name, t.received_at.year)
        for t, row in zip(deployment.tickets, frame.itertuples(), strict=True))
    actual = [(r.city_code, r.ticket_id, r.received_at.to_pydatetime(),
               None if pd.isna(r.closed_at) else r.closed_at.to_pydatetime(), r.status,
               None if pd.isna(r.caller_key_kind) else r.caller_key_kind, r.category_name,
               r.received_year)
              for r in lake.itertuples()]
    assert actual == expected
    rejects = query(deployment.root, "SELECT count(*) AS n FROM stg_lake__rejects")
    assert rejects.n[0] == 0
    # the 311 export's last evening of 2019 is 2020 in Beijing: a year of its own
    assert (NEW_YORK_CITY, 2020) in expected_city_years(deployment)


def test_status_counts_per_city_match_the_exports(deployment: Fixture) -> None:
    actual = {(r.city_code, r.status): r.n for r in query(deployment.root, """
        SELECT city_code, status, count(*) AS n FROM fct_tickets GROUP BY ALL""").itertuples()}
    frame = measured(deployment)
    expected = frame.groupby(["city_code", "status"]).size().to_dict()
    assert actual == expected
    # the posts-only board says nothing about its posts' fate
    assert expected[(HANGZHOU, "unknown")] == sum(t.city_code == HANGZHOU
                                                  for t in deployment.tickets)


def test_city_year_figures_match_an_independent_computation(deployment: Fixture) -> None:
    expected = expected_city_years(deployment)
    actual = mart_rows(deployment.root, "SELECT * FROM kpi_city_year", ["city_code", "year"])
    assert differences(actual, expected) == []
    # the fixtures exercise what the figures distinguish
    guangzhou = expected[(GUANGZHOU, YEAR)]
    assert guangzhou["closed_before_received_count"] > 0
    assert guangzhou["future_dated_count"] == 1
    assert 0 < guangzhou["on_time_close_rate"] < 1 and 0 < guangzhou["response_rate"] < 1
    assert guangzhou["withdrawn_count"] > 0 and guangzhou["repeat_request_count"] > 0
    assert expected[(CHANGSHA, YEAR)]["repeat_request_count"] > 0
    assert expected[(CHANGSHA, YEAR)]["closed_before_received_count"] > 0
    assert expected[(CHANGSHA, YEAR)]["open_backlog_count"] > 0
    assert expected[(HANGZHOU, YEAR)]["repeat_request_count"] > 0
    assert expected[(NEW_YORK_CITY, YEAR)]["closed_before_received_count"] > 0


def test_national_figures_cover_only_the_cities_where_each_is_known(
    deployment: Fixture,
) -> None:
    expected = expected_national_years(deployment)
    actual = mart_rows(deployment.root, "SELECT * FROM kpi_national_year", ["year"])
    assert differences(actual, expected) == []
    national = expected[YEAR]
    # partial coverage: 响应率 from 广州 alone, 重复诉求率 without New York, nobody's 满意率
    assert national["city_count"] == 4
    assert national["response_rate_city_count"] == 1
    assert national["repeat_request_rate_city_count"] == 3
    assert national["satisfaction_rate"] is None and national["satisfaction_rate_city_count"] == 0
    assert national["population_city_count"] == 3


def test_category_mix_places_each_city_label_by_the_data_roots_mappings(
    deployment: Fixture,
) -> None:
    frame = measured(deployment)
    counts = frame.groupby(["city_code", "year", "category_name"]).size()
    totals = frame.groupby(["city_code", "year"]).size()
    expected = {key: {"ticket_count": n, "share_of_city": n / totals[key[:2]]}
                for key, n in counts.items()}
    actual = mart_rows(deployment.root, """
        SELECT city_code, year, category_name, ticket_count, share_of_city
        FROM category_city_year WHERE ticket_count > 0""",
                       ["city_code", "year", "category_name"])
    assert differences(actual, expected) == []


def test_mix_shares_are_unknown_where_the_source_sends_no_value(deployment: Fixture) -> None:
    """Channel and request-type shares are over the tickets of the city-year; a city whose
    source sends no channel (New York) or no request type (the boards, New York) has no mix,
    not a mix of zeros."""
    frame = pd.DataFrame([
        {"city_code": t.city_code, "year": t.received_at.year, "channel": t.channel,
         "request_type": t.request_type} for t in deployment.tickets])
    expected = {}
    for (city, year), group in frame.groupby(["city_code", "year"]):
        for dimension, codes in (("channel", ("phone", "web", "wechat", "app", "sms", "other")),
                                 ("request_type", tuple(REQUEST_TYPES.values()))):
            sent = group[dimension].notna().any()
            for code in codes:
                n = int((group[dimension] == code).sum())
                expected[(city, int(year), dimension, code)] = {
                    "ticket_count": n, "share_of_city": n / len(group) if sent else None}
    actual = mart_rows(deployment.root, """
        SELECT city_code, year, dimension, dimension_value, ticket_count, share_of_city
        FROM ticket_mix_city_year""", ["city_code", "year", "dimension", "dimension_value"])
    assert differences(actual, expected) == []


def rate_columns(root: DataPaths, table: str) -> list[str]:
    found = query(root, f"""
        SELECT column_name FROM information_schema.columns
        WHERE table_name = '{table}' AND column_name LIKE '%\\_rate' ESCAPE '\\'
        ORDER BY ordinal_position""")
    return list(found.column_name)


@pytest.mark.parametrize("table", ["kpi_city_year", "kpi_national_year"])
def test_no_published_rate_is_zero_where_its_inputs_are_unknown(
    deployment: Fixture, table: str
) -> None:
    """Every rate of the city and national marts is NULL exactly when its denominator counted
    nothing, and never 0 then; per 10,000 residents is NULL exactly without a population."""
    columns = rate_columns(deployment.root, table)
    assert set(columns) == set(RATES), "a rate without a documented denominator"
    pairs = [(name, denominator) for name, (_, denominator) in RATES.items()]
    pairs.append(("tickets_per_10k_residents", "population"))
    frame = query(deployment.root, f"SELECT * FROM {table}")
    seen_unknown = seen_known = 0
    for name, denominator in pairs:
        for row in frame.itertuples():
            value, base = getattr(row, name), getattr(row, denominator)
            unknown = pd.isna(base) or base == 0
            where = f"{table} {name} year {row.year} {getattr(row, 'city_code', '')}"
            assert pd.isna(value) == unknown, f"{where}: {value!r} over {base!r}"
            seen_unknown += unknown
            seen_known += not unknown
    assert seen_unknown > 0 and seen_known > 0


def test_the_report_states_the_coverage_of_national_figures(deployment: Fixture) -> None:
    national = expected_national_years(deployment)[YEAR]
    share = national["response_rate_ticket_share"]
    assert f"响应率覆盖 1/4 个城市（占工单 {share:.1%}）" in deployment.report_index


def test_a_year_just_begun_builds_and_a_shrinking_class_is_no_fastest_riser(
    data_root: DataPaths, sources_dir: Path
) -> None:
    """An export that runs into the first days of the next year: 30 of 60 tickets of 2019 in
    城乡建设, the one ticket of 2020 too. Its share rose (1/2 to 1/1), its count fell (30 to 1):
    not a riser, by category_city_year's own definition (the fastest growing classes) and test
    (a fastest riser grows). The build must succeed and call it none."""
    (sources_dir / "guangzhou_std.yaml").write_text(GUANGZHOU_YAML, encoding="utf-8")
    folder = data_root.landing / "guangzhou_std"
    folder.mkdir(parents=True)
    lines = ["工单编号,受理时间,受理渠道,诉求类型,诉求分类,工单状态"]
    lines += [f"A{n},2019-{n % 12 + 1:02d}-10 09:00:00,电话,咨询,"
              f"{'城乡建设' if n % 2 else '交通运输'}/其他,已办结" for n in range(60)]
    lines.append("B1,2020-01-02 09:00:00,电话,咨询,城乡建设/其他,办理中")
    (folder / "export.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = hotline_env(data_root.root, **{SOURCES_DIR_ENV: str(sources_dir)})
    for argv in (["ingest"], ["build"]):
        done = subprocess.run([*HOTLINE, *argv], capture_output=True, text=True, env=env)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
    risers = query(data_root, "SELECT year, category_name FROM category_city_year "
                         "WHERE is_fastest_riser")
    assert risers.empty
