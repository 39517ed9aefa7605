"""An independent oracle for the published figures: the ticket indicators of `kpi_city_year`
and the monitoring index of `monitoring_hotline_year`, recomputed with pandas from the landing
files as senders deliver them.

It reads every landing format itself, as a data engineer reading the source configurations
would (column names, value words, yes/no words, timestamp formats, title and totals rows), and
applies the definitions of /work/shared/domain/HOTLINE.md, README.md and docs/analysts.md. It
imports nothing of the project: no reader, no ingestion, no SQL. The only inputs besides the
landing files are configuration and reference data: the source YAML files, the dbt `vars`
(thresholds and weights) and the seeds (cities, the national classes and the category
mappings analysts edit).

Rules chosen where the documents leave room are written where they are applied, each marked
"Rule:".
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import yaml

BEIJING = ZoneInfo("Asia/Shanghai")
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
# Times outside these years are rejected (docs/onboarding.md, reject reason out_of_range).
FIRST_YEAR, LAST_YEAR = 1990, 2100

# ---------------------------------------------------------------------------------------------
# Layouts, as docs/standard-export.md and docs/demo-data.md specify them for senders.

STANDARD_COLUMNS = {
    "工单编号": "ticket_id", "受理时间": "received_at", "受理渠道": "channel",
    "诉求类型": "request_type", "诉求分类": "category", "区县": "district",
    "诉求标题": "title", "诉求内容": "content", "来电号码": "caller_phone",
    "来电人": "caller_name", "直接办结": "direct_resolved", "派单时间": "dispatched_at",
    "承办单位": "department", "首次响应时间": "responded_at", "办理时限": "due_at",
    "办结时间": "closed_at", "工单状态": "status", "是否解决": "resolved", "满意度": "satisfaction",
}
STANDARD_VALUES = {
    # docs/demo-data.md: 上海 writes `app` where the others write APP.
    "channel": {"电话": "phone", "网站": "web", "微信": "wechat", "APP": "app", "app": "app",
                "短信": "sms", "其他": "other"},
    "request_type": {"咨询": "consult", "求助": "help", "投诉": "complaint", "举报": "report",
                     "建议": "suggestion", "感谢": "praise", "其他": "other"},
    "status": {"办理中": "open", "已办结": "closed", "已撤销": "withdrawn"},
    "satisfaction": {"满意": "satisfied", "基本满意": "basically_satisfied",
                     "不满意": "dissatisfied", "未评价": "unrated"},
}
# Open311 GeoReport v2: a closed request was closed at its updated_datetime (the bazhong YAML and
# docs/demo-data.md); withdrawn requests arrive as closed.
OPEN311_COLUMNS = {
    "service_request_id": "ticket_id", "requested_datetime": "received_at",
    "service_name": "category", "description": "content", "agency_responsible": "department",
    "expected_datetime": "due_at", "status": "status",
}
OPEN311_VALUES = {"status": {"open": "open", "closed": "closed"}}
# Government message boards (HOTLINE.md, "Exchange formats"): the reply time plays the close
# time, the posting user is the caller where there is no phone, every message comes by web.
MESSAGE_BOARD_COLUMNS = {
    "留言编号": "ticket_id", "留言用户": "caller_account", "留言主题": "title",
    "留言时间": "received_at", "留言详情": "content", "答复时间": "closed_at",
    "一级分类": "category",
}
MESSAGE_BOARD_CONSTANTS = {"channel": "web"}

LAYOUT_COLUMNS = {"standard": STANDARD_COLUMNS, "open311": OPEN311_COLUMNS,
                  "message_board": MESSAGE_BOARD_COLUMNS, "custom": {}}
LAYOUT_VALUES = {"standard": STANDARD_VALUES, "open311": OPEN311_VALUES}
LAYOUT_CONSTANTS = {"message_board": MESSAGE_BOARD_CONSTANTS}

# Yes/no words when a source lists none (docs/onboarding.md, `true_values`/`false_values`:
# 是/否, Y/N, 1/0, 已解决/未解决 …; 接通/未接通 for test calls).
DEFAULT_TRUE = ("是", "Y", "y", "yes", "Yes", "true", "True", "TRUE", "1", "已解决", "接通")
DEFAULT_FALSE = ("否", "N", "n", "no", "No", "false", "False", "FALSE", "0", "未解决", "未接通")
# Common Chinese formats for a source that lists none (its times here are ISO 8601 with an
# offset, or real Excel datetime cells, which are always understood).
DEFAULT_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                   "%Y年%m月%d日 %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M")

TIME_FIELDS = ("received_at", "dispatched_at", "responded_at", "due_at", "closed_at")
BOOL_FIELDS = ("direct_resolved", "resolved")
# Unknown words of these fields reject the row; channel and request type become `other`
# (docs/standard-export.md), unless `strict_values`.
STRICT_FIELDS = ("status", "satisfaction")
LENIENT_FIELDS = ("channel", "request_type")

# Full-width ASCII (and the ideographic space) to ASCII: ids, times, numbers and coded fields
# are read as ASCII (docs/standard-export.md).
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SERIAL = re.compile(r"^\d+(\.\d+)?$")


class Reject(Exception):
    """A row that cannot be made canonical: it is not counted anywhere."""


# ---------------------------------------------------------------------------------------------
# Source configurations


@dataclass(frozen=True)
class Source:
    source_id: str
    entity: str
    city_code: str | None
    file_pattern: str
    fmt: str
    layout: str
    encoding: str
    skip_rows: int
    footer_prefix: str
    sheets: Any
    records_key: str | None
    columns: dict[str, str]
    values: dict[str, dict[str, str]]
    constants: dict[str, str]
    timestamp_formats: tuple[str, ...]
    true_values: tuple[str, ...]
    false_values: tuple[str, ...]
    strict_values: bool
    not_exported: frozenset[str]
    category_columns: tuple[str, ...]
    timezone: str
    source_timezone: str | None

    @property
    def exported(self) -> frozenset[str]:
        """The canonical fields the configuration says the source exports."""
        fields = set(self.columns.values()) | set(self.constants)
        if self.category_columns:
            fields.add("category")
        if self.layout == "open311":
            fields.add("closed_at")  # a closed request's updated_datetime
        return frozenset(fields - self.not_exported)


def load_sources(folder: Path) -> dict[str, Source]:
    sources = {}
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        layout = raw.get("layout", "custom")
        columns = {**LAYOUT_COLUMNS[layout], **(raw.get("columns") or {})}
        values: dict[str, dict[str, str]] = {
            name: dict(words) for name, words in LAYOUT_VALUES.get(layout, {}).items()}
        for name, words in (raw.get("values") or {}).items():
            values.setdefault(name, {}).update({str(k): str(v) for k, v in words.items()})
        not_exported = frozenset(raw.get("not_exported") or ())
        columns = {header: name for header, name in columns.items() if name not in not_exported}
        sources[raw["source_id"]] = Source(
            source_id=raw["source_id"], entity=raw["entity"],
            city_code=str(raw["city_code"]) if raw.get("city_code") is not None else None,
            file_pattern=raw.get("file_pattern", "*"), fmt=raw["format"], layout=layout,
            encoding=raw.get("encoding", "auto"), skip_rows=int(raw.get("skip_rows", 0)),
            footer_prefix=raw.get("footer_prefix", "合计"), sheets=raw.get("sheets", "first"),
            records_key=raw.get("records_key"), columns=columns, values=values,
            constants={**LAYOUT_CONSTANTS.get(layout, {}), **(raw.get("constants") or {})},
            timestamp_formats=tuple(raw.get("timestamp_formats") or DEFAULT_FORMATS),
            true_values=tuple(str(v) for v in raw.get("true_values") or DEFAULT_TRUE),
            false_values=tuple(str(v) for v in raw.get("false_values") or DEFAULT_FALSE),
            strict_values=bool(raw.get("strict_values", False)), not_exported=not_exported,
            category_columns=tuple(raw.get("category_columns") or ()),
            timezone=raw.get("timezone", "Asia/Shanghai"),
            source_timezone=raw.get("source_timezone"),
        )
    return sources


# ---------------------------------------------------------------------------------------------
# Reading landing files into rows of source headers


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    if encoding == "auto":
        for candidate in ("utf-8-sig", "gb18030"):
            try:
                return data.decode(candidate)
            except UnicodeDecodeError:
                continue
        raise ValueError(f"{path}: not UTF-8 nor GB18030")
    if encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    return data.decode(encoding)


def _csv_records(path: Path, source: Source) -> Iterator[dict[str, Any]]:
    text = _decode(path, source.encoding)
    frame = pd.read_csv(io.StringIO(text), skiprows=source.skip_rows, dtype=str,
                        keep_default_na=False, na_filter=False, on_bad_lines="error")
    first = frame.columns[0]
    for record in frame.to_dict("records"):
        # A totals row (合计, 共N条) at the bottom is not a work order.
        if str(record[first]).strip().startswith(source.footer_prefix):
            continue
        yield record


def _xlsx_records(path: Path, source: Source) -> Iterator[dict[str, Any]]:
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if source.sheets == "all":
            names = book.sheetnames
        elif source.sheets in (None, "first"):
            names = book.sheetnames[:1]
        else:
            names = list(source.sheets)
        for name in names:
            rows = book[name].iter_rows(values_only=True)
            for _ in range(source.skip_rows):
                next(rows)
            header = [str(h).strip() if h is not None else None for h in next(rows)]
            for row in rows:
                if all(cell is None or (isinstance(cell, str) and not cell.strip())
                       for cell in row):
                    continue
                record = dict(zip(header, row, strict=False))
                first = record.get(header[0])
                if isinstance(first, str) and first.strip().startswith(source.footer_prefix):
                    continue
                yield record
    finally:
        book.close()


def _json_records(path: Path, source: Source) -> Iterator[dict[str, Any]]:
    text = _decode(path, source.encoding)
    if source.fmt == "jsonl":
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)
        return
    data = json.loads(text)
    if source.records_key:
        data = data[source.records_key]
    yield from data


def file_records(path: Path, source: Source) -> Iterator[dict[str, Any]]:
    if source.fmt == "csv":
        return _csv_records(path, source)
    if source.fmt == "xlsx":
        return _xlsx_records(path, source)
    if source.fmt in ("json", "jsonl", "open311"):
        return _json_records(path, source)
    raise ValueError(f"{source.source_id}: unknown format {source.fmt}")


def landing_files(landing: Path, source: Source) -> list[Path]:
    return sorted((landing / source.source_id).glob(source.file_pattern))


# ---------------------------------------------------------------------------------------------
# Cells to canonical values


def _text(value: Any) -> str | None:
    """A cell as text with its padding trimmed (spaces, the ideographic space, tabs, line
    breaks); empty is None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _code(value: Any) -> str | None:
    """An id or coded cell: trimmed, full-width characters read as ASCII."""
    text = _text(value)
    return None if text is None else text.translate(_FULLWIDTH).strip() or None


