"""tests/integration/test_avro_roundtrip.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_avro_roundtrip import *  # noqa: F403
