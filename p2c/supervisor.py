"""Keeps a set of child processes running: starts them in order, restarts one that dies, stops them all."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from p2c.process import ManagedProcess

log = logging.getLogger("p2c.up")

MAX_BACKOFF_S = 30.0


@dataclass
class Child:
    process: ManagedProcess
    ready_timeout: float = 60.0
    next_start: float = 0.0
    backoff: float = 1.0
    history: list[str] = field(default_factory=list)


class Supervisor:
    def __init__(self, on_event: Callable[[str], None] | None = None) -> None:
        self.children: list[Child] = []
        self._on_event = on_event or (lambda message: None)
        self._stopping = threading.Event()

    def start(self, process: ManagedProcess, ready_timeout: float = 60.0) -> None:
        """Start ``process`` and wait until it is ready; it is supervised from then on."""
        started = time.monotonic()
        process.start(timeout=ready_timeout)
        self.children.append(Child(process, ready_timeout))
        log.info("%s ready in %.1f s (pid %s)", process.name, time.monotonic() - started, process.pid)

    def check(self) -> None:
        """Restart children that died, with exponential backoff. Call it periodically."""
        now = time.monotonic()
        for child in self.children:
            proc = child.process
            if proc.alive() or self._stopping.is_set():
                continue
            if child.next_start == 0.0:
                message = f"{proc.name} exited with code {proc.returncode()}; restarting in {child.backoff:.0f} s"
                log.warning("%s (log: %s)", message, proc.log_path)
                self._on_event(message)
                child.next_start = now + child.backoff
                continue
            if now < child.next_start:
                continue
            proc.restarts += 1
            try:
                proc.start(timeout=child.ready_timeout)
            except (RuntimeError, TimeoutError) as exc:
                log.warning("%s failed to restart: %s", proc.name, str(exc).splitlines()[0])
                child.backoff = min(child.backoff * 2, MAX_BACKOFF_S)
                child.next_start = time.monotonic() + child.backoff
                continue
            message = f"{proc.name} restarted (restart #{proc.restarts}, pid {proc.pid})"
            log.info(message)
            self._on_event(message)
            child.next_start = 0.0
            child.backoff = 1.0

    def stop_all(self) -> None:
        """Stop in reverse start order: sinks and streams before the broker they talk to."""
        self._stopping.set()
        for child in reversed(self.children):
            if child.process.alive():
                log.info("stopping %s", child.process.name)
            child.process.stop()
