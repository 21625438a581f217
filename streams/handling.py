"""How an agent handles one event: it is done, dead-lettered for a record error, or retried with backoff.

Never skipped: an error that is not about the record (registry unreachable, a bug) is retried on the same
event until it goes through, with the delay doubling from ``RETRY_FIRST_S`` up to ``RETRY_MAX_S``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import EventT

from p2c.deadletter import DeadLetter
from p2c.errors import RecordError
from p2c.streams.counters import FlowCounters

log = logging.getLogger("p2c.streams")

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


async def handle_until_done(
    event: EventT[Any],
    handle_once: Callable[[EventT[Any]], Awaitable[None]],
    *,
    flow: str,
    dlq: faust.TopicT,
    counters: FlowCounters,
) -> None:
    delay = RETRY_FIRST_S
    while True:
        try:
            await handle_once(event)
            return
        except RecordError as exc:
            await dead_letter(event, exc, flow=flow, dlq=dlq, counters=counters)
            return
        except Exception as exc:  # transient or a bug: never skip the event
            counters.retries += 1
            msg = event.message
            log.error(
                "%s: %s at %s[%d]@%d, retrying in %.1f s: %s",
                flow,
                type(exc).__name__,
                msg.topic,
                msg.partition,
                msg.offset,
                delay,
                exc,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)


async def dead_letter(
    event: EventT[Any], error: RecordError, *, flow: str, dlq: faust.TopicT, counters: FlowCounters
) -> None:
    """The event's original bytes to ``p2c.dlq.<flow>``, the reason and origin in the headers."""
    msg = event.message
    letter = DeadLetter.from_error(
        error,
        flow=flow,
        stage="streams",
        key=msg.key,
        value=msg.value,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
    )
    await dlq.send(key=msg.key, value=msg.value, headers=letter.headers())
    counters.dead_lettered += 1
    log.warning(
        "%s: dead-lettered %s[%d]@%d to %s: %s", flow, msg.topic, msg.partition, msg.offset, letter.topic, letter.reason
    )
