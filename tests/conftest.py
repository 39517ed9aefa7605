"""Shared fixtures: every test works in its own temporary data root."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project.settings import DATA_ROOT_ENV, SOURCES_DIR_ENV, DataPaths


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataPaths:
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv(DATA_ROOT_ENV, str(root))
    return DataPaths(root=root)


@pytest.fixture
def sources_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "sources"
    path.mkdir()
    monkeypatch.setenv(SOURCES_DIR_ENV, str(path))
    return path
