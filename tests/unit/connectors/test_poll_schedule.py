"""``Source.poll_forever``: every stream at the poll interval, a stream that brought changes again sooner, the
busy streams' share of polls capped, and a stream quiet for a while polled at the idle interval, on a fake
clock."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from p2c.connectors.base.source import (
    BUSY_POLLS_PER_S,
    QUIET_BEFORE_IDLE_S,
    ChangeEvent,
    Checkpoint,
    Position,
    Source,
    SourceItem,
)


class ClockedSource(Source):
    """Polls named streams on a fake clock: ``wait`` advances it; stops after ``until`` seconds. A stream in
    ``changing`` brings one change per poll from ``changes_from`` on; every poll ends with a checkpoint, as a
    real one can."""

    def __init__(self, changing: set[str], until: float, changes_from: float = 0.0) -> None:
        super().__init__()
        self.now, self.until = 0.0, until
        self.changing, self.changes_from = changing, changes_from
        self.polls: list[tuple[float, str]] = []
        self.clock = lambda: self.now

    def changes(self, position: Position | None) -> Iterator[SourceItem]:
        raise NotImplementedError  # the tests drive poll_forever directly

    def poll(self, stream: str) -> Iterator[SourceItem]:
        self.polls.append((round(self.now, 3), stream))
        if stream in self.changing and self.now >= self.changes_from:
            yield ChangeEvent(f"p2c.src.crm.{stream}", "k", {"op": "u"})
        yield Checkpoint({})

    def wait(self, seconds: float) -> bool:
        self.now += seconds
        if self.now > self.until:
            self.stop()
        return self.stopped

    def times_of(self, stream: str) -> list[float]:
        return [at for at, polled in self.polls if polled == stream]


def run(
    src: ClockedSource,
    streams: list[str],
    interval: float,
    busy_interval: float | None,
    idle_interval: float | None = None,
) -> None:
    for _ in src.poll_forever(streams, src.poll, interval, busy_interval, idle_interval):
        pass


def test_quiet_streams_are_polled_in_their_order_once_an_interval() -> None:
    src = ClockedSource(changing=set(), until=2.5)
    run(src, ["accounts", "contacts"], interval=1.0, busy_interval=0.2)
    assert src.polls == [(at, stream) for at in (0.0, 1.0, 2.0) for stream in ("accounts", "contacts")]


def test_a_stream_that_brought_changes_is_polled_again_at_the_busy_interval() -> None:
    src = ClockedSource(changing={"accounts"}, until=1.05)
    run(src, ["accounts", "contacts"], interval=1.0, busy_interval=0.2)
    assert src.times_of("accounts") == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert src.times_of("contacts") == [0.0, 1.0]


def test_busy_streams_share_the_polls_a_second_the_source_allows() -> None:
    streams = ["accounts", "contacts", "quotes", "quotedetails", "products"]
    src = ClockedSource(changing=set(streams), until=3.05)
    run(src, streams, interval=1.0, busy_interval=0.2)
    assert src.times_of("accounts")[:3] == [0.0, 0.2, 0.7]  # one busy: 0.2 s; then all five: 0.5 s
    for stream in streams:  # five busy streams, each every 0.5 s: BUSY_POLLS_PER_S between them
        times = src.times_of(stream)
        gaps = {round(b - a, 3) for a, b in itertools.pairwise(times[2:])}
        assert gaps == {len(streams) / BUSY_POLLS_PER_S}, (stream, times)


def test_without_a_busy_interval_every_stream_keeps_the_interval() -> None:
    src = ClockedSource(changing={"accounts"}, until=2.5)
    run(src, ["accounts", "contacts"], interval=1.0, busy_interval=None)
    assert src.times_of("accounts") == src.times_of("contacts") == [0.0, 1.0, 2.0]


def test_a_busy_interval_longer_than_the_interval_never_slows_the_polls() -> None:
    src = ClockedSource(changing={"accounts"}, until=2.5)
    run(src, ["accounts"], interval=1.0, busy_interval=5.0)
    assert src.times_of("accounts") == [0.0, 1.0, 2.0]


def test_a_stream_quiet_for_a_while_is_polled_at_the_idle_interval_until_it_brings_a_change() -> None:
    quiet = QUIET_BEFORE_IDLE_S
    src = ClockedSource(changing={"accounts"}, until=quiet + 17, changes_from=quiet + 12)
    run(src, ["accounts", "contacts"], interval=1.0, busy_interval=0.2, idle_interval=5.0)
    every_second = [float(t) for t in range(int(quiet) + 1)]
    assert src.times_of("contacts") == [*every_second, quiet + 5, quiet + 10, quiet + 15]
    accounts = src.times_of("accounts")
    assert accounts[: len(every_second) + 3] == [*every_second, quiet + 5, quiet + 10, quiet + 15]
    assert accounts[len(every_second) + 3 :][:3] == [quiet + 15.2, quiet + 15.4, quiet + 15.6]  # busy again


def test_an_idle_interval_shorter_than_the_interval_never_speeds_the_polls() -> None:
    src = ClockedSource(changing=set(), until=QUIET_BEFORE_IDLE_S + 30)
    run(src, ["accounts"], interval=10.0, busy_interval=None, idle_interval=5.0)
    assert src.times_of("accounts") == [float(t) for t in range(0, int(QUIET_BEFORE_IDLE_S) + 31, 10)]


def test_without_an_idle_interval_a_quiet_stream_keeps_the_interval() -> None:
    src = ClockedSource(changing=set(), until=QUIET_BEFORE_IDLE_S + 5)
    run(src, ["accounts"], interval=1.0, busy_interval=0.2)
    assert src.times_of("accounts") == [float(t) for t in range(int(QUIET_BEFORE_IDLE_S) + 6)]
