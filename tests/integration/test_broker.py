"""``p2c broker`` as a user runs it: a real process on a port of its own."""

from __future__ import annotations

import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from p2c.process import ManagedProcess, free_port, p2c_command, tcp_open
from p2c.settings import KafkaSettings

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ManagedProcess, int]]:
    port = free_port()
    process = ManagedProcess(
        "broker",
        p2c_command("broker", "--port", str(port)),
        ready=tcp_open("127.0.0.1", port),
        log_path=tmp_path_factory.mktemp("broker") / "broker.log",
    )
    process.start(timeout=30)
    yield process, port
    process.stop()


def _log(process: ManagedProcess) -> str:
    assert process.log_path is not None
    return process.log_path.read_text(errors="replace")


def test_says_data_is_kept_in_memory(broker: tuple[ManagedProcess, int]) -> None:
    process, _ = broker
    first_lines = _log(process).splitlines()[:3]
    assert any("in memory" in line for line in first_lines), first_lines


def test_produce_and_consume(broker: tuple[ManagedProcess, int]) -> None:
    _, port = broker
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}")
    topic = f"p2c.test.broker.{uuid.uuid4().hex[:8]}"
    admin = AdminClient(settings.librdkafka())  # kept referenced until the topic exists
    admin.create_topics([NewTopic(topic, 1, 1)], operation_timeout=10)[topic].result(timeout=10)

    producer = Producer(settings.producer())
    sent = [(f"ACC-{i:05d}".encode(), f"account {i}".encode()) for i in range(20)]
    for key, value in sent:
        producer.produce(topic, key=key, value=value, headers=[("p2c.test", b"yes")])
    assert producer.flush(10) == 0

    consumer = Consumer(settings.consumer(f"test-{uuid.uuid4().hex[:8]}"))
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        received: list[Message] = []
        while len(received) < len(sent):
            messages = consumer.consume(num_messages=len(sent) - len(received), timeout=10)
            assert messages, f"nothing more after {len(received)} messages"
            for message in messages:
                assert message.error() is None, message.error()
                received.append(message)
    finally:
        consumer.close()
    assert [(m.key(), m.value()) for m in received] == sent
    assert received[0].headers() == [("p2c.test", b"yes")]


def test_taken_port_is_a_clear_error(broker: tuple[ManagedProcess, int], tmp_path: Path) -> None:
    _, port = broker
    second = ManagedProcess("second", p2c_command("broker", "--port", str(port)), log_path=tmp_path / "second.log")
    second.start()
    assert second.process is not None
    code = second.process.wait(timeout=30)
    output = _log(second)
    assert code != 0
    assert f"port {port}" in output and "is taken" in output and "--port" in output, output


def test_sigterm_stops_it_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process = ManagedProcess(
        "broker-to-stop",
        p2c_command("broker", "--port", str(port)),
        ready=tcp_open("127.0.0.1", port),
        log_path=tmp_path / "broker.log",
    )
    process.start(timeout=30)
    assert process.process is not None
    process.process.send_signal(signal.SIGTERM)
    assert process.process.wait(timeout=15) == 0, _log(process)
    assert "stopped" in _log(process)
    with socket.socket() as sock, pytest.raises(OSError):  # nothing listens any more
        sock.settimeout(1)
        sock.connect(("127.0.0.1", port))
