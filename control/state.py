"""Where a dead letter stands, kept in ``p2c.dlq-state``: a compacted topic p2c owns, one record per letter.

Every control process and every ``p2c dlq`` command reads the same topic, so a letter retried from the
console shows as retried in the CLI too. The key is the letter id (``<flow>.<partition>.<offset>``), the value
a JSON document; the newest record per key is the truth (what compaction keeps)::

    {"state": "retried" | "discarded", "at": ISO 8601 UTC, "by": who, "note": why,
     "sent_to": "<topic>/<partition>/<offset>" (a retry: where the record was sent back), "history": [...]}

Only what a person did is recorded here. Whether a letter is resolved (a newer version got through) is
read from the data each time, so it can never disagree with Kafka (control/lifecycle.py).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from p2c.errors import RetriableError
from p2c.keyed_log import read_latest
from p2c.settings import KafkaSettings
from p2c.topics import DLQ_STATE

log = logging.getLogger("p2c.control.state")

STATE_TOPIC = DLQ_STATE.name
RETRIED = "retried"
DISCARDED = "discarded"

Doc = dict[str, Any]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def ensure_state_topic(kafka: KafkaSettings) -> None:
    """Create ``p2c.dlq-state`` (one partition, compacted) unless it exists."""
    admin = AdminClient(kafka.librdkafka())
    if STATE_TOPIC in admin.list_topics(timeout=10).topics:
        return
    topic = NewTopic(STATE_TOPIC, num_partitions=1, replication_factor=-1, config={"cleanup.policy": "compact"})
    try:
        admin.create_topics([topic], operation_timeout=10)[STATE_TOPIC].result()
        log.info("created topic %s (compacted)", STATE_TOPIC)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise RetriableError(f"could not create {STATE_TOPIC}: {exc.args[0].str()}") from exc


def read_states(kafka: KafkaSettings) -> dict[str, Doc]:
    """``{letter id: its newest state document}``."""
    return {k.decode(): json.loads(v) for k, v in read_latest(kafka, STATE_TOPIC).items() if v}


def record(kafka: KafkaSettings, changes: list[tuple[str, Doc | None, Doc]]) -> list[Doc]:
    """Write letters' new states, ``(letter id, its previous document, the new fields)`` each, keeping the
    earlier states in ``history``, in one produce; return the documents written."""
    ensure_state_topic(kafka)
    producer = Producer(kafka.producer())
    written = []
    for letter_id, previous, fields in changes:
        earlier = dict(previous or {})
        history = [*earlier.pop("history", []), earlier] if earlier else []
        doc = {"at": now(), **fields, "history": history}
        producer.produce(STATE_TOPIC, key=letter_id.encode(), value=json.dumps(doc).encode())
        written.append(doc)
    if producer.flush(30) != 0:
        raise RetriableError(f"the broker did not acknowledge the new state of {len(changes)} letter(s); try again")
    return written
