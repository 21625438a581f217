"""Settings shared by every component: how to reach Kafka and the schema registry.

Each component has one frozen settings class (pydantic-settings, env prefix ``P2C_``). Values come from, in
order of precedence: command-line options, ``P2C_*`` environment variables, the ``[section]`` of the TOML
file named by ``--config`` / ``P2C_CONFIG``, then the defaults here. Unknown keys are rejected.
librdkafka's dotted keys are produced in one place: :meth:`KafkaSettings.librdkafka`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from p2c.errors import ConfigurationError

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
DEFAULT_SCHEMA_REGISTRY_URL = "http://127.0.0.1:8081"


class KafkaSettings(BaseSettings):
    """Where the Kafka cluster is, how to talk to it, and how durable p2c's topics and writes are.

    The durability defaults are those of a production cluster: topics p2c creates get 3 replicas and
    ``min.insync.replicas`` 2 (both capped at the cluster's broker count, with a warning, so one broker works
    too), producers wait for every in-sync replica (``acks=all``) and are idempotent, consumers read committed
    records only, and the topics that hold state (positions, metrics, the registry's ``_schemas``) are compacted.
    """

    model_config = SettingsConfigDict(env_prefix="P2C_", frozen=True, extra="forbid")

    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # Tansu holds a group join for half the session timeout; librdkafka's 45 s default means a 23 s wait.
    session_timeout_ms: int = 6000
    topic_replication_factor: int = 3
    topic_min_insync_replicas: int = 2
    compact_state_topics: bool = True
    #: a compacted topic's active segment is never compacted: roll it hourly so that the positions and metrics
    #: p2c publishes every few seconds are cleaned within the hour, not after the broker's default week
    state_topic_segment_ms: int = 3_600_000
    #: how long a dead letter stays (30 days: time to see, fix and retry it); -1 keeps letters for ever
    dead_letter_retention_ms: int = 30 * 24 * 3_600_000
    producer_acks: Literal["all", "1", "0"] = "all"
    producer_idempotence: bool = True
    isolation_level: Literal["read_committed", "read_uncommitted"] = "read_committed"
    #: KIP-714: librdkafka asks the broker which client metrics to push, and pushes them. Off by default: p2c
    #: reports its own metrics on ``p2c.metrics``, and the embedded broker answers the question again and again
    #: (measured: ~7 requests a second from an idle ``p2c up``). Turn on for a cluster that collects them.
    client_metrics_push: bool = False

    @model_validator(mode="after")
    def _durable_enough(self) -> KafkaSettings:
        if self.producer_idempotence and self.producer_acks != "all":
            raise ValueError(
                "producer_idempotence needs producer_acks=all (set producer_idempotence=false to lower acks)"
            )
        if self.topic_replication_factor < 1 or self.topic_min_insync_replicas < 1:
            raise ValueError("topic_replication_factor and topic_min_insync_replicas must be at least 1")
        return self

    def replication(self, brokers: int) -> tuple[int, int]:
        """(replication factor, min.insync.replicas) for topics created on a cluster of ``brokers``."""
        factor = max(1, min(self.topic_replication_factor, brokers))
        return factor, min(self.topic_min_insync_replicas, factor)

    def librdkafka(self) -> dict[str, Any]:
        """The librdkafka (confluent-kafka) configuration for these settings."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            "enable.metrics.push": self.client_metrics_push,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        return conf

    def consumer(self, group_id: str, **extra: Any) -> dict[str, Any]:
        """Consumer configuration: manual commits, earliest offset for a new group."""
        conf = self.librdkafka() | {
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": self.isolation_level,
            "session.timeout.ms": self.session_timeout_ms,
            "heartbeat.interval.ms": max(100, self.session_timeout_ms // 4),
        }
        return conf | extra

    def producer(self, **extra: Any) -> dict[str, Any]:
        """Producer configuration: idempotent, all replicas acknowledge, small linger for batching.

        The partitioner is Java's (murmur2), as aiokafka's and so Faust's: a key lands on the same partition
        whoever produced it, which the stream joins rely on (co-partitioning). librdkafka's default differs.
        """
        conf = self.librdkafka() | {
            "enable.idempotence": self.producer_idempotence,
            "acks": self.producer_acks,
            "linger.ms": 5,
            "partitioner": "murmur2_random",
        }
        return conf | extra


class RegistrySettings(BaseSettings):
    """Where the schema registry is."""

    model_config = SettingsConfigDict(env_prefix="P2C_", frozen=True, extra="forbid")

    schema_registry_url: str = DEFAULT_SCHEMA_REGISTRY_URL
    schema_registry_basic_auth: SecretStr | None = None  # "user:password"
    #: seconds one registry request may take (the client's default is none: a hung registry hung p2c)
    schema_registry_timeout: float = 10.0

    def client_config(self) -> dict[str, Any]:
        """Configuration for ``confluent_kafka.schema_registry.SchemaRegistryClient``: bounded requests, one
        retry inside the client (p2c's error policy does the rest)."""
        conf: dict[str, Any] = {
            "url": self.schema_registry_url,
            "timeout": self.schema_registry_timeout,
            "max.retries": 1,
        }
        if self.schema_registry_basic_auth:
            conf["basic.auth.user.info"] = self.schema_registry_basic_auth.get_secret_value()
        return conf


S = TypeVar("S", bound=BaseSettings)

#: Every section a config file may have (dotted for sub-tables); a file with any other is refused, so a
#: misspelt section cannot be ignored silently. A component that reads a new section adds it here.
SECTIONS = ("kafka", "registry", "source.crm", "source.erp", "streams", "sink.erp", "sink.crm", "mappings")


def _unknown_sections(doc: dict[str, Any]) -> list[str]:
    parents = {s.split(".")[0] for s in SECTIONS if "." in s}
    unknown = []
    for name, value in doc.items():
        if name in parents and isinstance(value, dict):
            unknown += [f"{name}.{sub}" for sub in value if f"{name}.{sub}" not in SECTIONS]
        elif name not in SECTIONS:
            unknown.append(name)
    return unknown


def _read_config(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigurationError(f"config file {path} not found: pass an existing file to --config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = _unknown_sections(doc)
    if unknown:
        raise ConfigurationError(
            f"config file {path} has unknown section(s) {', '.join(f'[{u}]' for u in unknown)}; "
            f"the sections are: {', '.join(f'[{s}]' for s in SECTIONS)}"
        )
    return doc


def _section(doc: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = doc
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return dict(node) if isinstance(node, dict) else {}


def read_section(path: str | Path, section: str) -> dict[str, Any]:
    """The ``[section]`` (dotted: ``source.crm``) of the config file at ``path``; empty when it has none."""
    return _section(_read_config(path), section)


def load(cls: type[S], section: str | None = None, config_file: str | Path | None = None, **overrides: Any) -> S:
    """Build settings ``cls`` from a TOML section (dotted: ``source.crm``), the environment and overrides.

    Precedence: ``overrides`` (command-line options; None values are ignored, so click options pass straight
    through) > the class's environment variables (its own ``env_prefix``) > the TOML section > defaults.
    Raises ConfigurationError naming the bad key.
    """
    from_file: dict[str, Any] = {}
    path = config_file or os.environ.get("P2C_CONFIG")
    if path and section:
        from_file = read_section(path, section)
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    env_names = {k: f"{prefix}{k}".upper() for k in cls.model_fields if f"{prefix}{k}".upper() in os.environ}
    values = {k: v for k, v in from_file.items() if k not in env_names}
    values |= {k: v for k, v in overrides.items() if v is not None}
    try:
        return cls(**values)
    except ValidationError as exc:
        problems = "; ".join(_problem(e, env_names, overrides, section, path) for e in exc.errors())
        raise ConfigurationError(f"invalid {cls.__name__}: {problems}") from exc


def _problem(
    error: Any, env_names: dict[str, str], overrides: dict[str, Any], section: str | None, path: str | Path | None
) -> str:
    """One validation error, naming where the bad value came from: the option, the variable or the file."""
    key = str(error["loc"][0]) if error["loc"] else ""
    dotted = ".".join(str(p) for p in error["loc"])
    if key in env_names and overrides.get(key) is None:
        where = f"{env_names[key]}={os.environ[env_names[key]]!r}"
    elif path and section:
        where = f"{dotted} in [{section}] of {path}"
    else:
        where = dotted
    return f"{where}: {error['msg']}"
