"""Wiring behind ``p2c source run`` and ``p2c sink run``: settings in, clients and runners built, run until
SIGTERM. One function per connector; the click layer (``connectors.cli``) only parses options."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, Producer

from p2c import flows, topics
from p2c.admin import ensure_topics
from p2c.connectors.base.sink import Sink
from p2c.connectors.base.source import Source
from p2c.connectors.core.metrics import METRICS
from p2c.connectors.core.positions import KafkaPositionStore
from p2c.connectors.core.resync import ResyncListener
from p2c.connectors.core.sink_runner import SinkRunner
from p2c.connectors.core.source_runner import SourceRunner, run_forever
from p2c.connectors.dataverse.settings import CrmSinkSettings, CrmSourceSettings
from p2c.connectors.finops.settings import ErpSinkSettings, ErpSourceSettings
from p2c.errors import ConfigurationError
from p2c.metrics import MetricsReporter
from p2c.replays import Listener
from p2c.serde import Codecs
from p2c.settings import KafkaSettings, RegistrySettings

log = logging.getLogger("p2c.connectors")


def on_signals(stop: Callable[[], None]) -> None:
    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _lookup(what: str, fn: Callable[[list[str]], Any], names: list[str]) -> Any:
    try:
        return fn(names)
    except KeyError as exc:
        raise ConfigurationError(f"{what}: {exc.args[0]}") from exc


# ---- sources -------------------------------------------------------------------------------------------


def run_source(
    src: Source, component: str, kafka: KafkaSettings, registry: RegistrySettings, report_interval: float
) -> None:
    ensure_topics(kafka, [flows.topic(t) for t in src.topics()] + [*flows.DEAD_LETTER_TOPICS, topics.POSITIONS])
    on_signals(src.stop)
    reporter = MetricsReporter(component, kafka, METRICS)
    runner = SourceRunner(
        src,
        Producer(kafka.producer()),
        Codecs.from_settings(registry),
        KafkaPositionStore(kafka),
        report_interval=report_interval,
        publish_counts=reporter.publish_before_commit,
    )
    reporter.start()
    resyncs = ResyncListener(kafka, src, reporter.instance)
    resyncs.start()
    try:
        run_forever(runner)
    finally:
        resyncs.stop()
        reporter.stop()
        src.close()
    log.info("%s: stopped", src.name)


def run_crm_source(settings: CrmSourceSettings, kafka: KafkaSettings, registry: RegistrySettings) -> None:
    from p2c.connectors.dataverse.setup import check, needs
    from p2c.connectors.dataverse.source import DataverseSource
    from p2c.connectors.dataverse.streams import streams_for

    streams = _lookup("--entities", streams_for, settings.entity_list)
    client = settings.client(f"crm {settings.connector_name}")
    check(client, needs([s.entity_set for s in streams]), "the CRM source")
    src = DataverseSource(
        client,
        streams,
        name=settings.connector_name,
        poll_interval=settings.poll_interval,
        busy_poll_interval=settings.busy_poll_interval,
        idle_poll_interval=settings.idle_poll_interval,
        page_size=settings.page_size,
        ignore_own_changes=settings.ignore_own_changes,
        position_refresh=settings.position_refresh,
    )
    run_source(src, "source-crm", kafka, registry, settings.report_interval)


def run_erp_source(settings: ErpSourceSettings, kafka: KafkaSettings, registry: RegistrySettings) -> None:
    from p2c.connectors.finops.snapshot import SnapshotStore
    from p2c.connectors.finops.source import FinOpsSource, streams_for

    if not settings.cross_company and not settings.company:
        raise ConfigurationError("--no-cross-company needs --company: the legal entity (dataAreaId) to poll")
    src = FinOpsSource(
        settings.client(f"erp {settings.connector_name}"),
        _lookup("--entities", streams_for, settings.entity_list),
        SnapshotStore(settings.snapshot_dir),
        name=settings.connector_name,
        company=settings.company,
        poll_interval=settings.poll_interval,
        idle_poll_interval=settings.idle_poll_interval,
        page_size=settings.page_size,
    )
    run_source(src, "source-erp", kafka, registry, settings.report_interval)


# ---- sinks ---------------------------------------------------------------------------------------------


def run_sinks(
    sinks: list[tuple[Sink, str]],
    component: str,
    kafka: KafkaSettings,
    registry: RegistrySettings,
    *,
    batch_size: int,
    batch_ms: int,
    report_interval: float,
) -> None:
    """Run each (sink, consumer group) in a thread of its own until a signal or a fatal error."""
    wanted = {t for s, _ in sinks for t in s.topics()}
    ensure_topics(kafka, [flows.topic(t) for t in sorted(wanted)] + list(flows.DEAD_LETTER_TOPICS))
    codecs = Codecs.from_settings(registry)
    reporter = MetricsReporter(component, kafka, METRICS)
    runners = [
        (
            SinkRunner(
                snk,
                Consumer(kafka.consumer(group)),
                Producer(kafka.producer()),
                codecs,
                batch_size=batch_size,
                batch_ms=batch_ms,
                report_interval=report_interval,
                replays=Listener(kafka, {group}, f"{component}-{group}-{os.getpid()}"),
                publish_counts=reporter.publish_before_commit,
            ),
            group,
        )
        for snk, group in sinks
    ]

    def stop_all() -> None:
        for r, _ in runners:
            r.stop()

    on_signals(stop_all)
    errors: list[BaseException] = []

    def run(runner: SinkRunner, group: str) -> None:
        try:
            log.info("%s: ready, consuming %s as group %s", runner.component, ", ".join(runner.sink.topics()), group)
            runner.run()
        except BaseException as exc:
            errors.append(exc)
            stop_all()
        finally:
            runner.sink.close()

    reporter.start()
    threads = [threading.Thread(target=run, args=rg, name=rg[0].component) for rg in runners]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(0.5)
    reporter.stop()
    if errors:
        raise errors[0]
    log.info("%s stopped", component)


def run_erp_sink(settings: ErpSinkSettings, kafka: KafkaSettings, registry: RegistrySettings) -> None:
    from p2c.connectors.core.versions import VersionStore
    from p2c.connectors.finops.catalog import targets_for
    from p2c.connectors.finops.holds import DependencyHold
    from p2c.connectors.finops.sink import FinOpsSink

    sinks: list[tuple[Sink, str]] = []
    for target in _lookup("--targets", targets_for, settings.target_list):
        client = settings.client(f"erp {target.name}")
        hold = DependencyHold(client, settings.hold_timeout, settings.hold_retry_after)
        snk = FinOpsSink(
            client,
            target,
            VersionStore(settings.sink_state_dir, target.name),
            company=settings.company,
            max_operations=settings.batch_parts,
            hold=hold,
            retry_budget=settings.retry_budget,
        )
        sinks.append((snk, settings.group(target.name)))
    run_sinks(
        sinks,
        "sink-erp",
        kafka,
        registry,
        batch_size=settings.batch_size,
        batch_ms=settings.batch_ms,
        report_interval=settings.report_interval,
    )


def run_crm_sink(settings: CrmSinkSettings, kafka: KafkaSettings, registry: RegistrySettings) -> None:
    from p2c.connectors.core.pace import Pace
    from p2c.connectors.core.versions import VersionStore
    from p2c.connectors.dataverse.pricing import Bindings
    from p2c.connectors.dataverse.setup import check, needs
    from p2c.connectors.dataverse.sink import ProductSink
    from p2c.connectors.dataverse.targets import targets_for

    sinks: list[tuple[Sink, str]] = []
    for target in _lookup("--targets", targets_for, settings.target_list):
        client = settings.client(f"crm {target.name}")
        check(client, needs(sink=True), "the CRM sink")
        snk = ProductSink(
            client,
            VersionStore(settings.sink_state_dir, target.name),
            target=target,
            bindings=Bindings(client, settings.reference_reload),
            default_unit_group=settings.default_unit_group,
            max_operations=min(1000, 2 * settings.batch_size),
            # Dataverse service protection: start small, grow while allowed, shrink on 429 (Microsoft's advice)
            pace=Pace(settings.start_batch_operations, 1, min(1000, 2 * settings.batch_size), settings.max_concurrency),
        )
        sinks.append((snk, settings.group(target.name)))
    run_sinks(
        sinks,
        "sink-crm",
        kafka,
        registry,
        batch_size=settings.batch_size,
        batch_ms=settings.batch_ms,
        report_interval=settings.report_interval,
    )
