"""DuckDB narrows, Great Expectations judges: a suite over a large table or many lake files.

Each expectation a suite uses is translated into a SQL condition that holds for every row GE
could find unexpected (a superset: GE's own verdict on the selected rows is what counts). One
aggregate scan counts those rows per partition; only partitions with candidates are read again,
and then only their candidate rows (at most `MAX_CANDIDATES` per expectation and partition),
which GE validates with the unchanged suite. Rows no condition selects cannot fail, so a clean
partition takes GE's outcome on an empty frame. Counts are GE's unless the candidates were cut
at `MAX_CANDIDATES`; then the unexpected count is DuckDB's.

An expectation without a translation (or with `mostly`, or a row condition beyond `a == 1 and
b == False`) makes `plan` return None, and the runner hands GE the whole frames as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import pandas as pd

from dagster_project.quality.validate import ExpectationOutcome
from dagster_project.sql import quote_identifier, sql_literal

MAX_CANDIDATES = 1000


@dataclass(frozen=True)
class RowRule:
    """Rows where `condition` holds may fail."""

    condition: str


@dataclass(frozen=True)
class GroupRule:
    """Rows whose `keys` repeat within a partition (among rows where `where` holds) fail."""

    keys: list[str]
    where: str


Rule = RowRule | GroupRule


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return sql_literal(value)
    raise ValueError(f"no SQL literal for {value!r}")


_CONDITION = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<)\s*"
    r"(True|False|-?\d+(?:\.\d+)?|'[^']*'|\"[^\"]*\")\s*$")


def _row_condition(text: str) -> str | None:
    """A pandas row condition of the simple form `a == 1 and b == False` as SQL, else None."""
    parts = []
    for clause in re.split(r"\s+and\s+|\s*&\s*", text.strip()):
        match = _CONDITION.match(clause.strip().strip("()"))
        if not match:
            return None
        column, operator, raw = match.groups()
        if raw in ("True", "False"):
            value = literal(raw == "True")
        elif raw[0] in "'\"":
            value = literal(raw[1:-1])
        else:
            value = raw
        parts.append(f"{quote_identifier(column)} {'=' if operator == '==' else operator} "
                     f"{value}")
    return " AND ".join(parts)


def _family(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    if upper == "BOOLEAN":
        return "bool"
    if upper in ("VARCHAR", "TEXT", "STRING"):
        return "text"
    if upper.startswith(("TIMESTAMP", "DATE")):
        return "time"
    if upper.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                         "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE",
                         "DECIMAL")):
        return "number"
    return "other"


def _comparable(duckdb_type: str, values: list[Any], ordered: bool) -> bool:
    """Whether DuckDB compares the column with these values as pandas does: no implicit
    casts between numbers and strings (DuckDB casts '2019' to 2019, pandas does not). Time
    columns take ISO strings as bounds (pandas parses them too), not as set members."""
    family = _family(duckdb_type)
    accepted = {"bool": (bool,), "text": (str,), "number": (int, float),
                "time": (str,) if ordered else ()}.get(family, ())
    return all(v is None or (isinstance(v, accepted) and
                             (family == "bool" or not isinstance(v, bool)))
               for v in values)


def _pair_missing(a: str, b: str, ignore: str, fails: str) -> str:
    if ignore == "either_value_is_missing":
        return f"{a} IS NOT NULL AND {b} IS NOT NULL AND ({fails})"
    if ignore == "both_values_are_missing":
        return f"NOT ({a} IS NULL AND {b} IS NULL) AND ({a} IS NULL OR {b} IS NULL OR ({fails}))"
    return f"{a} IS NULL OR {b} IS NULL OR ({fails})"


def translate(expectation: dict[str, Any], types: dict[str, str]) -> Rule | None:
    """The rows that may fail one expectation, as SQL; None when there is no translation."""
    kind, kwargs = expectation["type"], expectation.get("kwargs", {})
    if kwargs.get("mostly", 1) != 1:
        return None
    condition = None
    if kwargs.get("row_condition"):
        condition = _row_condition(kwargs["row_condition"])
        if condition is None:
            return None
    rule = _translate(kind, kwargs, types)
    if condition is None or rule is None:
        return rule
    if isinstance(rule, RowRule):
        return RowRule(f"({condition}) AND ({rule.condition})")
    return GroupRule(rule.keys, f"({condition}) AND ({rule.where})")


def _translate(kind: str, kwargs: dict[str, Any], types: dict[str, str]) -> Rule | None:
    if "column" in kwargs:
        if kwargs["column"] not in types:
            return None
        name = kwargs["column"]
        col = quote_identifier(name)
        text = types[name] == "VARCHAR"
        if kind == "expect_column_values_to_not_be_null":
            nan = f" OR isnan({col})" if types[name] in ("FLOAT", "DOUBLE") else ""
            return RowRule(f"{col} IS NULL{nan}")
        if kind == "expect_column_values_to_be_unique":
            return GroupRule([name], f"{col} IS NOT NULL")
        if kind == "expect_column_values_to_be_between":
            if not _comparable(types[name], [kwargs.get("min_value"),
                                             kwargs.get("max_value")], ordered=True):
                return None
            bounds = []
            if kwargs.get("min_value") is not None:
                op = "<=" if kwargs.get("strict_min") else "<"
                bounds.append(f"{col} {op} {literal(kwargs['min_value'])}")
            if kwargs.get("max_value") is not None:
                op = ">=" if kwargs.get("strict_max") else ">"
                bounds.append(f"{col} {op} {literal(kwargs['max_value'])}")
            if not bounds:
                return None
            return RowRule(f"{col} IS NOT NULL AND ({' OR '.join(bounds)})")
        if kind == "expect_column_values_to_be_in_set":
            if not _comparable(types[name], kwargs["value_set"], ordered=False):
                return None
            values = ", ".join(literal(v) for v in kwargs["value_set"])
            return RowRule(f"{col} IS NOT NULL" + (f" AND {col} NOT IN ({values})"
                                                   if values else ""))
        if kind == "expect_column_values_to_match_regex" and text:
            # RE2's \d and \w are ASCII only, Python's are not: DuckDB may select more, never
            # fewer, rows than GE finds unexpected.
            return RowRule(f"{col} IS NOT NULL AND NOT regexp_matches({col}, "
                           f"{literal(kwargs['regex'])})")
        if kind in ("expect_column_values_to_not_match_regex",
                    "expect_column_values_to_not_match_regex_list") and text:
            regexes = kwargs.get("regex_list") or [kwargs["regex"]]
            return RowRule(f"regexp_matches({col}, {literal(any_of(regexes))})")
        return None
    if kind == "expect_compound_columns_to_be_unique":
        names = kwargs["column_list"]
        if any(n not in types for n in names):
            return None
        cols = [quote_identifier(n) for n in names]
        ignore = kwargs.get("ignore_row_if", "all_values_are_missing")
        where = {"all_values_are_missing": "NOT (" + " AND ".join(f"{c} IS NULL" for c in cols)
                 + ")",
                 "any_value_is_missing": " AND ".join(f"{c} IS NOT NULL" for c in cols),
                 "never": "true"}.get(ignore)
        return GroupRule(list(names), where) if where else None
    if "column_A" in kwargs:
        if kwargs["column_A"] not in types or kwargs["column_B"] not in types:
            return None
        if _family(types[kwargs["column_A"]]) != _family(types[kwargs["column_B"]]):
            return None
        a, b = quote_identifier(kwargs["column_A"]), quote_identifier(kwargs["column_B"])
        ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
        if kind == "expect_column_pair_values_a_to_be_greater_than_b":
            fails = f"NOT ({a} {'>=' if kwargs.get('or_equal') else '>'} {b})"
        elif kind == "expect_column_pair_values_to_be_equal":
            fails = f"{a} <> {b}"
        else:
            return None
        return RowRule(_pair_missing(a, b, ignore, fails))
    return None


def any_of(regexes: list[str]) -> str:
    """One regex matching where any of `regexes` matches (one scan instead of several)."""
    return regexes[0] if len(regexes) == 1 else "|".join(f"(?:{r})" for r in regexes)


def plan(expectations: list[dict[str, Any]], types: dict[str, str]) -> list[Rule] | None:
    rules = [translate(e, types) for e in expectations]
    return None if any(r is None for r in rules) else rules  # type: ignore[return-value]


@dataclass(frozen=True)
class Source:
    """What to scan: a FROM clause, the SQL naming each row's partition and its position."""

    relation: str
    partition: str
    position: str


