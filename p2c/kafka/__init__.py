"""Apache Kafka for p2c: the pinned version, fetched from Maven Central and run in KRaft mode from its jars."""

from p2c.kafka.artifacts import KAFKA_VERSION
from p2c.kafka.cluster import KafkaCluster
from p2c.kafka.fetch import fetch, is_complete
from p2c.kafka.settings import KafkaRuntimeSettings, java_problem, require_java

__all__ = [
    "KAFKA_VERSION",
    "KafkaCluster",
    "KafkaRuntimeSettings",
    "fetch",
    "is_complete",
    "java_problem",
    "require_java",
]
