from __future__ import annotations

import re

import pytest

from p2c import flows, topics

NAME = re.compile(r"^p2c\.(src|tgt)\.(crm|erp)\.[a-z]+$")


def test_source_and_target_topics_follow_the_convention() -> None:
    for topic in flows.SOURCE_TOPICS:
        assert NAME.match(topic.name) and ".src." in topic.name, topic
    for topic in flows.TARGET_TOPICS:
        assert NAME.match(topic.name) and ".tgt." in topic.name, topic


def test_dead_letter_topics_one_per_flow_without_subject() -> None:
    assert [t.name for t in flows.DEAD_LETTER_TOPICS] == [f"p2c.dlq.{flow}" for flow in flows.NAMES]
    assert not any(t.has_schema for t in flows.DEAD_LETTER_TOPICS)
    assert topics.POSITIONS not in flows.WITH_SCHEMAS


def test_subject_is_topic_name_strategy() -> None:
    assert topics.CRM_ACCOUNTS.subject == "p2c.src.crm.accounts-value"
    assert topics.ERP_CUSTOMERS.subject == "p2c.tgt.erp.customers-value"


def test_system_and_entity_are_read_from_the_name() -> None:
    assert topics.system_of(topics.ERP_PRODUCTS) == "erp"
    assert topics.entity_of(topics.ERP_PRODUCTS) == "releasedproducts"


def test_names_are_unique() -> None:
    names = [t.name for t in flows.ALL_TOPICS]
    assert len(names) == len(set(names))


def test_every_topic_of_the_flows_is_known_by_name() -> None:
    assert flows.topic("p2c.src.crm.quotes") is topics.CRM_QUOTES
    with pytest.raises(KeyError, match=r"unknown topic 'p2c\.src\.crm\.nope'.*p2c\.src\.crm\.accounts"):
        flows.topic("p2c.src.crm.nope")
