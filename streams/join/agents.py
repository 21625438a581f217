"""The thin Faust agents around the join logic of :mod:`streams.join.core`.

Topics (internal ones are created by Faust, each with the partition count of the topic it must be
co-partitioned with; all keys are UTF-8 ids, all values JSON)::

    <app id>-join-<dep>-subscriptions   key: dependency id   partitions of the dependency's change topic
    <app id>-<flow>-answers             key: requester key   partitions of the requester's change topic

Tables (in memory, rebuilt from their changelogs; each record in the partition of the dependency)::

    join-<dep>-values       dependency id -> {"version", "value"}      (the provider's current value)
    join-<dep>-subscribers  dependency id \0 answer topic \0 requester key -> b"1"  (streams.join.subscribers)

A ProviderAgent reads the dependency's change topic and its subscription topic together: both are keyed
by the dependency id, so one worker owns an id's value, its subscribers and every message about it. One
provider per dependency serves every flow of the app (:func:`provider`). Every worker of a consumer group
must run the same flows, so that Faust's assignor gives partition N of all these topics to one worker.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.types import EventT

from p2c.errors import RecordError
from p2c.flows import flow_of_source
from p2c.serde import Codecs, decode_key, deserialize_off_loop
from p2c.streams.counters import FlowCounters
from p2c.streams.faust_adapter import owned_partitions, partition_of
from p2c.streams.handling import handle_until_done, in_batches
from p2c.streams.join import codec
from p2c.streams.join.core import DependencySpec, ProviderStep, Subscription, Versioned, on_change, on_subscription
from p2c.streams.join.subscribers import Subscribers
from p2c.topics import dead_letter

log = logging.getLogger("p2c.streams")


def answer_topic(app_id: str, flow: str) -> str:
    return f"{app_id}-{flow}-answers"


class ProviderAgent:
    """Keeps one dependency's current values and subscribers, and answers the subscribers."""

    def __init__(self, app: faust.App, spec: DependencySpec, codecs: Codecs, partitions: int) -> None:
        self.app, self.spec, self.partitions = app, spec, partitions
        self.decoder = codecs[spec.topic]
        self.subscription_topic = spec.subscription_topic(app.conf.id)
        self.subscriptions = app.topic(self.subscription_topic, partitions=partitions, internal=True)
        self.values = app.Table(f"join-{spec.name}-values", partitions=partitions, key_type=bytes, value_type=bytes)
        self.subscribers = Subscribers(
            app.Table(f"join-{spec.name}-subscribers", partitions=partitions, key_type=bytes, value_type=bytes),
            lambda: app.consumer_generation_id,
        )
        self._replies: dict[str, Any] = {}
        self._owned: tuple[object, frozenset[int]] = (None, frozenset())  # (consumer generation, partitions)
        # its dead letters go with the flow of the change topic it reads (products: the CRM's products echo)
        self.flow = flow_of_source(spec.topic)
        self.dlq = app.topic(dead_letter(self.flow).name)
        self.counters = FlowCounters(self.flow)
        channel = app.topic(spec.topic, self.subscription_topic, partitions=partitions, internal=True)
        self.agent = app.agent(channel, name=f"streams.join.{spec.name}", concurrency=1)(self.process)

    async def process(self, stream: faust.StreamT[Any]) -> None:
        await in_batches(stream, self.handle_until_done)

    async def handle_until_done(self, event: EventT[Any]) -> None:
        await handle_until_done(
            event,
            self.handle,
            flow=self.flow,
            dlq=self.dlq,
            counters=self.counters,
            component=f"streams.join.{self.spec.name}",
            change_event=False,  # counted apart: the flow's agent counts the same change events
        )

    async def handle(self, event: EventT[Any]) -> None:
        """One change or subscription. A malformed one raises RecordError: dead-lettered, never dropped."""
        msg = event.message
        if msg.value is None or msg.key is None:
            return
        key = decode_key(msg.key)
        change = (
            None if msg.topic == self.subscription_topic else await deserialize_off_loop(self.decoder, msg.value, key)
        )
        try:
            if change is None:
                sub = Subscription.decode(msg.value)
                step = on_subscription(self._current(msg.key), sub)
            else:
                dep, new = self.spec.extract(change, key)
                step = on_change(self.spec.name, dep, self._current(msg.key), self.subscribers.of(msg.key), new)
        except (ValueError, KeyError, TypeError) as exc:  # a malformed message: it will not get better
            raise RecordError(f"not a {self.spec.name} join message: {exc}", record_key=key) from exc
        await self._apply(msg.key, step)

    def _current(self, key: bytes) -> Versioned | None:
        return Versioned.of(codec.loads(self.values.get(key)))

    def owned_value(self, dep: str) -> Versioned | None:
        """``dep``'s current value when this worker owns its partition (None: another worker does, or the value
        is not known yet). A standby copy of a partition (Faust keeps one of another worker's) may lag: never
        read."""
        key = dep.encode()
        if partition_of(key, self.partitions) not in self._owned_partitions():
            return None
        return self._current(key)

    def _owned_partitions(self) -> frozenset[int]:
        generation = self.app.consumer_generation_id
        if self._owned[0] != generation:
            self._owned = (generation, owned_partitions(self.app, self.spec.topic) or frozenset())
        return self._owned[1]

    async def _apply(self, key: bytes, step: ProviderStep) -> None:
        for topic, who, answer in step.replies:
            if topic not in self._replies:
                self._replies[topic] = self.app.topic(topic)
            await self._replies[topic].send(key=who.encode(), value=answer.encode())
        value = None if step.current is None else codec.dumps(step.current.as_json())
        if value is not None and self.values.get(key) != value:
            self.values[key] = value
        self.subscribers.apply(key, step)


def provider(app: faust.App, spec: DependencySpec, codecs: Codecs, partitions: int) -> ProviderAgent:
    """The app's provider for ``spec``: made on first use, shared by every flow that joins on it."""
    providers: dict[str, ProviderAgent] = app.__dict__.setdefault("_p2c_join_providers", {})
    if spec.name not in providers:
        providers[spec.name] = ProviderAgent(app, spec, codecs, partitions)
    return providers[spec.name]


def providers_of(app: faust.App) -> list[ProviderAgent]:
    """The join providers registered on ``app``."""
    return list(app.__dict__.get("_p2c_join_providers", {}).values())
