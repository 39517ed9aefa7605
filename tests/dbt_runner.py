"""Run dbt on the project for tests, in the environment the pipeline gives it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dagster_project.warehouse.dbt_files import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_environment


def run_dbt(target: Path, *args: str) -> None:
    """`dbt ARGS` with its own target path (the project's manifest stays as it is)."""
    done = subprocess.run(
        [str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(target)],
        env=dbt_environment(), capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]
