"""How an agent handles one event, under the one error policy (:mod:`p2c.failures`): done, or dead-lettered.

A RecordError dead-letters the event at once. A retriable error (the registry unreachable, say) is retried on
the same event with a doubling delay, for at most the policy's budget; any other error a few times. An event
still failing then is dead-lettered with why ("kept failing ..."), so one poison record never stalls its
partition (agents run with concurrency 1: a stuck event stops every key behind it). The waits are
``asyncio.sleep``: the worker keeps heart-beating and stops when asked. Never skipped, never acknowledged
before it was handled: the agent's loop only moves on once this returns. A rebalance or a stop that takes the
event's partition ends the retries at once: the event is given back undone (its next owner reads it again), since
Faust's rebalance waits for every event an agent holds (:func:`p2c.streams.faust_adapter.give_back`).

Agents take their events in batches (:func:`in_batches`, Faust's ``take_events``): up to ``BATCH_SIZE`` events
or what arrived within ``BATCH_WAIT_S``, handled one by one in order, each under the policy above (one bad
record is dead-lettered, the rest of the batch goes on), then acknowledged together. The loop yields to the
event loop once per batch instead of once per event. What is left of a batch when a rebalance takes its
partitions is given back undone, as Faust's own streams skip such events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import faust
from faust.types import EventT

from p2c.deadletter import DeadLetter
from p2c.failures import DEAD_LETTER, POLICY, ErrorPolicy
from p2c.streams.batch_wait import QuietWait
from p2c.streams.counters import FlowCounters
from p2c.streams.faust_adapter import give_back, handling, superseded

log = logging.getLogger("p2c.streams")

BATCH_SIZE = 500
#: how long a batch waits for more events after its first: the latency it may add at a low rate (an idle agent
#: sleeps until an event comes: :mod:`p2c.streams.batch_wait`)
BATCH_WAIT_S = 0.05
#: how often an agent waiting to retry an event looks whether a rebalance took it
REBALANCE_CHECK_S = 0.2


async def in_batches(
    stream: faust.StreamT[Any],
    handle: Callable[[EventT[Any]], Awaitable[None]],
    plan: Callable[[Sequence[EventT[Any]]], None] | None = None,
    cut: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Hand every event of ``stream`` to ``handle`` (which handles it until done), a batch at a time
    (:func:`handle_batch`)."""
    faust_stream = cast(faust.Stream[Any], stream)  # take_events is not on StreamT
    with QuietWait(faust_stream).installed() as quiet:  # an idle agent sleeps instead of waking every 50 ms
        async for events in faust_stream.take_events(BATCH_SIZE, within=BATCH_WAIT_S):
            quiet.handed_out(events)
            await handle_batch(events, handle, plan, cut)
            # An agent that never awaits starves the event loop: Faust's fetcher and producer stop and the
            # worker stalls (measured: stuck after ~1,800 events). Yield once per batch.
            await asyncio.sleep(0)


async def handle_batch(
    events: Sequence[EventT[Any]],
    handle: Callable[[EventT[Any]], Awaitable[None]],
    plan: Callable[[Sequence[EventT[Any]]], None] | None = None,
    cut: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Handle ``events`` in order; ``plan`` sees them first. Those a rebalance or a stop took are given back
    undone, and then ``cut`` finishes what the handled ones began: a joining record holds its writes until its
    last event of the batch, and that event may be one given back (the commit passes the handled ones)."""
    if plan is not None:
        plan(events)
    given_back = 0
    for event in events:
        if superseded(event):
            give_back(event)
            given_back += 1
            continue
        with handling(event):
            await handle(event)
    if given_back:
        log.info("%d events given back undone (a rebalance or a stop took their partitions)", given_back)
        if cut is not None:
            await cut()


async def handle_until_done(
    event: EventT[Any],
    handle_once: Callable[[EventT[Any]], Awaitable[None]],
    *,
    flow: str,
    dlq: faust.TopicT,
    counters: FlowCounters,
    component: str = "",
    policy: ErrorPolicy | None = None,
    change_event: bool = True,
) -> None:
    """Handle ``event`` until done or dead-lettered; ``change_event``: it counts as one of the flow's change
    events (a join answer or subscription does not: its dead letter is counted apart)."""
    policy = policy or POLICY
    started, attempt = time.monotonic(), 0
    while True:
        attempt += 1
        try:
            await handle_once(event)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            elapsed = time.monotonic() - started
            verdict = policy.decide(exc, attempt, elapsed)
            msg = event.message
            if verdict == DEAD_LETTER:
                letter = DeadLetter.from_error(
                    policy.reason(exc, attempt, elapsed),
                    flow=flow,
                    stage="streams",
                    key=msg.key,
                    value=msg.value,
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    component=component,
                    headers=original_headers(msg.headers),
                )
                letter = dataclasses.replace(letter, error_class=type(exc).__name__)
                await dead_letter(letter, dlq, counters, change_event=change_event)
                return
            if superseded(event):
                give_back_retried(event, flow, attempt)
                return
            counters.retries += 1
            log.error(
                "%s: %s at %s[%d]@%d (try %d), retrying in %.1f s: %s",
                flow,
                type(exc).__name__,
                msg.topic,
                msg.partition,
                msg.offset,
                attempt,
                verdict,
                exc,
            )
            if await taken_while_waiting(event, float(verdict)):
                give_back_retried(event, flow, attempt)
                return


async def taken_while_waiting(event: EventT[Any], seconds: float) -> bool:
    """Wait ``seconds``, or until a rebalance or a stop takes ``event``'s partition; whether one did."""
    deadline = time.monotonic() + seconds
    while not superseded(event):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(left, REBALANCE_CHECK_S))
    return True


def give_back_retried(event: EventT[Any], flow: str, attempt: int) -> None:
    msg = event.message
    give_back(event)
    log.warning(
        "%s: %s[%d]@%d given back undone after %d tries (a rebalance or a stop took its partition): read again"
        " from the committed offset by its owner",
        flow,
        msg.topic,
        msg.partition,
        msg.offset,
        attempt,
    )


def original_headers(headers: Any) -> list[tuple[str, bytes]]:
    """A Faust message's headers (a list of pairs, or a mapping) as pairs."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or []
    return [(str(k), bytes(v)) for k, v in pairs if v is not None]


async def dead_letter(
    letter: DeadLetter, dlq: faust.TopicT, counters: FlowCounters, *, change_event: bool = True
) -> None:
    """The event's original key, bytes and headers to ``p2c.dlq.<flow>``, the reason and origin in the headers."""
    await dlq.send(key=letter.key, value=letter.value, headers=letter.headers())
    if change_event:
        counters.dead_lettered += 1
    else:
        counters.side_dead_lettered += 1
    log.warning(
        "%s: dead-lettered %s[%d]@%d to %s: %s",
        letter.flow,
        letter.origin_topic,
        letter.origin_partition,
        letter.origin_offset,
        letter.topic,
        letter.reason,
    )
