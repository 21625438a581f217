"""tests/integration/test_streams_products.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_streams_products import *  # noqa: F403
