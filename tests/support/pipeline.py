"""The streams topology and the sinks' version guard, in memory: the pure flows wired as the agents wire them.

Every topic is a set of FIFO queues, one per (topic, key): Kafka keeps the order per partition, so per key, and
nothing across keys or topics. :meth:`Pipeline.deliver` hands the head of one queue to its consumer, which does
what its agent does (``streams/agents/base.py``, ``streams/join/requester.py``, ``streams/join/agents.py``):
call the pure function with the state from its table, send the outputs, store the new state (through the
codec, as the tables do). Two faults a crash causes are modelled per delivery:

* ``again``: the message is processed and stays at the head (its offset was not committed): it comes again;
* ``lose``: the state is stored but the outputs are lost (the worker died after the changelog was
  acknowledged and before the writes were), and the message comes again.

The sinks apply a write when its version is newer than the last applied for its key (the version guard).
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from p2c.streams import loader
from p2c.streams.contacts import ContactsFlow
from p2c.streams.flow import MappingFlow
from p2c.streams.join import codec
from p2c.streams.join.core import (
    Answer,
    DependencySpec,
    ProviderStep,
    State,
    Step,
    Subscription,
    Versioned,
    on_change,
    on_subscription,
    subscriptions,
)
from p2c.streams.join.specs import ACCOUNTS, CONTACTS, PRODUCTS
from p2c.streams.quotes import QuotesFlow
from p2c.streams.template import Template

SRC_ACCOUNTS, SRC_CONTACTS, SRC_PRODUCTS = ACCOUNTS.topic, CONTACTS.topic, PRODUCTS.topic
SRC_QUOTES, SRC_LINES = "p2c.src.crm.quotes", "p2c.src.crm.quotedetails"
CUSTOMERS, PERSONS, QUOTATIONS = "p2c.tgt.erp.customers", "p2c.tgt.erp.contactpersons", "p2c.tgt.erp.quotations"


@functools.cache
def template(name: str) -> Template:
    """A template as the worker loads it (checked against the contracts), loaded once per test run."""
    return loader.load(name)


@dataclass
class Applied:
    """A target record as the sink left it: the last write applied for its key."""

    op: str
    record: dict[str, Any]
    version: int


@dataclass
class Sink:
    """A target: applies a write only when its version is newer than the last applied for the key."""

    rows: dict[str, Applied] = field(default_factory=dict)
    skipped: int = 0

    def apply(self, key: str, value: dict[str, Any]) -> None:
        version = int(value["origin"]["version"])
        held = self.rows.get(key.lower())
        if held is not None and held.version >= version:
            self.skipped += 1
            return
        self.rows[key.lower()] = Applied(value["op"], self.patched(held, value), version)

    @staticmethod
    def patched(held: Applied | None, value: dict[str, Any]) -> dict[str, Any]:
        """The record after the write, as a PATCH leaves it: a None is left out (the target keeps what it has)
        unless the write names the field as cleared; a write over no live record creates it."""
        record: dict[str, Any] = value["record"]
        if held is None or held.op != "UPSERT" or value["op"] != "UPSERT":
            return dict(record)
        cleared = set(value.get("cleared") or ())
        return {**held.record, **{k: v for k, v in record.items() if v is not None or k in cleared}}

    def live(self) -> dict[str, dict[str, Any]]:
        """Records that are there (an UPSERT last): a DELETE removes (or blocks) the record."""
        return {k: a.record for k, a in self.rows.items() if a.op == "UPSERT"}


Consumer = Callable[[str, str, Any, bool], None]  # (topic, key, value, lose outputs)


class Pipeline:
    """The accounts, contacts and quotes flows, their three join providers and the ERP sinks."""

    def __init__(self, make_sink: Callable[[], Sink] = Sink) -> None:
        self.accounts = MappingFlow(template("accounts"))
        self.contacts = ContactsFlow(template("contacts-customers"), template("contacts-contactpersons"))
        self.quotes = QuotesFlow(template("quotes-header"), template("quotes-lines"))
        self.sinks = {CUSTOMERS: make_sink(), PERSONS: make_sink(), QUOTATIONS: make_sink()}
        self.tables: dict[str, dict[str, bytes]] = {}
        self.queues: dict[tuple[str, str], deque[Any]] = {}
        self.consumers: dict[str, list[tuple[str, Consumer]]] = {}
        self._subscribe(SRC_ACCOUNTS, "accounts", self._mapping)
        for spec in (ACCOUNTS, CONTACTS, PRODUCTS):
            provider = self._provider(spec)
            self._subscribe(spec.topic, f"join.{spec.name}", provider)
            self._subscribe(self.subscription_topic(spec.name), f"join.{spec.name}", provider)
        for flow, topics in ((self.contacts, (SRC_CONTACTS,)), (self.quotes, (SRC_QUOTES, SRC_LINES))):
            requester = self._requester(flow)
            for topic in (*topics, self.answer_topic(flow.name)):
                self._subscribe(topic, flow.name, requester)
        for topic, sink in self.sinks.items():
            self._subscribe(topic, f"sink.{topic}", self._sink(sink))

    @staticmethod
    def _sink(sink: Sink) -> Consumer:
        def consume(topic: str, key: str, value: Any, lose: bool) -> None:
            sink.apply(key, value)  # a sink's "lost outputs" are its commits: it is simply redelivered

        return consume

    @staticmethod
    def subscription_topic(join: str) -> str:
        return f"join-{join}-subscriptions"

    @staticmethod
    def answer_topic(flow: str) -> str:
        return f"{flow}-answers"

    # ---- topics ------------------------------------------------------------------------------------

    def _subscribe(self, topic: str, group: str, consumer: Consumer) -> None:
        self.consumers.setdefault(topic, []).append((group, consumer))

    def send(self, topic: str, key: str, value: Any) -> None:
        """A message on ``topic``: one copy in the queue of every consumer group that reads it."""
        for group, _ in self.consumers[topic]:
            self.queues.setdefault((f"{group}:{topic}", key), deque()).append(value)

    def pending(self) -> list[tuple[str, str]]:
        """The queues with a message waiting, in a stable order."""
        return sorted(q for q, items in self.queues.items() if items)

    def deliver(self, queue: tuple[str, str], *, again: bool = False, lose: bool = False) -> None:
        """The head of ``queue`` to its consumer; with ``again`` or ``lose`` it stays and comes again."""
        group_topic, key = queue
        group, topic = group_topic.split(":", 1)
        value = self.queues[queue][0]
        consumer = next(c for g, c in self.consumers[topic] if g == group)
        consumer(topic, key, value, lose)
        if not (again or lose):
            self.queues[queue].popleft()

    def drain(self, choose: Callable[[list[tuple[str, str]]], tuple[tuple[str, str], str | None]]) -> None:
        """Deliver until every queue is empty; ``choose`` picks the queue and a fault (None, "again", "lose")."""
        faulted: set[int] = set()
        while pending := self.pending():
            queue, fault = choose(pending)
            head = id(self.queues[queue][0])
            if head in faulted:
                fault = None  # at most one fault per message: a crash loop is not what is modelled
            if fault:
                faulted.add(head)
            self.deliver(queue, again=fault == "again", lose=fault == "lose")

    # ---- tables ------------------------------------------------------------------------------------

    def _get(self, table: str, key: str) -> Any:
        return codec.loads(self.tables.setdefault(table, {}).get(key))

    def _put(self, table: str, key: str, value: Any) -> None:
        if value is None:
            self.tables.setdefault(table, {}).pop(key, None)
        else:
            self.tables.setdefault(table, {})[key] = codec.dumps(value)

    # ---- the agents --------------------------------------------------------------------------------

    def _mapping(self, topic: str, key: str, change: dict[str, Any], lose: bool) -> None:
        outcome = self.accounts.handle(change, self._get("accounts-known-keys", key), key)
        if not lose:
            for write in outcome.writes:
                self.send(self.accounts.template.target_topic, write.key, write.value)
        if outcome.memory is not None:
            self._put("accounts-known-keys", key, outcome.memory)

    def _provider(self, spec: DependencySpec) -> Consumer:
        values, subscribers = f"join-{spec.name}-values", f"join-{spec.name}-subscribers"

        def consume(topic: str, key: str, value: Any, lose: bool) -> None:
            current = Versioned.of(self._get(values, key))
            subs = frozenset((t, k) for t, k in self._get(subscribers, key) or [])
            step: ProviderStep
            if topic == self.subscription_topic(spec.name):
                step = on_subscription(current, value)
            else:
                dep, new = spec.extract(value, key)
                step = on_change(spec.name, dep, current, subs, new)
            if not lose:
                for reply_to, who, answer in step.replies:
                    self.send(reply_to, who, answer)
            self._put(values, key, None if step.current is None else step.current.as_json())
            self._put(subscribers, key, sorted(step.applied(subs)) or None)

        return consume

    def _requester(self, flow: ContactsFlow | QuotesFlow) -> Consumer:
        table, answers = f"{flow.name}-state", self.answer_topic(flow.name)

        def consume(topic: str, key: str, value: Any, lose: bool) -> None:
            before: State | None = self._get(table, key)
            step: Step
            if topic == answers:
                assert isinstance(value, Answer)
                step = flow.on_answer(before, value)
            else:
                step = flow.on_change(topic, before, value, key)
            if not lose:
                for sub in subscriptions(before, step, answers, key):
                    self.send(self.subscription_topic(sub.join), sub.dep, sub)
                for target, write in step.writes:
                    self.send(target, write.key, write.value)
            state = None if step.state is None else {**step.state, "waiting_on": step.waiting_on}
            self._put(table, key, state)

        return consume


__all__ = ["Applied", "Pipeline", "Sink", "Subscription", "template"]
