"""tests/integration/test_streams_joins.py on the three-node Apache Kafka cluster.

Its two workers start on an app id of their own, so Faust's join topics (subscriptions, answers) do not exist
yet: the workers must be joined to them at once, not after aiokafka's next metadata refresh (5 minutes).
"""

from tests.integration.test_streams_joins import *  # noqa: F403
