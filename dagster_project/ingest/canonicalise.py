"""Map a file's text cells onto the canonical fields, typed, in one statement of DuckDB SQL.

Each row either becomes canonical or is rejected with the first reason found: a reason code, the
canonical field, and the raw value. Nothing is dropped silently.

The statement stacks four projections (clean the text, parse the fields, find the first
reject reason, name it); each level computes its expressions once and the level above reads
them as columns, so nothing is evaluated twice and nothing in between is materialised. Almost
every cell is already clean: each gets one regular-expression scan that decides whether the
costly path (trim, full-width forms, control characters, masking) runs at all.
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
from dagster_project.ingest.pseudonymise import hmac_sha256_sql
from dagster_project.personal_data import SCREEN_PATTERN, masked_sql
from dagster_project.sources import (
    CATEGORY_LEVEL_SEPARATOR,
    WAREHOUSE_TIMEZONE,
    SourceConfig,
)
from dagster_project.sql import quote_identifier, sql_literal

# Full-width forms U+FF01..U+FF5E are ASCII shifted by 0xFEE0; U+3000 is the ideographic space.
_FULL_WIDTH_ASCII = "".join(chr(c + 0xFEE0) for c in range(0x21, 0x7F)) + "\u3000"
_ASCII = "".join(chr(c) for c in range(0x21, 0x7F)) + " "
_FULL_WIDTH_DIGITS = "０１２３４５６７８９"
# Identifiers: a control character (a NUL, say) in one means a corrupt cell, so the row is
# rejected rather than the id silently changed.
_ID_FIELDS = frozenset({"ticket_id", "call_id", "city_code"})
# Control characters other than tab and line breaks are removed from prose fields.
_PROSE_CONTROL = "[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F]"
# Padding trimmed from both ends of every cell: ASCII whitespace and the Unicode spaces that
# exports copied from web pages and word processors carry (no-break, ideographic, typographic,
# line and paragraph separators), zero-width spaces and joiners and the byte-order mark.
_PADDING = (" \t\n\v\f\r\x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200E))
            + "\u2028\u2029\u202f\u205f\u3000\ufeff")
# The same characters as one RE2 class, written as escapes so the SQL text stays readable.
_PADDING_CLASS = "[" + "".join(f"\\x{{{ord(c):X}}}" for c in _PADDING) + "]"
_PADDED = f"^{_PADDING_CLASS}|{_PADDING_CLASS}$"

# Text fields that are codes rather than prose: compared and joined on, so made plain ASCII.
_ASCII_TEXT_FIELDS = frozenset(
    {"ticket_id", "call_id", "city_code", "evaluator_id", *ENUM_VALUES,
     *PSEUDONYMISED_FIELDS.values()}
)

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
    # Further cleaned source texts the value is built from (the lower levels of a category
    # sent in several columns).
    more_text_columns: tuple[str, ...] = ()

    @property
    def text_columns(self) -> tuple[str, ...]:
        return (self.text_column, *self.more_text_columns) if self.text_column else ()


@dataclass(frozen=True)
class CanonicalSQL:
    """`hash_tables` run first; `typed` holds every canonical field plus `reject_reason`,
    `reject_field` and `reject_value` (NULL for rows that are fine), one row per raw row."""

    hash_tables: list[str]
    typed: str
    plans: list[FieldPlan]


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(sql_literal(v) for v in values) + "]"


def _clean_kind(field: str, sql_type: str) -> str:
    if field == "caller_key":
        return "phone"
    if sql_type != "VARCHAR" or field in _ASCII_TEXT_FIELDS:
        return "code"
    return "prose" if field in MASKED_TEXT_FIELDS else "text"


# Besides padding (`_PADDED`, any kind), what sends a cell of each kind to the costly path
# of `cleaned_text_sql`.
_NEEDS_WORK = {
    "code": ("[\uFF01-\uFF5E\u3000]",),
    "phone": ("[\uFF01-\uFF5E\u3000]",),
    # Anything that may be personal data (a run of digits with separators, an @, the words
    # around a name) sends a cell to masking.
    "prose": (_PROSE_CONTROL, "[０-９]", SCREEN_PATTERN),
    "text": (_PROSE_CONTROL,),
}
# Cells joined by a character that no pattern above matches within a value (the name forms of
# personal_data take it, as they take ^, for the start of a cell): a gate over the joined row
# matches wherever one of its cells would, so a row it passes needs no per-cell scan.
_GATE_SEPARATOR = "|"
_GATE_OF_KIND = {"code": "__gate_codes", "phone": "__gate_codes", "prose": "__gate_texts",
                 "text": "__gate_texts"}
_GATE_PADDED = f"(^|\\|){_PADDING_CLASS}|{_PADDING_CLASS}(\\||$)"


def cleaned_text_sql(column: str, kind: str, gate: str | None = None) -> str:
    """The cell of `column` cleaned for a field of `kind`; empty becomes NULL.

    code:  padding trimmed, full-width letters, digits and signs made ASCII (ids, times,
           numbers, enumerations);
    prose: padding trimmed, control characters removed, full-width digits made ASCII, and
           personal data masked (`personal_data.masked_sql`);
    text:  padding trimmed, control characters removed;
    phone: as code, then only the digits kept (+86 139-1234-5678 and 86 13912345678 are one
           caller).
    One scan looks for anything to do; the rest runs only on the few cells that need it.
    `gate`, a boolean column from `row_gates_sql`: false for a row none of whose cells of the
    gate's kinds needs work, so the scan of this cell is skipped.
    """
    cell = quote_identifier(column)
    trimmed = f"trim({cell}, {sql_literal(_PADDING)})"
    if kind in ("code", "phone"):
        fixed = (f"trim(translate({cell}, {sql_literal(_FULL_WIDTH_ASCII)}, "
                 f"{sql_literal(_ASCII)}), {sql_literal(_PADDING)})")
    elif kind == "prose":
        digits = f"translate({_without_controls(trimmed)}, '{_FULL_WIDTH_DIGITS}', '0123456789')"
        fixed = masked_sql(digits)
    else:
        fixed = _without_controls(trimmed)
    skip = f"WHEN NOT {gate} THEN {cell} " if gate else ""
    needs_work = "|".join((_PADDED, *_NEEDS_WORK[kind]))
    cleaned = (f"CASE {skip}WHEN regexp_matches({cell}, '{needs_work}') THEN {fixed} "
               f"ELSE {cell} END")
    if kind == "phone":
        cleaned = f"regexp_replace({cleaned}, '\\D', '', 'g')"
    return f"nullif({cleaned}, '')"


def row_gates_sql(columns_by_gate: dict[str, list[tuple[str, str]]]) -> str:
    """`, <pattern matched over the row's cells> AS <gate>` for each gate: one scan of the
    joined cells of a row instead of one per cell. A gate covers (column, kind) pairs; its
    pattern is the union of their kinds' patterns, with padding anchored at the separators."""
    gates = []
    for gate, columns in columns_by_gate.items():
        unanchored = {part for _, kind in columns for part in _NEEDS_WORK[kind]}
        parts = [_GATE_PADDED, *sorted(unanchored)]
        cells = ", ".join(quote_identifier(column) for column, _ in columns)
        gates.append(f", regexp_matches(concat_ws('{_GATE_SEPARATOR}', {cells}), "
                     f"'{'|'.join(parts)}') AS {gate}")
    return "".join(gates)


