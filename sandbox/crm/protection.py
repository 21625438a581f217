"""Dataverse service protection: the three documented limits, per user, in a sliding window.

From Microsoft's "Service protection API limits" page (per web server, 5-minute sliding window): 6,000
requests (``0x80072322``), 1,200 s of combined execution time (``0x80072321``), 52 concurrent requests
(``0x80072326``; refused at once). A ``$batch`` is one request, its execution time all of its parts'. A refused
request gets HTTP 429 with ``Retry-After`` (whole seconds); a client that sends again before that time has
passed gets 429 again and a longer wait (each early request doubles the extension, as the page says the
duration is extended "if the application continues to send such demanding requests"), and the sandbox logs
it (a request arriving on another connection within half a second of the refusal was already on its way:
refused, not counted). Successful responses carry ``x-ms-ratelimit-burst-remaining-xrm-requests`` and
``x-ms-ratelimit-time-remaining-xrm-requests``.

``scale`` shrinks the limits and the window together (0.1: 600 requests and 120 s of execution per 30 s, 5
concurrent), so tests meet them in seconds; the sandbox's own choice, written in sandbox/README.md.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from p2c.sandbox.odata.errors import ODataError

log = logging.getLogger("p2c.sandbox.protection")

REQUESTS_CODE = "0x80072322"
EXECUTION_TIME_CODE = "0x80072321"
CONCURRENCY_CODE = "0x80072326"
#: a request arriving this soon after a refusal, on another connection, was sent before the client knew
IN_FLIGHT_S = 0.5


@dataclass(frozen=True)
class Limits:
    requests: int = 6000
    execution_ms: float = 1_200_000.0
    concurrency: int = 52
    window_s: float = 300.0

    def scaled(self, factor: float) -> Limits:
        return Limits(
            max(1, round(self.requests * factor)),
            self.execution_ms * factor,
            max(1, round(self.concurrency * factor)),
            self.window_s * factor,
        )


@dataclass
class _User:
    calls: deque[tuple[float, float]] = field(default_factory=deque)  # (finished at, execution ms)
    in_flight: int = 0
    blocked_until: float = 0.0
    blocked_at: float = 0.0
    blocked_connection: object = None
    blocked_code: str = ""
    blocked_message: str = ""
    early: int = 0  # requests sent while told to wait, since the last wait began


class ServiceProtection:
    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.users: dict[str, _User] = {}
        self.early_requests = 0

    def _user(self, client: str) -> _User:
        user = self.users.setdefault(client, _User())
        cutoff = self.clock() - self.limits.window_s
        while user.calls and user.calls[0][0] <= cutoff:
            user.calls.popleft()
        return user

    def admit(self, client: str, connection: object = None) -> ODataError | None:
        """None when the request may run (then call :meth:`release`), else the 429 to answer.

        ``connection`` tells a request already on its way on another connection when the client was refused
        (refused, but not counted as pushing for ``IN_FLIGHT_S``) from one the client sent after it knew.
        """
        now = self.clock()
        user = self._user(client)
        lim = self.limits
        if now < user.blocked_until:
            in_flight = connection is not user.blocked_connection and now - user.blocked_at < IN_FLIGHT_S
            if connection is not None and in_flight:
                log.info("client %s: a request already in flight when it was refused is refused too", client)
                return self._refusal(user, now)
            user.early += 1
            self.early_requests += 1
            extension = min(lim.window_s, 2.0 ** (user.early - 1))
            log.warning(
                "client %s sent a request %.2f s before its Retry-After; the wait grows by %.0f s",
                client,
                user.blocked_until - now,
                extension,
            )
            user.blocked_until += extension
            return self._refusal(user, now)
        if user.in_flight >= lim.concurrency:
            message = f"Number of concurrent requests exceeded the limit of {lim.concurrency}."
            return self._block(user, now, now + 1.0, CONCURRENCY_CODE, message, connection)
        window = f"over time window of {lim.window_s:g} seconds"
        if len(user.calls) >= lim.requests:
            until = user.calls[len(user.calls) - lim.requests][0] + lim.window_s
            message = f"Number of requests exceeded the limit of {lim.requests} {window}."
            return self._block(user, now, until, REQUESTS_CODE, message, connection)
        spent = sum(ms for _, ms in user.calls)
        if spent >= lim.execution_ms:
            until, freed = now, 0.0
            for finished, ms in user.calls:  # wait until enough execution time has left the window
                until, freed = finished + lim.window_s, freed + ms
                if spent - freed < lim.execution_ms:
                    break
            return self._block(
                user,
                now,
                until,
                EXECUTION_TIME_CODE,
                f"Combined execution time of incoming requests exceeded limit of {lim.execution_ms:,.0f} milliseconds "
                f"{window}. Decrease number of concurrent requests or reduce the duration of requests and try again "
                f"later.",
                connection,
            )
        user.in_flight += 1
        return None

    def release(self, client: str, execution_ms: float) -> dict[str, str]:
        """The request finished; the rate-limit headers of its response."""
        user = self._user(client)
        user.in_flight = max(0, user.in_flight - 1)
        user.calls.append((self.clock(), execution_ms))
        remaining_ms = max(0.0, self.limits.execution_ms - sum(ms for _, ms in user.calls))
        return {
            "x-ms-ratelimit-burst-remaining-xrm-requests": str(max(0, self.limits.requests - len(user.calls))),
            "x-ms-ratelimit-time-remaining-xrm-requests": f"{remaining_ms:.2f}",
        }

    def _block(
        self, user: _User, now: float, until: float, code: str, message: str, connection: object = None
    ) -> ODataError:
        user.blocked_until = max(until, now + 1.0)
        user.blocked_at, user.blocked_connection = now, connection
        user.blocked_code, user.blocked_message = code, message
        user.early = 0
        log.info("service protection: %s (%s)", message, code)
        return self._refusal(user, now)

    @staticmethod
    def _refusal(user: _User, now: float) -> ODataError:
        wait = max(1, math.ceil(user.blocked_until - now))
        return ODataError(429, user.blocked_message, user.blocked_code, headers={"Retry-After": str(wait)})
