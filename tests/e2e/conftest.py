"""`p2c up`, started once for the e2e tests exactly as a user starts it, on free ports and a temporary
data directory, and stopped when they are done (package scope: the integration tests do not share the
machine with a whole running pipeline). tests/kafka runs the same tests on Apache Kafka."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.up import Running, start_p2c_up


@pytest.fixture(scope="package")
def p2c_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = start_p2c_up(tmp_path_factory.mktemp("p2c-up"))
    yield running
    running.process.stop(timeout=30)