# Times with a UTC offset (ISO 8601, Open311) are converted to the source's local zone.
_OFFSET_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z")


def timestamp_sql(
    text: str,
    formats: tuple[str, ...],
    timezone: str = WAREHOUSE_TIMEZONE,
    source_timezone: str | None = None,
) -> str:
    """A local time of `timezone` from the text, by the source's formats; text ending in a UTC
    offset by the offset formats, converted to `timezone`; otherwise a plausible Excel serial
    day. Times without an offset are read in `source_timezone` and converted to `timezone`
    when the two differ (ICU, built into DuckDB, knows the daylight-saving rules); otherwise
    they are taken as they are, at no cost.

    A failed `try_strptime` costs far more than a successful one, so text ending in an offset
    tries the offset formats first: the source's would fail on nearly all of it
    (BENCHMARKS.md, "What limits each stage")."""
    low, high = _EXCEL_SERIAL_RANGE
    serial = (
        f"CASE WHEN regexp_full_match({text}, '\\d{{5}}(\\.\\d+)?') "
        f"AND CAST({text} AS DOUBLE) BETWEEN {low} AND {high} "
        f"THEN TIMESTAMP '1899-12-30' + to_microseconds("
        f"CAST(round(CAST({text} AS DOUBLE) * 86400) AS BIGINT) * 1000000) END"
    )
    with_offset = (
        f"timezone({sql_literal(timezone)}, try_strptime(regexp_replace({text}, 'Z$', '+00:00'), "
        f"{_sql_list(_OFFSET_FORMATS)}))"
    )
    in_formats = f"try_strptime({text}, {_sql_list(formats)})"

    def naive(local: str) -> str:
        if source_timezone is None or source_timezone == timezone:
            return local
        return (f"timezone({sql_literal(timezone)}, "
                f"timezone({sql_literal(source_timezone)}, {local}))")

    return (
        f"CASE WHEN regexp_matches({text}, '(Z|[+-]\\d\\d:?\\d\\d)$') "
        f"THEN coalesce({with_offset}, {naive(in_formats)}) "
        f"ELSE {naive(f'coalesce({in_formats}, {serial})')} END"
    )


