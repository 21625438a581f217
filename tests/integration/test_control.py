"""The dead letters' lifecycle and the control API against the real broker, over real HTTP.

One key dead-lettered twice (two versions) and another once: a retry sends only the newest letter of each
key; a retry dead-lettered again carries on as one entry; once the stage has processed the retry, both letters
of the first key are resolved (its retry got through, and the older one is obsolete); a discard needs a note.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from p2c.admin import ensure_topics
from p2c.broker import EmbeddedBroker
from p2c.control.api import ROUTES
from p2c.deadletter import DeadLetter
from p2c.errors import RecordError
from p2c.flows import STREAMS_GROUP
from p2c.process import ManagedProcess, free_port, http_ok, p2c_command
from p2c.settings import KafkaSettings
from p2c.topics import Topic, dead_letter
from tests.support.cli import run_p2c

FLOW = "accounts"


@pytest.fixture(scope="module")
def control_url(kafka_bootstrap: str, logs_dir: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        "control",
        p2c_command("control", "--port", str(port), "--bootstrap-servers", kafka_bootstrap),
        ready=http_ok(f"{url}/api/openapi.json"),
        log_path=logs_dir / f"control-{port}.log",
    )
    process.start(timeout=30)
    yield url
    process.stop()


def produce(kafka: KafkaSettings, topic: str, key: bytes, value: bytes) -> int:
    offsets: list[int | None] = []
    producer = Producer(kafka.producer())
    producer.produce(topic, key=key, value=value, on_delivery=lambda err, msg: offsets.append(msg.offset()))
    assert producer.flush(10) == 0 and offsets[0] is not None
    return offsets[0]


def dead_letter_of(kafka: KafkaSettings, origin: str, key: bytes, offset: int, reason: str) -> None:
    error = RecordError(reason, record_key=key.decode(), field="address1_country")
    letter = DeadLetter.from_error(
        error, flow=FLOW, stage="streams", key=key, value=b"v@%d" % offset, topic=origin, partition=0, offset=offset
    )
    producer = Producer(kafka.producer())
    headers: list[tuple[str, str | bytes | None]] = list(letter.headers())
    producer.produce(letter.topic, key=letter.key, value=letter.value, headers=headers)
    assert producer.flush(10) == 0


def mine(bootstrap: str, keys: set[str]) -> dict[str, list[dict[str, Any]]]:
    listed = json.loads(run_p2c("dlq", "list", "--flow", FLOW, "--json", "--bootstrap-servers", bootstrap))
    by_key: dict[str, list[dict[str, Any]]] = {}
    for letter in listed:
        if letter["key"] in keys:
            by_key.setdefault(letter["key"], []).append(letter)
    return by_key


def test_a_dead_letter_goes_from_open_to_retried_to_resolved_or_discarded(
    kafka_bootstrap: str, control_url: str
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    origin = Topic(f"test-origin-{uuid.uuid4().hex[:6]}", partitions=1)
    ensure_topics(kafka, [origin, dead_letter(FLOW)])
    a, b = (f"ACC-{uuid.uuid4().hex[:6]}".encode() for _ in range(2))
    for key in (a, a, b):
        offset = produce(kafka, origin.name, key, b"value")
        dead_letter_of(kafka, origin.name, key, offset, f"unknown country at offset {offset}")

    letters = mine(kafka_bootstrap, {a.decode(), b.decode()})
    older, newer = letters[a.decode()]
    assert [older["state"], newer["state"], letters[b.decode()][0]["state"]] == ["open"] * 3
    assert older["time"] and not older["retryable"] and newer["id"] in str(older["why"])
    assert newer["retryable"] and letters[b.decode()][0]["retryable"]

    retried = run_p2c("dlq", "retry", "--flow", FLOW, "--bootstrap-servers", kafka_bootstrap)
    assert newer["id"] in retried and letters[b.decode()][0]["id"] in retried and older["id"] not in retried
    consumer = Consumer(kafka.librdkafka() | {"group.id": "test-control", "enable.auto.commit": False})
    consumer.assign([TopicPartition(origin.name, 0, 3)])
    sent = [consumer.poll(10) for _ in range(2)]
    consumer.close()
    assert sorted(m.key() or b"" for m in sent if m is not None) == sorted([a, b])
    again = run_p2c("dlq", "retry", "--flow", FLOW, "--bootstrap-servers", kafka_bootstrap)
    assert newer["id"] not in again and older["id"] not in again  # each letter goes back once

    # b's retry is dead-lettered again: one entry carries on, with its attempts
    b_retry = next(m for m in sent if m is not None and m.key() == b)
    dead_letter_of(kafka, origin.name, b, b_retry.offset() or 0, "unknown country again")
    # the stage processes everything on the origin topic
    consumer = Consumer(kafka.librdkafka() | {"group.id": STREAMS_GROUP, "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition(origin.name, 0, 5)], asynchronous=False)
    consumer.close()

    letters = mine(kafka_bootstrap, {a.decode(), b.decode()})
    older, newer = letters[a.decode()]
    assert (older["state"], newer["state"]) == ("resolved", "resolved")
    assert "obsolete" in str(older["why"]) and "its retry" in str(newer["why"])
    first_b, again_b = letters[b.decode()]
    assert first_b["state"] == "retried" and first_b["retried_as"] == again_b["id"]
    assert again_b["state"] == "open" and again_b["attempts"] == 2 and again_b["retry_of"] == first_b["id"]

    with httpx.Client(base_url=control_url, timeout=30) as http:
        refused = http.post(f"/api/dead-letters/{again_b['id']}/discard", json={"note": " "})
        assert refused.status_code == 409 and "note" in refused.json()["error"]
        assert http.post(f"/api/dead-letters/{older['id']}/retry").status_code == 409
        assert http.get("/api/dead-letters/accounts.0.999999999").status_code == 404
        done = http.post(f"/api/dead-letters/{again_b['id']}/discard", json={"note": "test account", "by": "ana"})
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "discarded" and done.json()["note"] == "test account"
        open_ = http.get("/api/dead-letters", params={"flow": FLOW, "state": "open"}).json()["dead_letters"]
        assert not [x for x in open_ if x["key"] in (a.decode(), b.decode())]
        shown = http.get(f"/api/dead-letters/{again_b['id']}").json()
        assert shown["state"] == "discarded" and shown["by"] == "ana" and shown["value_bytes"] > 0


def test_the_api_serves_its_description_flows_health_and_metrics(control_url: str) -> None:
    with httpx.Client(base_url=control_url, timeout=30) as http:
        spec = http.get("/api/openapi.json").json()
        assert spec["openapi"].startswith("3.")
        assert {(r.method.lower(), r.path) for r in ROUTES} == {
            (method, path) for path, ops in spec["paths"].items() for method in ops
        }
        flows = http.get("/api/flows").json()
        assert {f["flow"] for f in flows["flows"]} == {"accounts", "contacts", "quotes", "products"}
        assert set(flows["flows"][0]["dead_letters"]) == {"open", "retried", "resolved", "discarded"}
        assert http.get("/api/flows/nope").status_code == 404
        health = http.get("/api/health")
        assert health.status_code in (200, 503) and health.json()["ready"] is (health.status_code == 200)
        metrics = http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'p2c_flow_lag{flow="accounts"}' in metrics.text
        assert 'p2c_flow_dead_letters{flow="accounts",state="open"}' in metrics.text


def test_dlq_list_json_on_an_empty_cluster_is_an_empty_array_and_quick(tmp_path: Path) -> None:
    with EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log") as broker:
        ensure_topics(KafkaSettings(bootstrap_servers=broker.bootstrap_servers), [dead_letter(FLOW)])
        started = time.monotonic()
        listed = run_p2c("dlq", "list", "--json", "--bootstrap-servers", broker.bootstrap_servers)
        took = time.monotonic() - started
        assert json.loads(listed) == []
        assert took < 10, f"p2c dlq list took {took:.1f} s with nothing dead-lettered"
        assert run_p2c("dlq", "list", "--bootstrap-servers", broker.bootstrap_servers).strip() == "no dead letters"
