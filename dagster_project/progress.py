"""Progress of long steps, for whoever runs the assets in this process (the `hotline` CLI).

Assets call `start` and `advance`; without a listener (the UI, a daemon, tests) both do
nothing. The CLI installs a listener that draws progress bars while it executes a job
in process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol


class ProgressListener(Protocol):
    def start(self, phase: str, total: int) -> None: ...

    def advance(self, phase: str, step: int = 1, detail: str = "") -> None: ...


_listener: ProgressListener | None = None


@contextlib.contextmanager
def reporting_to(listener: ProgressListener) -> Iterator[None]:
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


def start(phase: str, total: int) -> None:
    if _listener is not None:
        _listener.start(phase, total)


def advance(phase: str, step: int = 1, detail: str = "") -> None:
    if _listener is not None:
        _listener.advance(phase, step, detail)