def _boolean_sql(text: str, config: SourceConfig) -> str:
    return (
        f"CASE WHEN {text} IN ({', '.join(map(sql_literal, config.true_values))}) THEN true "
        f"WHEN {text} IN ({', '.join(map(sql_literal, config.false_values))}) THEN false END"
    )


def _enum_sql(field: str, text: str, config: SourceConfig) -> tuple[str, str]:
    """The code for a source value, and the fallback for values the mapping does not know."""
    codes = ENUM_VALUES[field]
    mapping = config.value_map.get(field, {})
    whens = " ".join(
        f"WHEN {text} = {sql_literal(k)} THEN {sql_literal(v)}" for k, v in mapping.items()
    )
    # Unknown values become 'other' where the field has it, unless the source is strict.
    fallback = "'other'" if "other" in codes and not config.strict_values else "NULL"
    known = f"WHEN {text} IN ({', '.join(map(sql_literal, codes))}) THEN {text}"
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
            plans.append(FieldPlan(field, sql_literal(config.city_code)))
            continue
        if field in config.constant_values:
            constant = f"CAST({sql_literal(config.constant_values[field])} AS {sql_type})"
            plans.append(FieldPlan(field, constant))
            continue
        if field == "category" and config.category_columns:
            plans.append(_category_levels_plan(config, headers))
            continue
        hashed_from = next((s for s, t in PSEUDONYMISED_FIELDS.items() if t == field), None)
        column = source_of.get(hashed_from or field)
        if column is None:
            plans.append(FieldPlan(field, f"CAST(NULL AS {sql_type})"))
            continue
        text = f"t_{headers.index(column)}"
        value, reason = _value_sql(field, sql_type, text, hashed_from, config, key)
        plans.append(FieldPlan(field, value, reason, column, text))
    return plans


