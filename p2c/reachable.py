"""Fail fast, in one line, when Kafka is not there.

librdkafka retries an unreachable bootstrap server for the whole of a call's timeout and logs every attempt;
for a person who typed ``p2c status`` with nothing running, that is ten seconds and a screen of errors. A
plain TCP connection to each bootstrap server answers the question in milliseconds.
"""

from __future__ import annotations

import socket

from p2c.errors import RetriableError
from p2c.settings import KafkaSettings


def bootstrap_addresses(bootstrap_servers: str) -> list[tuple[str, int]]:
    """``host:port`` pairs of a bootstrap list (``[::1]:9092`` for IPv6); 9092 where no port is given."""
    addresses = []
    for entry in (e.strip() for e in bootstrap_servers.split(",")):
        if not entry:
            continue
        entry = entry.split("://", 1)[-1]
        host, sep, port = entry.rpartition(":")
        if not sep or host.endswith(":") or not port.isdigit():
            host, port = entry, "9092"
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def require_kafka(kafka: KafkaSettings, timeout: float = 2.0) -> None:
    """Return when one bootstrap server accepts a connection; raise RetriableError saying what to do if none."""
    for host, port in bootstrap_addresses(kafka.bootstrap_servers):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError:
            continue
    raise RetriableError(
        f"p2c is not running: no Kafka broker answers at {kafka.bootstrap_servers}. "
        "Start everything with `p2c up`, or point --bootstrap-servers (P2C_BOOTSTRAP_SERVERS) at your Kafka."
    )
