"""Retry with exponential backoff and full jitter that honours the server's ``Retry-After`` (capped).

Each retry is logged on one line: WARNING when the other side failed, INFO when it only asked us to slow down.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from p2c.errors import RetriableError

log = logging.getLogger("p2c.connectors.retry")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` None retries forever (a sink must never skip a batch)."""

    max_attempts: int | None = 6
    base_delay: float = 0.2
    max_delay: float = 30.0
    jitter: Callable[[float], float] = field(default=lambda d: random.uniform(d / 2, d), compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1)."""
        if retry_after is not None:  # never sooner than told: the service extends the wait of a client that pushes
            return retry_after
        return self.jitter(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def call_with_retry(
    fn: Callable[[], T],
    what: str,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[RetriableError], None] | None = None,
) -> T:
    """Call ``fn`` until it returns or raises something other than RetriableError.

    After ``policy.max_attempts`` the last RetriableError propagates, for an outer loop to decide.
    """
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except RetriableError as exc:
            if policy.max_attempts is not None and attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt, exc.retry_after)
            level = logging.INFO if exc.retry_after is not None else logging.WARNING
            limit = f"/{policy.max_attempts}" if policy.max_attempts else ""
            log.log(level, "retry %d%s of %s in %.2f s: %s", attempt, limit, what, wait, exc)
            if on_retry is not None:
                on_retry(exc)
            sleep(wait)
