"""Never commit an offset past a message an agent has not finished: at-least-once, enforced.

Faust commits the longest run of acked offsets after the last commit. Its guard against a gap at the head
of that run lets one missing offset through (``min(acked) - committed > 1``), meant for compacted topics:
a message still in flight at exactly the committed offset is then committed over, and lost if the worker is
killed before it finishes (faust-streaming issue #606). p2c measured the loss here: one account in 5,000 went
missing after a SIGKILL of the stream worker, its change event on the source topic, no target record, the
group's offset past it.

The guard caps every commit at the lowest offset still in flight on that partition (a message the
Conductor handed to a stream and that nobody acked yet), and logs when it held a commit back.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.consumer import Consumer

log = logging.getLogger("p2c.streams")

_installed = False


def _in_flight(consumer: Any, tp: Any) -> int | None:
    """The lowest offset of ``tp`` handed to a stream and not acked yet."""
    offsets = [m.offset for m in list(consumer._unacked_messages) if m.tp == tp and not m.acked]
    return min(offsets) if offsets else None


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

    _new_offset.__wrapped__ = original  # type: ignore[attr-defined]
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]
    _installed = True
