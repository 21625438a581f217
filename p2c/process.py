"""Child processes with a readiness probe: used by ``p2c up`` and by the integration tests alike."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

PR_SET_PDEATHSIG = 1  # linux/prctl.h

log = logging.getLogger("p2c.process")

Probe = Callable[[], bool]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def http_ok(url: str) -> Probe:
    """A probe that is true once ``url`` answers a GET with a status below 500."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    return probe


def tcp_open(host: str, port: int) -> Probe:
    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return probe


def log_says(process: ManagedProcess, word: str = "ready") -> Probe:
    """A probe that is true once ``process`` wrote a line containing ``word`` to its log since it started."""

    def probe() -> bool:
        if process.log_path is None or not process.log_path.exists():
            return False
        with open(process.log_path, "rb") as fh:
            fh.seek(process.log_offset)
            return any(word.encode() in line for line in fh)

    return probe


def _die_with_parent() -> None:
    """In the child, before exec: have Linux send SIGTERM when the parent dies, however it dies.

    A `p2c up` (or a test run) that is SIGKILLed then leaves no broker or worker behind holding its ports.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def p2c_command(*args: str) -> list[str]:
    """The argv that runs ``p2c <args>`` with this interpreter, installed script or not."""
    return [sys.executable, "-m", "p2c", *args]


class ManagedProcess:
    """One child process: started, probed until ready, stopped with SIGTERM then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        ready: Probe | None = None,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        pid_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.ready = ready
        self.log_path = log_path
        self.env = env
        self.pid_path = pid_path
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.log_offset = 0  # where this run's output starts in the log file

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        """Start the process and return at once; ``wait_ready`` waits for it."""
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path or os.devnull, "ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not every child at once
                preexec_fn=_die_with_parent,
            )
        if self.pid_path is not None:
            self.pid_path.parent.mkdir(parents=True, exist_ok=True)
            self.pid_path.write_text(f"{self.process.pid}\n")

    def wait_ready(self, timeout: float) -> None:
        if self.ready is None:
            return
        deadline = time.monotonic() + timeout
        while not self.ready():
            if not self.alive():
                code = self.returncode()
                raise RuntimeError(f"{self.name} exited with code {code} before it was ready{self._tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"{self.name} was not ready after {timeout:.0f} s{self._tail()}")
            time.sleep(0.1)

    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    def _tail(self) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()[-20:]
        return f"; last lines of {self.log_path}:\n" + "\n".join(lines)

    def kill(self) -> None:
        """SIGKILL, no goodbye: for tests that prove a component survives being killed."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        self.terminate()
        self.wait_stopped(timeout)

    def terminate(self) -> None:
        """SIGTERM, and return at once; ``wait_stopped`` waits for the process to go (or kills it)."""
        if self.alive():
            assert self.process is not None
            self.process.terminate()

    def wait_stopped(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.process is not None
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s of SIGTERM; killing it", self.name, timeout)
            self.process.kill()
            self.process.wait()
