"""tests/integration/test_dlq.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_dlq import *  # noqa: F403
