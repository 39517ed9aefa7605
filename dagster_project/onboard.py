"""Propose a source configuration from one landing file, and show what ingesting with it would
reject, without writing anything (`hotline onboard`).

The file is read by the project's own readers into an in-memory DuckDB; its headers are matched
to canonical fields by the known layouts' headers and common synonyms; timestamp formats are
guessed from a sample of values among the supported ones; the proposal is validated as a
`SourceConfig` and the project's canonicalisation runs on the sample, so what is shown as
rejected is what ingestion would reject.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml
from pydantic import ValidationError

from dagster_project import layouts
from dagster_project.canonical import ENUM_VALUES, TICKET_FIELDS, Entity
from dagster_project.ingest.canonicalise import canonical_sql
from dagster_project.ingest.errors import IngestError
from dagster_project.ingest.pipeline import duckdb_connection
from dagster_project.ingest.readers import (
    RAW_TABLE,
    RawFile,
    drop_raw,
    read_raw,
)
from dagster_project.settings import PROJECT_ROOT, data_paths
from dagster_project.sources import (
    CATEGORY_LEVEL_SEPARATOR,
    DEFAULT_TIMESTAMP_FORMATS,
    SourceConfig,
)
from dagster_project.sql import quote_identifier, sql_literal

# Formats tried on a sample besides the defaults: 311 systems write 12-hour US times.
EXTRA_TIMESTAMP_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
)
SUFFIX_FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".json": "json",
                  ".jsonl": "jsonl"}
PLACEHOLDER_CITY_CODE = "000000"
SEEDS_DIR = PROJECT_ROOT / "dbt" / "seeds"
SAMPLE_ROWS = 10_000
# Title rows tried above the header when the first row matches too few fields.
MAX_TITLE_ROWS = 3
_SAMPLE_TABLE = "onboard_sample"
_SHOWN_VALUES = 30

# Headers that name each canonical ticket field in exports seen in the wild, besides the known
# layouts' own; compared after `_normalise`.
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ticket_id": ("工单号", "工单编码", "诉求单号", "受理编号", "编号", "单号", "unique key",
                  "ticket id", "case id", "request id", "sr number", "service request id"),
    "received_at": ("来电时间", "登记时间", "创建时间", "来电日期", "受理日期", "诉求时间",
                    "created date", "created", "open date", "opened date", "date received"),
    "channel": ("来源渠道", "诉求渠道", "渠道", "来源", "open data channel type", "channel"),
    "request_type": ("工单类型", "诉求性质", "业务类型", "类型", "request type"),
    "category": ("分类", "问题分类", "业务分类", "事项分类", "category", "service name"),
    "district": ("所属区县", "行政区", "区域", "borough", "district", "county"),
    "title": ("标题", "主题", "title", "subject"),
    "content": ("内容", "来电内容", "问题描述", "description", "details"),
    "caller_phone": ("联系电话", "电话", "手机号", "主叫号码", "phone", "phone number"),
    "caller_name": ("联系人", "姓名", "诉求人", "市民姓名", "caller name"),
    "direct_resolved": ("是否直接办结", "直办"),
    "dispatched_at": ("交办时间", "转办时间", "dispatched date"),
    "department": ("办理单位", "责任单位", "承办部门", "agency", "agency name", "department"),
    "responded_at": ("响应时间", "首次联系时间"),
    "due_at": ("截止时间", "办结时限", "due date"),
    "closed_at": ("结案时间", "回复时间", "closed date", "close date", "resolved date"),
    "status": ("状态", "办理状态", "status"),
    "resolved": ("解决情况", "回访结果"),
    "satisfaction": ("满意情况", "回访满意度", "评价", "satisfaction"),
}
# A category sent as levels in several columns, top level first.
CATEGORY_LEVEL_HEADERS: tuple[tuple[str, ...], ...] = (
    ("一级分类", "二级分类", "三级分类"),
    ("诉求大类", "诉求小类"),
    ("大类", "小类"),
    ("complaint type", "descriptor"),
)
# Source words for the canonical codes, besides the standard layout's; compared lower-cased.
VALUE_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "channel": {
        "phone": ("电话", "热线", "来电", "phone", "telephone", "call"),
        "web": ("网站", "网络", "网上", "门户网站", "留言", "online", "web", "portal"),
        "wechat": ("微信", "微信公众号", "wechat"),
        "app": ("app", "mobile", "手机app"),
        "sms": ("短信", "sms", "text"),
        "other": ("其他", "其它", "other", "unknown"),
    },
    "request_type": {
        "consult": ("咨询", "consult", "inquiry"), "help": ("求助", "help"),
        "complaint": ("投诉", "complaint"), "report": ("举报", "report"),
        "suggestion": ("建议", "suggestion"), "praise": ("感谢", "表扬", "praise"),
        "other": ("其他", "其它", "other"),
    },
    "status": {
        "open": ("办理中", "在办", "待办", "处理中", "未办结", "open", "in progress", "assigned",
                 "pending", "started"),
        "closed": ("已办结", "办结", "办毕", "已完成", "已关闭", "结案", "closed", "completed"),
        "withdrawn": ("已撤销", "撤销", "撤单", "withdrawn", "cancelled", "canceled"),
    },
    "satisfaction": {
        "satisfied": ("满意", "非常满意", "satisfied"),
        "basically_satisfied": ("基本满意", "比较满意"),
        "dissatisfied": ("不满意", "非常不满意", "dissatisfied"),
        "unrated": ("未评价", "unrated"),
    },
}
# Personal data: never echoed in the proposal's notes.
_PERSONAL_FIELDS = frozenset({"caller_phone", "caller_name", "title", "content"})


class OnboardError(ValueError):
    """The file cannot be proposed a configuration; the message says why and what to do."""


@dataclass(frozen=True)
class RejectGroup:
    """Rows of the sample one reason rejects, with a few examples (line, raw value)."""

    reason: str
    field: str
    rows: int
    examples: tuple[tuple[int, str | None], ...]


@dataclass
class Proposal:
    """What `propose` found and suggests; `yaml_text` is the proposed configuration."""

    path: Path
    rows_in_file: int
    rows_sampled: int
    headers: tuple[str, ...]
    matched: dict[str, str]
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    value_counts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    rejects: list[RejectGroup] = field(default_factory=list)
    rows_rejected: int | None = None
    invalid: str | None = None
    unplaced_labels: list[tuple[str, int]] = field(default_factory=list)

    @property
    def yaml_text(self) -> str:
        head = [f"# Proposed by `hotline onboard {self.path.name}` from {self.rows_sampled:,} "
                f"of {self.rows_in_file:,} rows: review before use (docs/onboarding.md)."]
        head += [f"# - {note}" for note in self.notes]
        body = yaml.safe_dump(self.config, allow_unicode=True, sort_keys=False, width=100)
        return "\n".join(head) + "\n" + body

    def render(self) -> str:
        """The proposal and the dry run's findings, for a terminal."""
        lines = [self.yaml_text.rstrip(), ""]
        lines.append(f"columns of {self.path.name}:")
        width = max((len(h) for h in self.headers), default=0)
        for header in self.headers:
            lines.append(f"  {header:<{width}}  -> {self.matched.get(header, '(not matched)')}")
        for header, counts in self.value_counts.items():
            shown = ", ".join(f"{value} ({count:,})" for value, count in counts[:_SHOWN_VALUES])
            more = f", … {len(counts) - _SHOWN_VALUES} more" if len(counts) > _SHOWN_VALUES else ""
            lines.append(f"values of {header}: {shown}{more}")
        if self.unplaced_labels:
            shown = ", ".join(f"{label} ({n:,})" for label, n in self.unplaced_labels)
            lines.append("top-level categories no mapping places (add rows to "
                         f"<data root>/reference/category_mappings.csv): {shown}")
        if self.invalid is not None:
            lines.append(f"not yet a valid configuration, so nothing was tried: {self.invalid}")
        elif not self.rows_rejected:
            lines.append(f"would be rejected: none of the {self.rows_sampled:,} rows sampled")
        else:
            lines.append(f"would be rejected: {self.rows_rejected:,} of the "
                         f"{self.rows_sampled:,} rows sampled")
            for group in self.rejects:
                examples = "; ".join(f"line {line}: {value!r}" for line, value in group.examples)
                lines.append(f"  {group.reason} ({group.field}): {group.rows:,} rows, e.g. "
                             f"{examples}")
        return "\n".join(lines)


