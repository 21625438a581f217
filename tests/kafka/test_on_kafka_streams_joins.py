"""tests/integration/test_streams_joins.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_streams_joins import *  # noqa: F403
