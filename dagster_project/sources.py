"""Source configurations: one YAML file per sending system, validated when loaded.

A source says where its files are, how to read them and how its columns and values map onto the
canonical fields of `canonical.py`. Onboarding a city means adding one such file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dagster_project import layouts
from dagster_project.canonical import (
    ENUM_VALUES,
    PSEUDONYMISED_FIELDS,
    REQUIRED_FIELDS,
    Entity,
    fields_of,
)
from dagster_project.settings import sources_dir

DEFAULT_TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d",
)
DEFAULT_TRUE_VALUES = ("是", "Y", "y", "yes", "true", "True", "TRUE", "1", "已解决", "接通")
DEFAULT_FALSE_VALUES = ("否", "N", "n", "no", "false", "False", "FALSE", "0", "未解决", "未接通")

# The zone of every time in the lake and the warehouse (Beijing time, HOTLINE.md).
WAREHOUSE_TIMEZONE = "Asia/Shanghai"
# Joins the levels of a category sent in several columns (`category_columns`): the separator the
# category mappings and the warehouse split a city's label on (int_category_labels_placed).
CATEGORY_LEVEL_SEPARATOR = "/"

SOURCE_ID = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
SourceId = Annotated[str, Field(pattern=SOURCE_ID.pattern)]
CityCode = Annotated[str, Field(pattern=r"^\d{6}$")]


class SourceConfigError(ValueError):
    """A source configuration file is missing, unreadable or invalid."""


class SourceConfig(BaseModel):
    """How to read the files of one sending system (a city hotline or the evaluator)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_id: SourceId
    name: str = Field(min_length=1, description="Human name of the sender, e.g. 北京12345")
    entity: Entity
    city_code: CityCode | None = Field(
        default=None, description="GB/T 2260 code of the hotline's city (tickets only)"
    )
    file_pattern: str = Field(default="*", description="glob under landing/<source_id>/")
    format: Literal["csv", "xlsx", "json", "jsonl", "open311"]
    layout: Literal["standard", "open311", "message_board", "custom"] = Field(
        default="custom",
        description="a known layout supplies columns and values: standard, open311, message_board",
    )
    encoding: Literal["auto", "utf-8", "utf-8-sig", "gbk", "gb18030"] = "auto"
    skip_rows: int = Field(default=0, ge=0, description="title rows above the header row")
    footer_prefix: str | None = Field(
        default="合计", description="rows whose first cell starts with this are totals, not data"
    )
    sheets: Literal["first", "all"] | list[str] = Field(
        default="first",
        description="XLSX: the first sheet, all sheets, or the named sheets (same header in each)",
    )
    max_expanded_mb: int = Field(
        default=1024, ge=1, description="XLSX: refuse workbooks that expand beyond this size"
    )
    max_columns: int = Field(
        default=500, ge=1,
        description="refuse files whose header (CSV, XLSX) or records (JSON) have more columns",
    )
    max_line_mb: int = Field(
        default=1, ge=1,
        description="CSV: refuse files with a line longer than this, unread (a quoted cell with "
        "line breaks spans several lines, each counted alone)",
    )
    records_key: str | None = Field(
        default=None, description="JSON: key of the object holding the record list, if any"
    )
    columns: dict[str, str] = Field(
        default_factory=dict, description="source header -> canonical field"
    )
    ignore_columns: tuple[str, ...] = Field(
        default=(), description="headers present on purpose and not ingested (not 'unexpected')"
    )
    constants: dict[str, str] = Field(
        default_factory=dict, description="canonical field -> value for every row of the source"
    )
    timezone: str = Field(
        default=WAREHOUSE_TIMEZONE,
        description="zone the lake holds the source's times in: times with an explicit UTC "
        "offset, and naive times of another `source_timezone`, are converted to it",
    )
    source_timezone: str | None = Field(
        default=None,
        description="zone of the times the source writes without an offset (e.g. "
        "America/New_York); unset: they are already in `timezone`",
    )
    category_columns: tuple[str, ...] = Field(
        default=(),
        description="headers whose cells, top level first, are joined with "
        f"'{CATEGORY_LEVEL_SEPARATOR}' into the category (blank cells skipped)",
    )
    not_exported: tuple[str, ...] = Field(
        default=(),
        description="canonical fields the source does not export at all: NULL (unknown) in the "
        "lake, never reported as missing columns",
    )
    delivery_every_days: int | None = Field(
        default=None, ge=1,
        description="how often the sender delivers, in days: the source_freshness check "
        "warns when its last delivery is older (unset: not checked)",
    )
    timestamp_formats: tuple[str, ...] = DEFAULT_TIMESTAMP_FORMATS
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="canonical field -> {source value: canonical value}"
    )
    strict_values: bool = Field(
        default=False,
        description="reject rows whose enumerated value is unmapped instead of mapping to 'other'",
    )
    true_values: tuple[str, ...] = DEFAULT_TRUE_VALUES
    false_values: tuple[str, ...] = DEFAULT_FALSE_VALUES

    @model_validator(mode="after")
    def _check_against_canonical(self) -> Self:
        if self.layout != "custom" and self.entity is not Entity.TICKETS:
            raise ValueError(f"layout '{self.layout}' holds work orders: entity must be tickets")
        pattern = Path(self.file_pattern)
        if pattern.is_absolute() or ".." in pattern.parts:
            raise ValueError("file_pattern: must stay inside landing/<source_id>/ (no '..')")
        if (self.format == "open311") != (self.layout == "open311"):
            raise ValueError("format 'open311' and layout 'open311' go together")
        if self.entity is Entity.TICKETS and self.city_code is None:
            raise ValueError("city_code is required for a tickets source")
        allowed = set(fields_of(self.entity)) - set(PSEUDONYMISED_FIELDS.values())
        if self.entity is Entity.TICKETS:
            allowed = (allowed | set(PSEUDONYMISED_FIELDS)) - {"city_code"}
        for header, field in self.columns.items():
            if field not in allowed:
                raise ValueError(
                    f"columns.{header}: '{field}' is not a canonical {self.entity} field; "
                    f"use one of {sorted(allowed)}"
                )
        for field in self.constants:
            if field not in allowed or field in PSEUDONYMISED_FIELDS:
                raise ValueError(f"constants.{field}: not a canonical {self.entity} field")
        self._check_zones()
        self._check_category_columns()
        self._check_not_exported(allowed)
        mapped = set(self.column_map.values()) | set(self.constant_values)
        if self.entity is Entity.TICKETS:
            mapped.add("city_code")
        missing = [f for f in REQUIRED_FIELDS[self.entity] if f not in mapped]
        if missing:
            raise ValueError(f"columns: no source column is mapped to required field(s) {missing}")
        for field, mapping in self.values.items():
            if field not in ENUM_VALUES:
                raise ValueError(f"values.{field}: only {sorted(ENUM_VALUES)} take value maps")
            bad = sorted(set(mapping.values()) - set(ENUM_VALUES[field]))
            if bad:
                raise ValueError(
                    f"values.{field}: {bad} not among the canonical codes {ENUM_VALUES[field]}"
                )
        return self

    def _check_zones(self) -> None:
        for key in ("timezone", "source_timezone"):
            zone = getattr(self, key)
            if zone is None:
                continue
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                close = sorted(z for z in available_timezones()
                               if z.lower().endswith(zone.lower().split("/")[-1]))[:3]
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise ValueError(
                    f"{key}: '{zone}' is not an IANA time zone name{hint}; use a name like "
                    f"America/New_York or {WAREHOUSE_TIMEZONE}") from None

    def _check_category_columns(self) -> None:
        if not self.category_columns:
            return
        if self.entity is not Entity.TICKETS:
            raise ValueError("category_columns: only tickets have a category")
        if len(set(self.category_columns)) != len(self.category_columns):
            raise ValueError("category_columns: a header is listed twice")
        own = [h for h, f in self.columns.items() if f == "category"]
        clash = own + [h for h in self.category_columns if h in self.columns]
        if clash:
            raise ValueError(
                f"category_columns: header(s) {sorted(set(clash))} are also in 'columns'; the "
                "category comes either from one column in 'columns' or from 'category_columns'")

    def _check_not_exported(self, allowed: set[str]) -> None:
        for field in self.not_exported:
            if field not in allowed:
                raise ValueError(f"not_exported: '{field}' is not a canonical {self.entity} "
                                 f"field; use one of {sorted(allowed)}")
            if field in REQUIRED_FIELDS[self.entity]:
                raise ValueError(f"not_exported: '{field}' is required; every file must have it")
            if field in self.columns.values() or field in self.constants:
                raise ValueError(
                    f"not_exported: '{field}' is also given in 'columns' or 'constants'; remove "
                    "it from one of them")
            if field == "category" and self.category_columns:
                raise ValueError("not_exported: 'category' is also built from 'category_columns'")

    @property
    def column_map(self) -> dict[str, str]:
        """Source header -> canonical field, the layout's defaults included. The layout's
        header of a field the source does not export, or builds from `category_columns`, is
        left out: the file is not expected to have it."""
        replaced = set(self.not_exported) | ({"category"} if self.category_columns else set())
        layout = {h: f for h, f in layouts.LAYOUT_COLUMNS[self.layout].items()
                  if f not in replaced}
        return {**layout, **self.columns, **dict.fromkeys(self.category_columns, "category")}

    @property
    def max_line_bytes(self) -> int:
        return self.max_line_mb * 1_000_000

    @property
    def ignored_columns(self) -> frozenset[str]:
        return frozenset(layouts.LAYOUT_IGNORED.get(self.layout, ())) | set(self.ignore_columns)

    @property
    def constant_values(self) -> dict[str, str]:
        layout = {f: v for f, v in layouts.LAYOUT_CONSTANTS.get(self.layout, {}).items()
                  if f not in self.not_exported}
        return {**layout, **self.constants}

    @property
    def value_map(self) -> dict[str, dict[str, str]]:
        """Canonical field -> {source value: canonical code}, the layout's defaults included."""
        base = layouts.LAYOUT_VALUES.get(self.layout, {})
        merged = {field: dict(mapping) for field, mapping in base.items()}
        for field, mapping in self.values.items():
            merged.setdefault(field, {}).update(mapping)
        return merged

    def landing_files(self, landing_root: Path) -> list[Path]:
        """Files of this source present in landing, in a stable order."""
        folder = landing_root / self.source_id
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob(self.file_pattern) if p.is_file())