Validate = Callable[[pd.DataFrame, tuple[int, ...] | None], list[ExpectationOutcome]]


def run(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    columns: list[str],
    rules: list[Rule],
    validate: Validate,
    partitions: Sequence[Any] = (),
) -> tuple[dict[Any, int], dict[Any, list[ExpectationOutcome]]]:
    """Rows and outcomes (in suite order) per partition value; `partitions` are reported even
    when they hold no rows. `validate(frame, only)` is GE on the frame, with the expectations
    at the indices `only` (all if None)."""
    counts, rows, duplicated = _count(con, source, rules)
    for value in partitions:
        rows.setdefault(value, 0)
        counts.setdefault(value, [0] * len(rules))
    selected = ", ".join(quote_identifier(c) for c in columns)
    empty = con.sql(f"SELECT {selected} FROM {source.relation} LIMIT 0").df()
    clean = validate(empty, None)
    outcomes = {value: clean for value in rows}
    failing = sorted((p for p, n in counts.items() if any(n)), key=str)
    if not failing:
        return rows, outcomes
    active = [i for i in range(len(rules)) if any(counts[p][i] for p in failing)]
    candidates = _candidates(con, source, selected, rules, active, duplicated, failing)
    missing = set(failing) - set(candidates["__part"])
    if missing:  # the two queries disagree: never pass a partition DuckDB counted as failing
        raise RuntimeError(f"no candidate rows fetched for the failing partitions {missing}")
    for value, frame in candidates.groupby("__part", sort=False, dropna=False):
        mine = tuple(i for i in active if counts[value][i])
        fetched = frame[[f"__f{i}" for i in mine]].sum().tolist()
        judged = validate(frame[columns].reset_index(drop=True), mine)
        merged = list(clean)
        for i, outcome, got in zip(mine, judged, fetched, strict=True):
            truncated = not outcome.success and got < counts[value][i]
            merged[i] = replace(outcome, unexpected_count=counts[value][i]) if truncated \
                else outcome
        outcomes[value] = merged
    return rows, outcomes


