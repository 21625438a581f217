"""``p2c source run <crm>`` and ``p2c sink run <erp>``: thin wiring of settings, clients and runners."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import click

from p2c import logs, options
from p2c.errors import ConfigurationError, P2CError
from p2c.settings import KafkaSettings, RegistrySettings, load

log = logging.getLogger("p2c.connectors")


def _kafka(bootstrap_servers: str, config_file: str | None) -> Any:
    return load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers)


def _registry(schema_registry_url: str, config_file: str | None) -> Any:
    return load(RegistrySettings, "registry", config_file, schema_registry_url=schema_registry_url)


def _on_signals(stop: Callable[[], None]) -> None:
    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _fail(exc: P2CError) -> None:
    log.error("%s", exc)
    sys.exit(2 if isinstance(exc, ConfigurationError) else 1)


@click.group(context_settings={"show_default": True})
def source() -> None:
    """Run a source connector: a change feed to Kafka."""


@source.command("run")
@click.argument("connector", type=click.Choice(["crm"]))
@click.option("--entities", default=None, help="Comma-separated entity sets [default: all five CRM sets].")
@click.option("--crm-url", default=None, help="CRM root URL (env P2C_CRM_URL) [default: http://127.0.0.1:8701].")
@click.option("--poll-interval", type=float, default=None, help="Seconds between delta polls [default: 1.0].")
@options.bootstrap_servers
@options.schema_registry_url
@options.config_file
def source_run(
    connector: str,
    entities: str | None,
    crm_url: str | None,
    poll_interval: float | None,
    bootstrap_servers: str,
    schema_registry_url: str,
    config_file: str | None,
) -> None:
    """Publish the CONNECTOR's changes (full load, then deltas) as Avro change events."""
    logs.configure()
    try:
        _run_crm_source(entities, crm_url, poll_interval, bootstrap_servers, schema_registry_url, config_file)
    except P2CError as exc:
        _fail(exc)


def _run_crm_source(
    entities: str | None,
    crm_url: str | None,
    poll_interval: float | None,
    bootstrap_servers: str,
    schema_registry_url: str,
    config_file: str | None,
) -> None:
    from confluent_kafka import Producer

    from connectors.core.metrics import METRICS
    from connectors.core.positions import KafkaPositionStore
    from connectors.core.source_runner import SourceRunner, run_forever
    from connectors.dataverse.settings import CrmSourceSettings
    from connectors.dataverse.source import DataverseSource
    from connectors.dataverse.streams import streams_for
    from p2c import topics
    from p2c.admin import ensure_topics
    from p2c.metrics import MetricsReporter
    from p2c.serde import Codecs

    settings = load(
        CrmSourceSettings, "source.crm", config_file, url=crm_url, entities=entities, poll_interval=poll_interval
    )
    kafka = _kafka(bootstrap_servers, config_file)
    try:
        streams = streams_for(settings.entity_list)
    except KeyError as exc:
        raise ConfigurationError(f"--entities: {exc.args[0]}") from exc
    ensure_topics(kafka, [topics.by_name(s.topic) for s in streams] + [*topics.DEAD_LETTER_TOPICS, topics.POSITIONS])
    src = DataverseSource(
        settings.client(f"crm {settings.connector_name}"),
        streams,
        name=settings.connector_name,
        poll_interval=settings.poll_interval,
        page_size=settings.page_size,
        ignore_own_changes=settings.ignore_own_changes,
        position_refresh=settings.position_refresh,
    )
    _on_signals(src.stop)
    runner = SourceRunner(
        src,
        Producer(kafka.producer()),
        Codecs.from_settings(_registry(schema_registry_url, config_file)),
        KafkaPositionStore(kafka),
        report_interval=settings.report_interval,
    )
    reporter = MetricsReporter("source-crm", kafka, METRICS)
    reporter.start()
    try:
        run_forever(runner)
    finally:
        reporter.stop()
        src.close()
    log.info("%s: stopped", src.name)


