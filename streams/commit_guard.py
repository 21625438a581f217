"""Never commit an offset past a message an agent has not finished: at-least-once, enforced.

Faust commits the longest run of acked offsets after the last commit. Its guard against a gap at the head
of that run lets one missing offset through (``min(acked) - committed > 1``), meant for compacted topics:
a message still in flight at exactly the committed offset is then committed over, and lost if the worker is
killed before it finishes (faust-streaming issue #606). p2c measured the loss here: one account in 5,000 went
missing after a SIGKILL of the stream worker, its change event on the source topic, no target record, the
group's offset past it.

The guard caps every commit at the lowest offset still in flight on that partition (a message the
Conductor handed to a stream and that nobody acked yet), and logs when it held a commit back.

Skipped offsets. Faust's fetch loop records a jump in a partition's offsets (a "gap") as acked, for compacted
topics and transaction markers, so that commits can pass it. p2c's streams read no compacted topic and no
transactional producer writes them, so a gap there means Faust did not hand fetched messages to the agent.
Measured on the three-broker Apache Kafka cluster, after a broker was SIGKILLed under load: gaps at nearly
every rebalance and start (messages fetched while table recovery runs, before the seek back); mostly they are
read again later, but once five consecutive offsets of a change topic never reached the agent while the commit
went past them (five accounts never written; faust-streaming #216/#221 are that family of races). The guard
never records such a gap, so no commit passes an offset no agent processed. If the skipped offsets are still
not processed ``GAP_GRACE_S`` later, it logs an ERROR naming them and exits the worker (code 75), so that its
supervisor restarts it and it reads them again from the committed offset.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from faust.transport.consumer import Consumer

log = logging.getLogger("p2c.streams")

_installed = False
RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: try again
GAP_GRACE_S = 20.0
exit_for_restart: Callable[[int], None] = os._exit  # replaced in unit tests


def _in_flight(consumer: Any, tp: Any) -> int | None:
    """The lowest offset of ``tp`` handed to a stream and not acked yet."""
    offsets = [m.offset for m in list(consumer._unacked_messages) if m.tp == tp and not m.acked]
    return min(offsets) if offsets else None


def processed(consumer: Any, tp: Any, offset: int) -> bool:
    """Whether ``offset`` of ``tp`` was acked by its agent (or committed) since Faust skipped it."""
    committed = consumer._committed_offset[tp]
    return (committed is not None and committed > offset) or offset in consumer._acked_index[tp]


def _check_gap(consumer: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    if processed(consumer, tp, offset_from):
        return
    log.error(
        "offsets %d-%d of %s were skipped by Faust's consumer and not processed within %.0f s: exiting so that "
        "the worker restarts and reads them again from the committed offset",
        offset_from,
        offset_to - 1,
        tp,
        GAP_GRACE_S,
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    exit_for_restart(RESTART_EXIT_CODE)


def install() -> None:
    """Wrap ``Consumer._new_offset`` once per process."""
    global _installed
    if _installed:
        return
    original = Consumer._new_offset

    def _new_offset(self: Any, tp: Any) -> int | None:
        limit = _in_flight(self, tp)
        if limit is None:
            return original(self, tp)
        acked: list[int] = self._acked[tp]
        held = [offset for offset in acked if offset >= limit]
        if held:  # set aside the acks behind the in-flight message; they are committed once it is done
            acked[:] = [offset for offset in acked if offset < limit]
        try:
            offset: int | None = original(self, tp)
        finally:
            if held:
                acked.extend(held)
                acked.sort()
        if offset is not None and offset > limit:
            log.warning("commit of %s held back at offset %d: it is still being processed", tp, limit)
            return limit
        if held and offset is None:
            log.debug("commit of %s waits for offset %d in flight", tp, limit)
        return offset

    async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        log.info(
            "offsets %d-%d of %s skipped by the fetch loop: not committed until processed",
            offset_from,
            offset_to - 1,
            tp,
        )
        asyncio.get_running_loop().call_later(GAP_GRACE_S, _check_gap, self, tp, offset_from, offset_to)

    _new_offset.__wrapped__ = original  # type: ignore[attr-defined]
    _add_gap.__wrapped__ = Consumer._add_gap  # type: ignore[attr-defined]
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]
    Consumer._add_gap = _add_gap  # type: ignore[method-assign]
    _installed = True