def _category_levels_plan(config: SourceConfig, headers: tuple[str, ...]) -> FieldPlan:
    """The category from several columns, top level first, joined by the level separator;
    blank cells are skipped (concat_ws passes over NULLs) and a separator inside a cell becomes
    its full-width form, so that each column stays one level."""
    columns = [h for h in config.category_columns if h in headers]
    if not columns:
        return FieldPlan("category", "CAST(NULL AS VARCHAR)")
    texts = [f"t_{headers.index(c)}" for c in columns]
    separator = sql_literal(CATEGORY_LEVEL_SEPARATOR)
    full_width = sql_literal(chr(ord(CATEGORY_LEVEL_SEPARATOR) + 0xFEE0))
    levels = ", ".join(f"replace({t}, {separator}, {full_width})" for t in texts)
    value = f"nullif(concat_ws({separator}, {levels}), '')"
    return FieldPlan("category", value, None, columns[0], texts[0], tuple(texts[1:]))


def _value_sql(
    field: str,
    sql_type: str,
    text: str,
    hashed_from: str | None,
    config: SourceConfig,
    key: bytes,
) -> tuple[str, str | None]:
    """The SQL computing a field from its cleaned text, and the reject reason if it can fail."""
    if hashed_from == "caller_phone":
        national = f"CASE WHEN length({text}) = 13 AND {text} LIKE '861%' THEN {text}[3:] " \
                   f"ELSE {text} END"
        return hmac_sha256_sql(national, key), None
    if hashed_from is not None:
        return hmac_sha256_sql(text, key), None
    if field in ENUM_VALUES:
        value, fallback = _enum_sql(field, text, config)
        return value, "unknown_value" if fallback == "NULL" else None
    if field == "city_code":
        return f"CASE WHEN regexp_full_match({text}, '\\d{{6}}') THEN {text} END", (
            "invalid_city_code")
    parsers = {
        "TIMESTAMP": (
            timestamp_sql(text, config.timestamp_formats, config.timezone,
                          config.source_timezone),
            "unparseable_timestamp",
        ),
        "BOOLEAN": (_boolean_sql(text, config), "unparseable_boolean"),
        "DOUBLE": (f"try_cast({text} AS DOUBLE)", "unparseable_number"),
        "INTEGER": (f"try_cast({text} AS INTEGER)", "unparseable_number"),
    }
    if sql_type in parsers:
        return parsers[sql_type]
    return text, None


def _without_controls(text: str) -> str:
    return f"regexp_replace({text}, '{_PROSE_CONTROL}', '', 'g')"


def _derived_status_sql(plans: list[FieldPlan]) -> str | None:
    """A ticket status the source does not send (no column, or a blank cell) follows from its
    close time (a message board's reply time); without a close time either it is `unknown`,
    never NULL, so that no ticket counts as open without anything saying so."""
    status = next((p for p in plans if p.field == "status"), None)
    closed = next((p for p in plans if p.field == "closed_at"), None)
    if status is None:
        return None
    if status.source_column is None and not status.value_sql.startswith("CAST(NULL"):
        return None  # a constant of the source
    derived = ("CASE WHEN closed_at IS NULL THEN 'open' ELSE 'closed' END"
               if closed is not None and closed.source_column is not None else "'unknown'")
    return derived if status.source_column is None else f"coalesce(status, {derived})"


