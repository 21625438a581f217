"""tests/integration/test_registry.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_registry import *  # noqa: F403
