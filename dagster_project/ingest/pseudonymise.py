"""Personal data in caller fields: keyed hashing, in SQL over whole columns (free text is
masked by `dagster_project.personal_data`).

The key is HOTLINE_PSEUDONYMISATION_KEY, else the file HOTLINE_PSEUDONYMISATION_KEY_FILE names,
else `<data root>/secrets/pseudonymisation.key` (written by `hotline init-key`), else the public
demo key. Anyone holding a key can recompute the pseudonym of a known phone number, so the
demo key is refused for every source that the data root's demo marker (`demo-data.json`,
written by the demo generator beside its landing files) does not list as synthetic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

KEY_ENV = "HOTLINE_PSEUDONYMISATION_KEY"
KEY_FILE_ENV = "HOTLINE_PSEUDONYMISATION_KEY_FILE"
# Published on purpose: the demo data is synthetic. Real deployments set their own key.
DEMO_KEY = "hotline-demo-key-not-secret"
ENVIRONMENT_ENV = "HOTLINE_ENV"
# Under the data root: the key `hotline init-key` writes, and the demo generator's marker.
KEY_FILE = Path("secrets") / "pseudonymisation.key"
DEMO_MARKER = "demo-data.json"
_FINGERPRINT_MESSAGE = b"hotline-key-fingerprint"

_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104)



class PseudonymisationKeyError(RuntimeError):
    """The hashing key is missing, unreadable, exposed or not fit for the data."""


@dataclass(frozen=True)
class ConfiguredKey:
    """The hashing key and where it came from (for messages)."""

    secret: bytes
    origin: str

    @property
    def is_demo(self) -> bool:
        return self.secret == DEMO_KEY.encode("utf-8")

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.secret)


def key_fingerprint(key: bytes) -> str:
    """16 hex digits of HMAC-SHA256(key, "hotline-key-fingerprint"): tells two keys apart and
    is recorded with each lake file. Keyed, so that it reveals nothing of the key: a plain
    hash of a guessable key could be looked up."""
    return hmac.new(key, _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:16]


def key_file_path(root: Path) -> Path:
    """The data root's own key file, used when neither environment variable is set."""
    return root / KEY_FILE


def configured_key(root: Path | None = None) -> ConfiguredKey:
    """The key from the environment, else the data root's key file, else the demo key."""
    if value := os.environ.get(KEY_ENV):
        return ConfiguredKey(value.encode("utf-8"), f"{KEY_ENV} (environment)")
    if file_name := os.environ.get(KEY_FILE_ENV):
        path = Path(file_name)
        return ConfiguredKey(_read_key_file(path, f"fix {KEY_FILE_ENV} or set {KEY_ENV}"),
                             f"{path} ({KEY_FILE_ENV})")
    path = key_file_path(root if root is not None else _default_root())
    if path.exists() or path.is_symlink():
        return ConfiguredKey(_read_key_file(path, f"or set {KEY_FILE_ENV}"), str(path))
    return ConfiguredKey(DEMO_KEY.encode("utf-8"),
                         f"no key is set ({KEY_ENV}, {KEY_FILE_ENV} or {path})")


def load_key(root: Path | None = None) -> tuple[bytes, bool]:
    """The caller-hashing key and whether it is the public demo key. A production run
    (HOTLINE_ENV=production) refuses the demo key and a missing key."""
    key = configured_key(root)
    _refuse_demo_key_in_production(key)
    return key.secret, key.is_demo


def ingestion_key(source_ids: Iterable[str], root: Path) -> bytes:
    """The key to ingest these sources of the data root with. The demo key only hashes the
    demo generator's sources (listed by the root's demo marker): for any other source it is
    refused before anything is read."""
    key = configured_key(root)
    _refuse_demo_key_in_production(key)
    if not key.is_demo:
        return key.secret
    real = sorted(set(source_ids) - demo_sources(root))
    if real:
        raise PseudonymisationKeyError(
            f"source(s) {', '.join(real)} of {root} are not demo data ({root / DEMO_MARKER} "
            f"does not list them), but their callers would be hashed with the public demo key "
            f"({key.origin}), with which anyone can reverse the pseudonyms. Create this data "
            f"root's key with `hotline init-key` (it writes {key_file_path(root)}, mode 600), "
            f"or set {KEY_FILE_ENV} to a key file kept outside the repository. Nothing was "
            "ingested."
        )
    return key.secret