@click.group(context_settings={"show_default": True})
def sink() -> None:
    """Run a sink connector: Kafka target topics to the CRM or the ERP."""


@sink.command("run")
@click.argument("connector", type=click.Choice(["erp"]))
@click.option("--flows", default=None, help="Comma-separated ERP targets [default: customers].")
@click.option("--erp-url", default=None, help="ERP root URL (env P2C_ERP_URL) [default: http://127.0.0.1:8702].")
@click.option("--company", default=None, help="dataAreaId for records without one [default: usmf].")
@click.option("--batch-size", type=int, default=None, help="Records per batch [default: 1000].")
@click.option("--batch-ms", type=int, default=None, help="Milliseconds to wait for a batch to fill [default: 200].")
@options.bootstrap_servers
@options.schema_registry_url
@options.config_file
def sink_run(
    connector: str,
    flows: str | None,
    erp_url: str | None,
    company: str | None,
    batch_size: int | None,
    batch_ms: int | None,
    bootstrap_servers: str,
    schema_registry_url: str,
    config_file: str | None,
) -> None:
    """Write the target topics of CONNECTOR's flows into it, in $batch requests, committing after each."""
    logs.configure()
    try:
        _run_erp_sink(
            flows, erp_url, company, batch_size, batch_ms, bootstrap_servers, schema_registry_url, config_file
        )
    except P2CError as exc:
        _fail(exc)


def _run_erp_sink(
    flows: str | None,
    erp_url: str | None,
    company: str | None,
    batch_size: int | None,
    batch_ms: int | None,
    bootstrap_servers: str,
    schema_registry_url: str,
    config_file: str | None,
) -> None:
    from confluent_kafka import Consumer, Producer

    from connectors.core.metrics import METRICS
    from connectors.core.sink_runner import SinkRunner
    from connectors.finops.settings import ErpSinkSettings
    from connectors.finops.sink import FinOpsSink
    from connectors.finops.targets import targets_for
    from p2c import topics
    from p2c.admin import ensure_topics
    from p2c.metrics import MetricsReporter
    from p2c.serde import Codecs

    settings = load(
        ErpSinkSettings,
        "sink.erp",
        config_file,
        url=erp_url,
        flows=flows,
        company=company,
        batch_size=batch_size,
        batch_ms=batch_ms,
    )
    kafka = _kafka(bootstrap_servers, config_file)
    try:
        targets = targets_for(settings.flow_list)
    except KeyError as exc:
        raise ConfigurationError(f"--flows: {exc.args[0]}") from exc
    ensure_topics(kafka, [topics.by_name(t.topic) for t in targets] + list(topics.DEAD_LETTER_TOPICS))
    codecs = Codecs.from_settings(_registry(schema_registry_url, config_file))
    runners = []
    for target in targets:
        snk = FinOpsSink(
            settings.client(f"erp {target.name}"),
            target,
            company=settings.company,
            max_operations=min(1000, settings.batch_size),
        )
        consumer = Consumer(kafka.consumer(settings.group(target.name)))
        runners.append(
            SinkRunner(
                snk,
                consumer,
                Producer(kafka.producer()),
                codecs,
                batch_size=settings.batch_size,
                batch_ms=settings.batch_ms,
                report_interval=settings.report_interval,
            )
        )

    def stop_all() -> None:
        for r in runners:
            r.stop()

    _on_signals(stop_all)
    errors: list[BaseException] = []

    def run(runner: SinkRunner) -> None:
        try:
            log.info(
                "%s: ready, consuming %s as group %s",
                runner.component,
                ", ".join(runner.sink.topics()),
                settings.group(runner.sink.name.removeprefix("erp.")),
            )
            runner.run()
        except BaseException as exc:
            errors.append(exc)
            stop_all()
        finally:
            runner.sink.close()

    reporter = MetricsReporter("sink-erp", kafka, METRICS)
    reporter.start()
    threads = [threading.Thread(target=run, args=(r,), name=r.component) for r in runners]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(0.5)
    reporter.stop()
    if errors:
        raise errors[0]
    log.info("erp sink stopped")
