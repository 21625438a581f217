"""Service protection: at most N requests per client in any sliding one-second window."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable


class RateLimiter:
    """``check(client)`` returns 0 when the request may go, else the seconds to wait (``Retry-After``)."""

    WINDOW_S = 1.0

    def __init__(self, per_second: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = per_second
        self.clock = clock
        self.calls: dict[str, deque[float]] = defaultdict(deque)

    def check(self, client: str) -> int:
        if not self.limit:
            return 0
        now = self.clock()
        calls = self.calls[client]
        while calls and calls[0] <= now - self.WINDOW_S:
            calls.popleft()
        if len(calls) >= self.limit:
            return max(1, math.ceil(calls[0] + self.WINDOW_S - now))
        calls.append(now)
        return 0
