"""An agent's batch wait that sleeps while nothing arrives, instead of waking every ``within`` seconds.

Faust's ``Stream.take_events(max_, within)`` loops on ``wait_for_stopped(buffer_full, timeout=within)`` and
yields when its buffer has events: with nothing arriving it still wakes every ``within`` (50 ms here), in every
agent. Measured on an idle ``p2c up``: ~1.7 % of a core for the stream worker (3.2 % with a 50 ms window,
1.5 % with 0.5 s). Faust has no setting for it, so :class:`QuietWait` adds a processor to the stream that
counts each event as it passes, and gives the stream a ``wait_for_stopped`` that, when every event counted has
been handed out in a batch (the buffer is empty and nothing is on its way into it), first waits without a
timeout for the next event (or for the stream to stop), then does Faust's timed wait. Otherwise it is Faust's
wait unchanged: the buffer, its acks and what a batch holds stay Faust's; only the empty waits go. A lone event
now waits the whole window (at most ``within``, as before). Private parts: ``Stream._processors`` (to take the
processor off again) and Faust calling ``self.wait_for_stopped`` from ``take_events`` (item 10 of
:mod:`p2c.streams.faust_adapter`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import faust


class QuietWait:
    """Counts the events into a stream's ``take_events`` and out of it; sleeps while the two are equal."""

    def __init__(self, stream: faust.Stream[Any]) -> None:
        self.stream = stream
        self.noted = self.taken = 0
        self.arrived = asyncio.Event()
        self._timed = stream.wait_for_stopped

    def note(self, value: Any) -> Any:
        """A stream processor: one more event on its way into the buffer."""
        self.noted += 1
        self.arrived.set()
        return value

    def handed_out(self, events: Sequence[Any]) -> None:
        """``take_events`` yielded ``events``: they are out of the buffer."""
        self.taken += len(events)

    async def wait_for_stopped(self, *coros: Any, timeout: Any = None) -> bool:
        if self.noted == self.taken:  # nothing buffered nor on its way: sleep until the next event
            self.arrived.clear()
            if await self._timed(self.arrived):  # type: ignore[arg-type]  # asyncio.Event has .wait(), as in Faust
                return True  # the stream stops
        return await self._timed(*coros, timeout=timeout)

    @contextmanager
    def installed(self) -> Iterator[QuietWait]:
        """While inside, the stream's ``take_events`` sleeps until an event arrives instead of polling."""
        self.stream.add_processor(self.note)
        self.stream.wait_for_stopped = self.wait_for_stopped  # type: ignore[method-assign]
        try:
            yield self
        finally:
            del self.stream.wait_for_stopped  # the class's own again
            if self.note in self.stream._processors:
                self.stream._processors.remove(self.note)
