"""The dbt models' YAML says what it means: a column's entry holds only the keys dbt knows,
so a description with an unquoted comma (which YAML splits into a stray key) is caught."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dagster_project.warehouse.dbt_files import DBT_PROJECT_DIR

COLUMN_KEYS = {"name", "data_type", "description", "data_tests", "constraints", "quote",
               "meta", "config", "tags"}
FILES = sorted((DBT_PROJECT_DIR / "models").rglob("*.yml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_column_entry_has_only_known_keys(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    stray = [(model["name"], column["name"], sorted(set(column) - COLUMN_KEYS))
             for model in document.get("models") or []
             for column in model.get("columns") or []
             if set(column) - COLUMN_KEYS]
    assert stray == [], f"quote these descriptions in {path}: {stray}"
