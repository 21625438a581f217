"""tests/integration/test_control.py (the dead letters' lifecycle and the control API), on the three-node
Apache Kafka cluster. Its empty-cluster test starts an embedded broker of its own: it stays in that tier."""

from tests.integration.test_control import *  # noqa: F403
from tests.integration.test_control import test_dlq_list_json_on_an_empty_cluster_is_an_empty_array_and_quick

del test_dlq_list_json_on_an_empty_cluster_is_an_empty_array_and_quick
