"""The thin agent of a flow that joins: its change topics and its answer topic in, writes and subscriptions out.

Per event, one at a time per partition: decode (Avro change, or a JSON answer), call the flow's pure logic
with the record's state, send the subscriptions it now needs and the unsubscriptions it no longer needs, and
hold the writes and the new state; at the record's last event of the batch, store the state and send the
writes (:mod:`streams.join.held`). The state table is keyed by the requester key, like
every topic the agent reads, so a record's state, its changes and its answers all live on one worker.

A RecordError dead-letters the event's original bytes to ``p2c.dlq.<flow>`` (an answer too: ``p2c dlq
retry`` sends it back to the answer topic and the record is re-examined). Other errors retry the same event
under the one error policy (:mod:`streams.handling`).
The ``waiting``/``waiting_on`` gauges count the parked records of the partitions this worker owns; after a
rebalance they are recounted from the table.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import faust
from faust.types import EventT

from p2c.failures import POLICY
from p2c.serde import Codecs, decode_key, deserialize_off_loop, serialize_off_loop
from p2c.streams.agents.base import NOTHING_NEW, TOMBSTONE
from p2c.streams.counters import FlowCounters, ParkedGauge
from p2c.streams.faust_adapter import handling, owned_partitions, partition_of
from p2c.streams.handling import handle_until_done, in_batches
from p2c.streams.join import codec
from p2c.streams.join.agents import ProviderAgent, answer_topic
from p2c.streams.join.core import Answer, State, Step, accept, follows, subscription_changes, subscriptions
from p2c.streams.join.held import HeldWrites
from p2c.streams.join.waits import WaitingKeys, waited_on
from p2c.topics import dead_letter

log = logging.getLogger("p2c.streams")


class JoiningFlow(Protocol):
    """The pure logic of a flow that joins (contacts, quotes)."""

    name: str
    source_topics: tuple[str, ...]
    target_topics: tuple[str, ...]
    #: whether a dependency this worker owns is answered at once (:meth:`RequesterAgent._answered_here`)
    answers_here: bool

    def on_change(self, topic: str, state: State | None, change: dict[str, Any], key: str | None) -> Step: ...

    def on_answer(self, state: State | None, answer: Answer) -> Step: ...


class RequesterAgent:
    """One joining flow's agent, state table, answer topic and dead-letter topic, registered on ``app``."""

    def __init__(
        self, app: faust.App, flow: JoiningFlow, codecs: Codecs, partitions: int, providers: Sequence[ProviderAgent]
    ) -> None:
        self.app, self.flow, self.codecs, self.partitions = app, flow, codecs, partitions
        self.counters = FlowCounters(flow.name)
        self.answers = answer_topic(app.conf.id, flow.name)
        self.providers = {p.spec.name: p for p in providers}
        self.targets = {name: app.topic(name) for name in flow.target_topics}
        self.dlq = app.topic(dead_letter(flow.name).name)
        self.state = app.Table(f"{flow.name}-state", partitions=partitions, key_type=bytes, value_type=bytes)
        self.gauge = ParkedGauge(self.counters)
        self.held = HeldWrites()
        self.waits = self.counters.waits = WaitingKeys()
        self._assigned: frozenset[int] | None = None
        channel = app.topic(*flow.source_topics, self.answers, partitions=partitions, internal=True)
        self.agent = app.agent(channel, name=f"streams.{flow.name}", concurrency=1)(self.process)
        app.timer(interval=2.0)(self.recount)

    async def process(self, stream: faust.StreamT[Any]) -> None:
        await in_batches(stream, self.handle, self.held.plan, self.send_every_held)

    async def handle(self, event: EventT[Any]) -> None:
        change_event = event.message.topic != self.answers
        if change_event:
            self.counters.events_in += 1
        await handle_until_done(
            event,
            self._handle_once,
            flow=self.flow.name,
            dlq=self.dlq,
            counters=self.counters,
            component=f"streams.{self.flow.name}",
            change_event=change_event,
        )
        key = event.message.key
        if key is not None and self.held.last_of_its_record(event):
            await self._send_held_until_sent(key)  # what earlier events held, if this one was dead-lettered

    async def send_every_held(self) -> None:
        """A batch cut short by a rebalance or a stop: send what its handled events hold (the last event of
        their record was given back, and the commit passes the handled ones)."""
        for raw_key in self.held.holding():
            await self._send_held_until_sent(raw_key)

    async def _send_held(self, raw_key: bytes) -> None:
        for write in self.held.held(raw_key):
            topic, target_key, value = write
            await self.targets[topic].send(key=target_key, value=value)
            self.held.sent(raw_key, write)
            self.counters.written += 1

    async def _send_held_until_sent(self, raw_key: bytes) -> None:
        """Store the record's held state, then send its held writes. Held writes are never dropped: a send
        that fails is tried again, with a doubling delay."""
        self._store_held_state(raw_key)
        delay = POLICY.first_delay
        while True:
            try:
                await self._send_held(raw_key)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.counters.retries += 1
                log.error(
                    "%s: sending the writes of %r failed, retrying in %.1f s: %s", self.flow.name, raw_key, delay, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, POLICY.max_delay)

    async def _handle_once(self, event: EventT[Any]) -> None:
        msg = event.message
        if msg.value is None or msg.key is None:
            if msg.topic != self.answers:
                self.counters.skip(TOMBSTONE)
            return
        key = decode_key(msg.key)
        assert key is not None
        before = codec.loads(self._stored(msg.key))
        if msg.topic == self.answers:
            step = self.flow.on_answer(before, Answer.decode(msg.value))
        else:
            change = await deserialize_off_loop(self.codecs[msg.topic], msg.value, key)
            step = self.flow.on_change(msg.topic, before, change, key)
        step, known = self._answered_here(before, step)
        encoded = [
            (topic, w.key.encode(), await serialize_off_loop(self.codecs[topic], w.value, key))
            for topic, w in step.writes
        ]
        for sub in subscriptions(before, step, self.answers, key):
            if sub.active and (sub.join, sub.dep) in known:
                sub = dataclasses.replace(sub, known=known[(sub.join, sub.dep)])
            await self.providers[sub.join].subscriptions.send(key=sub.dep.encode(), value=sub.encode())
        self.held.hold(msg.key, encoded)
        self._store(event, before, step, self._account(msg.key, before, step, msg.topic != self.answers))
        if self.held.last_of_its_record(event):
            self._store_held_state(msg.key)
            await self._send_held(msg.key)

    def _answered_here(self, before: State | None, step: Step) -> tuple[Step, dict[tuple[str, str], int]]:
        """Answer the dependencies ``step`` starts to follow from this worker's own providers, where it owns
        their partitions (with one worker, always): the record is written now, and the subscription it sends
        names the version it holds, so the provider answers only with a newer one. Saves an answer message, an
        event and a state record per dependency; the others are answered through the topics, as before.

        Returns the step with the answers applied (the writes of every step in order: held, the last per
        target key is sent) and the versions held, by (join, dependency)."""
        known: dict[tuple[str, str], int] = {}
        # quotes wait for the round trip; a replay subscribes again to be answered again; a forgotten record
        if not self.flow.answers_here or step.resubscribe or step.state is None:
            return step, known
        writes = list(step.writes)
        for join, dep in subscription_changes(follows(before), follows(step.state))[0]:
            provider = self.providers.get(join)
            current = provider.owned_value(dep) if provider is not None else None
            if current is None or step.state is None:
                continue
            answer = Answer(join, dep, current)
            if not accept(step.state.get("resolved", {}), follows(step.state), answer):
                continue
            step = self.flow.on_answer(step.state, answer)
            writes += step.writes
            known[(join, dep)] = current.version
        return dataclasses.replace(step, writes=writes), known

    def _account(self, raw_key: bytes, before: State | None, step: Step, change_event: bool) -> int:
        """Count the outcome of the change events the record holds; returns how many still wait.

        A parked record holds the change events read since its last outcome (``pending``): they are all
        written, or all skipped, when it is released, so every change event ends counted exactly once.
        """
        held = int((before or {}).get("pending", 0))
        if held and raw_key not in self.gauge.parked:  # parked by an earlier run or another worker
            self.counters.carried_in += held
        pending = held + change_event
        if step.waiting_on:
            return pending
        if pending:
            if step.writes:
                self.counters.events_written += pending
            else:
                self.counters.skip(step.skipped or NOTHING_NEW, pending)
        return 0

    def _stored(self, raw_key: bytes) -> bytes | None:
        """The record's state as its last event left it: held in this batch, else in the table."""
        held = self.held.state(raw_key)
        return self.state.get(raw_key) if held is None else held[0]

    def _store(self, event: EventT[Any], before: State | None, step: Step, pending: int = 0) -> None:
        """Hold the record's new state until its last event of the batch (:mod:`streams.join.held`)."""
        raw_key = event.message.key
        assert raw_key is not None
        state = None if step.state is None else {**step.state, "waiting_on": step.waiting_on}
        if state is not None:
            if pending:
                state["pending"] = pending
            else:
                state.pop("pending", None)
        if state is None:
            if before is not None:
                self.held.hold_state(raw_key, None, event)
        elif state != before:
            self.held.hold_state(raw_key, codec.dumps(state), event)
        self.gauge.set(raw_key, step.waiting_on, pending)
        self.waits.set(raw_key, waited_on(state) if step.waiting_on else ())

    def _store_held_state(self, raw_key: bytes) -> None:
        """Write the record's held state to the table, its changelog record to the partition of the event
        that left it."""
        held = self.held.take_state(raw_key)
        if held is None:
            return
        stored, event = held
        with handling(event):
            if stored is None:
                self.state.pop(raw_key, None)
            else:
                self.state[raw_key] = stored

    async def recount(self) -> None:
        """After a rebalance: count the parked records of the partitions this worker now owns."""
        assigned = owned_partitions(self.app, self.flow.source_topics[0])
        if assigned is None or assigned == self._assigned:
            return
        self._assigned = assigned
        before = dict(self.gauge.parked)
        self.gauge.clear()
        self.waits.clear()
        states = dict(self.state.items())
        states.update(self.held.states())  # a batch cut short by this rebalance may not have stored them yet
        for raw_key, value in states.items():
            if value is not None and partition_of(raw_key, self.partitions) in assigned:
                state = codec.loads(value) or {}
                self.gauge.set(raw_key, state.get("waiting_on"), int(state.get("pending", 0)))
                self.waits.set(raw_key, waited_on(state) if state.get("waiting_on") else ())
        # change events parked before this worker owned them come in; those of partitions it lost go out
        parked = self.gauge.parked
        self.counters.carried_in += sum(n for k, (_, n) in parked.items() if k not in before)
        self.counters.carried_out += sum(n for k, (_, n) in before.items() if k not in parked)
