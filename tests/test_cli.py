"""The `hotline` command line: help everywhere, and errors as one paragraph with an exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_runner import run_cli

from dagster_project import cli
from dagster_project.settings import DataPaths, sources_dir

COMMANDS = ["demo", "ingest", "build", "refresh", "check", "report", "status", "sql", "ui"]


@pytest.fixture(autouse=True)
def own_instance(data_root: DataPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test in its own data root, and DAGSTER_HOME restored after it."""
    monkeypatch.setenv("DAGSTER_HOME", str(data_root.root / "dagster_home"))


def assert_one_paragraph(err: str, *words: str) -> None:
    """The error is the last line of stderr (progress bars may precede it), and one line."""
    assert "Traceback" not in err
    text = err.strip().splitlines()[-1]
    assert text.startswith("error: "), err
    assert sum(line.startswith("error: ") for line in err.splitlines()) == 1, err
    for word in words:
        assert word in text, (word, text)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_everywhere(command: str | None) -> None:
    code, out, _ = run_cli(*([command] if command else []), "--help")
    assert code == 0
    assert out.startswith("usage: hotline")
    if command is None:
        for name in COMMANDS:
            assert name in out


def test_usage_errors_exit_2() -> None:
    assert run_cli()[0] == 2
    assert run_cli("report")[0] == 2  # --year is required
    assert run_cli("report", "--year", "last")[0] == 2


def test_status_on_an_empty_data_root(data_root: DataPaths) -> None:
    code, out, err = run_cli("status")
    assert code == 0, err
    assert "not built yet" in out
    assert "none recorded yet" in out


@pytest.mark.parametrize(("argv", "words"), [
    (["report", "--year", "2019"], ["no warehouse at", "hotline build"]),
    (["check"], ["no warehouse at"]),
    (["ingest", "--source", "atlantis_12345"], ["unknown source atlantis_12345",
                                                "beijing_12345"]),
])
def test_errors_are_one_paragraph_and_exit_1(argv: list[str], words: list[str]) -> None:
    code, _, err = run_cli(*argv)
    assert code == 1
    assert_one_paragraph(err, *words)


def test_a_broken_source_configuration_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "sources"
    shutil.copytree(sources_dir(), folder)
    (folder / "beijing_12345.yaml").write_text("source_id: beijing_12345\nformat: pdf\n",
                                               encoding="utf-8")
    monkeypatch.setenv("HOTLINE_SOURCES_DIR", str(folder))
    code, _, err = run_cli("ingest", "--source", "beijing_12345")
    assert code == 1
    assert_one_paragraph(err, "beijing_12345.yaml", "invalid source configuration", "format")


def test_a_missing_key_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOTLINE_PSEUDONYMISATION_KEY_FILE", str(tmp_path / "no-such.key"))
    code, _, err = run_cli("ingest", "--source", "beijing_12345")
    assert code == 1
    assert_one_paragraph(err, "no-such.key", "pseudonymisation key")


def test_an_unreadable_file_fails_alone_and_the_exit_code_says_so(data_root: DataPaths) -> None:
    folder = data_root.landing / "beijing_12345"
    folder.mkdir(parents=True)
    (folder / "工单导出_2019.csv").write_text("工单编号,诉求标题\nB1,路灯不亮\n", encoding="utf-8")
    code, out, err = run_cli("ingest", "--source", "beijing_12345")
    assert code == 1
    assert "failed" in out
    assert_one_paragraph(err, "could not be ingested", "工单导出_2019.csv")


def test_an_unexpected_error_is_one_paragraph_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: object, ui: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli, "command_status", broken)
    code, _, err = run_cli("status")
    assert code == 1
    assert_one_paragraph(err, "unexpected RuntimeError: disk on fire", "HOTLINE_DEBUG")
