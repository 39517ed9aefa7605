"""The build records the rules (dbt vars) it computed the marts with, and the report prints
those: a data root's own values (reference/dbt_vars.yml) reach the marts and the page, not the
project's defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml
from pipeline_helpers import run_hotline as hotline

from dagster_project.demo import generator
from dagster_project.settings import DataPaths
from dagster_project.warehouse.dbt_files import (
    DBT_PROJECT_DIR,
    WAREHOUSE_PATH_VAR,
    RuleOverridesError,
    build_vars,
    rule_overrides,
)

YEAR = 2019
DEFAULTS = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))[
    "vars"]
# The root's own rules: other monitoring weights (still summing to 1) and another 响应率 SLA.
OVERRIDES = {
    "monitoring_weights": {"connect": 0.40, "time_to_human": 0.10, "etiquette": 0.10,
                           "communication": 0.10, "resolution": 0.30},
    "response_sla_hours": 12,
}
INDICATORS = ("connect", "time_to_human", "etiquette", "communication", "resolution")


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rules") / "root"
    generator.generate_demo(root / "landing", total_tickets=2000)
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "dbt_vars.yml").write_text(yaml.safe_dump(OVERRIDES),
                                                     encoding="utf-8")
    result = hotline(root, "refresh")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return root


def test_the_mart_records_every_rule_with_the_value_the_build_used(overridden: Path) -> None:
    with duckdb.connect(str(DataPaths(root=overridden).warehouse), read_only=True) as con:
        (text,), = con.execute("SELECT rules_json FROM build_rules").fetchall()
    recorded = json.loads(text)
    assert set(recorded) == set(DEFAULTS)  # every var of dbt_project.yml is a rule
    assert recorded == DEFAULTS | OVERRIDES


def test_the_marts_are_computed_with_the_roots_weights(overridden: Path) -> None:
    with duckdb.connect(str(DataPaths(root=overridden).warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT total_score, " + ", ".join(f"{i}_score" for i in INDICATORS)
            + " FROM monitoring_hotline_year WHERE year = ? AND total_score > 0",
            [YEAR]).fetchall()
    assert rows
    weights = OVERRIDES["monitoring_weights"]
    for total, *scores in rows:
        expected = sum(w * s for w, s in zip((weights[i] for i in INDICATORS), scores,
                                             strict=True))
        assert total == pytest.approx(expected, abs=0.01)


def test_the_page_prints_the_rules_the_build_used(overridden: Path) -> None:
    html = (overridden / "site" / str(YEAR) / "index.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", html)
    assert "派单后 12 小时内首次响应" in text
    assert f"派单后 {DEFAULTS['response_sla_hours']} 小时内" not in text
    weights = re.search(r'<table id="indicator-table">(.*?)</table>', html, re.S)
    assert weights
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", weights.group(1), re.S)[1:]  # past the head
    column = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[1] for row in rows]
    assert column == ["1.00", "0.40", "0.10", "0.10", "0.10", "0.30"]


def test_a_misspelt_rule_is_refused_with_the_file_named(tmp_path: Path) -> None:
    assert rule_overrides(tmp_path) is None
    path = tmp_path / "reference" / "dbt_vars.yml"
    path.parent.mkdir()
    path.write_text("response_sla_hour: 12\n", encoding="utf-8")
    with pytest.raises(RuleOverridesError, match=r"dbt_vars\.yml: response_sla_hour not among"):
        rule_overrides(tmp_path)
    path.write_text("response_sla_hours: 12\n", encoding="utf-8")
    overrides = rule_overrides(tmp_path)
    assert overrides == {"response_sla_hours": 12}
    # What dbt is given: the overrides and the file the build writes, one JSON mapping.
    building = tmp_path / "warehouse" / "warehouse.building.duckdb"
    assert json.loads(build_vars(building, overrides)) == {
        "response_sla_hours": 12, WAREHOUSE_PATH_VAR: str(building)}
    assert json.loads(build_vars(building, None)) == {WAREHOUSE_PATH_VAR: str(building)}
