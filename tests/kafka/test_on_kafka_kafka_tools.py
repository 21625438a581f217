"""tests/integration/test_kafka_tools.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_kafka_tools import *  # noqa: F403
