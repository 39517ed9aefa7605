"""The dbt project as Dagster sees it. Its manifest must exist before the assets import."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.warehouse.dbt_files import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    dbt_environment,
    manifest_is_stale,
)


def prepare_manifest(project: DbtProject) -> None:
    """Parse the dbt project when its manifest is missing or stale."""
    if not manifest_is_stale(Path(project.project_dir), project.manifest_path):
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