def _round_second(moment: dt.datetime) -> dt.datetime:
    return (moment + dt.timedelta(microseconds=500_000)).replace(microsecond=0)


def _serial(days: float) -> dt.datetime:
    # Rule: an Excel serial number is a day count from 1899-12-30, taken to the nearest second
    # (docs/demo-data.md: the serials are exact to the second).
    return _round_second(EXCEL_EPOCH + dt.timedelta(days=days))


def parse_time(value: Any, source: Source) -> dt.datetime | None:
    """A time cell in the lake's zone (Beijing time), naive; None when empty; Reject when
    unreadable."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        raise Reject("unparseable_timestamp")
    if isinstance(value, dt.datetime):
        # Rule: a datetime cell is taken to the nearest second (a workbook stores a fraction
        # of a day; the exports are written to the second).
        return _local(_round_second(value), source)
    if isinstance(value, int | float):
        return _local(_serial(float(value)), source)
    text = _code(value)
    if text is None:
        return None
    # ISO 8601 with an offset is always understood, whatever the formats.
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is not None:
        return _in_range(parsed.astimezone(ZoneInfo(source.timezone)).replace(tzinfo=None))
    for fmt in source.timestamp_formats:
        try:
            return _local(dt.datetime.strptime(text, fmt), source)
        except ValueError:
            continue
    if _SERIAL.match(text):
        return _local(_serial(float(text)), source)
    raise Reject("unparseable_timestamp")


def _local(moment: dt.datetime, source: Source) -> dt.datetime:
    """A time written without an offset: Beijing time, unless the source names its zone."""
    if source.source_timezone:
        # Rule: a time that repeats when clocks go back is the later (standard time) reading.
        moment = (moment.replace(tzinfo=ZoneInfo(source.source_timezone), fold=1)
                  .astimezone(ZoneInfo(source.timezone)).replace(tzinfo=None))
    return _in_range(moment)


def _in_range(moment: dt.datetime) -> dt.datetime:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise Reject("out_of_range")
    return moment


def parse_bool(value: Any, source: Source) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _code(value)
    if text is None:
        return None
    if text in source.true_values:
        return True
    if text in source.false_values:
        return False
    raise Reject("unparseable_boolean")


def map_value(field_name: str, value: Any, source: Source) -> str | None:
    text = _text(value)
    if text is None:
        return None
    words = source.values.get(field_name, {})
    if text in words:
        return words[text]
    if field_name in STRICT_FIELDS or source.strict_values:
        raise Reject("unknown_value")
    return "other"


# ---------------------------------------------------------------------------------------------
# Work orders


def canonical_ticket(record: Mapping[str, Any], source: Source) -> dict[str, Any]:
    """One landing row as a canonical work order; Reject when it cannot be counted."""
    cells: dict[str, Any] = {}
    for header, name in source.columns.items():
        if header in record:
            cells[name] = record[header]
    if source.category_columns:
        parts = [_text(record.get(h)) for h in source.category_columns]
        cells["category"] = "/".join(p.replace("/", "／") for p in parts if p) or None
    row: dict[str, Any] = dict(source.constants)

    ticket_id = _code(cells.get("ticket_id"))
    if ticket_id is None:
        raise Reject("missing_required")
    if _CONTROL.search(ticket_id):
        raise Reject("control_characters")
    row["ticket_id"] = ticket_id
    for name in TIME_FIELDS:
        if name in cells:
            row[name] = parse_time(cells[name], source)
    if row.get("received_at") is None:
        raise Reject("missing_required")
    for name in BOOL_FIELDS:
        if name in cells:
            row[name] = parse_bool(cells[name], source)
    for name in STRICT_FIELDS + LENIENT_FIELDS:
        if name in cells:
            row[name] = map_value(name, cells[name], source)
    row["category"] = _text(cells.get("category"))
    phone = _code(cells.get("caller_phone"))
    row["caller_phone"] = phone
    row["caller_account"] = _text(cells.get("caller_account"))

    if source.layout == "open311":
        # A closed request was closed at its updated_datetime.
        closed = row.get("status") == "closed"
        row["closed_at"] = parse_time(record.get("updated_datetime"), source) if closed else None
    if row.get("status") is None:
        # Rule: a source without a status, or a blank status cell, gets `closed` when a close
        # time is present and `open` otherwise (docs/onboarding.md); `unknown` only when the
        # source sends neither a status nor close times (docs/analysts.md).
        if "status" in source.exported or "closed_at" in source.exported:
            row["status"] = "closed" if row.get("closed_at") is not None else "open"
        else:
            row["status"] = "unknown"
    return row


@dataclass
class Tickets:
    """The latest version of every work order, with what each source exports."""

    frame: pd.DataFrame
    exported: dict[str, frozenset[str]] = field(default_factory=dict)
    rejected: int = 0


def read_tickets(landing: Path, sources: Mapping[str, Source]) -> Tickets:
    rows: list[dict[str, Any]] = []
    exported: dict[str, frozenset[str]] = {}
    rejected = 0
    for source in sources.values():
        if source.entity != "tickets":
            continue
        exported[source.city_code] = exported.get(source.city_code, frozenset()) | source.exported
        for path in landing_files(landing, source):
            for position, record in enumerate(file_records(path, source)):
                try:
                    row = canonical_ticket(record, source)
                except Reject:
                    rejected += 1
                    continue
                row.update(city_code=source.city_code, source_id=source.source_id,
                           file_name=path.name, position=position)
                rows.append(row)
    frame = pd.DataFrame(rows)
    for name in TIME_FIELDS:
        if name not in frame:
            frame[name] = pd.NaT
        frame[name] = pd.to_datetime(frame[name])
    for name in ("direct_resolved", "resolved", "status", "satisfaction", "category",
                 "caller_phone", "caller_account", "request_type"):
        if name not in frame:
            frame[name] = None
    # Rule (README, docs/analysts.md "Duplicates"): a work order is a city and a ticket id; the
    # latest version wins: latest ingestion, then latest file name, then last row of the file.
    # One ingestion run reads every demo file, so the file name and the row decide; a row that
    # was rejected is no version at all.
    frame = frame.sort_values(["city_code", "file_name", "position"], kind="stable")
    frame = frame.drop_duplicates(["city_code", "ticket_id"], keep="last")
    return Tickets(frame.reset_index(drop=True), exported, rejected)


# ---------------------------------------------------------------------------------------------
# Ticket indicators


@dataclass(frozen=True)
class Reference:
    """Configuration and reference data: dbt vars and seeds."""

    vars: dict[str, Any]
    population: dict[str, float | None]
    city_names: dict[str, str]
    regions: dict[str, str]
    national_classes: frozenset[str]
    mappings: dict[tuple[str, str], str]


def load_reference(dbt_dir: Path, reference_dir: Path | None = None) -> Reference:
    project = yaml.safe_load((dbt_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    seeds = dbt_dir / "seeds"
    cities = pd.read_csv(seeds / "cities.csv", dtype={"city_code": str})
    mappings = pd.read_csv(seeds / "category_mappings.csv", dtype={"city_code": str})
    if reference_dir is not None and (reference_dir / "cities.csv").is_file():
        cities = pd.concat([cities, pd.read_csv(reference_dir / "cities.csv",
                                                dtype={"city_code": str})])
    if reference_dir is not None and (reference_dir / "category_mappings.csv").is_file():
        # The data root's rows win over the seed's for the same city and label.
        mappings = pd.concat([mappings, pd.read_csv(reference_dir / "category_mappings.csv",
                                                    dtype={"city_code": str})])
    national = pd.read_csv(seeds / "national_categories.csv", dtype={"category_code": str})
    return Reference(
        vars=project["vars"],
        population={c: (None if pd.isna(p) else float(p))
                    for c, p in zip(cities.city_code, cities.population_2019, strict=True)},
        city_names=dict(zip(cities.city_code, cities.city_name, strict=True)),
        regions=dict(zip(cities.city_code, cities.region, strict=True)),
        national_classes=frozenset(
            national.loc[national.category_code != "99", "category_name"]),
        mappings={(c, str(label).strip()): n for c, label, n in zip(
            mappings.city_code, mappings.source_label, mappings.national_category_name,
            strict=True)},
    )


def _national_class(city_code: str, category: str | None, ref: Reference) -> str:
    """The national class of a ticket by its top-level label (text before the first `/`,
    trimmed): the city's mapping, else a label spelled like a national class, else 未分类."""
    if not isinstance(category, str):  # None, or pandas' NaN of an empty cell
        # Rule: a ticket without a category is in 未分类, as an unplaced label.
        return "未分类"
    label = category.split("/")[0].strip()
    if (city_code, label) in ref.mappings:
        return ref.mappings[(city_code, label)]
    if label in ref.national_classes:
        return label
    return "未分类"


