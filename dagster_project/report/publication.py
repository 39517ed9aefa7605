"""What the printed report says about itself: its title and who publishes it.

Read from `<data root>/reference/publication.yml` when the file exists, e.g.

    publisher: 某某省12345热线工作办公室
    title: "{year}全国12345政务服务便民热线监测成果"

Both keys are optional; the defaults below apply to what is missing. The file is validated:
an unknown key or an empty value is an error, not silently ignored.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PUBLICATION_FILE = "publication.yml"
DEFAULT_PUBLISHER = "12345政务服务便民热线监测项目组"
DEFAULT_TITLE = "{year}全国12345政务服务便民热线监测成果"


class PublicationConfigError(ValueError):
    """publication.yml cannot be used; the message names the file and the key."""


class Publication(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    publisher: str = Field(default=DEFAULT_PUBLISHER, min_length=1, max_length=100)
    # "{year}" is replaced by the monitoring year; the only placeholder a title may hold.
    title: str = Field(default=DEFAULT_TITLE, min_length=1, max_length=100)

    @field_validator("title")
    @classmethod
    def _only_the_year_placeholder(cls, value: str) -> str:
        try:
            value.format(year=2019)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError('may hold "{year}" and no other placeholder') from exc
        return value

    def title_of(self, year: int) -> str:
        return self.title.format(year=year)


def load_publication(reference_dir: Path) -> Publication:
    """The data root's publication.yml (in its reference folder), or the defaults."""
    path = reference_dir / PUBLICATION_FILE
    if not path.is_file():
        return Publication()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PublicationConfigError(f"{path}: cannot be read as YAML: {exc}") from exc
    if raw is None:
        return Publication()
    if not isinstance(raw, dict):
        raise PublicationConfigError(f"{path}: expected keys publisher and title, found "
                                     f"{type(raw).__name__}")
    try:
        return Publication.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
                             for e in exc.errors())
        raise PublicationConfigError(f"{path}: {problems}") from exc
