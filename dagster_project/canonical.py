"""The canonical shape of rows in the lake: field names, types and enumerations.

Every reader maps its source onto these fields; dbt reads nothing else. Values of enumerated
fields are stored as the English codes below; reports translate them back to Chinese.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Entity(StrEnum):
    TICKETS = "tickets"
    TEST_CALLS = "test_calls"


CHANNELS: Final = ("phone", "web", "wechat", "app", "sms", "other")
REQUEST_TYPES: Final = ("consult", "help", "complaint", "report", "suggestion", "praise", "other")
# `unknown`: the source sends neither a status nor a close time, so nothing tells.
STATUSES: Final = ("open", "closed", "withdrawn", "unknown")
SATISFACTIONS: Final = ("satisfied", "basically_satisfied", "dissatisfied", "unrated")

# Field -> DuckDB type, in lake column order. Kinds tell the ingestion how to parse the text.
TICKET_FIELDS: Final[dict[str, str]] = {
    "city_code": "VARCHAR",
    "ticket_id": "VARCHAR",
    "received_at": "TIMESTAMP",
    "channel": "VARCHAR",
    "request_type": "VARCHAR",
    "category": "VARCHAR",
    "district": "VARCHAR",
    "title": "VARCHAR",
    "content": "VARCHAR",
    "caller_key": "VARCHAR",
    "caller_name_key": "VARCHAR",
    "caller_account_key": "VARCHAR",
    "direct_resolved": "BOOLEAN",
    "dispatched_at": "TIMESTAMP",
    "department": "VARCHAR",
    "responded_at": "TIMESTAMP",
    "due_at": "TIMESTAMP",
    "closed_at": "TIMESTAMP",
    "status": "VARCHAR",
    "resolved": "BOOLEAN",
    "satisfaction": "VARCHAR",
}

TEST_CALL_FIELDS: Final[dict[str, str]] = {
    "city_code": "VARCHAR",
    "year": "INTEGER",
    "call_id": "VARCHAR",
    "called_at": "TIMESTAMP",
    "scenario": "VARCHAR",
    "connected": "BOOLEAN",
    "seconds_to_human": "DOUBLE",
    "etiquette_score": "DOUBLE",
    "communication_score": "DOUBLE",
    "resolution_score": "DOUBLE",
    "evaluator_id": "VARCHAR",
}

# Source fields that carry personal data and never reach the lake in clear text.
# caller_phone -> caller_key, caller_name -> caller_name_key and caller_account (a message
# board's user account, which identifies a citizen as a phone number does; a name does not)
# -> caller_account_key (keyed hashes).
PSEUDONYMISED_FIELDS: Final[dict[str, str]] = {
    "caller_phone": "caller_key",
    "caller_name": "caller_name_key",
    "caller_account": "caller_account_key",
}
# Free-text fields in which phone and ID-card numbers are masked: every field a person types,
# not only title and content (a caller's number turns up in a department or district too).
MASKED_TEXT_FIELDS: Final = ("title", "content", "category", "district", "department",
                             "scenario")

REQUIRED_FIELDS: Final[dict[Entity, tuple[str, ...]]] = {
    Entity.TICKETS: ("city_code", "ticket_id", "received_at"),
    Entity.TEST_CALLS: ("city_code", "year", "call_id", "connected"),
}

ENUM_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "channel": CHANNELS,
    "request_type": REQUEST_TYPES,
    "status": STATUSES,
    "satisfaction": SATISFACTIONS,
}

# Plausible values: a parsed value outside [low, high] is rejected as out of range (a typo, a
# wrong unit or a corrupt cell), not published. Every TIMESTAMP field takes TIMESTAMP_RANGE.
TIMESTAMP_RANGE: Final = ("TIMESTAMP '1990-01-01'", "TIMESTAMP '2100-01-01'")
VALUE_RANGES: Final[dict[str, tuple[str, str]]] = {
    "year": ("2000", "2100"),
    "seconds_to_human": ("0", "86400"),
    "etiquette_score": ("0", "100"),
    "communication_score": ("0", "100"),
    "resolution_score": ("0", "100"),
}

LINEAGE_FIELDS: Final[dict[str, str]] = {
    "source_id": "VARCHAR",
    "source_file": "VARCHAR",
    "file_sha256": "VARCHAR",
    "source_sheet": "VARCHAR",
    "source_row": "BIGINT",
    "ingested_at": "TIMESTAMP",
}


def fields_of(entity: Entity) -> dict[str, str]:
    return TICKET_FIELDS if entity is Entity.TICKETS else TEST_CALL_FIELDS