def _count(
    con: duckdb.DuckDBPyConnection, source: Source, rules: list[Rule]
) -> tuple[dict[Any, list[int]], dict[Any, int], dict[int, pd.DataFrame]]:
    """Per partition: its rows, and per rule the rows it selects (one scan for the row rules,
    one grouping per uniqueness rule); per uniqueness rule, the first MAX_CANDIDATES repeated
    keys of each partition."""
    filters = "".join(f", count(*) FILTER (WHERE {r.condition})"
                      for r in rules if isinstance(r, RowRule))
    scanned = con.sql(f"SELECT {source.partition} AS __part, count(*){filters} "
                      f"FROM {source.relation} GROUP BY ALL").fetchall()
    rows = {row[0]: row[1] for row in scanned}
    row_counts = {row[0]: list(row[2:]) for row in scanned}
    counts: dict[Any, list[int]] = {value: [] for value in rows}
    duplicated = {}
    for i, rule in enumerate(rules):
        if isinstance(rule, RowRule):
            for value in rows:
                counts[value].append(row_counts[value].pop(0))
            continue
        keys = [quote_identifier(k) for k in rule.keys]
        frame = con.sql(
            f"SELECT __part, {', '.join(f'{k} AS __k{i}_{n}' for n, k in enumerate(keys))}, "
            "sum(n) OVER (PARTITION BY __part)::BIGINT AS __total FROM ("
            f"SELECT {source.partition} AS __part, {', '.join(keys)}, count(*) AS n "
            f"FROM {source.relation} WHERE {rule.where} GROUP BY ALL HAVING count(*) > 1) "
            f"QUALIFY row_number() OVER (PARTITION BY __part ORDER BY {', '.join(keys)}) "
            f"<= {MAX_CANDIDATES}").df()
        totals = frame.groupby("__part", dropna=False)["__total"].first().to_dict()
        for value in rows:
            counts[value].append(int(totals.get(value, 0)))
        duplicated[i] = frame.drop(columns="__total")
    return counts, rows, duplicated


def _candidates(
    con: duckdb.DuckDBPyConnection, source: Source, selected: str, rules: list[Rule],
    active: list[int], duplicated: dict[int, pd.DataFrame], failing: list[Any],
) -> pd.DataFrame:
    """The rows of the failing partitions that an active rule selects, flagged by rule, in
    their original order; at most MAX_CANDIDATES per rule and partition (a repeated key's rows
    kept together, so that GE sees them repeat)."""
    values = [v for v in failing if v is not None]
    within = " OR ".join(([f"{source.partition} IN ({', '.join('?' for _ in values)})"]
                          if values else [])
                         + ([f"{source.partition} IS NULL"] if None in failing else []))
    joins, flags, limits = [], [], []
    for i in active:
        rule = rules[i]
        if isinstance(rule, RowRule):
            flags.append(f"coalesce({rule.condition}, false) AS __f{i}")
            limits.append(f"(__f{i} AND row_number() OVER (PARTITION BY __part, __f{i} "
                          f"ORDER BY __row) <= {MAX_CANDIDATES})")
            continue
        keys = [quote_identifier(k) for k in rule.keys]
        con.register(f"__duplicated{i}", duplicated[i])
        joins.append(f"LEFT JOIN __duplicated{i} d{i} ON d{i}.__part = src.__part AND "
                     + " AND ".join(f"d{i}.__k{i}_{n} IS NOT DISTINCT FROM src.{k}"
                                    for n, k in enumerate(keys)))
        flags.append(f"(d{i}.__part IS NOT NULL AND coalesce({rule.where}, false)) AS __f{i}")
        limits.append(f"(__f{i} AND row_number() OVER (PARTITION BY __part, __f{i} ORDER BY "
                      f"{', '.join(keys)}, __row) <= {MAX_CANDIDATES})")
    try:
        return con.execute(
            f"WITH src AS (SELECT {source.partition} AS __part, {source.position} AS __row, "
            f"{selected} FROM {source.relation} WHERE {within}), "
            f"flagged AS (SELECT src.*, {', '.join(flags)} FROM src {' '.join(joins)}) "
            f"SELECT * FROM flagged WHERE {' OR '.join(f'__f{i}' for i in active)} "
            f"QUALIFY {' OR '.join(limits)} ORDER BY __part, __row", values).df()
    finally:
        for i in active:
            if i in duplicated:
                con.unregister(f"__duplicated{i}")
