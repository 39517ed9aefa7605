"""Shared fixtures: every test works in its own temporary data root."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project.ingest.pseudonymise import create_key_file
from dagster_project.settings import DATA_ROOT_ENV, SOURCES_DIR_ENV, DataPaths


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataPaths:
    """A data root as a deployment sets it up, with its own pseudonymisation key (what the
    tests land in it is not demo data, so the public demo key would be refused)."""
    root = tmp_path / "data"
    root.mkdir()
    create_key_file(root)
    monkeypatch.setenv(DATA_ROOT_ENV, str(root))
    return DataPaths(root=root)


@pytest.fixture
def sources_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "sources"
    path.mkdir()
    monkeypatch.setenv(SOURCES_DIR_ENV, str(path))
    return path
