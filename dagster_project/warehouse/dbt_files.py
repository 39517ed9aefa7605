"""The dbt project on disk: where it is, the files a parse reads, and what its manifest says,
readable without importing dagster-dbt or dbt, slow imports that the commands running no dbt
asset need not pay for (BENCHMARKS.md, "Figures that were in code comments")."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from dagster_project.settings import DATA_ROOT_ENV, PROJECT_ROOT, data_root

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
# dagster-dbt's DbtProject reads the manifest here (its default target path).
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# The dbt of this interpreter's environment, not whichever one is first on PATH.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
# The var by which a build tells dbt's profile which file to write (a command-line var, the
# only kind profiles.yml sees).
WAREHOUSE_PATH_VAR = "hotline_warehouse_path"
PARSED_FOLDERS = ("models", "macros", "seeds", "tests", "snapshots", "analyses")


def dbt_environment() -> dict[str, str]:
    """The environment dbt runs in: the profile and sources read the data root from it."""
    return {**os.environ, DATA_ROOT_ENV: str(data_root())}


def project_files(project_dir: Path = DBT_PROJECT_DIR) -> list[Path]:
    """The files a dbt parse reads: SQL, YAML and seeds (not target/ or logs/)."""
    files = [project_dir / "dbt_project.yml", project_dir / "packages.yml"]
    for folder in PARSED_FOLDERS:
        files += (project_dir / folder).rglob("*")
    return [f for f in files if f.is_file()]


def manifest_is_stale(project_dir: Path = DBT_PROJECT_DIR,
                      manifest: Path = MANIFEST_PATH) -> bool:
    """Missing (a fresh clone, a cleaned target) or older than a model, test or seed: a
    manifest from before an update would map dbt's events onto assets that changed."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(f.stat().st_mtime > built for f in project_files(project_dir))


def manifest_nodes(manifest: Path = MANIFEST_PATH) -> dict[str, Any]:
    nodes: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    return nodes


# The materialisations a build stores as tables (seeds have none in their config).
STORED_MATERIALIZATIONS = ("table", "incremental", "seed")


def stored_nodes(manifest: Path = MANIFEST_PATH) -> list[dict[str, Any]]:
    """The manifest's models and seeds that a build stores as tables, by name."""
    nodes = [node for node in manifest_nodes(manifest).values()
             if node["resource_type"] in ("model", "seed")
             and node["config"].get("materialized", "seed") in STORED_MATERIALIZATIONS]
    return sorted(nodes, key=lambda node: str(node["name"]))


def mart_tables(manifest: Path = MANIFEST_PATH) -> list[str]:
    """The dbt models built as tables (the marts, and small intermediate tables) and the seeds:
    every table of the warehouse, what analysts and the report read."""
    return sorted(
        node["name"] for node in manifest_nodes(manifest).values()
        if node["resource_type"] in ("model", "seed")
        and node["config"].get("materialized", "seed") in ("table", "seed")
    )


# What a kept dbt target folder says about the project that wrote it.
PARSE_STATE = "partial_parse.msgpack"
PARSED_PROJECT = "parsed_project.txt"


def forget_parse_of_other_project(target: Path, project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Delete dbt's saved parse in `target` unless it was made from the project at
    `project_dir`, and record that it now is; True if a parse was deleted.

    The saved parse holds absolute paths (seeds are loaded from their path), and dbt reuses it
    even when the project has moved: a data root built from one checkout and then from
    another (an upgrade into a new folder) would read the first checkout's seeds, or fail once
    that folder is gone."""
    target.mkdir(parents=True, exist_ok=True)
    marker = target / PARSED_PROJECT
    here = str(project_dir.resolve())
    try:
        parsed_from = marker.read_text(encoding="utf-8")
    except OSError:
        parsed_from = None
    forgotten = False
    if parsed_from != here:
        state = target / PARSE_STATE
        forgotten = state.exists()
        state.unlink(missing_ok=True)
        marker.write_text(here, encoding="utf-8")
    return forgotten


# A data root's own values of the rules (dbt vars): passed to every build as `--vars`.
RULE_OVERRIDES = Path("reference") / "dbt_vars.yml"


class RuleOverridesError(ValueError):
    """The data root's rule overrides cannot be used."""


def rule_overrides(root: Path, project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Any] | None:
    """The data root's reference/dbt_vars.yml, checked: a mapping whose keys are vars of
    dbt_project.yml (a misspelt key would silently change nothing). None when the root has
    no such file. The file is part of the reference data, so a change to it rebuilds the
    warehouse from scratch (build_state's fingerprint)."""
    import yaml

    path = root / RULE_OVERRIDES
    if not path.exists():
        return None
    try:
        overrides = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleOverridesError(f"{path}: cannot be read as YAML ({exc})") from exc
    if overrides is None:
        return None
    known = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    if not isinstance(overrides, dict):
        raise RuleOverridesError(f"{path}: expected a mapping of var names to values, as under "
                                 "'vars:' in dbt/dbt_project.yml")
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise RuleOverridesError(
            f"{path}: {', '.join(map(str, unknown))} not among the vars of "
            f"{project_dir / 'dbt_project.yml'} ({', '.join(known)}); fix the name")
    return overrides


def build_vars(building: Path, overrides: dict[str, Any] | None) -> str:
    """dbt's `--vars` argument (JSON) for a build into `building`: the rule overrides and the
    file to write (`WAREHOUSE_PATH_VAR`, read by profiles.yml)."""
    return json.dumps({**(overrides or {}), WAREHOUSE_PATH_VAR: str(building)},
                      ensure_ascii=False)
