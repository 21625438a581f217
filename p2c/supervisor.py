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
    group: int = 0  # children started together stop together


class Supervisor:
    def __init__(self, on_event: Callable[[str], None] | None = None) -> None:
        self.children: list[Child] = []
        self._on_event = on_event or (lambda message: None)
        self._stopping = threading.Event()

    def start(self, process: ManagedProcess, ready_timeout: float = 60.0) -> None:
        """Start ``process`` and wait until it is ready; it is supervised from then on."""
        self.start_together([process], ready_timeout)

    def start_together(self, processes: list[ManagedProcess], ready_timeout: float = 60.0) -> None:
        """Start ``processes`` at once and wait until each is ready; they are supervised from then on.

        Processes that do not depend on each other start together: their start-up (mostly imports and a group
        join) overlaps instead of adding up. A process that fails to get ready raises; ``stop_all`` stops the
        others, which are supervised from the moment they were spawned."""
        started, group = time.monotonic(), len(self.children)
        for process in processes:
            process.spawn()
            self.children.append(Child(process, ready_timeout, group=group))
        for process in processes:
            process.wait_ready(max(0.0, started + ready_timeout - time.monotonic()))
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
        """Stop in reverse start order: sinks and streams before the broker they talk to; the children started
        together are stopped together."""
        self._stopping.set()
        for group in sorted({child.group for child in self.children}, reverse=True):
            together = [child.process for child in reversed(self.children) if child.group == group]
            for process in together:
                if process.alive():
                    log.info("stopping %s", process.name)
                process.terminate()
            for process in together:
                process.wait_stopped()
