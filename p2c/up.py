"""``p2c up``: the whole pipeline on one machine, as supervised child processes, with a live status table.

Order: broker → registry → topics and schemas → CRM and ERP sandboxes (seeded) → sources → streams → sinks.
Given ``--bootstrap-servers`` or ``--schema-registry-url``, it uses those and does not start its own.
The broker it starts is the embedded one (in memory) or, with ``--broker kafka``, Apache Kafka from Maven
Central with its data in ``<data dir>/kafka``, so that a restart keeps topics, positions, dead letters and
consumer offsets.
Your own templates and schemas (``--templates-dir``, ``--schemas-dir``, ``p2c.overrides``) are checked
before anything starts, and every child gets them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import click

from p2c import logs, options, overrides
from p2c.background import start_detached
from p2c.broker import MEMORY_NOTICE, port_is_free
from p2c.control.server import DEFAULT_PORT as DEFAULT_CONTROL_PORT
from p2c.datadir import DataDirLock
from p2c.errors import ConfigurationError, P2CError
from p2c.init import initialise
from p2c.kafka import KAFKA_VERSION, KafkaRuntimeSettings, fetch, require_java
from p2c.kafka.cli import DISK_NOTICE
from p2c.process import ManagedProcess, http_ok, log_says, p2c_command, tcp_open
from p2c.sandbox.odata.auth import CRM_SINK_CLIENT, DEFAULT_CLIENTS
from p2c.settings import KafkaSettings, RegistrySettings
from p2c.status import StatusReader, collect, render
from p2c.supervisor import Supervisor

log = logging.getLogger("p2c.up")

#: how often a child that died is noticed (and, after its backoff, started again): a poll of each child, cheap
CHECK_EVERY_S = 0.5
#: what ``--broker`` may name: the embedded broker (in memory) or Apache Kafka
BROKERS = ("embedded", "kafka")
STATUS_EVERY_S = 2.0
PLAIN_STATUS_EVERY_S = 10.0


class Plan:
    """What ``p2c up`` runs, derived from its options."""

    def __init__(
        self,
        data_dir: Path,
        broker_port: int,
        registry_port: int,
        crm_port: int,
        erp_port: int,
        bootstrap_servers: str | None,
        schema_registry_url: str | None,
        company: str,
        control_port: int = DEFAULT_CONTROL_PORT,
        custom: overrides.OverrideSettings | None = None,
        crm_protection: float | None = None,
        broker: str = "embedded",
    ) -> None:
        self.data_dir = data_dir
        self.crm_protection = crm_protection
        self.broker = broker
        self.logs = data_dir / "logs"
        self.broker_port = broker_port
        self.own_broker = bootstrap_servers is None
        self.bootstrap = bootstrap_servers or f"127.0.0.1:{broker_port}"
        self.own_registry = schema_registry_url is None
        self.registry_port = registry_port
        self.registry_url = schema_registry_url or f"http://127.0.0.1:{registry_port}"
        self.crm_port = crm_port
        self.erp_port = erp_port
        self.crm_url = f"http://127.0.0.1:{crm_port}"
        self.erp_url = f"http://127.0.0.1:{erp_port}"
        self.company = company
        self.control_port = control_port
        self.control_url = f"http://127.0.0.1:{control_port}"
        self.custom = custom or overrides.OverrideSettings()

    def ports(self) -> dict[str, int]:
        """The ports this plan listens on: they must be free before anything starts."""
        ports = {"--crm-port": self.crm_port, "--erp-port": self.erp_port, "--control-port": self.control_port}
        if self.own_broker:
            ports["--broker-port"] = self.broker_port
        if self.own_registry:
            ports["--registry-port"] = self.registry_port
        return ports

    def taken_ports(self) -> list[str]:
        return [f"{port} ({option})" for option, port in self.ports().items() if not port_is_free("127.0.0.1", port)]

    @property
    def topic_partitions(self) -> int:
        """Partitions of each data topic this ``p2c up`` creates.

        One on the embedded broker: ``p2c up`` runs one process of each kind, so more partitions share no work, and
        the embedded broker reads every partition a fetch names again at each of the checks it makes while the
        fetch waits (``bench/bench_idle.py``: 4 partitions 9.3 % of a core idle, 1 partition 6.1 %). Four on Apache
        Kafka or a given cluster, whose topics outlive this ``p2c up`` and may later be shared by more workers.
        """
        return 1 if self.own_broker and self.broker == "embedded" else 4

    @property
    def kafka_dir(self) -> Path:
        return self.data_dir / "kafka"

    def broker_description(self) -> str:
        """What the broker is and what that means for the data: said at start and in the header."""
        if not self.own_broker:
            return f"{self.bootstrap} (given with --bootstrap-servers)"
        if self.broker == "kafka":
            return f"{self.bootstrap} (Apache Kafka {KAFKA_VERSION}, {DISK_NOTICE.format(dir=self.kafka_dir)})"
        return f"{self.bootstrap} (embedded, {MEMORY_NOTICE}; --broker kafka keeps it on disk)"

    def env(self) -> dict[str, str]:
        return {
            "P2C_BOOTSTRAP_SERVERS": self.bootstrap,
            "P2C_SCHEMA_REGISTRY_URL": self.registry_url,
            "P2C_CRM_URL": self.crm_url,
            "P2C_ERP_URL": self.erp_url,
            "P2C_COMPANY": self.company,
            "P2C_STREAMS_DATA_DIR": str(self.data_dir / "streams"),
            # state p2c keeps beside the pipeline: the last product snapshot, the versions the sinks applied
            "P2C_ERP_SNAPSHOT_DIR": str(self.data_dir / "state" / "source-erp"),
            "P2C_ERP_SINK_STATE_DIR": str(self.data_dir / "state" / "sink-erp"),
            "P2C_CRM_SINK_STATE_DIR": str(self.data_dir / "state" / "sink-crm"),
            **self.custom.environment(),
        }

    def process(self, name: str, *args: str, env: dict[str, str] | None = None) -> ManagedProcess:
        return ManagedProcess(
            name,
            p2c_command(*args),
            log_path=self.logs / f"{name}.log",
            env={**self.env(), **(env or {})},
            pid_path=self.data_dir / "run" / f"{name}.pid",
        )

    def infrastructure(self) -> list[ManagedProcess]:
        procs = []
        if self.own_broker and self.broker == "kafka":
            broker = self.process(
                "broker", "kafka", "run", "--data-dir", str(self.kafka_dir), "--port", str(self.broker_port)
            )
            broker.ready = log_says(broker, "ready: bootstrap servers")
            procs.append(broker)
        elif self.own_broker:
            broker = self.process("broker", "broker", "--port", str(self.broker_port))
            broker.ready = tcp_open("127.0.0.1", self.broker_port)
            procs.append(broker)
        if self.own_registry:
            registry = self.process(
                "registry",
                "registry",
                "serve",
                "--port",
                str(self.registry_port),
                "--bootstrap-servers",
                self.bootstrap,
            )
            registry.ready = http_ok(f"{self.registry_url}/subjects")
            procs.append(registry)
        return procs

    def sandboxes(self) -> list[ManagedProcess]:
        protection: list[str] = []
        if self.crm_protection:
            protection = ["--service-protection", str(self.crm_protection)]
            protection += [arg for c in (*DEFAULT_CLIENTS, CRM_SINK_CLIENT) for arg in ("--client", ":".join(c))]
        crm = self.process(
            "crm", "sandbox", "crm", "--port", str(self.crm_port), "--data-dir", str(self.data_dir / "crm"), *protection
        )
        crm.ready = log_says(crm)
        erp = self.process(
            "erp",
            "sandbox",
            "erp",
            "--port",
            str(self.erp_port),
            "--data-dir",
            str(self.data_dir / "erp"),
            # the strict reading: business errors as HTTP 500, a $batch that stops at the first failed change set
            "--business-errors",
            "500",
        )
        erp.ready = log_says(erp)
        return [crm, erp]

    def crm_sink_env(self) -> dict[str, str]:
        """Under service protection the CRM sink signs in as its own application user: Dataverse's limits are
        per user, and a source polling while the sink waits out a Retry-After would extend the sink's wait."""
        if not self.crm_protection:
            return {}
        return {"P2C_CRM_CLIENT_ID": CRM_SINK_CLIENT[0], "P2C_CRM_CLIENT_SECRET": CRM_SINK_CLIENT[1]}

    def pipeline(self) -> list[ManagedProcess]:
        kafka = ("--bootstrap-servers", self.bootstrap, "--schema-registry-url", self.registry_url)
        procs = [
            self.process("source-crm", "source", "run", "crm", "--crm-url", self.crm_url, *kafka),
            self.process("source-erp", "source", "run", "erp", "--erp-url", self.erp_url, *kafka),
            self.process("streams", "streams", "worker", "--company", self.company, *kafka),
            self.process(
                "sink-erp", "sink", "run", "erp", "--erp-url", self.erp_url, "--company", self.company, *kafka
            ),
            self.process("sink-crm", "sink", "run", "crm", "--crm-url", self.crm_url, *kafka, env=self.crm_sink_env()),
        ]
        for proc in procs:
            proc.ready = log_says(proc)
        return procs

    def control(self) -> ManagedProcess:
        """The control API and console (control/), on loopback."""
        control = self.process(
            "control", "control", "--port", str(self.control_port), "--bootstrap-servers", self.bootstrap
        )
        control.ready = http_ok(f"{self.control_url}/api/openapi.json")
        return control


