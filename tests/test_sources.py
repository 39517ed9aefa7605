from pathlib import Path

import pytest

from dagster_project import layouts
from dagster_project.settings import PACKAGE_ROOT
from dagster_project.sources import SourceConfigError, load_source_config, load_source_configs


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_standard_layout_needs_no_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "city_a.yaml", """
source_id: city_a
name: 甲市12345
entity: tickets
city_code: "110000"
format: csv
layout: standard
""")
    config = load_source_config(path)
    assert config.column_map["工单编号"] == "ticket_id"
    assert config.column_map == layouts.STANDARD_COLUMNS
    assert config.value_map["channel"]["电话"] == "phone"


def test_error_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "city_b.yaml", """
source_id: city_b
name: 乙市
entity: tickets
city_code: "11000"
format: csv
columns: {编号: ticket_id, 时间: received_at}
""")
    with pytest.raises(SourceConfigError) as error:
        load_source_config(path)
    assert str(path) in str(error.value)
    assert "city_code" in str(error.value)


def test_unknown_canonical_field_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "city_c.yaml", """
source_id: city_c
name: 丙市
entity: tickets
city_code: "110000"
format: csv
columns: {编号: ticket_id, 时间: received_at, 电话: phone_number}
""")
    with pytest.raises(SourceConfigError, match="phone_number"):
        load_source_config(path)


def test_required_field_must_be_mapped(tmp_path: Path) -> None:
    path = write(tmp_path, "city_d.yaml", """
source_id: city_d
name: 丁市
entity: tickets
city_code: "110000"
format: csv
columns: {编号: ticket_id}
""")
    with pytest.raises(SourceConfigError, match="received_at"):
        load_source_config(path)


def test_file_name_must_match_source_id(tmp_path: Path) -> None:
    path = write(tmp_path, "other.yaml", """
source_id: city_e
name: 戊市
entity: tickets
city_code: "110000"
format: csv
layout: standard
""")
    with pytest.raises(SourceConfigError, match="source_id"):
        load_source_config(path)


def test_value_map_codes_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "city_f.yaml", """
source_id: city_f
name: 己市
entity: tickets
city_code: "110000"
format: csv
layout: standard
values: {channel: {热线: telephone}}
""")
    with pytest.raises(SourceConfigError, match="telephone"):
        load_source_config(path)


def test_bundled_configurations_load() -> None:
    configs = load_source_configs(PACKAGE_ROOT / "config" / "sources")
    assert len({c.source_id for c in configs}) == len(configs) >= 7
    assert {c.entity.value for c in configs} == {"tickets", "test_calls"}
