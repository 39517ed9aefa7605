"""Automation: `hotline automation on|off|status` in the data root's own instance, and a report
sensor that catches up with builds that finished while it was off, on one small demo root."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest
from cli_runner import run_cli
from pipeline_helpers import write_big_export

from dagster_project.settings import DATA_ROOT_ENV, DataPaths

TICKETS = 3000
EXTRA_2019_TICKETS = 240  # write_big_export: work orders received in 2019 only


@contextlib.contextmanager
def data_root_only(root: Path) -> Iterator[DataPaths]:
    """The data root set as a user sets it: HOTLINE_DATA_ROOT, and no DAGSTER_HOME."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_ROOT_ENV, str(root))
        patch.delenv("DAGSTER_HOME", raising=False)
        yield DataPaths(root=root)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPaths]:
    root = tmp_path_factory.mktemp("automation")
    with data_root_only(root) as paths:
        code, _, err = run_cli("demo", "--tickets", str(TICKETS), "--seed", "11")
        assert code == 0, err
        yield paths


@contextlib.contextmanager
def instance_of(root: Path) -> Iterator[dg.DagsterInstance]:
    """The data root's instance, opened from its folder (not through the code under test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        with dg.DagsterInstance.get() as instance:
            yield instance


def defined_names() -> set[str]:
    from dagster_project.definitions import defs

    return {s.name for s in defs.sensors or []} | {s.name for s in defs.schedules or []}


def states_in(instance: dg.DagsterInstance) -> dict[str, str]:
    return {s.instigator_name: s.status.value for s in instance.all_instigator_state()}


def table_states(out: str) -> dict[str, str]:
    """name -> running/stopped, from the rows of the table `hotline automation` prints."""
    return dict(re.findall(r"│\s*(?:sensor|schedule)\s*│\s*(\w+)\s*│\s*(running|stopped)", out))


def test_automation_on_status_off_without_dagster_home(built: DataPaths) -> None:
    names = defined_names()
    assert names == {"landing_sensor", "report_sensor", "daily_refresh", "yearly_report"}
    with data_root_only(built.root):
        code, out, err = run_cli("automation", "status")
        assert code == 0, err
        assert table_states(out) == dict.fromkeys(names, "stopped")

        code, out, err = run_cli("automation", "on")
        assert code == 0, err
        assert table_states(out) == dict.fromkeys(names, "running")
        with instance_of(built.root) as instance:
            assert states_in(instance) == dict.fromkeys(names, "RUNNING")
        # Nothing evaluates them in a test: the command says that a daemon is needed.
        assert "daemon: none running" in out
        assert f"DAGSTER_HOME={built.root / 'dagster_home'} dagster-daemon run" in out

        code, out, err = run_cli("automation", "status")
        assert code == 0, err
        assert table_states(out) == dict.fromkeys(names, "running")
        for name in names:
            assert f"- {name}: " in out  # what each one does

        code, out, err = run_cli("automation", "off")
        assert code == 0, err
        assert table_states(out) == dict.fromkeys(names, "stopped")
        with instance_of(built.root) as instance:
            assert states_in(instance) == dict.fromkeys(names, "STOPPED")


def test_daemon_is_running_only_with_a_recent_heartbeat() -> None:
    from dagster_project.automation import HEARTBEAT_STALE_SECONDS, daemon_state

    def instance(**beats: float) -> dg.DagsterInstance:
        heartbeats = {kind: SimpleNamespace(timestamp=t) for kind, t in beats.items()}
        return SimpleNamespace(get_daemon_heartbeats=lambda: heartbeats)  # type: ignore[return-value]

    now = 1_000_000.0
    assert daemon_state(instance(SENSOR=now - 5), now).running
    assert daemon_state(instance(SENSOR=now - 500, SCHEDULER=now - 10), now).running
    stale = daemon_state(instance(SENSOR=now - HEARTBEAT_STALE_SECONDS - 1), now)
    assert not stale.running and stale.last_heartbeat == now - HEARTBEAT_STALE_SECONDS - 1
    assert not daemon_state(instance(), now).running
    # Another daemon's heartbeat does not evaluate sensors.
    assert not daemon_state(instance(BACKFILL=now), now).running


def evaluate_report_sensor(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    from dagster_project.defs.sensors import report_sensor

    result = report_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or [])


def test_report_sensor_catches_up_with_a_refresh_that_finished_before_it(
    built: DataPaths,
) -> None:
    from dagster_project.defs.partitions import all_sources_tags
    from dagster_project.local_runs import execute

    with data_root_only(built.root), instance_of(built.root) as instance:
        # `hotline demo` rendered every year from the warehouse of now.
        assert instance.get_dynamic_partitions("report_years") == ["2018", "2019"]
        assert evaluate_report_sensor(instance) == []

        # A delivery of 2019 work orders, refreshed while the report sensor did not exist.
        write_big_export(built.landing / "beijing_12345", EXTRA_2019_TICKETS,
                         name="工单导出_2019_补充.csv")
        report_2018 = (built.site / "2018" / "index.html").stat().st_mtime_ns
        refreshed = execute("refresh", instance=instance, tags=all_sources_tags())
        assert refreshed.success, refreshed.errors

        requests = evaluate_report_sensor(instance)
        assert [r.partition_key for r in requests] == ["2019"]  # the file holds 2019 only
        assert requests[0].tags["hotline/trigger"] == "report_sensor"
        # Seen again before the report ran: the same run key, which Dagster runs once.
        assert [r.run_key for r in evaluate_report_sensor(instance)] == \
            [requests[0].run_key]

        rendered = execute("report", instance=instance, partition_key="2019")
        assert rendered.success, rendered.errors
        assert evaluate_report_sensor(instance) == []
        assert (built.site / "2018" / "index.html").stat().st_mtime_ns == report_2018
