"""Keeping to a service's protection limits: never sooner than ``Retry-After``, and start small.

:class:`Throttle` is shared by every request of one client: after a 429 nothing is sent before the
``Retry-After`` the service gave has passed (Dataverse extends the wait of a client that keeps sending).
:class:`Pace` is what Microsoft advises for a data-integration client: start with small batches and one request
at a time, grow while the service allows, shrink on a 429 and let ``Retry-After`` say when to go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("p2c.connectors.pace")


class Throttle:
    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.clock = clock
        self.sleep = sleep
        self.open_at = 0.0
        self.throttled = 0  # 429s seen
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Return once the service's last ``Retry-After`` has passed."""
        while True:
            with self._lock:
                left = self.open_at - self.clock()
            if left <= 0:
                return
            self.sleep(left)

    def block(self, seconds: float) -> None:
        with self._lock:
            self.open_at = max(self.open_at, self.clock() + max(seconds, 0.0))
            self.throttled += 1


@dataclass
class Pace:
    """Batch size (operations per ``$batch``) and concurrency (requests in flight), adapted to the service."""

    size: int = 10
    concurrency: int = 1
    max_size: int = 1000
    max_concurrency: int = 8

    def grow(self) -> None:
        size, concurrency = min(self.max_size, self.size * 2), min(self.max_concurrency, self.concurrency + 1)
        if (size, concurrency) != (self.size, self.concurrency):
            log.info("no throttling: batches of %d operations, %d at a time", size, concurrency)
        self.size, self.concurrency = size, concurrency

    def shrink(self) -> None:
        self.size, self.concurrency = max(1, self.size // 2), max(1, self.concurrency // 2)
        log.info("throttled (429): batches of %d operations, %d at a time", self.size, self.concurrency)
