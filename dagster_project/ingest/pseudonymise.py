"""Personal data: keyed hashing of callers and masking of numbers in free text, in SQL.

Both run inside DuckDB over whole columns, so no per-row Python touches personal data.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

KEY_ENV = "HOTLINE_PSEUDONYMISATION_KEY"
KEY_FILE_ENV = "HOTLINE_PSEUDONYMISATION_KEY_FILE"
# Published on purpose: the demo data is synthetic. Real deployments set their own key.
DEMO_KEY = "hotline-demo-key-not-secret"

_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104)

ID_CARD_PATTERN = r"\d{17}[\dXx]"
MOBILE_PATTERN = r"1[3-9]\d{9}"
ID_CARD_MASK = "[身份证号]"
MOBILE_MASK = "[手机号]"


class PseudonymisationKeyError(RuntimeError):
    """The hashing key is missing or unreadable."""


ENVIRONMENT_ENV = "HOTLINE_ENV"


def load_key() -> tuple[bytes, bool]:
    """The caller-hashing key and whether it is the public demo key. A production run
    (HOTLINE_ENV=production) refuses the demo key and a missing key."""
    key, is_demo = _configured_key()
    if is_demo and os.environ.get(ENVIRONMENT_ENV, "").lower() == "production":
        raise PseudonymisationKeyError(
            f"{ENVIRONMENT_ENV}=production but callers would be hashed with the public demo key; "
            f"set {KEY_ENV} or {KEY_FILE_ENV} to a secret key kept outside the repository"
        )
    return key, is_demo


def _configured_key() -> tuple[bytes, bool]:
    if value := os.environ.get(KEY_ENV):
        return value.encode("utf-8"), value == DEMO_KEY
    if file_name := os.environ.get(KEY_FILE_ENV):
        try:
            key = Path(file_name).read_bytes().strip()
        except OSError as exc:
            raise PseudonymisationKeyError(
                f"{file_name}: cannot read the pseudonymisation key file ({exc}); "
                f"fix {KEY_FILE_ENV} or set {KEY_ENV}"
            ) from exc
        if not key:
            raise PseudonymisationKeyError(f"{file_name}: the pseudonymisation key file is empty")
        return key, key == DEMO_KEY.encode()
    return DEMO_KEY.encode("utf-8"), True


def hmac_sha256_sql(expression: str, key: bytes) -> str:
    """A DuckDB expression computing hex HMAC-SHA256(key, expression) as RFC 2104 defines it."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    inner_pad = bytes(b ^ 0x36 for b in key).hex()
    outer_pad = bytes(b ^ 0x5C for b in key).hex()
    inner = f"unhex(sha256(unhex('{inner_pad}') || encode({expression})))"
    return f"sha256(unhex('{outer_pad}') || {inner})"


def mask_numbers_sql(expression: str) -> str:
    """Mask ID-card numbers first (they contain mobile-like runs), then mobile numbers."""
    masked_ids = f"regexp_replace({expression}, '{ID_CARD_PATTERN}', '{ID_CARD_MASK}', 'g')"
    return f"regexp_replace({masked_ids}, '{MOBILE_PATTERN}', '{MOBILE_MASK}', 'g')"
