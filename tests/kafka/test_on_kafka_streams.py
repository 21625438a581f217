"""The commit guard of tests/integration/test_streams.py on the three-node Apache Kafka cluster: a worker
SIGKILLed under load and restarted, and every change has an output. The other tests of that module (two
workers sharing the partitions, dead letters) are covered here by the faults and the e2e flows."""

from tests.integration.test_streams import (  # noqa: F401
    codecs,
    test_killed_worker_restarts_and_every_change_has_an_output,
)
