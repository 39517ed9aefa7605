"""Quoting for the SQL this project writes into DuckDB statements: identifiers (column and
table names from files and configuration) and string literals. Every stage that composes SQL
uses these two."""

from __future__ import annotations


def quote_identifier(identifier: str) -> str:
    """A SQL identifier of `identifier`, double-quoted."""
    return '"' + identifier.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    """A SQL string literal of `value`."""
    return "'" + value.replace("'", "''") + "'"
