"""Map a file's text cells onto the canonical fields, typed, in one pass of DuckDB SQL.

Each row either becomes canonical or is rejected with the first reason found: a reason code, the
canonical field, and the raw value. Nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster_project.canonical import (
    ENUM_VALUES,
    MASKED_TEXT_FIELDS,
    PSEUDONYMISED_FIELDS,
    REQUIRED_FIELDS,
    TIMESTAMP_RANGE,
    VALUE_RANGES,
    fields_of,
)
from dagster_project.ingest.pseudonymise import hmac_sha256_sql, mask_numbers_sql
from dagster_project.ingest.readers import quote_identifier
from dagster_project.sources import SourceConfig

# Full-width forms U+FF01..U+FF5E are ASCII shifted by 0xFEE0; U+3000 is the ideographic space.
_FULL_WIDTH_ASCII = "".join(chr(c + 0xFEE0) for c in range(0x21, 0x7F)) + "\u3000"
_ASCII = "".join(chr(c) for c in range(0x21, 0x7F)) + " "
_FULL_WIDTH_DIGITS = "０１２３４５６７８９"
# Identifiers: a control character (a NUL, say) in one means a corrupt cell, so the row is
# rejected rather than the id silently changed.
_ID_FIELDS = frozenset({"ticket_id", "call_id", "city_code"})
# Control characters other than tab and line breaks are removed from prose fields.
_PROSE_CONTROL = "[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F]"

_PROSE_WORK = _PROSE_CONTROL + "|[０-９]|[0-9]{11}"

# Text fields that are codes rather than prose: compared and joined on, so made plain ASCII.
_ASCII_TEXT_FIELDS = frozenset(
    {"ticket_id", "call_id", "city_code", "evaluator_id", *ENUM_VALUES,
     *PSEUDONYMISED_FIELDS.values()}
)
_PADDING = " \\t\\r\\n　"  # spaces, tabs, newlines and the ideographic space

# Excel serial day numbers between 1954 and 2119: anything else is not a plausible export date.
_EXCEL_SERIAL_RANGE = (20000, 80000)


@dataclass(frozen=True)
class FieldPlan:
    """How one canonical field is computed from the cleaned source text `text_column`."""

    field: str
    value_sql: str
    # Reject reason when the source has text but no canonical value came of it.
    invalid_reason: str | None = None
    source_column: str | None = None
    text_column: str | None = None


@dataclass(frozen=True)
class CanonicalSQL:
    """Three statements, each materialised once so that no expression is computed twice:
    clean the text, parse every field, then decide each row's fate."""

    clean: str
    hash_tables: list[str]
    parse: str
    decide: str
    plans: list[FieldPlan]


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(_sql_string(v) for v in values) + "]"


def cleaned_text_sql(column: str) -> str:
    """Trim padding (spaces, tabs, newlines, ideographic spaces); empty -> NULL. Trimming with a
    character list is slow, so it runs only on values that start or end with padding."""
    name = quote_identifier(column)
    return (
        f"nullif(CASE WHEN regexp_matches({name}, '^[\\s\u3000]|[\\s\u3000]$') "
        f"THEN trim({name}, e'{_PADDING}') ELSE {name} END, '')"
    )


def _ascii_sql(text: str) -> str:
    """Codes, ids, times and numbers: full-width letters, digits and signs become ASCII.
    translate() is costly with a long map, so it runs only where a full-width form occurs."""
    return (
        f"CASE WHEN regexp_matches({text}, '[\uFF01-\uFF5E\u3000]') THEN "
        f"translate({text}, {_sql_string(_FULL_WIDTH_ASCII)}, {_sql_string(_ASCII)}) "
        f"ELSE {text} END"
    )


def _digits_sql(text: str) -> str:
    """Free text keeps its Chinese punctuation; only digits become ASCII, so masks see them."""
    return (
        f"CASE WHEN regexp_matches({text}, '[\uFF10-\uFF19]') THEN "
        f"translate({text}, '{_FULL_WIDTH_DIGITS}', '0123456789') ELSE {text} END"
    )


# Times with a UTC offset (ISO 8601, Open311) are converted to the source's local zone.
_OFFSET_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z")


def timestamp_sql(text: str, formats: tuple[str, ...], timezone: str = "Asia/Shanghai") -> str:
    low, high = _EXCEL_SERIAL_RANGE
    serial = (
        f"CASE WHEN regexp_full_match({text}, '\\d{{5}}(\\.\\d+)?') "
        f"AND CAST({text} AS DOUBLE) BETWEEN {low} AND {high} "
        f"THEN TIMESTAMP '1899-12-30' + to_microseconds("
        f"CAST(round(CAST({text} AS DOUBLE) * 86400) AS BIGINT) * 1000000) END"
    )
    with_offset = (
        f"CASE WHEN regexp_matches({text}, '(Z|[+-]\d\d:?\d\d)$') THEN timezone("
        f"{_sql_string(timezone)}, try_strptime(regexp_replace({text}, 'Z$', '+00:00'), "
        f"{_sql_list(_OFFSET_FORMATS)})) END"
    )
    return f"coalesce(try_strptime({text}, {_sql_list(formats)}), {with_offset}, {serial})"


