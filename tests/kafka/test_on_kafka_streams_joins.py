"""tests/integration/test_streams_joins.py on the three-node Apache Kafka cluster.

Its two workers start on an app id of their own, so the app's internal topics (join subscriptions and answers,
table changelogs) do not exist yet: the workers must be joined to them at once, not after a metadata refresh.
"""

from tests.integration.test_streams_joins import *  # noqa: F403
