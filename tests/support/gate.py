"""A TCP gate in front of a service: connections are refused until the test opens it, then forwarded.

The port is bound from the start but not listening, so a client sees what it sees when the service is down
(connection refused), and the same address works once :meth:`Gate.open` is called.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class Gate:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._closed = threading.Event()
        self._connections: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        """Accept connections from now on, each forwarded to the target."""
        self._server.listen(16)
        threading.Thread(target=self._accept, name="gate-accept", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        for sock in [self._server, *self._connections]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), name="gate-pump", daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def gate_to(url: str) -> Iterator[Gate]:
    """A closed gate to the service at ``url`` (``http://host:port``)."""
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    gate = Gate(host, int(port))
    try:
        yield gate
    finally:
        gate.close()
