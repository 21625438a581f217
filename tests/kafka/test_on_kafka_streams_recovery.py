"""tests/integration/test_streams_recovery.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_streams_recovery import *  # noqa: F403
