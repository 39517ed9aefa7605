"""Expectation suites as stored in `expectations/`: GE 1.x JSON plus our `meta` block, which
says which asset a suite checks, how severe a failure is, and how its data is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dagster_project.settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"


class TableData(BaseModel):
    """A warehouse table, validated one partition (one value of `partition_by`) at a time."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["table"]
    table: str
    partition_by: str | None = None
    partition_fingerprint: str | None = Field(
        None, description="a column fingerprinting what each partition was built from: a "
        "partition whose rows are unchanged keeps its outcome (see partitioncache)")


class LakeData(BaseModel):
    """The lake's Parquet files of one entity, validated one landing file at a time."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["lake"]
    entity: Literal["tickets", "test_calls"]


class QueryData(BaseModel):
    """A small frame computed by SQL (e.g. one row per city and year) over the warehouse,
    the source configurations (`configured_sources`: source_id, name, entity, city_code,
    delivery_every_days) and named sets of lake files (`{name}` in the SQL stands for a DuckDB
    list of their paths, for read_parquet or parquet_metadata)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["query"]
    sql: str
    label_column: str | None = Field(
        None, description="a column naming each row (e.g. '北京 2019'): a failing value is "
        "shown as '<label>: <value>'")
    lake_files: dict[str, str] = Field(
        default_factory=dict, description="name -> glob under the lake (e.g. tickets: "
        "raw/tickets/*/*.parquet); while a glob matches nothing, every expectation holds on "
        "no rows")
    reads_warehouse: bool = Field(
        True, description="false for checks of the lake, which run before the warehouse is "
        "built (and on a data root that has none yet)")


class TextColumnsData(BaseModel):
    """Every text column of every table and view of the warehouse (or of `tables`), and of
    the lake's Parquet files under `lake_folders`, searched for personal data by
    `dagster_project.personal_data`: DuckDB pre-selects the values that may hold some, the
    detector judges them, and each expectation (on the column `personal_data_found`) is
    applied to each column's verdicts."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["text_columns"]
    tables: list[str] | None = None
    exclude_columns: list[str] = Field(
        default_factory=list, description="hex digests and the like: digits by construction")
    views_from_lake: list[str] = Field(
        default_factory=list, description="name prefixes of views whose text is the lake "
        "files' text: scanned file by file under lake_folders (once per file) instead")
    lake_folders: list[str] = Field(
        default_factory=list, description="folders of the lake whose Parquet files are "
        "scanned, each file once while it is unchanged (see filecache)")
    partition_by: str | None = Field(
        None, description="in tables having it and partition_fingerprint, a partition found "
        "clean keeps that verdict while its rows are unchanged (see partitioncache)")
    partition_fingerprint: str | None = None


SuiteData = Annotated[TableData | LakeData | QueryData | TextColumnsData,
                      Field(discriminator="kind")]


# The families a reader of the published report sees the checks in, with what each covers.
CHECK_FAMILIES: dict[str, tuple[str, str]] = {
    "receipt": ("数据接收", "各地工单文件是否按期报送、能否读取，拒收行与空字段是否过多"),
    "tickets": ("工单数据", "工单的时间是否合理、与上年相比有无异常波动、诉求能否归入全国分类"),
    "monitoring": ("拨测监测", "评估机构的拨测记录是否完整可信、排名覆盖的热线是否齐全"),
    "privacy": ("个人信息保护", "数据仓库与报告的文字中不出现电话号码、身份证号等个人信息"),
}


class PublicSummary(BaseModel):
    """How the public report names a suite: in plain Chinese, within its family."""

    model_config = ConfigDict(extra="forbid")
    family: Literal["receipt", "tickets", "monitoring", "privacy"]
    title: str = Field(description="what the suite checks, in Chinese, e.g. 文件拒收行比例")
    unit: str = Field(description="what a failing item is, counted, e.g. 个文件、个城市年度")


class SuiteMeta(BaseModel):
    model_config = ConfigDict(extra="allow")
    asset: str = Field(description="asset key path joined by '/', e.g. lake/tickets")
    severity: Literal["ERROR", "WARN"] = "ERROR"
    data: SuiteData
    notes: str = ""
    public: PublicSummary
    extra_columns: list[str] = Field(
        default_factory=list, description="columns row conditions need besides the checked ones"
    )


class Suite(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    meta: SuiteMeta
    expectations: list[dict[str, Any]]

    @property
    def reads_warehouse(self) -> bool:
        """Whether the suite validates the warehouse (the lake's suites run before it is
        built)."""
        data = self.meta.data
        return not isinstance(data, LakeData) and not (
            isinstance(data, QueryData) and not data.reads_warehouse)

    @property
    def columns(self) -> list[str]:
        """The columns the expectations read: load nothing else."""
        seen: dict[str, None] = {}
        for expectation in self.expectations:
            kwargs = expectation.get("kwargs", {})
            for name in [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B"),
                         *kwargs.get("column_list", [])]:
                if name and name != "*":
                    seen[name] = None
        for name in self.meta.extra_columns:
            seen[name] = None
        return list(seen)


class SuiteError(ValueError):
    """A suite file is unreadable or its meta block is invalid."""


def load_suite(name: str, directory: Path | None = None) -> Suite:
    path = (directory or EXPECTATIONS_DIR) / f"{name}.json"
    try:
        return Suite.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: cannot load the expectation suite: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"key '{'.'.join(str(p) for p in e['loc'])}': {e['msg']}" for e in exc.errors())
        raise SuiteError(f"{path}: invalid expectation suite: {problems}") from exc


def suite_names(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or EXPECTATIONS_DIR).glob("*.json"))