def _boolean_sql(text: str, config: SourceConfig) -> str:
    return (
        f"CASE WHEN {text} IN ({', '.join(map(_sql_string, config.true_values))}) THEN true "
        f"WHEN {text} IN ({', '.join(map(_sql_string, config.false_values))}) THEN false END"
    )


def _enum_sql(field: str, text: str, config: SourceConfig) -> tuple[str, str]:
    """The code for a source value, and the fallback for values the mapping does not know."""
    codes = ENUM_VALUES[field]
    mapping = config.value_map.get(field, {})
    whens = " ".join(
        f"WHEN {text} = {_sql_string(k)} THEN {_sql_string(v)}" for k, v in mapping.items()
    )
    # Unknown values become 'other' where the field has it, unless the source is strict.
    fallback = "'other'" if "other" in codes and not config.strict_values else "NULL"
    known = f"WHEN {text} IN ({', '.join(map(_sql_string, codes))}) THEN {text}"
    return f"CASE {whens} {known} ELSE {fallback} END", fallback


def plan_fields(config: SourceConfig, headers: tuple[str, ...], key: bytes) -> list[FieldPlan]:
    """One plan per canonical field of the source's entity, in lake column order."""
    present = set(headers)
    source_of: dict[str, str] = {}
    for header, field in config.column_map.items():
        if header in present and field not in source_of:
            source_of[field] = header
    plans: list[FieldPlan] = []
    for field, sql_type in fields_of(config.entity).items():
        if field == "city_code" and config.city_code is not None:
            plans.append(FieldPlan(field, _sql_string(config.city_code)))
            continue
        if field in config.constant_values:
            constant = f"CAST({_sql_string(config.constant_values[field])} AS {sql_type})"
            plans.append(FieldPlan(field, constant))
            continue
        hashed_from = next((s for s, t in PSEUDONYMISED_FIELDS.items() if t == field), None)
        column = source_of.get(hashed_from or field)
        if column is None:
            plans.append(FieldPlan(field, f"CAST(NULL AS {sql_type})"))
            continue
        raw_text = f"t_{headers.index(column)}"
        text = raw_text
        if sql_type != "VARCHAR" or field in _ASCII_TEXT_FIELDS:
            text = _ascii_sql(text)
        value, reason = _value_sql(field, sql_type, text, hashed_from, config, key)
        plans.append(FieldPlan(field, value, reason, column, raw_text))
    return plans


def _value_sql(
    field: str,
    sql_type: str,
    text: str,
    hashed_from: str | None,
    config: SourceConfig,
    key: bytes,
) -> tuple[str, str | None]:
    """The SQL computing a field from its text, and the reject reason if it can fail."""
    if hashed_from == "caller_phone":
        digits = f"nullif(regexp_replace({text}, '\\D', '', 'g'), '')"
        national = (
            f"CASE WHEN length({digits}) = 13 AND {digits} LIKE '861%' "
            f"THEN {digits}[3:] ELSE {digits} END"
        )
        return hmac_sha256_sql(national, key), None
    if hashed_from is not None:
        return hmac_sha256_sql(text, key), None
    if field in ENUM_VALUES:
        value, fallback = _enum_sql(field, text, config)
        return value, "unknown_value" if fallback == "NULL" else None
    if field in MASKED_TEXT_FIELDS:
        # Most prose has no control character, no full-width digit and no run of 11 digits:
        # one regex scan lets it through untouched; the rest is cleaned and masked.
        full = mask_numbers_sql(_digits_sql(_without_controls(text)))
        return f"CASE WHEN regexp_matches({text}, '{_PROSE_WORK}') THEN {full} ELSE {text} END", (
            None)
    if field == "city_code":
        return f"CASE WHEN regexp_full_match({text}, '\\d{{6}}') THEN {text} END", (
            "invalid_city_code")
    parsers = {
        "TIMESTAMP": (
            timestamp_sql(text, config.timestamp_formats, config.timezone),
            "unparseable_timestamp",
        ),
        "BOOLEAN": (_boolean_sql(text, config), "unparseable_boolean"),
        "DOUBLE": (f"try_cast({text} AS DOUBLE)", "unparseable_number"),
        "INTEGER": (f"try_cast({text} AS INTEGER)", "unparseable_number"),
    }
    if sql_type in parsers:
        return parsers[sql_type]
    if field in _ASCII_TEXT_FIELDS:
        return text, None
    return _without_controls(text), None


