"""Fixtures every tier on a real broker shares: the schema registry, settings, stream workers.

Each tier's conftest provides ``kafka_bootstrap`` (the embedded broker for tests/integration, the Apache Kafka
cluster for tests/kafka) and imports these, so the same fixtures run on either.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2c.process import ManagedProcess, free_port, http_ok, p2c_command
from p2c.settings import KafkaSettings
from tests.support.workers import Workers


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
