"""A streams worker: check the templates, make sure the topics exist, build the app, run it until a signal.

Start-up order, so that a wrong configuration fails in a second with a clear message and not after a group
join: templates (each checked against the Avro contracts) -> cluster reachable -> topics -> Faust worker.
The worker logs ``ready`` once its partitions are assigned, its tables recovered and its agents consuming,
and a per-flow summary every ``summary_interval_s``. SIGINT and SIGTERM stop it cleanly (Faust commits
what was processed); after SIGKILL the uncommitted events are processed again (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from confluent_kafka.admin import AdminClient
from faust.types import TP

from p2c.admin import ensure_topics, wait_for_cluster
from p2c.errors import ConfigurationError
from p2c.flows import NAMES, by_name, topic
from p2c.metrics import MetricsReporter
from p2c.replays import Listener
from p2c.serde import Codecs
from p2c.settings import KafkaSettings, RegistrySettings
from p2c.streams import faust_adapter
from p2c.streams.agents import CountedAgent, PartitionsOf, load_templates, register
from p2c.streams.app import create_app
from p2c.streams.counters import Snapshot
from p2c.streams.join.agents import providers_of
from p2c.streams.settings import StreamsSettings
from p2c.streams.template import Template
from p2c.topics import Topic, dead_letter

log = logging.getLogger("p2c.streams")


@dataclass
class Runtime:
    """A configured app and its flow agents."""

    app: faust.App
    agents: list[CountedAgent] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    ready_logged: bool = False
    last_counts: tuple[int, ...] = ()

    def counts(self) -> tuple[int, ...]:
        return tuple(a.counters.events_in for a in self.agents)

    def summary(self) -> str:
        return "; ".join(agent.counters.summary() for agent in self.agents)


def load_flows(settings: StreamsSettings) -> dict[str, list[Template]]:
    """Every configured flow's templates, checked against the contracts: ConfigurationError names the field."""
    unknown = [f for f in settings.flows if f not in NAMES]
    if unknown:
        raise ConfigurationError(f"unknown flows {unknown}; known: {list(NAMES)}")
    return {flow: load_templates(by_name(flow), settings) for flow in settings.flows}


def topics_of(templates: dict[str, list[Template]]) -> list[Topic]:
    loaded = [t for ts in templates.values() for t in ts]
    joined = {t.name for flow in templates for t in by_name(flow).joins}
    names = sorted({t.source_topic for t in loaded} | {t.target_topic for t in loaded} | joined)
    return [*(_topic(n) for n in names), *(dead_letter(flow) for flow in templates)]


def _topic(name: str) -> Topic:
    try:
        return topic(name)
    except KeyError:
        return Topic(name)


def partition_counter(kafka: KafkaSettings) -> PartitionsOf:
    """How many partitions a topic has (it must exist): tables must be co-partitioned with it."""
    admin = AdminClient(kafka.librdkafka())

    def partitions_of(topic: str) -> int:
        meta = admin.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise ConfigurationError(f"topic {topic} is missing on {kafka.bootstrap_servers}")
        return len(meta.partitions)

    return partitions_of


