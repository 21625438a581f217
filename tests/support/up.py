"""`p2c up` started for a test tier exactly as a user starts it, on free ports and a temporary data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from p2c.process import ManagedProcess, free_port, p2c_command


@dataclass
class Running:
    ports: dict[str, int]
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
    """True once `p2c up` printed its ``ready`` line in this run."""
    assert process.log_path is not None
    if not process.log_path.exists():
        return False
    with open(process.log_path, "rb") as fh:
        fh.seek(process.log_offset)
        return any(line.strip() == b"ready" for line in fh)


def start_p2c_up(
    data_dir: Path,
    *options: str,
    bootstrap: str | None = None,
    timeout: float = 120,
    ports: dict[str, int] | None = None,
    env: dict[str, str] | None = None,
) -> Running:
    """Start `p2c up` (its own broker unless ``bootstrap`` names a cluster) and wait for ``ready``.

    ``ports`` (broker, registry, crm, erp): the ports of an earlier run, to start it again as it was.
    """
    ports = ports or {name: free_port() for name in ("broker", "registry", "crm", "erp", "control")}
    argv = ["up", "--data-dir", str(data_dir), "--registry-port", str(ports["registry"])]
    argv += ["--crm-port", str(ports["crm"]), "--erp-port", str(ports["erp"]), "--control-port", str(ports["control"])]
    argv += ["--bootstrap-servers", bootstrap] if bootstrap else ["--broker-port", str(ports["broker"])]
    process = ManagedProcess(
        "p2c-up",
        p2c_command(*argv, *options),
        log_path=data_dir / "p2c-up.out",
        env={"P2C_SESSION_TIMEOUT_MS": "2000", **(env or {})},
    )
    process.ready = lambda: says_ready(process)
    process.start(timeout=timeout)
    return Running(
        ports,
        process,
        data_dir,
        bootstrap or f"127.0.0.1:{ports['broker']}",
        f"http://127.0.0.1:{ports['registry']}",
        f"http://127.0.0.1:{ports['crm']}",
        f"http://127.0.0.1:{ports['erp']}",
        f"http://127.0.0.1:{ports['control']}",
    )
