"""Run the `hotline` command line in this process, for tests."""

from __future__ import annotations

import contextlib
import io

from dagster_project import cli


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`hotline ARGV` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()
