"""How long the streams worker's fetches may wait at the end of its partitions: short while records flow, long
once nothing has come for a while.

The worker keeps one fetch in flight to the broker. The embedded broker (Tansu) answers a waiting fetch only at its
next check of the partitions it names: at the start, then half the remaining wait later, again and again while that
is 250 ms or more, and at the end (``tansu-broker/src/broker/fetch.rs``). So the wait is latency added to every hop
through a topic (up to half of it), and it is also what keeps the broker busy when nothing changes: every check
reads every partition the fetch names. Measured on this 2-core machine, one consumer of 60 partitions, nothing
arriving: Tansu at 5-7 % of a core with a 100 ms wait, 1.1 % with 1 s. While records flow the wait is
:data:`BUSY_WAIT_MS`, as before; after :data:`IDLE_AFTER_S` without a record it is :data:`IDLE_WAIT_MS`, after
:data:`QUIET_AFTER_S` :data:`QUIET_WAIT_MS`, and the first record back costs at most half that once (the next fetch
waits :data:`BUSY_WAIT_MS` again). The quiet step matches the sources', which poll a table quiet for a minute every
5 s (``QUIET_BEFORE_IDLE_S``): the first change after a quiet minute waits for that poll anyway. On Apache Kafka a
fetch returns as soon as data arrives, so the long waits cost nothing there.

aiokafka reads the wait from its fetcher for every request it builds, and has no setting for a changing one:
:func:`adapt` sets the fetcher's private ``_fetch_max_wait_ms`` after each fetch (item 3 of
:mod:`p2c.streams.faust_adapter`, which lists every use of Faust's and aiokafka's private parts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: the wait while records flow: a hop through a topic took 16-63 ms with it on the embedded broker
BUSY_WAIT_MS = 100
#: the wait once idle: ~10x fewer fetches for the broker to answer
IDLE_WAIT_MS = 1000
#: how long without a record before the wait is long
IDLE_AFTER_S = 10.0
#: the wait once quiet for a minute: the broker checks a waiting fetch 3 times a second instead of 5
QUIET_WAIT_MS = 2000
#: how long without a record before the wait is the quiet one (as the sources' QUIET_BEFORE_IDLE_S)
QUIET_AFTER_S = 60.0


class FetchWait:
    """The fetch wait to ask for next, from whether the fetches that came back brought records."""

    def __init__(
        self,
        busy_ms: int = BUSY_WAIT_MS,
        idle_ms: int = IDLE_WAIT_MS,
        idle_after_s: float = IDLE_AFTER_S,
        quiet_ms: int = QUIET_WAIT_MS,
        quiet_after_s: float = QUIET_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.busy_ms, self.idle_ms, self.idle_after_s, self.clock = busy_ms, idle_ms, idle_after_s, clock
        self.quiet_ms, self.quiet_after_s = quiet_ms, quiet_after_s
        self.ms = busy_ms
        self._last_records = clock()

    def fetched(self, records: bool) -> int:
        """After a fetch came back (with ``records`` or without): the wait for the next one, in ms."""
        now = self.clock()
        if records:
            self._last_records = now
            self.ms = self.busy_ms
        elif now - self._last_records >= self.quiet_after_s:
            self.ms = self.quiet_ms
        elif now - self._last_records >= self.idle_after_s:
            self.ms = self.idle_ms
        return self.ms


def adapt(fetcher: Any, wait: FetchWait) -> None:
    """After each fetch of aiokafka's ``fetcher``, set the wait of the next from whether it brought records.

    ``Fetcher._proc_fetch_request`` answers True when the fetch added records; its result is handed on as is.
    """
    fetch = fetcher._proc_fetch_request

    async def _proc_fetch_request(assignment: Any, node_id: int, request: Any) -> bool:
        records = bool(await fetch(assignment, node_id, request))
        fetcher._fetch_max_wait_ms = wait.fetched(records)
        return records

    fetcher._fetch_max_wait_ms = wait.ms
    fetcher._proc_fetch_request = _proc_fetch_request
