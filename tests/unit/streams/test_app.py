"""App and worker configuration: broker URLs, group timings, flows, topics."""

from __future__ import annotations

import pytest

from p2c.errors import ConfigurationError
from p2c.streams.app import broker_urls, group_timings
from p2c.streams.settings import StreamsSettings
from p2c.streams.worker import load_flows, topics_of


def test_several_bootstrap_servers_become_faust_broker_urls() -> None:
    assert broker_urls("a:9092, b:9093") == ["kafka://a:9092", "kafka://b:9093"]
    assert broker_urls("kafka://a:9092") == ["kafka://a:9092"]


def test_group_timings_follow_the_session_timeout() -> None:
    timings = group_timings(2000)
    assert timings.session == 2.0 and timings.heartbeat == pytest.approx(0.2) and timings.rebalance == 5.0


def test_unknown_flows_are_rejected_by_name() -> None:
    with pytest.raises(ConfigurationError, match="invoices"):
        load_flows(StreamsSettings(flows=("accounts", "invoices")))


def test_a_worker_needs_the_change_target_and_dead_letter_topics() -> None:
    names = [t.name for t in topics_of(load_flows(StreamsSettings()))]
    assert names == [
        "p2c.src.crm.accounts",
        "p2c.src.crm.contacts",
        "p2c.src.crm.products",
        "p2c.src.crm.quotedetails",
        "p2c.src.crm.quotes",
        "p2c.src.erp.releasedproducts",
        "p2c.tgt.crm.products",
        "p2c.tgt.erp.contactpersons",
        "p2c.tgt.erp.customers",
        "p2c.tgt.erp.quotations",
        "p2c.dlq.accounts",
        "p2c.dlq.contacts",
        "p2c.dlq.quotes",
        "p2c.dlq.products",
    ]
