"""Automation of a data root: its sensors and schedules switched on or off in one step, and what
they are doing.

The state lives in the data root's Dagster instance (`<data root>/dagster_home`), the one that
`hotline ui` and the CLI use, so nobody has to set DAGSTER_HOME. Starting an instigator needs
its definition as the code location serves it, which Dagster's public interface provides
through the `dagster sensor start` / `dagster schedule start` commands: they run here with the
data root's instance. Stopping needs only the stored state, through the instance.

Switching on is not enough for anything to happen: ticks are evaluated by a Dagster daemon
(`hotline ui` starts one; `dagster-daemon run` with the same DAGSTER_HOME is the other way),
whose heartbeats `status` reads.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_project.settings import DATA_ROOT_ENV, data_root

if TYPE_CHECKING:
    import dagster as dg
    from dagster._core.scheduler.instigation import InstigatorState as StoredState
    from dagster._core.scheduler.instigation import InstigatorTick

CODE_LOCATION = "dagster_project.definitions"
SENSOR, SCHEDULE = "sensor", "schedule"
# A daemon whose last heartbeat is older than two of its heartbeat intervals and a margin
# is taken as stopped.
HEARTBEAT_STALE_SECONDS = 90
DAEMONS = ("SENSOR", "SCHEDULER")  # the daemon threads that evaluate sensors and schedules


class AutomationError(RuntimeError):
    """The sensors or schedules could not be switched; the message says why and what to do."""


@dataclass(frozen=True)
class Instigator:
    kind: str  # SENSOR or SCHEDULE
    name: str
    when: str  # how often it is evaluated
    description: str


@dataclass(frozen=True)
class InstigatorState:
    instigator: Instigator
    running: bool
    last_tick: str | None  # when, outcome and runs or reason of the latest evaluation


@dataclass(frozen=True)
class DaemonState:
    running: bool
    last_heartbeat: float | None  # seconds since the epoch, of the latest of DAEMONS


def instigators() -> list[Instigator]:
    """The sensors and schedules of the code location, as defined."""
    from dagster_project.defs.schedules import SCHEDULES
    from dagster_project.defs.sensors import SENSORS

    found = [Instigator(SENSOR, s.name, f"every {s.minimum_interval_seconds or 30} s",
                        s.description or "") for s in SENSORS]
    found += [Instigator(SCHEDULE, s.name,
                         f"cron {s.cron_schedule} ({s.execution_timezone or 'UTC'})",
                         s.description or "") for s in SCHEDULES]
    return found


def _stored(instance: dg.DagsterInstance, instigator: Instigator) -> list[StoredState]:
    """Every state the instance keeps for the instigator (one per code location that started
    it; normally one)."""
    kind = instigator.kind.upper()
    return [s for s in instance.all_instigator_state()
            if s.instigator_name == instigator.name and s.instigator_type.value == kind]


def _running(state: StoredState) -> bool:
    # DECLARED_IN_CODE means the default of the definition, which is stopped for all of ours.
    return state.status.value == "RUNNING"


def _describe_tick(tick: InstigatorTick) -> str:
    when = dt.datetime.fromtimestamp(tick.timestamp).astimezone()
    text = f"{when:%Y-%m-%d %H:%M:%S %Z} {tick.status.value.lower()}"
    if tick.run_ids:
        text += f": {len(tick.run_ids)} run(s) requested"
    elif tick.error is not None:
        text += f": {' '.join(tick.error.message.split())[:200]}"
    elif tick.skip_reason:
        text += f": {tick.skip_reason}"
    return text


def states(instance: dg.DagsterInstance) -> list[InstigatorState]:
    result = []
    for instigator in instigators():
        stored = _stored(instance, instigator)
        ticks = [tick for state in stored
                 for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id,
                                                limit=1)]
        latest = max(ticks, key=lambda t: t.timestamp, default=None)
        result.append(InstigatorState(instigator, any(_running(s) for s in stored),
                                      _describe_tick(latest) if latest else None))
    return result


def daemon_state(instance: dg.DagsterInstance, now: float | None = None) -> DaemonState:
    beats = [beat.timestamp for kind, beat in instance.get_daemon_heartbeats().items()
             if kind in DAEMONS]
    last = max(beats, default=None)
    current = time.time() if now is None else now
    return DaemonState(last is not None and current - last <= HEARTBEAT_STALE_SECONDS, last)


def _dagster_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "dagster"), *args, "-m", CODE_LOCATION]


def _run_dagster(argv: list[str], home: Path, log: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(home), DATA_ROOT_ENV: str(data_root())}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as sink:
        sink.write(f"$ {' '.join(argv)}\n")
        sink.flush()
        done = subprocess.run(argv, env=env, stdout=sink, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise AutomationError(
            f"`{' '.join(argv[1:3])}` failed (exit code {done.returncode}) for the instance "
            f"{home}: see {log} for why; the code location must load (try `hotline ui`)")


def switch_on(instance: dg.DagsterInstance, home: Path, log: Path) -> list[InstigatorState]:
    """Start every sensor and schedule that is not running in the data root's instance."""
    before = states(instance)
    for kind in (SENSOR, SCHEDULE):
        if any(s.instigator.kind == kind and not s.running for s in before):
            _run_dagster(_dagster_command(kind, "start", "--start-all"), home, log)
    after = states(instance)
    stopped = [s.instigator.name for s in after if not s.running]
    if stopped:
        raise AutomationError(
            f"still stopped after starting: {', '.join(stopped)} (instance {home}); see {log}")
    return after


def switch_off(instance: dg.DagsterInstance) -> list[InstigatorState]:
    """Stop every sensor and schedule of the code location that runs in the instance."""
    for instigator in instigators():
        for state in _stored(instance, instigator):
            if not _running(state):
                continue
            if instigator.kind == SENSOR:
                instance.stop_sensor(state.instigator_origin_id, state.selector_id, None)
            else:
                instance.stop_schedule(state.instigator_origin_id, state.selector_id, None)
    return states(instance)


def daemon_hint(home: Path) -> str:
    return (f"`hotline ui`, or `{DATA_ROOT_ENV}={data_root()} DAGSTER_HOME={home} "
            f"dagster-daemon run -m {CODE_LOCATION}`")


def report(found: list[InstigatorState], daemon: DaemonState, home: Path) -> list[object]:
    """What `hotline automation` prints: a table of the sensors and schedules, then a line on
    the daemon."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"sensors and schedules of {home}", title_justify="left")
    for column in ("kind", "name", "state", "evaluated", "last tick"):
        table.add_column(column, overflow="fold")
    for state in found:
        table.add_row(state.instigator.kind, state.instigator.name,
                      Text("running", style="green") if state.running else Text("stopped"),
                      state.instigator.when, state.last_tick or "never")
    # Descriptions are paragraphs: below the table rather than in a column of it.
    what = Text("\n".join(f"- {s.instigator.name}: {s.instigator.description}"
                           for s in found))
    if daemon.running and daemon.last_heartbeat is not None:
        ago = max(0, round(time.time() - daemon.last_heartbeat))
        line = Text(f"daemon: running (last heartbeat {ago} s ago): running sensors and "
                    "schedules are evaluated", style="green")
    else:
        line = Text(f"daemon: none running for this instance: nothing is evaluated until one "
                    f"runs: {daemon_hint(home)}", style="yellow")
    return [table, what, line]
