"""Stream workers for the integration tests: real `p2c streams worker` processes, each test an app of its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from p2c import flows
from p2c.offsets import end_offsets
from p2c.process import ManagedProcess, p2c_command
from p2c.settings import KafkaSettings


def log_has(path: Path, text: str, times: int = 1) -> Callable[[], bool]:
    return lambda: path.exists() and path.read_text(errors="replace").count(text) >= times


def start_at_the_end(kafka_bootstrap: str, app_id: str) -> None:
    """Commit, for a new streams app's consumer group, the ends of the topics it reads.

    Its workers then read what the test sends, not every record earlier tests left on the session broker: a new
    group starts at the earliest offset, and that backlog grew with the suite (6,000 accounts of the killed-worker
    test alone) until the streams tests after it timed out while their workers worked through it.
    """
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    ends = end_offsets(kafka, [t.name for t in flows.SOURCE_TOPICS])
    if not ends:
        return
    consumer = Consumer(kafka.librdkafka() | {"group.id": app_id, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()], asynchronous=False)
    finally:
        consumer.close()


class Workers:
    """Starts workers on the session broker and stops every one of them at the end of the test."""

    def __init__(self, kafka_bootstrap: str, registry_url: str, logs_dir: Path) -> None:
        self.argv = p2c_command(
            "streams", "worker", "--bootstrap-servers", kafka_bootstrap, "--schema-registry-url", registry_url
        )
        self.logs_dir = logs_dir
        self.started: list[ManagedProcess] = []
        # An app (consumer group, changelogs, join topics) of its own: nothing left by another test's workers.
        self.env = {"P2C_STREAMS_SUMMARY_INTERVAL_S": "2", "P2C_STREAMS_APP_ID": f"p2c-streams-{uuid.uuid4().hex[:6]}"}
        start_at_the_end(kafka_bootstrap, self.env["P2C_STREAMS_APP_ID"])

    def start(self, name: str) -> ManagedProcess:
        log_path = self.logs_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        worker = ManagedProcess(name, self.argv, ready=log_has(log_path, " ready: "), log_path=log_path, env=self.env)
        started = time.monotonic()
        worker.start(timeout=60)
        print(f"{name}: consuming {time.monotonic() - started:.1f} s after the process started")
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()
