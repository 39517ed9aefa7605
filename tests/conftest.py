"""Shared fixtures: a test works in its own temporary data root, or reads the one demo data
root that the session builds as `make demo` does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from dagster_project.ingest.pseudonymise import create_key_file
from dagster_project.settings import DATA_ROOT_ENV, SOURCES_DIR_ENV, DataPaths

PROJECT_DIR = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Parse the dbt project once, before any worker starts (a fresh clone has no manifest):
    otherwise the first tests of two workers would each parse it into the same folder."""
    if not hasattr(config, "workerinput"):
        from dagster_project.defs.project import hotline_dbt_project, prepare_manifest

        prepare_manifest(hotline_dbt_project)


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


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DataPaths:
    """The demo exactly as `make demo` builds it (`hotline demo`: the default seed and size,
    every year published), built once per run, for every pytest-xdist worker. Read-only: a
    test that changes data works on a copy of it."""
    # Workers share the parent of their temporary folders; the first to get there builds.
    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent
    root = base / "shared-demo" / "data"
    built = root.parent / "built"
    with FileLock(str(root.parent) + ".lock"):
        if not built.exists():
            shutil.rmtree(root.parent, ignore_errors=True)  # a build that failed half-way
            root.mkdir(parents=True)
            # `hotline demo` from this checkout (as the tests import it, not an installed copy).
            done = subprocess.run([sys.executable, "-m", "dagster_project.cli", "demo"],
                                  cwd=PROJECT_DIR, env={**os.environ, DATA_ROOT_ENV: str(root)},
                                  capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"hotline demo failed:\n{done.stdout}\n{done.stderr}"
            built.touch()
    return DataPaths(root=root)