def _repeats(frame: pd.DataFrame, window_days: int) -> pd.Series:
    """重复诉求: the caller's previous ticket in the same city and national class (for 未分类 the
    same own top-level label) was received at most `window_days` days before."""
    known = frame[frame.caller_kind.notna()].copy()
    known["class_key"] = known.national_class.where(
        known.national_class != "未分类",
        "未分类:" + known.top_label.fillna(""))
    known = known.sort_values(["received_at", "ticket_id"], kind="stable")
    keys = ["city_code", "caller_kind", "caller", "class_key"]
    previous = known.groupby(keys, sort=False).received_at.shift(1)
    # Rule: "in the previous 30 days" is the 30 × 24 hours before the receipt, both ends
    # included (29 days later: a repeat; exactly 30: a repeat; 30 days and an hour: not); a
    # ticket of another year counts as the previous one.
    elapsed = known.received_at - previous
    repeat = previous.notna() & (elapsed <= pd.Timedelta(days=window_days))
    return repeat.reindex(frame.index)


KPI_COLUMNS = (
    "cutoff_at", "ticket_count", "population", "tickets_per_10k_residents",
    "direct_resolved_known_count", "direct_resolved_count", "direct_resolved_rate",
    "dispatched_count", "response_measured_count", "responded_within_sla_count",
    "response_rate", "due_by_cutoff_count", "closed_on_time_count", "on_time_close_rate",
    "callback_count", "resolved_count", "resolution_rate", "rated_count", "satisfied_count",
    "satisfaction_rate", "known_caller_count", "account_caller_count", "repeat_request_count",
    "repeat_request_rate", "three_rate_score", "closed_count", "median_hours_to_close",
    "p90_hours_to_close", "status_known_count", "open_backlog_count", "withdrawn_count",
    "closed_before_received_count", "future_dated_count", "impossible_record_count",
    "unmapped_category_count",
)