def canonical_sql(
    config: SourceConfig, headers: tuple[str, ...], raw_table: str, key: bytes
) -> CanonicalSQL:
    """The statement building `typed` from the raw table: every canonical field plus
    `reject_reason`, `reject_field` and `reject_value` (NULL for rows that are fine)."""
    plans = plan_fields(config, headers, key)
    types = fields_of(config.entity)
    # Callers repeat (names far more than numbers): each distinct cell is cleaned and hashed
    # once, in a small table joined back, instead of two SHA-256 per row.
    hashed = [p for p in plans if p.field in PSEUDONYMISED_FIELDS.values() and p.text_column]
    hash_tables = [_hash_table_sql(p, headers, raw_table) for p in hashed]
    kinds = {t: _clean_kind(p.field, types[p.field]) for p in plans if p not in hashed
             for t in p.text_columns}
    lineage = "source_sheet, source_row"
    # Codes and prose are gated apart: ids full of digits would open the prose gate (runs of
    # 11 digits) on every row.
    cells = [(t, headers[int(t[2:])], kind) for t, kind in sorted(kinds.items())]
    gated: dict[str, list[tuple[str, str]]] = {}
    for _, column, kind in cells:
        gated.setdefault(_GATE_OF_KIND[kind], []).append((column, kind))
    cleaned = "".join(
        f", {cleaned_text_sql(column, kind, _GATE_OF_KIND[kind])} AS {t}"
        for t, column, kind in cells
    ) + "".join(f", hk_{p.field}.key AS {p.field}" for p in hashed)
    gated_raw = f"(SELECT *{row_gates_sql(gated)} FROM {raw_table}) AS {raw_table}"
    joins = "".join(
        f" LEFT JOIN hk_{p.field} ON hk_{p.field}.cell = {raw_table}."
        f"{quote_identifier(p.source_column or '')}" for p in hashed)
    parsed = "".join(f", {t}" for t in sorted(kinds)) + "".join(
        f", {p.field}" if p in hashed else f", {p.value_sql} AS {p.field}" for p in plans)
    checks = _reject_checks(config, plans)
    fields = ", ".join(p.field for p in plans)
    # The first failing check numbers the reject; its reason, field and raw value follow.
    first_failing = "CASE " + " ".join(
        f"WHEN {condition} THEN {n}" for n, (condition, _, _, _) in enumerate(checks, 1)
    ) + " END" if checks else "CAST(NULL AS INTEGER)"
    reasons = _sql_list([reason for _, reason, _, _ in checks]) if checks else "[]::VARCHAR[]"
    names = _sql_list([field for _, _, field, _ in checks]) if checks else "[]::VARCHAR[]"
    values = "CASE reject_code " + " ".join(
        f"WHEN {n} THEN {value}" for n, (_, _, _, value) in enumerate(checks, 1)
    ) + " END" if checks else "CAST(NULL AS VARCHAR)"
    status = _derived_status_sql(plans)
    named = ", ".join(
        f"{status} AS status" if p.field == "status" and status else p.field for p in plans
    )
    typed = (
        f"CREATE TEMP TABLE typed AS SELECT {lineage}, {named}, "
        f"{reasons}[reject_code] AS reject_reason, {names}[reject_code] AS reject_field, "
        f"CAST({values} AS VARCHAR) AS reject_value FROM ("
        f"SELECT {lineage}, {fields}{''.join(f', {t}' for t in sorted(kinds))}, "
        f"{first_failing} AS reject_code FROM ("
        f"SELECT {lineage}{parsed} FROM ("
        f"SELECT {lineage}{cleaned} FROM {gated_raw}{joins})))"
    )
    return CanonicalSQL(hash_tables, typed, plans)


def _hash_table_sql(plan: FieldPlan, headers: tuple[str, ...], raw_table: str) -> str:
    """`hk_<field>`: each distinct source cell of a pseudonymised field and its key."""
    column = quote_identifier(plan.source_column or "")
    text = plan.text_column or ""
    return (
        f"CREATE TEMP TABLE hk_{plan.field} AS SELECT cell, {plan.value_sql} AS key FROM ("
        f"SELECT cell, {cleaned_text_sql('cell', _clean_kind(plan.field, 'VARCHAR'))} "
        f"AS {text} FROM (SELECT DISTINCT {column} AS cell FROM {raw_table} "
        f"WHERE {column} IS NOT NULL))"
    )


def _reject_checks(
    config: SourceConfig, plans: list[FieldPlan]
) -> list[tuple[str, str, str, str]]:
    """(condition, reason, field, raw value) in the order they are tried."""
    checks: list[tuple[str, str, str, str]] = []
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
    return checks