def _without_controls(text: str) -> str:
    return f"regexp_replace({text}, '{_PROSE_CONTROL}', '', 'g')"


def _derived_status_sql(plans: list[FieldPlan]) -> str | None:
    """A ticket status the source does not send follows from whether it has a close time."""
    status = next((p for p in plans if p.field == "status"), None)
    closed = next((p for p in plans if p.field == "closed_at"), None)
    if status is None or closed is None or closed.source_column is None:
        return None
    if status.source_column is not None or not status.value_sql.startswith("CAST(NULL"):
        return None
    return "CASE WHEN closed_at IS NULL THEN 'open' ELSE 'closed' END"


def canonical_sql(
    config: SourceConfig, headers: tuple[str, ...], raw_table: str, key: bytes
) -> CanonicalSQL:
    """Statements building `cleaned`, `parsed` and `typed` from the raw table; `typed` holds
    every canonical field plus `reject_reason`, `reject_field` and `reject_value` (NULL for
    rows that are fine)."""
    plans = plan_fields(config, headers, key)
    used = sorted({p.text_column for p in plans if p.text_column})
    cleaned = ", ".join(
        f"{cleaned_text_sql(headers[int(t[2:])])} AS {t}" for t in used
    )
    clean = (
        f"CREATE TEMP TABLE cleaned AS SELECT record_index, source_sheet, source_row"
        f"{', ' if cleaned else ''}{cleaned} FROM {raw_table}"
    )
    # Callers repeat (and names far more than numbers): hash each distinct value once, then
    # join, instead of computing two SHA-256 per row.
    hashed = [p for p in plans if p.field in PSEUDONYMISED_FIELDS.values() and p.text_column]
    hash_tables = [
        f"CREATE TEMP TABLE hk_{p.field} AS SELECT {p.text_column} AS v_{p.field}, "
        f"{p.value_sql} AS k_{p.field} FROM (SELECT DISTINCT {p.text_column} FROM cleaned "
        f"WHERE {p.text_column} IS NOT NULL)"
        for p in hashed
    ]
    joins = "".join(
        f" LEFT JOIN hk_{p.field} ON v_{p.field} = {p.text_column}" for p in hashed)
    values = [f"k_{p.field}" if p in hashed else p.value_sql for p in plans]
    parse = (
        "CREATE TEMP TABLE parsed AS SELECT record_index, source_sheet, source_row"
        + "".join(f", {t}" for t in used)
        + "".join(f", {v} AS {p.field}" for v, p in zip(values, plans, strict=True))
        + f" FROM cleaned{joins}"
    )
    checks: list[tuple[str, str, str, str]] = []  # condition, reason, field, raw value
    for field in REQUIRED_FIELDS[config.entity]:
        plan = next(p for p in plans if p.field == field)
        if plan.text_column is not None:
            checks.append((f"{plan.text_column} IS NULL", "missing_required", field, "NULL"))
    for plan in plans:
        if plan.invalid_reason and plan.text_column:
            checks.append((f"{plan.text_column} IS NOT NULL AND {plan.field} IS NULL",
                           plan.invalid_reason, plan.field, plan.text_column))
        if plan.text_column and plan.field in _ID_FIELDS:
            checks.append((f"regexp_matches({plan.text_column}, '[\\x00-\\x1F\\x7F]')",
                           "control_characters", plan.field, plan.text_column))
    types = fields_of(config.entity)
    for plan in plans:
        bounds = TIMESTAMP_RANGE if types[plan.field] == "TIMESTAMP" else VALUE_RANGES.get(
            plan.field)
        if bounds and plan.text_column:
            low, high = bounds
            checks.append((f"NOT ({plan.field} BETWEEN {low} AND {high})", "out_of_range",
                           plan.field, plan.text_column))
    if checks:
        reason = "CASE " + " ".join(f"WHEN {c} THEN {_sql_string(r)}" for c, r, _, _ in checks)
        field = "CASE " + " ".join(f"WHEN {c} THEN {_sql_string(f)}" for c, _, f, _ in checks)
        value = "CASE " + " ".join(f"WHEN {c} THEN {v}" for c, _, _, v in checks)
        reject = (f"{reason} END AS reject_reason, {field} END AS reject_field, "
                  f"{value} END AS reject_value")
    else:
        reject = ("NULL::VARCHAR AS reject_reason, NULL::VARCHAR AS reject_field, "
                  "NULL::VARCHAR AS reject_value")
    status = _derived_status_sql(plans)
    fields = ", ".join(
        f"{status} AS status" if p.field == "status" and status else p.field for p in plans
    )
    decide = (
        f"CREATE TEMP TABLE typed AS SELECT record_index, source_sheet, source_row, {fields}, "
        f"{reject} FROM parsed"
    )
    return CanonicalSQL(clean, hash_tables, parse, decide, plans)
