"""Table recovery reads changelogs up to ends found by a fetch (streams.recovery), wired into the app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import faust
import pytest
from faust.types import TP

from p2c.settings import KafkaSettings
from p2c.streams import faust_adapter, recovery
from p2c.streams.app import create_app
from p2c.streams.settings import StreamsSettings

CHANGELOG = "p2c-streams-accounts-known-keys-changelog"
KAFKA = KafkaSettings(bootstrap_servers="broker:9092")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def app(loop: asyncio.AbstractEventLoop) -> Iterator[faust.App]:
    app = create_app(KAFKA, StreamsSettings())
    yield app
    thread_loop = faust_adapter.consumer_thread_loop(app)
    if thread_loop is not None:
        thread_loop.close()


def fake_lookup(ends: dict[tuple[str, int], int]) -> Any:
    calls: list[tuple[KafkaSettings, list[str]]] = []

    def lookup(kafka: KafkaSettings, topics: list[str]) -> dict[tuple[str, int], int]:
        calls.append((kafka, topics))
        return ends

    lookup.calls = calls  # type: ignore[attr-defined]
    return lookup


def test_highwaters_are_the_fetched_ends_of_the_asked_partitions(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookup = fake_lookup({(CHANGELOG, 0): 12, (CHANGELOG, 1): 0, (CHANGELOG, 2): -1, ("other", 0): 5})
    monkeypatch.setattr(recovery, "end_offsets", lookup)
    tps = [TP(CHANGELOG, 0), TP(CHANGELOG, 1), TP(CHANGELOG, 2), TP(CHANGELOG, 3)]
    found = loop.run_until_complete(recovery.fetched_highwaters(KAFKA, tps))
    assert found == {TP(CHANGELOG, 0): 12, TP(CHANGELOG, 1): 0}  # unanswered (-1) and unknown: left out
    assert lookup.calls == [(KAFKA, [CHANGELOG])]


def test_no_partitions_no_lookup(loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch) -> None:
    lookup = fake_lookup({})
    monkeypatch.setattr(recovery, "end_offsets", lookup)
    assert loop.run_until_complete(recovery.fetched_highwaters(KAFKA, [])) == {}
    assert lookup.calls == []


def test_the_app_recovers_tables_with_fetched_highwaters(app: faust.App) -> None:
    assert isinstance(app.transport, faust_adapter.FetchedHighwatersTransport)
    assert app.transport.kafka == KAFKA
    assert isinstance(app.consumer, faust_adapter.FetchedHighwatersConsumer)
    assert isinstance(faust_adapter.consumer_thread(app), faust_adapter.FetchedHighwatersThread)
    assert app.conf.recovery_consistency_check is True


def test_partitions_the_fetch_missed_fall_back_to_the_reported_end(
    app: faust.App,
    loop: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread = faust_adapter.consumer_thread(app)
    monkeypatch.setattr(recovery, "end_offsets", fake_lookup({(CHANGELOG, 0): 12}))
    aiokafka_consumer = MagicMock(end_offsets=AsyncMock(return_value={TP(CHANGELOG, 1): 3}))
    thread._consumer = aiokafka_consumer
    found = loop.run_until_complete(thread._highwaters([TP(CHANGELOG, 0), TP(CHANGELOG, 1)]))
    assert found == {TP(CHANGELOG, 0): 12, TP(CHANGELOG, 1): 3}
    aiokafka_consumer.end_offsets.assert_awaited_once_with([TP(CHANGELOG, 1)])
