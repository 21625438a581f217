"""tests/integration/test_connectors_flows.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_connectors_flows import *  # noqa: F403
