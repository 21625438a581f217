"""tests/integration/test_streams.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_streams import *  # noqa: F403