def load_source_config(path: Path) -> SourceConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SourceConfigError(f"{path}: cannot read the source configuration: {exc}") from exc
    if not isinstance(raw, dict):
        raise SourceConfigError(f"{path}: expected a mapping of keys, found {type(raw).__name__}")
    try:
        config = SourceConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"key '{'.'.join(str(p) for p in err['loc']) or '(top level)'}': {err['msg']}"
            for err in exc.errors()
        )
        raise SourceConfigError(f"{path}: invalid source configuration: {problems}") from exc
    if config.source_id != path.stem:
        raise SourceConfigError(
            f"{path}: key 'source_id' is '{config.source_id}' but the file is named "
            f"'{path.name}'; name the file <source_id>.yaml"
        )
    return config


def load_source_configs(directory: Path) -> list[SourceConfig]:
    """All source configurations in a directory, sorted by source id."""
    if not directory.is_dir():
        raise SourceConfigError(f"{directory}: source configuration directory does not exist")
    configs = [load_source_config(p) for p in sorted(directory.glob("*.yaml"))]
    return sorted(configs, key=lambda c: c.source_id)


def source_ids(directory: Path | None = None) -> list[str]:
    """The source ids configured in the directory: one per `<source_id>.yaml`."""
    folder = directory or sources_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if SOURCE_ID.match(p.stem))
