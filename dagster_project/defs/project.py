"""The dbt project as Dagster sees it. Its manifest must exist before the assets import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.settings import DATA_ROOT_ENV, PROJECT_ROOT, data_root

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
# The dbt of this interpreter's environment, not whichever one is first on PATH.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"


def dbt_environment() -> dict[str, str]:
    """The environment dbt runs in: the profile and sources read the data root from it."""
    return {**os.environ, DATA_ROOT_ENV: str(data_root())}


def project_files(project_dir: Path) -> list[Path]:
    """The files a dbt parse reads: SQL, YAML and seeds (not target/ or logs/)."""
    folders = ("models", "macros", "seeds", "tests", "snapshots", "analyses")
    files = [project_dir / "dbt_project.yml", project_dir / "packages.yml"]
    for folder in folders:
        files += (project_dir / folder).rglob("*")
    return [f for f in files if f.is_file()]


def manifest_is_stale(project: DbtProject) -> bool:
    """Missing (a fresh clone, a cleaned target) or older than a model, test or seed: a
    manifest from before an update would map dbt's events onto assets that changed."""
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(f.stat().st_mtime > built for f in project_files(Path(project.project_dir)))


def prepare_manifest(project: DbtProject) -> None:
    """Parse the dbt project when its manifest is missing or stale."""
    if not manifest_is_stale(project):
        return
    subprocess.run(
        [str(DBT_EXECUTABLE), "parse", "--quiet", "--project-dir", str(project.project_dir),
         "--profiles-dir", str(project.profiles_dir)],
        check=True,
        env=dbt_environment(),
        cwd=project.project_dir,
    )


hotline_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
prepare_manifest(hotline_dbt_project)