def _refuse_demo_key_in_production(key: ConfiguredKey) -> None:
    if key.is_demo and os.environ.get(ENVIRONMENT_ENV, "").lower() == "production":
        raise PseudonymisationKeyError(
            f"{ENVIRONMENT_ENV}=production but callers would be hashed with the public demo key "
            f"({key.origin}); run `hotline init-key` or set {KEY_ENV} or {KEY_FILE_ENV} to a "
            "secret key kept outside the repository"
        )


def _default_root() -> Path:
    from dagster_project.settings import data_root

    return data_root()


def _read_key_file(path: Path, fix: str) -> bytes:
    """The key a file holds; a file that other users may read or change is refused."""
    try:
        mode = path.stat().st_mode
        key = path.read_bytes().strip()
    except OSError as exc:
        raise PseudonymisationKeyError(
            f"{path}: cannot read the pseudonymisation key file ({exc}); {fix}"
        ) from exc
    if mode & 0o077:
        raise PseudonymisationKeyError(
            f"{path}: the pseudonymisation key file is open to other users (mode "
            f"{stat.filemode(mode)}), and whoever reads it can reverse the pseudonyms; allow "
            f"its owner only: chmod 600 {path}"
        )
    if not key:
        raise PseudonymisationKeyError(
            f"{path}: the pseudonymisation key file is empty; {fix}")
    return key


@dataclass(frozen=True)
class CreatedKey:
    path: Path
    fingerprint: str


def create_key_file(root: Path) -> CreatedKey:
    """Write a random key (32 bytes, as hex) to the data root's key file, readable by its
    owner only. The file appears complete or not at all, and an existing one is never
    replaced: the lake's pseudonyms were made with it."""
    path = key_file_path(root)
    if path.exists() or path.is_symlink():
        raise PseudonymisationKeyError(
            f"{path}: a key file exists already and is kept (the lake's pseudonyms were made "
            "with it; a new key would make new files' pseudonyms differ). To change the key, "
            "see 'The pseudonymisation key' in docs/onboarding.md"
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    staged = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # A hard link fails if the name exists: two `init-key` at once cannot both win.
        os.link(staged, path)
    except FileExistsError as exc:
        raise PseudonymisationKeyError(
            f"{path}: a key file was created meanwhile and is kept") from exc
    finally:
        staged.unlink(missing_ok=True)
    return CreatedKey(path, key_fingerprint(key.encode("ascii")))


def demo_sources(root: Path) -> frozenset[str]:
    """The sources whose landing files the demo generator wrote into this data root."""
    path = root / DEMO_MARKER
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return frozenset()
    except (OSError, ValueError) as exc:
        raise PseudonymisationKeyError(
            f"{path}: the demo marker cannot be read ({exc}); delete it if this data root "
            "holds real data, or write the demo data again with `hotline demo`") from exc
    sources = marker.get("sources") if isinstance(marker, dict) else None
    if (not isinstance(marker, dict) or marker.get("synthetic") is not True
            or not isinstance(sources, list) or not all(isinstance(s, str) for s in sources)):
        raise PseudonymisationKeyError(
            f"{path}: not a demo marker (expected {{\"synthetic\": true, \"sources\": [...]}}); "
            "delete it if this data root holds real data")
    return frozenset(sources)


def mark_demo_sources(root: Path, source_ids: Iterable[str]) -> Path:
    """Record in the data root's demo marker that these sources hold synthetic data (the demo
    generator calls this after writing their landing files)."""
    path = root / DEMO_MARKER
    try:
        known = demo_sources(root)
    except PseudonymisationKeyError:
        known = frozenset()  # unreadable: written afresh
    marker = {
        "synthetic": True,
        "about": "Written by the demo generator: the landing files of these sources are "
                 "synthetic, so their callers may be hashed with the public demo key. A data "
                 "root with real data never has this file.",
        "sources": sorted(known | set(source_ids)),
    }
    root.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_text(json.dumps(marker, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(staged, path)
    return path


def hmac_sha256_sql(expression: str, key: bytes) -> str:
    """A DuckDB expression computing hex HMAC-SHA256(key, expression) as RFC 2104 defines it."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    inner_pad = bytes(b ^ 0x36 for b in key).hex()
    outer_pad = bytes(b ^ 0x5C for b in key).hex()
    inner = f"unhex(sha256(unhex('{inner_pad}') || encode({expression})))"
    return f"sha256(unhex('{outer_pad}') || {inner})"