def check_customized(
    config_file: str | None, templates_dir: Path | None, schemas_dir: Path | None, company: str
) -> overrides.OverrideSettings:
    """Your templates and schemas, checked against the contracts and the flows before anything starts."""
    from p2c.streams.customized import problems

    try:
        custom = overrides.configure(config_file, templates_dir=templates_dir, schemas_dir=schemas_dir)
    except P2CError as exc:
        raise click.UsageError(str(exc)) from exc
    found = problems(company)
    if found:
        listed = "\n".join(f"  - {p}" for p in found)
        raise click.ClickException(f"your templates or schemas do not fit (p2c templates check):\n{listed}")
    if custom.environment():
        log.info("your templates and schemas: %s", ", ".join(f"{k}={v}" for k, v in custom.environment().items()))
    return custom


def prepare_kafka() -> None:
    """Java present and Kafka fetched, before anything starts: the fetch shows its progress here."""
    runtime = KafkaRuntimeSettings()
    try:
        require_java(runtime.java)
        fetch(runtime.home, progress=click.echo)
    except ConfigurationError as exc:
        raise click.ClickException(f"--broker kafka: {exc}") from exc


def run_once(plan: Plan, name: str, *args: str) -> None:
    """Run a one-shot ``p2c`` command to completion; its output goes to the component log."""
    log_path = plan.logs / f"{name}.log"
    with open(log_path, "ab") as out:
        result = subprocess.run(
            p2c_command(*args), stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **plan.env()}, check=False
        )
    if result.returncode != 0:
        raise click.ClickException(f"`p2c {' '.join(args)}` failed with code {result.returncode}; see {log_path}")


