"""`p2c up --detach`, `p2c logs` and `p2c down`, as a person runs them (its own data directory and ports)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from p2c.broker import port_is_free
from p2c.process import free_port, p2c_command
from tests.support.cli import run_p2c

pytestmark = pytest.mark.timeout(300)


def test_up_detached_answers_then_logs_and_down_stop_it(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "p2c")
    ports = {name: free_port() for name in ("broker", "registry", "crm", "erp", "control")}
    args = [f"--{name}-port={port}" for name, port in ports.items()]
    assert run_p2c("down", "--data-dir", data_dir).strip() == f"p2c is not running on {data_dir}"
    try:
        out = run_p2c("up", "--detach", "--no-seed", "--data-dir", data_dir, *args, timeout=240)
        assert "ready" in out.splitlines() and f"http://127.0.0.1:{ports['control']}/" in out
        assert httpx.get(f"http://127.0.0.1:{ports['control']}/api/openapi.json", timeout=10).status_code == 200

        again = subprocess.run(
            p2c_command("up", "--detach", "--data-dir", data_dir, *args), capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 1 and "already running" in again.stderr

        logs = run_p2c("logs", "streams", "broker", "-n", "3", "--data-dir", data_dir).splitlines()
        assert logs and {line.split(" | ")[0].strip() for line in logs} == {"streams", "broker"}
        unknown = subprocess.run(
            p2c_command("logs", "nope", "--data-dir", data_dir), capture_output=True, text=True, timeout=60
        )
        assert unknown.returncode == 2 and "components:" in unknown.stderr
    finally:
        stopped = run_p2c("down", "--data-dir", data_dir, timeout=90)
    assert stopped.strip().endswith("stopped")
    assert all(port_is_free("127.0.0.1", port) for port in ports.values())
