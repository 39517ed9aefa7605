"""The Dagster UI: `hotline ui` starts `dagster dev`, its GraphQL API shows the asset graph and
runs a partitioned refresh to success, and the whole process group stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.demo.generator import generate_demo
from dagster_project.ingest.runner import ingest_all
from dagster_project.settings import DATA_ROOT_ENV, PROJECT_ROOT, DataPaths, sources_dir
from dagster_project.sources import load_source_configs

START_TIMEOUT = 180
RUN_TIMEOUT = 420


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dev:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.log = log

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url, data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert "errors" not in answer, answer
        return answer["data"]

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


def stop_group(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM to the whole process group, SIGKILL after `grace` seconds, then reap."""
    pgid = process.pid  # its own session: the group id is its pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            process.poll()
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
    process.wait(timeout=10)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    root = tmp_path_factory.mktemp("ui")
    paths = DataPaths(root=root)
    generate_demo(paths.landing, seed=7, total_tickets=1500)
    ingest_all(load_source_configs(sources_dir()), paths)  # the lake dbt will read
    port = free_port()
    log = root / "dagster-dev.log"
    env = {**os.environ, DATA_ROOT_ENV: str(root), "DAGSTER_HOME": str(root / "dagster_home"),
           "PYTHONPATH": str(PROJECT_ROOT)}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "dagster_project.cli", "ui", "--port", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as a whole
        )
    server = Dev(process, port, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"dagster dev exited:\n{server.tail()}"
            try:
                server.query("{ version }")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, f"no answer on {port}:\n{server.tail()}"
                time.sleep(1)
        yield server
    finally:
        stop_group(process)
    assert not group_alive(process.pid), "processes of dagster dev survived"


ASSETS = """{ assetNodes { assetKey { path } groupName description isPartitioned
               partitionDefinition { type } } }"""

LOCATION = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
               name location { name } jobs { name } } } } }"""

LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename
  ... on LaunchRunSuccess { run { runId } }
  ... on PythonError { message }
  ... on InvalidSubsetError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""

RUN = """query($id: ID!) { runOrError(runId: $id) { __typename
  ... on Run { status tags { key value } } } }"""


def test_the_asset_graph_has_groups_partitions_and_descriptions(dev: Dev) -> None:
    nodes = {"/".join(n["assetKey"]["path"]): n for n in dev.query(ASSETS)["assetNodes"]}
    assert {n["groupName"] for n in nodes.values()} == {"ingest", "warehouse", "text",
                                                         "quality", "report"}
    assert all(n["description"] for n in nodes.values())
    assert nodes["lake/tickets"]["partitionDefinition"]["type"] == "STATIC"
    assert nodes["annual_report"]["partitionDefinition"]["type"] == "DYNAMIC"
    assert not nodes["fct_tickets"]["isPartitioned"]
    assert nodes["quality_gate"]["groupName"] == "quality"
    assert nodes["text_analysis"]["groupName"] == "text"


def test_a_partitioned_refresh_launched_from_the_ui_succeeds(dev: Dev) -> None:
    [repository] = dev.query(LOCATION)["repositoriesOrError"]["nodes"]
    assert {"refresh", "ingest", "build", "report"} <= {j["name"] for j in repository["jobs"]}
    params = {
        "selector": {"repositoryLocationName": repository["location"]["name"],
                     "repositoryName": repository["name"], "jobName": "refresh"},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "beijing_12345"}]},
        "runConfigData": {},
    }
    launched = dev.query(LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        run = dev.query(RUN, {"id": run_id})["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(2)
    assert run["status"] == "SUCCESS", dev.tail()
    assert {"key": "dagster/partition", "value": "beijing_12345"} in run["tags"]
    root = dev.log.parent
    with duckdb.connect(str(root / "warehouse" / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM fct_tickets").fetchone()[0] > 0  # type: ignore[index]