def propose(
    path: Path,
    *,
    source_id: str | None = None,
    city_code: str | None = None,
    layout: str | None = None,
    file_format: str | None = None,
    encoding: str = "auto",
    skip_rows: int | None = None,
    source_timezone: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
) -> Proposal:
    """A configuration for the source that sends files like `path`, and what ingesting the
    file's sample with it would reject. Reads the file; writes nothing."""
    if not path.is_file():
        raise OnboardError(f"{path}: no such file")
    fmt = file_format or SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OnboardError(f"{path}: cannot tell the format from the suffix '{path.suffix}'; "
                           f"pass --format ({', '.join(sorted(set(SUFFIX_FORMATS.values())))})")
    sid = source_id or _source_id_from(path)
    with tempfile.TemporaryDirectory(prefix="hotline-onboard-") as scratch, \
            contextlib.closing(duckdb_connection(Path(scratch))) as con:
        reading = _reading_config(sid, fmt, encoding, skip_rows or 0)
        if skip_rows is None and fmt in ("csv", "xlsx"):
            reading, raw = _find_header_row(con, reading, path, Path(scratch))
        else:
            raw = read_raw(con, reading, path, Path(scratch))
        (rows_in_file,) = con.execute(f"SELECT count(*) FROM {RAW_TABLE}").fetchone() or (0,)
        con.execute(
            f"CREATE TEMP TABLE {_SAMPLE_TABLE} AS SELECT * FROM {RAW_TABLE} "
            + (f"USING SAMPLE reservoir({sample_rows:d} ROWS) REPEATABLE (12345) "
               if rows_in_file > sample_rows else "")
            + "ORDER BY source_sheet, source_row")
        drop_raw(con)
        proposal = _propose_from_sample(
            con, path, raw, reading, int(rows_in_file), city_code, layout, source_timezone)
    return proposal


