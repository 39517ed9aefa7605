"""docs/analysts.md shows queries with what they print on the demo warehouse (`make demo`).
Each shown output is checked against what `hotline sql` prints for the query on the demo this
session builds, so the page cannot go stale: a change of the demo or of a mart that changes an
example fails here. `HOTLINE_UPDATE_DOCS=1 pytest tests/test_docs_examples.py` writes the
current outputs into the page (and still fails, so that a run never passes by rewriting)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from cli_runner import run_cli

from dagster_project.settings import DATA_ROOT_ENV, PROJECT_ROOT, DataPaths

DOC = PROJECT_ROOT / "docs" / "analysts.md"
# A query block followed directly by the block of what it prints.
EXAMPLE = re.compile(r"```sql\n(?P<sql>(?:(?!```).)*)```\n\n```\n(?P<output>(?:(?!```).)*)```\n",
                     re.S)
UPDATE_ENV = "HOTLINE_UPDATE_DOCS"


def printed(sql: str) -> str:
    code, out, err = run_cli("sql", sql)
    assert code == 0, err
    return "\n".join(line.rstrip() for line in out.splitlines()) + "\n"


def test_every_example_output_is_what_the_demo_prints(
    shared_demo: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(shared_demo.root))
    text = DOC.read_text(encoding="utf-8")
    examples = list(EXAMPLE.finditer(text))
    assert len(examples) >= 4, "the examples with outputs were not found"
    stale = []
    updated = text
    for number, example in enumerate(examples, start=1):
        current = printed(example["sql"])
        if current != example["output"]:
            first = example["sql"].strip().splitlines()[0]
            stale.append(f"example {number} ({first}):\nshown:\n{example['output']}"
                         f"printed:\n{current}")
            updated = updated.replace(example.group(0), example.group(0).replace(
                f"```\n{example['output']}```", f"```\n{current}```"), 1)
    if stale and os.environ.get(UPDATE_ENV) == "1":
        Path(DOC).write_text(updated, encoding="utf-8")
    assert not stale, (
        f"{DOC} shows outputs the demo no longer prints; rerun with {UPDATE_ENV}=1 to write "
        "them, then read the prose around them:\n" + "\n".join(stale))


def test_the_figure_the_prose_quotes_is_the_demos(
    shared_demo: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text explains example 2 with 北京's growth of volume: computed here again."""
    monkeypatch.setenv(DATA_ROOT_ENV, str(shared_demo.root))
    quoted = re.search(r"北京 received\s+([\d.]+) % more tickets in 2019",
                       DOC.read_text(encoding="utf-8"))
    assert quoted, "the sentence on 北京's volume is gone: update this test"
    code, out, err = run_cli(
        "sql", "--csv", "SELECT round(100 * (sum(ticket_count) FILTER (WHERE year = 2019) / "
        "sum(ticket_count) FILTER (WHERE year = 2018) - 1), 1) FROM kpi_city_year "
        "WHERE city_code = '110000'")
    assert code == 0, err
    assert quoted[1] == out.splitlines()[1]