def build(
    kafka: KafkaSettings,
    settings: StreamsSettings,
    templates: dict[str, list[Template]],
    codecs: Codecs,
    partitions_of: PartitionsOf,
    brokers: int = 1,
) -> Runtime:
    """The app with the flows' agents, a ``ready`` line and a periodic summary."""
    faust_adapter.install_commit_guard()
    runtime = Runtime(create_app(kafka, settings, brokers))
    for flow, loaded in templates.items():
        runtime.agents.extend(register(runtime.app, by_name(flow), codecs, loaded, partitions_of))
    app = runtime.app

    @app.on_rebalance_complete.connect
    async def on_ready(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        assigned = sorted(
            f"{tp.topic}[{tp.partition}]"
            for tp in app.consumer.assignment()
            if not tp.topic.startswith(f"{settings.app_id}-")
        )
        first = "" if runtime.ready_logged else f" {time.monotonic() - runtime.started:.1f} s after start,"
        runtime.ready_logged = True
        log.info("ready:%s consuming %d partitions: %s", first, len(assigned), ", ".join(assigned) or "none")

    async def summary() -> None:
        counts = runtime.counts()
        if counts != runtime.last_counts:  # an idle worker does not fill the log
            runtime.last_counts = counts
            log.info("summary %s", runtime.summary())

    app.timer(interval=settings.summary_interval_s)(summary)
    app.timer(interval=1.0)(replays_of(app, kafka, settings.app_id))

    @app.on_before_shutdown.connect
    async def on_stop(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        log.info("stopping: committing what was processed; %s", runtime.summary())

    return runtime


def replays_of(app: faust.App, kafka: KafkaSettings, group: str) -> Callable[[], Awaitable[None]]:
    """A timer that takes replay requests for this worker's group (``p2c.replays``) and rewinds its partitions."""
    listener: list[Listener] = []

    async def replays() -> None:
        if not listener:
            listener.append(await asyncio.to_thread(Listener, kafka, {group}, f"streams-{os.getpid()}"))
        for request in await asyncio.to_thread(listener[0].pending):
            asked = {TP(t, p): o for (t, p), o in request.offsets.items()}
            rewound = await faust_adapter.rewind(app, asked)
            if rewound:
                done = {(tp.topic, tp.partition): o for tp, o in rewound.items()}
                await asyncio.to_thread(listener[0].rewound, request, done)

    return replays


def internal_topics(app: faust.App) -> list[Topic]:
    """The app's internal topics with their partition counts: those its agents read (join subscriptions and
    answers, the line index) and its tables' changelogs (compacted, as Faust makes them).

    Faust creates them itself, but only just before it joins its group: a group leader whose metadata did not
    list them yet left their partitions out until aiokafka's next metadata refresh (seen on Apache Kafka in
    initial loads: the answer topics, then two changelogs, whose tables then refused every record with
    PartitionsMismatch). The worker creates them before it starts Faust.
    """
    found: dict[str, Topic] = {}
    for agent in app.agents.values():
        channel = agent.channel
        if isinstance(channel, faust.TopicT) and channel.internal:
            partitions = channel.partitions or app.conf.topic_partitions
            found |= {name: Topic(name, partitions, has_schema=False) for name in channel.topics}
    for table in app.tables.values():
        changelog = table.changelog_topic
        partitions = changelog.partitions or app.conf.topic_partitions
        found |= {name: Topic(name, partitions, has_schema=False, changelog=True) for name in changelog.topics}
    return [found[name] for name in sorted(found)]


def prepare(kafka: KafkaSettings, registry: RegistrySettings, settings: StreamsSettings) -> Runtime:
    """Check the cluster, create missing topics (the app's internal ones included), build the runtime."""
    templates = load_flows(settings)
    brokers = wait_for_cluster(kafka)
    ensure_topics(kafka, topics_of(templates))
    runtime = build(kafka, settings, templates, Codecs.from_settings(registry), partition_counter(kafka), brokers)
    ensure_topics(kafka, internal_topics(runtime.app))
    return runtime


def run(kafka: KafkaSettings, registry: RegistrySettings, settings: StreamsSettings, loglevel: str) -> None:
    """Run a worker until SIGINT/SIGTERM. Does not return (exits the process)."""
    runtime = prepare(kafka, registry, settings)
    log.info(
        "starting %s: flows %s, company %s, brokers %s",
        settings.app_id,
        ", ".join(settings.flows),
        settings.company,
        kafka.bootstrap_servers,
    )
    counted = [*runtime.agents, *providers_of(runtime.app)]  # providers count what they dead-letter and retry
    reporter = MetricsReporter("streams", kafka, Snapshot(a.counters for a in counted))
    faust_adapter.publish_counts_before_commits(runtime.app, reporter.publish_before_commit)
    reporter.start()
    worker = faust.Worker(runtime.app, loglevel=loglevel, quiet=True, override_logging=False, redirect_stdouts=False)
    worker.spinner = None  # its terminal escape codes end up in the log files
    try:
        worker.execute_from_commandline()
    finally:
        reporter.stop()