def write_proposal(proposal: Proposal, target: Path) -> Path:
    """Write the proposed YAML to `target` (a file, or a folder for `<source_id>.yaml`);
    an existing file is never overwritten."""
    if proposal.invalid is not None:
        raise OnboardError(f"not written: the proposal is not a valid configuration yet "
                           f"({proposal.invalid}); fix it with the options or by hand")
    if proposal.config.get("city_code") == PLACEHOLDER_CITY_CODE:
        raise OnboardError("not written: pass --city-code with the hotline's GB/T 2260 code")
    source_id = proposal.config["source_id"]
    path = target / f"{source_id}.yaml" if target.is_dir() else target
    if path.stem != source_id:
        raise OnboardError(f"not written: {path} must be named {source_id}.yaml (the file name "
                           "is the source id); pass --source-id or another path")
    if path.exists():
        raise OnboardError(f"not written: {path} exists; remove it or write elsewhere")
    path.write_text(proposal.yaml_text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
def _source_id_from(path: Path) -> str:
    stem = re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_")
    stem = stem if re.match(r"^[a-z]", stem) else f"source_{stem}"
    return stem[:63] if len(stem) >= 2 else "new_source"


def _reading_config(source_id: str, fmt: str, encoding: str, skip_rows: int) -> SourceConfig:
    """A configuration only for the readers, which look at the file options alone: nothing
    is mapped yet, so it is built without validation."""
    return SourceConfig.model_construct(
        source_id=source_id, name=source_id, entity=Entity.TICKETS,
        city_code=PLACEHOLDER_CITY_CODE, format=fmt, layout="custom", encoding=encoding,
        skip_rows=skip_rows, sheets="first")


def _find_header_row(
    con: duckdb.DuckDBPyConnection, reading: SourceConfig, path: Path, scratch: Path
) -> tuple[SourceConfig, RawFile]:
    """The file read below its title rows: the first row, or the first of up to
    MAX_TITLE_ROWS rows further down, whose cells match more canonical fields than the rows
    above (a title row can also make the first reading fail)."""
    best: tuple[SourceConfig, int] | None = None
    error: IngestError | None = None
    for skip in range(MAX_TITLE_ROWS + 1):
        candidate = reading.model_copy(update={"skip_rows": skip})
        try:
            found = read_raw(con, candidate, path, scratch)
        except IngestError as exc:
            error = error or exc
            continue
        matched = len(_match_headers(found.headers)[0])
        if matched >= 2 or (best is not None and matched > best[1]):
            return candidate, found
        drop_raw(con)
        if best is None or matched > best[1]:
            best = (candidate, matched)
    if best is None:
        raise error or OnboardError(f"{path}: no header row found")
    return best[0], read_raw(con, best[0], path, scratch)


def _normalise(header: str) -> str:
    return re.sub(r"[\s_\-()（）:：]+", " ", header).strip().lower()


def _synonyms() -> dict[str, str]:
    """Normalised header -> canonical field: the known layouts' headers, then the synonyms."""
    table: dict[str, str] = {}
    for mapping in layouts.LAYOUT_COLUMNS.values():
        for header, name in mapping.items():
            table.setdefault(_normalise(header), name)
    for name, words in HEADER_SYNONYMS.items():
        for word in words:
            table.setdefault(_normalise(word), name)
    return table


def _match_headers(headers: tuple[str, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Header -> canonical field (each field from its first matching header), and the headers
    of a category sent in levels, if any."""
    by_name = {_normalise(h): h for h in headers}
    levels: tuple[str, ...] = ()
    for candidate in CATEGORY_LEVEL_HEADERS:
        present = [by_name[_normalise(c)] for c in candidate if _normalise(c) in by_name]
        if len(present) >= 2 and present[0] == by_name.get(_normalise(candidate[0])):
            levels = tuple(present)
            break
    synonyms = _synonyms()
    matched: dict[str, str] = {}
    for header in headers:
        name = synonyms.get(_normalise(header))
        if header in levels or name is None or name in matched.values():
            continue
        if name == "category" and levels:
            continue
        matched[header] = name
    return matched, levels


def _best_layout(headers: tuple[str, ...], fmt: str) -> str:
    """A known layout whose identifying and time headers are both in the file, else custom."""
    if fmt == "open311":
        return "open311"
    best, best_count = "custom", 1
    for name, mapping in layouts.LAYOUT_COLUMNS.items():
        if name in ("custom", "open311"):
            continue
        present = [h for h in mapping if h in headers]
        if {"ticket_id", "received_at"} <= {mapping[h] for h in present} and (
                len(present) > best_count):
            best, best_count = name, len(present)
    return best


def _propose_from_sample(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    raw: RawFile,
    reading: SourceConfig,
    rows_in_file: int,
    city_code: str | None,
    layout: str | None,
    source_timezone: str | None,
) -> Proposal:
    headers = raw.headers
    matched, levels = _match_headers(headers)
    chosen = layout or _best_layout(headers, reading.format)
    layout_columns = layouts.LAYOUT_COLUMNS.get(chosen, {})
    notes: list[str] = []
    if city_code is None:
        notes.append(f"city_code {PLACEHOLDER_CITY_CODE} is a placeholder: set the hotline's "
                     "GB/T 2260 code (--city-code)")
    (sampled,) = con.execute(f"SELECT count(*) FROM {_SAMPLE_TABLE}").fetchone() or (0,)
    config: dict[str, Any] = {
        "source_id": reading.source_id,
        "name": reading.source_id,
        "entity": "tickets",
        "city_code": city_code or PLACEHOLDER_CITY_CODE,
        "file_pattern": f"*{path.suffix.lower()}" if path.suffix else "*",
        "format": reading.format,
    }
    if chosen != "custom":
        config["layout"] = chosen
    if reading.encoding != "auto":
        config["encoding"] = reading.encoding
    if reading.skip_rows:
        config["skip_rows"] = reading.skip_rows
    own = {h: f for h, f in matched.items() if layout_columns.get(h) != f}
    if own:
        config["columns"] = own
    if levels:
        config["category_columns"] = list(levels)
    fields = {**{h: f for h, f in layout_columns.items() if h in headers}, **own}
    formats = _guess_timestamp_formats(
        con, [h for h, f in fields.items() if TICKET_FIELDS.get(f) == "TIMESTAMP"], notes)
    if formats:
        config["timestamp_formats"] = formats
    if source_timezone:
        config["source_timezone"] = source_timezone
    absent = sorted({f for h, f in layout_columns.items() if h not in headers}
                    - {"ticket_id", "received_at"})
    if absent:
        config["not_exported"] = absent
        notes.append(f"the {chosen} layout's columns for {', '.join(absent)} are not in the "
                     "file: listed in not_exported (NULL, shown as unknown); remove any the "
                     "sender can add")
    value_counts, value_map = _enumerations(con, fields, chosen, notes)
    if value_map:
        config["values"] = value_map
    unmatched = [h for h in headers if h not in fields and h not in levels
                 and h not in layouts.LAYOUT_IGNORED.get(chosen, ())]
    if unmatched:
        config["ignore_columns"] = unmatched
        notes.append(f"no canonical field matched {', '.join(unmatched)}: listed in "
                     "ignore_columns; map any that holds a field in 'columns'")
    if not source_timezone:
        notes.append("times without an offset are taken as Beijing time: set source_timezone "
                     "(--source-timezone) if the sender writes another zone's")
    proposal = Proposal(path=path, rows_in_file=rows_in_file, rows_sampled=int(sampled),
                        headers=headers, matched={**fields, **dict.fromkeys(levels, "category")},
                        config=config, notes=notes, value_counts=value_counts)
    try:
        source = SourceConfig.model_validate(config)
    except ValidationError as exc:
        proposal.invalid = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'configuration'}: {err['msg']}"
            for err in exc.errors())
        return proposal
    _dry_run(con, source, headers, proposal)
    return proposal


def _distinct(con: duckdb.DuckDBPyConnection, header: str) -> list[tuple[str, int]]:
    column = quote_identifier(header)
    rows = con.execute(
        f"SELECT trim({column}) AS v, count(*) AS n FROM {_SAMPLE_TABLE} "
        f"WHERE nullif(trim({column}), '') IS NOT NULL GROUP BY v ORDER BY n DESC, v"
    ).fetchall()
    return [(str(v), int(n)) for v, n in rows]


def _guess_timestamp_formats(
    con: duckdb.DuckDBPyConnection, headers: list[str], notes: list[str]
) -> list[str]:
    """The formats that read the sample's times, most used first; none when the defaults
    read every one. Times with a UTC offset and Excel serial days are always understood."""
    if not headers:
        return []
    cells = " UNION ALL ".join(
        f"SELECT trim({quote_identifier(h)}) AS v FROM {_SAMPLE_TABLE}" for h in headers)
    con.execute(f"CREATE TEMP TABLE onboard_times AS SELECT DISTINCT v FROM ({cells}) "
                "WHERE nullif(v, '') IS NOT NULL "
                "AND NOT regexp_matches(v, '(Z|[+-]\\d\\d:?\\d\\d)$|^\\d{5}(\\.\\d+)?$')")
    candidates = [*DEFAULT_TIMESTAMP_FORMATS, *EXTRA_TIMESTAMP_FORMATS]
    counts = [
        (fmt, int((con.execute(
            f"SELECT count(*) FROM onboard_times WHERE try_strptime(v, {sql_literal(fmt)}) "
            "IS NOT NULL").fetchone() or (0,))[0]))
        for fmt in candidates
    ]
    (total,) = con.execute("SELECT count(*) FROM onboard_times").fetchone() or (0,)
    defaults = f"[{', '.join(sql_literal(f) for f in DEFAULT_TIMESTAMP_FORMATS)}]"
    (unread,) = con.execute(
        f"SELECT count(*) FROM onboard_times WHERE try_strptime(v, {defaults}) IS NULL"
    ).fetchone() or (0,)
    if not unread:
        return []
    used = sorted((c for c in counts if c[1]), key=lambda c: -c[1])
    chosen = [fmt for fmt, _ in used]
    listed = f"[{', '.join(sql_literal(f) for f in chosen)}]" if chosen else "['']"
    (still,) = con.execute(
        f"SELECT count(*) FROM onboard_times WHERE try_strptime(v, {listed}) IS NULL"
    ).fetchone() or (0,)
    if still:
        examples = [v for (v,) in con.execute(
            f"SELECT v FROM onboard_times WHERE try_strptime(v, {listed}) IS NULL "
            "ORDER BY v LIMIT 3").fetchall()]
        notes.append(f"{still:,} of {total:,} distinct times match no supported format, e.g. "
                     f"{', '.join(examples)}: add a strptime format to timestamp_formats")
    return chosen


def _enumerations(
    con: duckdb.DuckDBPyConnection, fields: dict[str, str], layout: str, notes: list[str]
) -> tuple[dict[str, list[tuple[str, int]]], dict[str, dict[str, str]]]:
    """Distinct values of the enumerated and yes/no columns, and a value map for the words the
    layout does not know; words no synonym places are listed in the notes."""
    known = layouts.LAYOUT_VALUES.get(layout, {})
    counts: dict[str, list[tuple[str, int]]] = {}
    value_map: dict[str, dict[str, str]] = {}
    for header, name in fields.items():
        if name not in ENUM_VALUES and TICKET_FIELDS.get(name) != "BOOLEAN":
            continue
        values = _distinct(con, header)
        counts[header] = values
        if name not in ENUM_VALUES:
            continue
        mapping: dict[str, str] = {}
        unplaced: list[str] = []
        for value, _ in values:
            if value in known.get(name, {}) or value in ENUM_VALUES[name]:
                continue
            code = next((code for code, words in VALUE_SYNONYMS[name].items()
                         if value.lower() in words), None)
            if code is None:
                unplaced.append(value)
            else:
                mapping[value] = code
        if mapping:
            value_map[name] = mapping
        if unplaced:
            fallback = ("become 'other'" if "other" in ENUM_VALUES[name]
                        else "would be rejected")
            notes.append(f"values of {header} ({name}) no word list places, which "
                         f"{fallback}: {', '.join(unplaced[:_SHOWN_VALUES])}; map them in "
                         f"values.{name} to one of {', '.join(ENUM_VALUES[name])}")
    return counts, value_map


def _dry_run(
    con: duckdb.DuckDBPyConnection, source: SourceConfig, headers: tuple[str, ...],
    proposal: Proposal,
) -> None:
    """The project's canonicalisation on the sample, with a throw-away key: the rows it would
    reject, by reason, and the top-level categories no mapping places."""
    statements = canonical_sql(source, headers, _SAMPLE_TABLE, os.urandom(32))
    for statement in statements.hash_tables:
        con.execute(statement)
    con.execute(statements.typed)
    groups = con.execute(
        "SELECT reject_reason, reject_field, count(*), "
        "list(struct_pack(line := source_row, value := reject_value) ORDER BY source_row)[1:3] "
        "FROM typed WHERE reject_reason IS NOT NULL GROUP BY ALL ORDER BY 3 DESC, 1, 2"
    ).fetchall()
    proposal.rejects = [
        RejectGroup(reason, name, int(rows),
                    tuple((int(e["line"]), e["value"]) for e in examples))
        for reason, name, rows, examples in groups
    ]
    proposal.rows_rejected = sum(g.rows for g in proposal.rejects)
    proposal.unplaced_labels = _unplaced_labels(con, source.city_code or "")


def _unplaced_labels(con: duckdb.DuckDBPyConnection, city_code: str) -> list[tuple[str, int]]:
    """Top-level labels of the sample that neither a national class name nor a mapping of the
    city (seed or data root) places: they would land in 未分类."""
    files = [SEEDS_DIR / "category_mappings.csv",
             data_paths().reference / "category_mappings.csv"]
    mapped = " UNION ALL ".join(
        f"SELECT trim(source_label) AS label FROM read_csv({sql_literal(str(f))}, "
        f"header = true, all_varchar = true) WHERE trim(city_code) = {sql_literal(city_code)}"
        for f in files if f.is_file()) or "SELECT NULL AS label"
    national = sql_literal(str(SEEDS_DIR / "national_categories.csv"))
    separator = sql_literal(CATEGORY_LEVEL_SEPARATOR)
    rows = con.execute(
        f"SELECT label, count(*) FROM (SELECT nullif(trim(split_part(category, "
        f"{separator}, 1)), '') AS label FROM typed WHERE reject_reason IS NULL) "
        f"WHERE label IS NOT NULL AND label NOT IN (SELECT label FROM ({mapped}) "
        f"WHERE label IS NOT NULL) AND label NOT IN (SELECT trim(category_name) FROM "
        f"read_csv({national}, header = true, all_varchar = true)) "
        "GROUP BY label ORDER BY 2 DESC, 1"
    ).fetchall()
    return [(str(label), int(n)) for label, n in rows]

