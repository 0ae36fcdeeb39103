"""`citybase ui` really serves the Dagster UI on the home, with every source in it."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUERY = "{ assetNodes { assetKey { path } groupName } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_citybase_ui_serves_every_asset(tmp_path):
    port = free_port()
    env = {**os.environ, "CITYBASE_HOME": str(tmp_path)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "citybase.cli", "ui", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        nodes = None
        while time.time() < deadline and proc.poll() is None:
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": QUERY}, timeout=5)
                if r.status_code == 200 and r.json().get("data", {}).get("assetNodes"):
                    nodes = r.json()["data"]["assetNodes"]
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert nodes, proc.stdout.read().decode(errors="replace") if proc.poll() is not None else "UI did not answer"
        groups = {n["groupName"] for n in nodes if n["assetKey"]["path"][0] == "raw"}
        assert {"medical_insurance", "pension", "civil_affairs", "hotline", "building_tax", "traceability", "heritage", "registry"} <= groups
        assert (tmp_path / "dagster" / "dagster.yaml").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
