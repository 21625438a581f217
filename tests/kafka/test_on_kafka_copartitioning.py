"""tests/integration/test_copartitioning.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_copartitioning import *  # noqa: F403
