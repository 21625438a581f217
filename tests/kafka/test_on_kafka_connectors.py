"""tests/integration/test_connectors.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_connectors import *  # noqa: F403
