from __future__ import annotations

import socket

import pytest

from p2c.errors import RetriableError
from p2c.process import free_port
from p2c.reachable import bootstrap_addresses, require_kafka
from p2c.settings import KafkaSettings


def test_bootstrap_lists_are_parsed() -> None:
    assert bootstrap_addresses("a:1, b:2,,PLAINTEXT://c:3,[::1]:4,d") == [
        ("a", 1),
        ("b", 2),
        ("c", 3),
        ("::1", 4),
        ("d", 9092),
    ]


def test_a_listening_server_is_enough() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        require_kafka(KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()},127.0.0.1:{port}"))


def test_nothing_listening_says_how_to_start_p2c() -> None:
    with pytest.raises(RetriableError, match=r"p2c is not running.*p2c up"):
        require_kafka(KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"))
