"""The streams worker's fetch wait: short while records flow, long once idle, longer once quiet for a minute, short
again at the first record."""

from __future__ import annotations

import asyncio
from typing import Any

from p2c.streams.fetch_wait import FetchWait, adapt


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_is_long_only_after_the_idle_time_and_short_again_at_the_first_record() -> None:
    clock = Clock()
    wait = FetchWait(busy_ms=100, idle_ms=1000, idle_after_s=10, clock=clock)
    assert wait.ms == 100
    clock.now = 9.9
    assert wait.fetched(False) == 100  # not idle long enough yet
    clock.now = 10.0
    assert wait.fetched(False) == 1000
    clock.now = 25.0
    assert wait.fetched(True) == 100  # records back: short at once
    clock.now = 30.0
    assert wait.fetched(False) == 100  # idle time counted from the last records, not from the start


def test_the_wait_is_longer_still_once_quiet_for_a_minute() -> None:
    clock = Clock()
    wait = FetchWait(busy_ms=100, idle_ms=1000, idle_after_s=10, quiet_ms=2000, quiet_after_s=60, clock=clock)
    clock.now = 59.9
    assert wait.fetched(False) == 1000
    clock.now = 60.0
    assert wait.fetched(False) == 2000
    clock.now = 100.0
    assert wait.fetched(True) == 100  # records back: short at once, from the quiet wait too


class Fetcher:
    """aiokafka's Fetcher as far as the hook touches it: each fetch says whether it brought records."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self._fetch_max_wait_ms = 1500
        self.asked: list[Any] = []

    async def _proc_fetch_request(self, assignment: Any, node_id: int, request: Any) -> bool:
        self.asked.append((assignment, node_id, request))
        return self.answers.pop(0)


def test_the_hook_sets_the_fetchers_wait_after_each_fetch_and_hands_on_its_result() -> None:
    clock = Clock()
    fetcher = Fetcher([False, True, False])
    adapt(fetcher, FetchWait(busy_ms=100, idle_ms=1000, idle_after_s=10, clock=clock))
    assert fetcher._fetch_max_wait_ms == 100  # the busy wait from the start, not aiokafka's

    async def fetch() -> bool:
        return await fetcher._proc_fetch_request("assignment", 1, "request")

    clock.now = 11.0
    assert asyncio.run(fetch()) is False
    assert fetcher._fetch_max_wait_ms == 1000
    assert asyncio.run(fetch()) is True
    assert fetcher._fetch_max_wait_ms == 100
    assert fetcher.asked[0] == ("assignment", 1, "request")
