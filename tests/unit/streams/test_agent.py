"""The accounts agent under Faust's test context: writes, dead letters and the known-key table."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest
from faust.events import Event
from faust.types import Message

from p2c import flows
from p2c.deadletter import DeadLetter
from p2c.errors import RecordError, RetriableError
from p2c.failures import ErrorPolicy
from p2c.settings import KafkaSettings
from p2c.streams import faust_adapter, samples
from p2c.streams.agents import FlowAgent, load_templates, register
from p2c.streams.app import create_app
from p2c.streams.handling import handle_batch
from p2c.streams.join import codec
from p2c.streams.join.core import Answer, Subscription, Versioned
from p2c.streams.join.requester import RequesterAgent
from p2c.streams.settings import StreamsSettings


class FakeCodec:
    """Stands in for the registry: values travel as the JSON of the dict (Decimals as strings)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def cached(self, data: bytes | None = None) -> bool:
        return True  # nothing to fetch: encoding and decoding stay on the event loop

    def serialize(self, value: dict[str, Any], key: str | None = None) -> bytes:
        return json.dumps(value, default=str).encode()

    def deserialize(self, data: bytes, key: str | None = None) -> dict[str, Any]:
        try:
            value: dict[str, Any] = json.loads(data)
        except ValueError as exc:
            raise RecordError(f"cannot be decoded from {self.topic}", record_key=key) from exc
        return value


class FakeCodecs(dict[str, FakeCodec]):
    def __missing__(self, topic: str) -> FakeCodec:
        return FakeCodec(topic)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop a test, current while the app is built and closed afterwards (Faust binds to it)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def agent(loop: asyncio.AbstractEventLoop) -> Iterator[FlowAgent]:
    settings = StreamsSettings()
    app = create_app(KafkaSettings(), settings)
    accounts = flows.by_name("accounts")
    loaded = load_templates(accounts, settings)
    [flow_agent] = register(app, accounts, FakeCodecs(), loaded, lambda _t: 4)  # type: ignore[arg-type]
    assert isinstance(flow_agent, FlowAgent)
    flow_agent.target.send = AsyncMock()  # type: ignore[method-assign]
    flow_agent.dlq.send = AsyncMock()  # type: ignore[method-assign]
    yield flow_agent
    # Faust's consumer makes an event loop for its thread when it is created, and only closes it on stop.
    thread_loop = faust_adapter.consumer_thread_loop(app)
    if thread_loop is not None:
        thread_loop.close()


def encoded(change: dict[str, Any]) -> bytes:
    return json.dumps(change, default=str).encode()


async def put(agent: FlowAgent, key: str, value: bytes) -> None:
    async with agent.agent.test_context() as context:
        await context.put(key=key.encode(), value=value, partition=0)


def run(coro: Any) -> Any:
    return asyncio.get_event_loop().run_until_complete(coro)


def test_create_then_delete(agent: FlowAgent) -> None:
    row = samples.account_row(1)

    async def scenario() -> None:
        async with agent.agent.test_context() as context:
            await context.put(key=row["accountid"].encode(), value=encoded(samples.change("c", row, 1)))
            await context.put(key=row["accountid"].encode(), value=encoded(samples.account_delete(1, 2)))

    run(scenario())
    sends = [call.kwargs for call in agent.target.send.await_args_list]  # type: ignore[attr-defined]
    assert [s["key"] for s in sends] == [b"usmf|ACC-00001-SAMPLE", b"usmf|ACC-00001-SAMPLE"]
    assert [json.loads(s["value"])["op"] for s in sends] == ["UPSERT", "DELETE"]
    assert json.loads(sends[1]["value"])["record"]["OnHoldStatus"] == "All"
    assert agent.counters.events_in == 2 and agent.counters.written == 2
    remembered = json.loads(agent.known[row["accountid"].encode()])  # a delete leaves a memory without a key
    assert remembered["key"] is None and remembered["seen"] == 2
    assert remembered["gone"] == {"dataAreaId": "usmf", "CustomerAccount": "ACC-00001-SAMPLE"}


def test_unknown_country_goes_to_the_dead_letter_topic_with_the_original_bytes(agent: FlowAgent) -> None:
    row = samples.account_row(2, address1_country="Atlantis")
    original = encoded(samples.change("c", row, 1))
    run(put(agent, row["accountid"], original))
    agent.target.send.assert_not_awaited()  # type: ignore[attr-defined]
    call = agent.dlq.send.await_args  # type: ignore[attr-defined]
    assert call.kwargs["value"] == original and call.kwargs["key"] == row["accountid"].encode()
    letter = DeadLetter.from_message("accounts", call.kwargs["key"], original, call.kwargs["headers"])
    assert letter.field == "address1_country" and "Atlantis" in letter.reason
    assert letter.origin_topic == "p2c.src.crm.accounts" and letter.stage == "streams"
    assert agent.counters.dead_lettered == 1


