"""A metrics log too slow to read leaves out the "waited on by" links, never the dead letters themselves."""

from __future__ import annotations

import logging

import pytest

from p2c.control import waits
from p2c.control.overview import Overview
from p2c.errors import RetriableError
from p2c.settings import KafkaSettings


def test_an_unreadable_metrics_topic_gives_no_links_and_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def slow(_kafka: KafkaSettings) -> dict[str, object]:
        raise RetriableError("reading p2c.metrics to its end took longer than 10 s")

    monkeypatch.setattr(waits, "read_snapshots", slow)
    with caplog.at_level(logging.WARNING, logger="p2c.control.waits"):
        assert waits.read_waiting_for(KafkaSettings()) == {}
    assert "what waits on the dead letters is not shown: reading p2c.metrics" in caplog.text


def test_the_consoles_overview_gives_no_links_and_a_warning_when_the_status_cannot_be_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    overview = Overview(KafkaSettings())

    def unreachable() -> None:
        raise RetriableError("Kafka at localhost:9092 did not answer within 10 s")

    monkeypatch.setattr(overview, "snapshot", unreachable)
    with caplog.at_level(logging.WARNING, logger="p2c.control"):
        assert overview.waits() == {}
    assert "what waits on the dead letters is not shown: Kafka at localhost:9092" in caplog.text
