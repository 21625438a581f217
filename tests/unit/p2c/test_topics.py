from __future__ import annotations

import re

import pytest

from p2c import topics

NAME = re.compile(r"^p2c\.(src|tgt)\.(crm|erp)\.[a-z]+$")


def test_source_and_target_topics_follow_the_convention() -> None:
    for topic in topics.SOURCE_TOPICS:
        assert NAME.match(topic.name) and ".src." in topic.name, topic
    for topic in topics.TARGET_TOPICS:
        assert NAME.match(topic.name) and ".tgt." in topic.name, topic


def test_dead_letter_topics_one_per_flow_without_subject() -> None:
    assert [t.name for t in topics.DEAD_LETTER_TOPICS] == [f"p2c.dlq.{flow}" for flow in topics.FLOWS]
    assert not any(t.has_schema for t in topics.DEAD_LETTER_TOPICS)
    assert topics.POSITIONS not in topics.WITH_SCHEMAS


def test_subject_is_topic_name_strategy() -> None:
    assert topics.CRM_ACCOUNTS.subject == "p2c.src.crm.accounts-value"
    assert topics.ERP_CUSTOMERS.subject == "p2c.tgt.erp.customers-value"


def test_names_are_unique() -> None:
    names = [t.name for t in topics.ALL]
    assert len(names) == len(set(names))


def test_by_name_finds_and_names_the_known_topics() -> None:
    assert topics.by_name("p2c.src.crm.quotes") is topics.CRM_QUOTES
    with pytest.raises(KeyError, match=r"unknown topic 'p2c\.src\.crm\.nope'.*p2c\.src\.crm\.accounts"):
        topics.by_name("p2c.src.crm.nope")