def test_a_tombstone_is_skipped(agent: FlowAgent) -> None:
    async def scenario() -> None:
        async with agent.agent.test_context() as context:
            await context.put(key=b"k", value=None)

    run(scenario())
    assert agent.counters.skipped == 1 and agent.counters.dead_lettered == 0


def test_undecodable_bytes_are_dead_lettered(agent: FlowAgent) -> None:
    run(put(agent, "k", b"\x00garbage"))
    assert agent.counters.dead_lettered == 1


def test_a_transient_error_is_retried_on_the_same_event(agent: FlowAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("p2c.streams.handling.POLICY", ErrorPolicy(first_delay=0.01))
    agent.target.send.side_effect = [ConnectionError("registry down"), None]  # type: ignore[attr-defined]
    row = samples.account_row(3)

    async def scenario() -> None:
        async with agent.agent.test_context() as context:
            await context.put(key=row["accountid"].encode(), value=encoded(samples.change("c", row, 1)))
            for _ in range(100):
                if agent.counters.written:
                    break
                await asyncio.sleep(0.01)

    run(scenario())
    assert agent.target.send.await_count == 2  # type: ignore[attr-defined]
    assert agent.counters.retries == 1 and agent.counters.written == 1


@pytest.mark.parametrize(
    ("error", "policy", "kind"),
    [
        (KeyError("a bug"), ErrorPolicy(first_delay=0.01, unexpected_attempts=3), "KeyError"),
        (RetriableError("registry down"), ErrorPolicy(first_delay=0.01, retriable_budget=0.05), "RetriableError"),
    ],
)
def test_an_event_that_keeps_failing_is_dead_lettered_with_its_headers_and_the_next_one_goes(
    agent: FlowAgent, monkeypatch: pytest.MonkeyPatch, error: Exception, policy: ErrorPolicy, kind: str
) -> None:
    monkeypatch.setattr("p2c.streams.handling.POLICY", policy)
    poison, good = samples.account_row(4), samples.account_row(5)
    original = encoded(samples.change("c", poison, 1))

    async def send(key: bytes, value: bytes) -> None:
        if poison["accountnumber"].encode() in key:
            raise error

    agent.target.send.side_effect = send  # type: ignore[attr-defined]

    async def scenario() -> None:
        async with agent.agent.test_context() as context:
            await context.put(key=b"poison", value=original, headers={"trace": b"t-1"})
            await context.put(key=good["accountid"].encode(), value=encoded(samples.change("c", good, 2)))
            for _ in range(500):  # the batch is handled after put returns: wait for both outcomes
                if agent.counters.dead_lettered and agent.counters.written:
                    break
                await asyncio.sleep(0.01)

    run(scenario())
    [call] = agent.dlq.send.await_args_list  # type: ignore[attr-defined]
    letter = DeadLetter.from_message("accounts", call.kwargs["key"], call.kwargs["value"], call.kwargs["headers"])
    assert (letter.key, letter.value, letter.stage, letter.error_class) == (b"poison", original, "streams", kind)
    assert "kept failing" in letter.reason and letter.origin_topic == "p2c.src.crm.accounts"
    assert ("trace", b"t-1") in letter.original_headers and letter.component == "streams.accounts"
    assert agent.counters.dead_lettered == 1 and agent.counters.written == 1  # the next event went through


def test_each_event_of_a_batch_writes_its_table_record_to_its_own_partition(agent: FlowAgent) -> None:
    rows = [samples.account_row(n) for n in (6, 7, 8)]
    partitions: list[tuple[bytes, int]] = []

    def send_changelog(partition: int, key: bytes, value: bytes, *args: Any) -> Any:
        partitions.append((key, partition))
        return MagicMock(message=MagicMock(partition=partition))

    agent.known.send_changelog = send_changelog  # type: ignore[method-assign,assignment]

    async def scenario() -> None:
        async with agent.agent.test_context() as context:
            for partition, row in zip((2, 0, 3), rows, strict=True):
                key, value = row["accountid"].encode(), encoded(samples.change("c", row, 1))
                await context.put(key=key, value=value, partition=partition, wait=False)
            for _ in range(500):
                if agent.counters.written == 3:
                    break
                await asyncio.sleep(0.01)

    run(scenario())
    assert partitions == [(row["accountid"].encode(), p) for p, row in zip((2, 0, 3), rows, strict=True)]


CONTACT = samples.contact_row(  # a contact person of account a-1
    "CON-1",
    contactid="c-1",
    msdynce_isactivecustomer=False,
    _parentcustomerid_value="a-1",
    parentcustomerid_type="account",
)


def joining_agent(flow: str) -> RequesterAgent:
    """A joining flow's requester, its sends and changelog writes recorded instead of made, its flow running."""
    app = create_app(KafkaSettings(), StreamsSettings())
    app.flow_control.resume()
    declared = flows.by_name(flow)
    [agent] = register(app, declared, FakeCodecs(), load_templates(declared, StreamsSettings()), lambda _t: 4)  # type: ignore[arg-type]
    assert isinstance(agent, RequesterAgent)
    for target in agent.targets.values():
        target.send = AsyncMock()  # type: ignore[method-assign]
    for join in agent.providers.values():
        join.subscriptions.send = AsyncMock()  # type: ignore[method-assign]
    agent.dlq.send = AsyncMock()  # type: ignore[method-assign]
    agent.state.send_changelog = MagicMock(  # type: ignore[method-assign]
        side_effect=lambda partition, key, value, *a: MagicMock(message=MagicMock(partition=partition))
    )
    return agent


@pytest.fixture
def requester(loop: asyncio.AbstractEventLoop) -> Iterator[RequesterAgent]:
    """The contacts flow's requester (:func:`joining_agent`)."""
    agent = joining_agent("contacts")
    yield agent
    thread_loop = faust_adapter.consumer_thread_loop(agent.app)
    if thread_loop is not None:
        thread_loop.close()


def batch_of(agent: RequesterAgent, key: bytes, inputs: list[tuple[str, bytes]], first: int) -> list[Event]:
    """One batch of ``key``'s events at offsets from ``first``, as Faust hands it to an agent."""
    return [
        Event(agent.app, key, value, {}, Message(topic, 0, first + n, 0.0, 0, None, key, value, b""))
        for n, (topic, value) in enumerate(inputs)
    ]


def sent(agent: RequesterAgent) -> list[dict[str, Any]]:
    """The arguments of every send to the agent's targets, in order."""
    return [c.kwargs for t in agent.targets.values() for c in t.send.await_args_list]  # type: ignore[attr-defined]


def changelog(agent: RequesterAgent) -> list[tuple[int, bytes]]:
    """The partition and key of every changelog record of the agent's state table, in order."""
    return [(c.args[0], c.args[1]) for c in agent.state.send_changelog.call_args_list]  # type: ignore[attr-defined]


ACCOUNT_NUMBER = Answer("accounts", "a-1", Versioned(40, {"number": "ACC-1"})).encode()


def test_a_joining_records_writes_in_one_batch_are_sent_once_the_last_per_target(
    loop: asyncio.AbstractEventLoop, requester: RequesterAgent
) -> None:
    inputs = [
        ("p2c.src.crm.contacts", encoded(samples.change("c", CONTACT, 1, entity="contacts"))),
        (requester.answers, ACCOUNT_NUMBER),  # the account number: the contact person can be written (v1)
        (
            "p2c.src.crm.contacts",
            encoded(samples.change("u", {**CONTACT, "firstname": "Augusta"}, 50, entity="contacts")),
        ),
    ]
    # one batch, handled as in_batches hands it on (Faust's test context does not feed an agent of several topics)
    loop.run_until_complete(handle_batch(batch_of(requester, b"c-1", inputs, 0), requester.handle, requester.held.plan))
    sends = sent(requester)
    assert [s["key"] for s in sends] == [b"usmf|CON-1"]  # one write, not one per event
    assert json.loads(sends[0]["value"])["record"]["FirstName"] == "Augusta"
    assert requester.counters.written == 1
    # the state too: each event read the one its previous event left, and only the last was stored
    assert changelog(requester) == [(0, b"c-1")]
    assert json.loads(requester.state[b"c-1"])["change"]["after"]["firstname"] == "Augusta"

    # a record whose last event of the batch is dead-lettered still sends what its earlier events held
    row2 = {**CONTACT, "contactid": "c-2", "msdynce_contactnumber": "CON-2"}
    inputs2 = [
        ("p2c.src.crm.contacts", encoded(samples.change("c", row2, 60, entity="contacts"))),
        (requester.answers, ACCOUNT_NUMBER),
        ("p2c.src.crm.contacts", b"not json"),
    ]
    batch = batch_of(requester, b"c-2", inputs2, 10)
    loop.run_until_complete(handle_batch(batch, requester.handle, requester.held.plan))
    assert [s["key"] for s in sent(requester)] == [b"usmf|CON-1", b"usmf|CON-2"]
    assert requester.counters.dead_lettered == 1 and requester.counters.written == 2


def test_a_batch_cut_short_by_a_rebalance_sends_what_its_handled_events_hold(
    loop: asyncio.AbstractEventLoop, requester: RequesterAgent
) -> None:
    """The record's last event of the batch is given back: the writes its earlier events held still go out
    (the commit passes those events; the next owner starts at the one given back, which may write nothing)."""
    app = requester.app
    app.consumer_generation_id = 7
    inputs = [
        ("p2c.src.crm.contacts", encoded(samples.change("c", CONTACT, 1, entity="contacts"))),
        (requester.answers, ACCOUNT_NUMBER),
        ("p2c.src.crm.contacts", encoded(samples.change("u", {**CONTACT, "lastname": "King"}, 50, entity="contacts"))),
    ]
    batch = batch_of(requester, b"c-1", inputs, 0)
    for event in batch:
        event.message.generation_id = 7
    batch[-1].message.generation_id = 6  # fetched before the rebalance that began while the batch ran
    loop.run_until_complete(handle_batch(batch, requester.handle, requester.held.plan, requester.send_every_held))
    sends = sent(requester)
    assert [s["key"] for s in sends] == [b"usmf|CON-1"]
    assert json.loads(sends[0]["value"])["record"]["LastName"] == "Lovelace"  # the last event was not handled
    # the state the handled events left is stored (the commit passes them), to the partition of the last one
    assert changelog(requester) == [(0, b"c-1")]
    assert json.loads(requester.state[b"c-1"])["change"]["after"]["lastname"] == "Lovelace"
    assert requester.held.holding() == []


def subscriptions_sent(agent: RequesterAgent) -> list[Subscription]:
    """Every subscription the agent sent to its providers, decoded, in order."""
    sends = [c.kwargs for p in agent.providers.values() for c in p.subscriptions.send.await_args_list]  # type: ignore[attr-defined]
    return [Subscription.decode(s["value"]) for s in sends]


def test_a_dependency_whose_partition_this_worker_owns_is_answered_here_and_subscribed_with_its_version(
    loop: asyncio.AbstractEventLoop, requester: RequesterAgent
) -> None:
    accounts = requester.providers["accounts"]
    accounts.values.data[b"a-1"] = codec.dumps(Versioned(40, {"number": "ACC-1"}).as_json())  # as recovered
    change = [("p2c.src.crm.contacts", encoded(samples.change("c", CONTACT, 1, entity="contacts")))]

    # another worker owns a-1's partition: the contact person waits for the answer through the topics
    accounts._owned = (requester.app.consumer_generation_id, frozenset())
    loop.run_until_complete(handle_batch(batch_of(requester, b"c-1", change, 0), requester.handle, requester.held.plan))
    assert sent(requester) == [] and requester.counters.waiting == 1
    assert [(s.dep, s.known) for s in subscriptions_sent(requester)] == [("a-1", None)]

    # this one does: written at once, and the provider is told the version held
    row2 = {**CONTACT, "contactid": "c-2", "msdynce_contactnumber": "CON-2"}
    change2 = [("p2c.src.crm.contacts", encoded(samples.change("c", row2, 2, entity="contacts")))]
    accounts._owned = (requester.app.consumer_generation_id, frozenset(range(4)))
    loop.run_until_complete(
        handle_batch(batch_of(requester, b"c-2", change2, 1), requester.handle, requester.held.plan)
    )
    [write] = sent(requester)
    assert write["key"] == b"usmf|CON-2"
    assert json.loads(write["value"])["record"]["AssociatedContactNumber"] == "ACC-1"
    assert [(s.dep, s.known) for s in subscriptions_sent(requester)] == [("a-1", None), ("a-1", 40)]
    assert requester.counters.events_written == 1 and requester.counters.waiting == 1


def test_a_quote_waits_for_its_answers_through_the_topics_even_when_this_worker_owns_them(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """A quote comes as several events: answered at once, it would be written before its later lines."""
    agent = joining_agent("quotes")
    account, product = samples.account_row(0, accountid="a-1"), samples.product_row("P-1")
    agent.providers["accounts"].values.data[b"a-1"] = codec.dumps(Versioned(40, {"number": "ACC-1"}).as_json())
    agent.providers["products"].values.data[product["productid"].encode()] = codec.dumps(
        Versioned(41, {"number": "P-1", "external": True}).as_json()
    )
    for provider in agent.providers.values():
        provider._owned = (agent.app.consumer_generation_id, frozenset(range(4)))
    quote = samples.quote_row("QUO-1", account)
    inputs = [
        ("p2c.src.crm.quotes", encoded(samples.change("c", quote, 1, entity="quotes"))),
        ("p2c.src.crm.quotedetails", encoded(samples.change("c", samples.line_row(quote, 1, product), 2))),
    ]
    loop.run_until_complete(
        handle_batch(batch_of(agent, quote["quoteid"].encode(), inputs, 0), agent.handle, agent.held.plan)
    )
    assert sent(agent) == [] and agent.counters.waiting == 2
    assert {(s.dep, s.known) for s in subscriptions_sent(agent)} == {(product["productid"], None), ("a-1", None)}
    thread_loop = faust_adapter.consumer_thread_loop(agent.app)
    if thread_loop is not None:
        thread_loop.close()
