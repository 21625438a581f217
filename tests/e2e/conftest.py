"""`p2c up`, started once for the e2e tests exactly as a user starts it, on free ports and a temporary
data directory, and stopped when they are done (package scope: the integration tests do not share the
machine with a whole running pipeline)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from p2c.process import ManagedProcess, free_port, p2c_command


@dataclass
class Running:
    process: ManagedProcess
    data_dir: Path
    bootstrap: str
    registry_url: str
    crm_url: str
    erp_url: str
    control_url: str

    def pid(self, component: str) -> int:
        return int((self.data_dir / "run" / f"{component}.pid").read_text())

    def log(self, component: str) -> str:
        return (self.data_dir / "logs" / f"{component}.log").read_text(errors="replace")


def says_ready(process: ManagedProcess) -> bool:
    assert process.log_path is not None
    if not process.log_path.exists():
        return False
    return any(line.strip() == "ready" for line in process.log_path.read_text(errors="replace").splitlines())


def start_up(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Running:
    """``p2c up`` on free ports with ``data_dir``, ready; ``extra`` options and ``env`` on top."""
    ports = {name: free_port() for name in ("broker", "registry", "crm", "erp", "control")}
    process = ManagedProcess(
        "p2c-up",
        p2c_command(
            "up",
            "--data-dir",
            str(data_dir),
            "--broker-port",
            str(ports["broker"]),
            "--registry-port",
            str(ports["registry"]),
            "--crm-port",
            str(ports["crm"]),
            "--erp-port",
            str(ports["erp"]),
            "--control-port",
            str(ports["control"]),
            *extra,
        ),
        log_path=data_dir / "p2c-up.out",
        env={"P2C_SESSION_TIMEOUT_MS": "2000", **(env or {})},
    )
    process.ready = lambda: says_ready(process)
    process.start(timeout=120)
    return Running(
        process,
        data_dir,
        f"127.0.0.1:{ports['broker']}",
        f"http://127.0.0.1:{ports['registry']}",
        f"http://127.0.0.1:{ports['crm']}",
        f"http://127.0.0.1:{ports['erp']}",
        f"http://127.0.0.1:{ports['control']}",
    )


@pytest.fixture(scope="package")
def p2c_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = start_up(tmp_path_factory.mktemp("p2c-up"))
    yield running
    running.process.stop(timeout=30)
