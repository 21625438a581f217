"""`p2c up`, started once for the e2e tests exactly as a user starts it, on free ports and a temporary
data directory, and stopped when they are done (package scope: the integration tests do not share the
machine with a whole running pipeline). tests/kafka runs the same tests on Apache Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.up import Running, start_p2c_up

__all__ = ["Running", "p2c_up", "start_up"]


def start_up(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Running:
    """``p2c up`` on free ports with ``data_dir``, ready; ``extra`` options and ``env`` on top."""
    return start_p2c_up(data_dir, *extra, env=env)


@pytest.fixture(scope="package")
def p2c_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = start_up(tmp_path_factory.mktemp("p2c-up"))
    yield running
    running.process.stop(timeout=30)