def _rate(numerator: int, denominator: int) -> float | None:
    """Known, unknown and zero differ: a rate over nothing is unknown (None), never 0."""
    return numerator / denominator if denominator else None


def kpi_city_year(tickets: Tickets, ref: Reference, ingested_at: dt.datetime) -> pd.DataFrame:
    """Every column of kpi_city_year, per city and year of receipt.

    `ingested_at` is a moment (Beijing time) no later than the ingestion of the landing files:
    an event time after it is an impossible, future-dated record.
    """
    v = ref.vars
    frame = tickets.frame.copy()
    frame["year"] = frame.received_at.dt.year
    frame["national_class"] = [_national_class(c, cat, ref)
                               for c, cat in zip(frame.city_code, frame.category, strict=True)]
    frame["top_label"] = [cat.split("/")[0].strip() if isinstance(cat, str) else None
                          for cat in frame.category]
    # The caller: the phone number, or where there is none the message board's user account.
    frame["caller_kind"] = None
    frame.loc[frame.caller_account.notna(), "caller_kind"] = "account"
    frame.loc[frame.caller_phone.notna(), "caller_kind"] = "phone"
    frame["caller"] = frame.caller_phone.where(frame.caller_phone.notna(), frame.caller_account)
    frame["is_repeat"] = _repeats(frame, int(v["repeat_window_days"]))

    # Due time: the exported 办理时限, else the dispatch (or receipt, when never dispatched) plus
    # the days of the request type (var due_days_by_request_type).
    # Rule: a ticket without a request type takes the days of `other`.
    due_days = v["due_days_by_request_type"]
    base = frame.dispatched_at.where(frame.dispatched_at.notna(), frame.received_at)
    days = frame.request_type.fillna("other").map(lambda t: due_days.get(t, due_days["other"]))
    derived_due = base + pd.to_timedelta(days.astype(float), unit="D")
    frame["due"] = frame.due_at.where(frame.due_at.notna(), derived_due)

    sla = pd.Timedelta(hours=float(v["response_sla_hours"]))
    weights = v["three_rate_weights"]
    rows = []
    for (city, year), t in frame.groupby(["city_code", "year"], sort=True):
        exported = tickets.exported[city]
        cutoff = dt.datetime(year + 1, 1, 1) + dt.timedelta(
            days=int(v["cutoff_days_after_year_end"]))
        cut = pd.Timestamp(cutoff)
        count = len(t)
        population = ref.population.get(city)

        direct_known = int(t.direct_resolved.notna().sum())
        direct = int((t.direct_resolved == True).sum())  # noqa: E712 (None is not True)

        # Dispatched: a 派单时间 and not answered on the call (HOTLINE.md: dispatched_at is null
        # when direct_resolved). A source without dispatch times has no dispatched tickets.
        dispatched = t.dispatched_at.notna() & (t.direct_resolved != True)  # noqa: E712
        # 响应率 counts a dispatched ticket only where its source exports response times (or it
        # has one): a time the export does not give is unknown, not "never responded".
        measured = dispatched & (("responded_at" in exported) | t.responded_at.notna())
        lag = t.responded_at - t.dispatched_at
        within = measured & t.responded_at.notna() & (lag >= pd.Timedelta(0)) & (lag <= sla)

        # 按时办结率: dispatched, not withdrawn, due by the cut-off, close time known or exported.
        # Rule: "passed by the cut-off" is due <= cut-off, "closed by the cut-off" closed <=
        # cut-off, "on time" closed <= due.
        close_measured = ("closed_at" in exported) | t.closed_at.notna()
        due_by_cutoff = dispatched & (t.status != "withdrawn") & (t.due <= cut) & close_measured
        on_time = (due_by_cutoff & t.closed_at.notna() & (t.closed_at <= cut)
                   & (t.closed_at <= t.due))

        callback = t.resolved.notna()
        resolved = t.resolved == True  # noqa: E712
        rated = t.satisfaction.isin(["satisfied", "basically_satisfied", "dissatisfied"])
        satisfied = t.satisfaction.isin(["satisfied", "basically_satisfied"])

        known_caller = t.caller_kind.notna()
        account_caller = t.caller_kind == "account"
        repeat = known_caller & (t.is_repeat == True)  # noqa: E712

        # Impossible records stay in every count but get no duration.
        before_received = t.closed_at.notna() & (t.closed_at < t.received_at)
        before_dispatched = (t.responded_at.notna() & t.dispatched_at.notna()
                             & (t.responded_at < t.dispatched_at))
        late_event = pd.Series(False, index=t.index)
        for name in TIME_FIELDS:
            late_event |= t[name].notna() & (t[name] > pd.Timestamp(ingested_at))
        impossible = before_received | before_dispatched | late_event

        closed = t.closed_at.notna() & (t.closed_at <= cut) & ~impossible
        hours = ((t.closed_at - t.received_at)[closed].dt.total_seconds() / 3600.0)

        status_known = t.status != "unknown"
        # The open backlog: known status, not withdrawn, not closed without a close time, and
        # not closed by the cut-off.
        backlog = (status_known & (t.status != "withdrawn")
                   & ~((t.status == "closed") & t.closed_at.isna())
                   & ~(t.closed_at.notna() & (t.closed_at <= cut)))

        r_response = _rate(int(within.sum()), int(measured.sum()))
        r_resolution = _rate(int(resolved.sum()), int(callback.sum()))
        r_satisfaction = _rate(int(satisfied.sum()), int(rated.sum()))
        three = None
        if None not in (r_response, r_resolution, r_satisfaction):
            w_r, w_j, w_s = (float(weights[k]) for k in ("response", "resolution",
                                                         "satisfaction"))
            three = 100.0 * (w_r * r_response + w_j * r_resolution + w_s * r_satisfaction) / (
                w_r + w_j + w_s)
        rows.append({
            "city_code": city, "year": int(year), "cutoff_at": cutoff,
            "ticket_count": count,
            "population": None if population is None else int(population),
            "tickets_per_10k_residents": None if not population else count * 10_000 / population,
            "direct_resolved_known_count": direct_known,
            "direct_resolved_count": direct,
            "direct_resolved_rate": _rate(direct, direct_known),
            "dispatched_count": int(dispatched.sum()),
            "response_measured_count": int(measured.sum()),
            "responded_within_sla_count": int(within.sum()),
            "response_rate": r_response,
            "due_by_cutoff_count": int(due_by_cutoff.sum()),
            "closed_on_time_count": int(on_time.sum()),
            "on_time_close_rate": _rate(int(on_time.sum()), int(due_by_cutoff.sum())),
            "callback_count": int(callback.sum()),
            "resolved_count": int(resolved.sum()),
            "resolution_rate": r_resolution,
            "rated_count": int(rated.sum()),
            "satisfied_count": int(satisfied.sum()),
            "satisfaction_rate": r_satisfaction,
            "known_caller_count": int(known_caller.sum()),
            "account_caller_count": int(account_caller.sum()),
            "repeat_request_count": int(repeat.sum()),
            "repeat_request_rate": _rate(int(repeat.sum()), int(known_caller.sum())),
            "three_rate_score": three,
            "closed_count": int(closed.sum()),
            "median_hours_to_close": float(hours.median()) if len(hours) else None,
            # P90 continuous: linear interpolation between order statistics.
            "p90_hours_to_close": float(hours.quantile(0.9)) if len(hours) else None,
            "status_known_count": int(status_known.sum()),
            "open_backlog_count": int(backlog.sum()) if status_known.any() else None,
            "withdrawn_count": int((t.status == "withdrawn").sum()),
            "closed_before_received_count": int(before_received.sum()),
            "future_dated_count": int(late_event.sum()),
            "impossible_record_count": int(impossible.sum()),
            "unmapped_category_count": int((t.national_class == "未分类").sum()),
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Monitoring test calls


def read_test_calls(landing: Path, sources: Mapping[str, Source]) -> pd.DataFrame:
    rows = []
    for source in sources.values():
        if source.entity != "test_calls":
            continue
        for path in landing_files(landing, source):
            for position, record in enumerate(file_records(path, source)):
                cells = {name: record.get(header) for header, name in source.columns.items()}
                try:
                    row = _canonical_call(cells, source)
                except Reject:
                    continue
                rows.append(row | {"file_name": path.name, "position": position})
    frame = pd.DataFrame(rows).sort_values(["file_name", "position"], kind="stable")
    # Rule: a test call is a year and a call id; a call exported again keeps its latest row.
    return frame.drop_duplicates(["year", "call_id"], keep="last").reset_index(drop=True)


def _number(value: Any, low: float, high: float | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = _code(value)
        if text is None:
            return None
        try:
            number = float(text)
        except ValueError as error:
            raise Reject("unparseable_number") from error
    if math.isnan(number):
        return None
    if number < low or (high is not None and number > high):
        raise Reject("out_of_range")
    return number


def _canonical_call(cells: Mapping[str, Any], source: Source) -> dict[str, Any]:
    year = _number(cells.get("year"), 2000, 2100)
    city = _code(cells.get("city_code"))
    call_id = _code(cells.get("call_id"))
    connected = parse_bool(cells.get("connected"), source)
    if year is None or city is None or call_id is None or connected is None:
        raise Reject("missing_required")
    if not re.fullmatch(r"\d{6}", city):
        raise Reject("invalid_city_code")
    return {
        "year": int(year), "city_code": city, "call_id": call_id, "connected": connected,
        "seconds_to_human": _number(cells.get("seconds_to_human"), 0, None),
        "etiquette": _number(cells.get("etiquette_score"), 0, 100),
        "communication": _number(cells.get("communication_score"), 0, 100),
        "resolution": _number(cells.get("resolution_score"), 0, 100),
    }


def published(score: float) -> float:
    """A monitoring score as the mart stores it: rounded to 6 decimals, half away from zero.

    Rule: no document states this precision; the mart's SQL says why it rounds (equal scores
    compare equal in the tie and award rules whatever order the floating-point sums ran in).
    The scores derived from scores (total, service score) are computed from the rounded
    scores and rounded again. Six decimals are far below what the report prints, so a mapping
    error still shows; the unrounded formulas differ from the stored figures by up to 5e-7
    (about 6e-9 relative), more than this oracle's tolerance. The change and the 虚热 gap are
    differences of printed figures instead (`printed_difference`).
    """
    if score is None or math.isnan(score):
        return score
    return math.copysign(math.floor(abs(score) * 1e6 + 0.5) / 1e6, score)


def printed_difference(minuend: float, subtrahend: float) -> float:
    """The difference of two scores as the report prints them: HOTLINE.md, "较上年"
    differences are differences of the published (rounded) figures. Printed: two decimals,
    rounded half away from zero from the stored six-decimal score."""
    if any(v is None or math.isnan(v) for v in (minuend, subtrahend)):
        return math.nan

    def printed(score: float) -> Decimal:
        return Decimal(repr(published(score))).quantize(Decimal("0.01"), ROUND_HALF_UP)

    return float(printed(minuend) - printed(subtrahend))


MONITORING_COLUMNS = (
    "call_count", "connected_call_count", "connect_rate", "mean_seconds_to_human",
    "connect_score", "time_to_human_score", "etiquette_score", "communication_score",
    "resolution_score", "total_score", "national_rank", "line_class", "total_score_change",
    "rank_change", "hollow_heat_gap", "service_score", "previous_total_score",
    "previous_national_rank", "previous_line_class", "hollow_heat_place", "call_file_count",
)


def monitoring_hotline_year(calls: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    """The monitoring index per hotline and year (HOTLINE.md, "Indicators")."""
    v = ref.vars
    weights = v["monitoring_weights"]
    full, zero = float(v["time_to_human_full_score_seconds"]), float(
        v["time_to_human_zero_score_seconds"])
    classes = v["line_class_thresholds"]
    rows = []
    for (year, city), c in calls.groupby(["year", "city_code"], sort=True):
        connected = c[c.connected]
        n, k = len(c), len(connected)
        connect_rate = k / n
        seconds = connected.seconds_to_human.dropna()
        mean_seconds = float(seconds.mean()) if len(seconds) else None
        # 100 at <= full, 0 at >= zero, linear between; a hotline nobody reached scores 0.
        if mean_seconds is None:
            tth = 0.0
        else:
            tth = 100.0 * min(1.0, max(0.0, (zero - mean_seconds) / (zero - full)))

        def mean(name: str, frame: pd.DataFrame = connected) -> float:
            values = frame[name].dropna()
            return float(values.mean()) if len(values) else 0.0

        scores = {"connect": 100.0 * connect_rate, "time_to_human": tth,
                  "etiquette": mean("etiquette"), "communication": mean("communication"),
                  "resolution": mean("resolution")}
        scores = {name: published(score) for name, score in scores.items()}
        total = published(sum(float(weights[name]) * score for name, score in scores.items()))
        if connect_rate >= float(classes["hot_min_connect_rate"]):
            line_class = "热线"
        elif connect_rate >= float(classes["warm_min_connect_rate"]):
            line_class = "温线"
        elif connect_rate > 0:
            line_class = "冷线"
        else:
            line_class = "死线"
        rows.append({
            "year": int(year), "city_code": city, "call_count": n, "connected_call_count": k,
            # the evaluator's files that hold the hotline-year's calls (their latest versions)
            "call_file_count": c.file_name.nunique(),
            "connect_rate": connect_rate, "mean_seconds_to_human": mean_seconds,
            "connect_score": scores["connect"], "time_to_human_score": scores["time_to_human"],
            "etiquette_score": scores["etiquette"],
            "communication_score": scores["communication"],
            "resolution_score": scores["resolution"], "total_score": total,
            "line_class": line_class,
            "hollow_heat_gap": printed_difference(scores["connect"], scores["resolution"]),
            "service_score": published((scores["etiquette"] + scores["communication"]) / 2.0),
        })
    frame = pd.DataFrame(rows)
    # Rank by total score; ties: higher connect rate, then higher resolution score, then code.
    frame = frame.sort_values(
        ["year", "total_score", "connect_rate", "resolution_score", "city_code"],
        ascending=[True, False, False, False, True], kind="stable")
    frame["national_rank"] = frame.groupby("year").cumcount() + 1
    previous = frame[["year", "city_code", "total_score", "national_rank", "line_class"]].copy()
    previous["year"] += 1
    previous = previous.rename(columns={"total_score": "previous_total_score",
                                        "national_rank": "previous_national_rank",
                                        "line_class": "previous_line_class"})
    frame = frame.merge(previous, on=["year", "city_code"], how="left")
    # The change is of the printed scores; positive rank_change = places gained.
    frame["total_score_change"] = [
        printed_difference(now, before)
        for now, before in zip(frame.total_score, frame.previous_total_score, strict=True)]
    frame["rank_change"] = frame.previous_national_rank - frame.national_rank
    # 虚热 list (var hollow_heat): gaps of at least min_gap on at least min_connected_calls
    # answered calls, largest first, equal gaps by national rank, the first `listed` placed.
    hollow = v["hollow_heat"]
    listed = frame[(frame.hollow_heat_gap >= float(hollow["min_gap"]))
                   & (frame.connected_call_count >= int(hollow["min_connected_calls"]))]
    listed = listed.sort_values(["year", "hollow_heat_gap", "national_rank"],
                                ascending=[True, False, True], kind="stable")
    place = listed.groupby("year").cumcount() + 1
    frame["hollow_heat_place"] = place[place <= int(hollow["listed"])].reindex(frame.index)
    return frame.sort_values(["year", "city_code"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Comparison


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _same(expected: Any, actual: Any) -> bool:
    if _is_null(expected) or _is_null(actual):
        return _is_null(expected) and _is_null(actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(expected) == bool(actual)
    if isinstance(expected, dt.datetime) or isinstance(actual, dt.datetime):
        return pd.Timestamp(expected) == pd.Timestamp(actual)
    if isinstance(expected, str) or isinstance(actual, str):
        return str(expected) == str(actual)
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(float(expected), float(actual), rel_tol=1e-9, abs_tol=0.0)
    return int(expected) == int(actual)


@dataclass(frozen=True)
class Mismatch:
    key: tuple[Any, ...]
    column: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return (f"{'/'.join(str(k) for k in self.key)} {self.column}: "
                f"oracle {self.expected!r}, warehouse {self.actual!r}")


def compare(expected: pd.DataFrame, actual: pd.DataFrame, keys: Iterable[str],
            columns: Iterable[str]) -> list[Mismatch]:
    """Every difference between the oracle's rows and the warehouse's, keyed rows missing on
    either side included: floats within 1e-9 relative, NULLs equal, the rest exact."""
    keys = list(keys)
    exp = {tuple(r[k] for k in keys): r for r in expected.to_dict("records")}
    act = {tuple(r[k] for k in keys): r for r in actual.to_dict("records")}
    mismatches = []
    for key in sorted(exp.keys() | act.keys()):
        if key not in act or key not in exp:
            mismatches.append(Mismatch(key, "(row)", "present" if key in exp else "absent",
                                       "present" if key in act else "absent"))
            continue
        for column in columns:
            e, a = exp[key][column], act[key][column]
            if not _same(e, a):
                mismatches.append(Mismatch(key, column, e, a))
    return mismatches
