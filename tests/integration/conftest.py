"""Real processes, started once per test run: a Kafka broker and the schema registry.

The broker is the embedded Tansu binary on a free port; where a Docker engine runs and ``P2C_TEST_DOCKER=1``,
testcontainers' Apache Kafka is used instead, so the same tests run against a real cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2c.broker import EmbeddedBroker
from p2c.process import ManagedProcess, free_port, http_ok, p2c_command
from p2c.settings import KafkaSettings
from tests.support.workers import Workers


def _docker_kafka() -> Iterator[str]:
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer() as kafka:
        yield kafka.get_bootstrap_server()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a running Kafka-protocol broker."""
    if os.environ.get("P2C_TEST_DOCKER") == "1":
        yield from _docker_kafka()
        return
    log_path = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(port=free_port(), log_path=log_path) as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


def start_registry(kafka_bootstrap: str, logs_dir: Path, name: str = "registry") -> tuple[ManagedProcess, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        name,
        p2c_command("registry", "serve", "--port", str(port), "--bootstrap-servers", kafka_bootstrap),
        ready=http_ok(f"{url}/subjects"),
        log_path=logs_dir / f"{name}-{port}.log",
    )
    process.start(timeout=30)
    return process, url


@pytest.fixture(scope="session")
def registry_url(kafka_bootstrap: str, logs_dir: Path) -> Iterator[str]:
    """URL of a running ``p2c registry serve`` on the session broker."""
    process, url = start_registry(kafka_bootstrap, logs_dir)
    yield url
    process.stop()


@pytest.fixture(scope="session")
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    """Settings for the session broker."""
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def workers(kafka_bootstrap: str, registry_url: str, logs_dir: Path) -> Iterator[Workers]:
    """Stream workers started by the test, all stopped at its end."""
    pool = Workers(kafka_bootstrap, registry_url, logs_dir)
    yield pool
    pool.stop_all()