class StatusScreen:
    """The live status: redrawn in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, plan: Plan) -> None:
        self.kafka = KafkaSettings(bootstrap_servers=plan.bootstrap)
        self.reader = StatusReader(self.kafka)
        self.tty = sys.stdout.isatty()
        self.events: list[str] = []
        self._last_plain = 0.0

    def event(self, message: str) -> None:
        self.events = [*self.events[-4:], f"{time.strftime('%H:%M:%S')} {message}"]

    def close(self) -> None:
        self.reader.close()

    def _plain_due(self) -> bool:
        """Off a terminal, one line every PLAIN_STATUS_EVERY_S seconds."""
        if time.monotonic() - self._last_plain <= PLAIN_STATUS_EVERY_S:
            return False
        self._last_plain = time.monotonic()
        return True

    def show(self, header: str) -> None:
        """Redraw the table on a terminal; off one, print a line when it is due, and read Kafka only then."""
        if not self.tty and not self._plain_due():
            return
        try:
            report = collect(self.kafka, self.reader)
        except Exception as exc:  # the broker may be restarting: say so, never go quiet
            self.event(f"status unavailable: {exc}")
            if not self.tty:
                click.echo(self.events[-1])
            return
        if self.tty:
            click.clear()
            click.echo(header)
            click.echo(render(report))
            click.echo("\n".join(self.events))
            click.echo("Ctrl-C stops everything.")
        else:
            click.echo(
                " | ".join(
                    f"{f.flow}: in {f.events_in} written {f.written} waiting {f.waiting} dlq {f.dead_lettered} "
                    f"lag {f.lag}"
                    for f in report.flows
                ),
                nl=True,
            )


@click.command()
@options.data_dir
@click.option(
    "--broker",
    type=click.Choice(BROKERS),
    default="embedded",
    show_default=True,
    envvar="P2C_BROKER",
    help="embedded: in memory, gone when p2c up stops; kafka: Apache Kafka (needs Java 17+), data kept on disk "
    "in DATA_DIR/kafka.",
)
@click.option("--broker-port", default=9092, show_default=True)
@click.option("--registry-port", default=8081, show_default=True)
@click.option("--crm-port", default=8701, show_default=True)
@click.option("--erp-port", default=8702, show_default=True)
@click.option("--control-port", default=DEFAULT_CONTROL_PORT, show_default=True, help="The control API and console.")
@click.option("--detach", is_flag=True, help="Run in the background; return once ready (`p2c down` stops it).")
@click.option("--no-seed", is_flag=True, help="Reference data only: no sample accounts, contacts, quotes, products.")
@click.option(
    "--company",
    default="usmf",
    show_default=True,
    envvar="P2C_COMPANY",
    help="FinOps legal entity (dataAreaId) the CRM maps to.",
)
@click.option(
    "--crm-service-protection",
    type=click.FloatRange(min=0.001),
    default=None,
    help="Run the CRM sandbox with Dataverse's service protection limits scaled by this factor (0.1: a tenth).",
)
@click.option(
    "--bootstrap-servers",
    default=None,
    envvar="P2C_BOOTSTRAP_SERVERS",
    help="Use this Kafka cluster instead of starting the embedded broker.",
)
@click.option(
    "--schema-registry-url",
    default=None,
    envvar="P2C_SCHEMA_REGISTRY_URL",
    help="Use this schema registry instead of starting p2c's own.",
)
@options.templates_dir
@options.schemas_dir
@options.config_file
def up(
    data_dir: Path,
    broker: str,
    broker_port: int,
    registry_port: int,
    crm_port: int,
    erp_port: int,
    control_port: int,
    detach: bool,
    no_seed: bool,
    company: str,
    crm_service_protection: float | None,
    bootstrap_servers: str | None,
    schema_registry_url: str | None,
    templates_dir: Path | None,
    schemas_dir: Path | None,
    config_file: str | None,
) -> None:
    """Start everything: broker, registry, CRM and ERP sandboxes, sources, streams and sinks."""
    if detach:
        given = sys.argv[sys.argv.index("up") + 1 :] if "up" in sys.argv else []
        start_detached([a for a in given if a != "--detach"], data_dir)
        return
    logs.configure()
    custom = check_customized(config_file, templates_dir, schemas_dir, company)
    plan = Plan(
        data_dir,
        broker_port,
        registry_port,
        crm_port,
        erp_port,
        bootstrap_servers,
        schema_registry_url,
        company,
        control_port,
        custom,
        crm_service_protection,
        broker,
    )
    lock = DataDirLock(data_dir)
    lock.acquire()
    taken = plan.taken_ports()
    if taken:  # a probe would otherwise find the other process and take it for ours
        raise ConfigurationError(
            f"port {', '.join(taken)} is taken: is another p2c up (or broker, registry, sandbox) running? "
            "Stop it, or choose other ports with the options named."
        )
    plan.logs.mkdir(parents=True, exist_ok=True)
    if plan.own_broker and broker == "kafka":
        prepare_kafka()
    screen = StatusScreen(plan)
    supervisor = Supervisor(on_event=screen.event)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        log.info("broker: %s", plan.broker_description())
        for proc in plan.infrastructure():
            supervisor.start(proc, ready_timeout=180 if proc.name == "broker" and broker == "kafka" else 60)
        initialise(
            KafkaSettings(bootstrap_servers=plan.bootstrap),
            RegistrySettings(schema_registry_url=plan.registry_url),
            partitions=plan.topic_partitions,
        )
        supervisor.start_together(plan.sandboxes())
        if not no_seed:
            run_once(plan, "seed", "sandbox", "seed", "--data-dir", str(plan.data_dir))
            log.info("sandboxes seeded with sample data")
        supervisor.start_together([*plan.pipeline(), plan.control()], ready_timeout=90)
    except (P2CError, RuntimeError, TimeoutError, click.ClickException) as exc:
        supervisor.stop_all()
        raise click.ClickException(f"p2c up could not start: {exc}") from exc

    header = "\n".join(
        [
            f"broker           {plan.broker_description()}",
            f"schema registry  {plan.registry_url}",
            f"CRM (Dataverse)  {plan.crm_url}/api/data/v9.2/",
            f"ERP (FinOps)     {plan.erp_url}/data/",
            f"control          {plan.control_url}/ (API: /api/openapi.json, metrics: /metrics)",
            f"logs             {plan.logs}/",
        ]
    )
    click.echo(header)
    click.echo("ready")
    try:
        shown = time.monotonic()
        while not stop.wait(CHECK_EVERY_S):
            supervisor.check()
            if time.monotonic() - shown >= STATUS_EVERY_S:
                screen.show(header + "\nready\n")
                shown = time.monotonic()
    finally:
        click.echo("stopping...")
        screen.close()
        supervisor.stop_all()
        lock.release()
        click.echo("stopped")
