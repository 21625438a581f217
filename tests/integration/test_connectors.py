"""Connectors against real processes: the embedded broker, the schema registry, the CRM and ERP sandboxes,
and ``p2c source run crm`` / ``p2c sink run erp`` as child processes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from p2c import deadletter, flows, schemas, topics
from p2c.admin import ensure_topics
from p2c.process import ManagedProcess, free_port, http_ok, log_says, p2c_command
from p2c.serde import Codecs
from p2c.settings import KafkaSettings
from tests.support.cli import run_p2c

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]

USER = ("person", "person-secret")  # a human user of the CRM: the source must not ignore their changes
CLIENTS = ("--client", "p2c:p2c-sandbox-secret", "--client", f"{USER[0]}:{USER[1]}")


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@pytest.fixture(scope="module")
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    ensure_topics(settings, flows.ALL_TOPICS)
    return settings


@pytest.fixture(scope="module")
def codecs(registry_url: str, kafka: KafkaSettings) -> Iterator[Codecs]:
    with SchemaRegistryClient({"url": registry_url}) as client:
        for topic in (topics.CRM_ACCOUNTS, topics.ERP_CUSTOMERS):
            client.register_schema(topic.subject, Schema(schemas.text(topic.name), "AVRO"))
        yield Codecs(client)


def component_env(kafka: KafkaSettings, registry_url: str, **extra: str) -> dict[str, str]:
    return {"P2C_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "P2C_SCHEMA_REGISTRY_URL": registry_url, **extra}


class Api:
    """A person's (or the integration's) OAuth2 session with a sandbox."""

    def __init__(self, root: str, token_url: str, client: tuple[str, str]) -> None:
        token = httpx.post(
            token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": client[0],
                "client_secret": client[1],
                "scope": "x/.default",
            },
        ).json()
        self.http = httpx.Client(
            base_url=root,
            headers={"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"},
            timeout=30,
        )

    def close(self) -> None:
        self.http.close()

    def create(self, entity_set: str, body: dict[str, Any]) -> str:
        r = self.http.post(entity_set, json=body)
        r.raise_for_status()
        return r.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")


@pytest.fixture
def crm(tmp_path: Path, logs_dir: Path) -> Iterator[tuple[str, Api]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = ManagedProcess(
        "crm",
        p2c_command("sandbox", "crm", "--port", str(port), "--data-dir", str(tmp_path / "crm"), *CLIENTS),
        ready=http_ok(f"{url}/api/data/v9.2/$metadata"),
        log_path=logs_dir / f"crm-{port}.log",
    )
    proc.start(timeout=30)
    api = Api(f"{url}/api/data/v9.2/", f"{url}/p2c/oauth2/v2.0/token", USER)
    try:
        yield url, api
    finally:
        api.close()
        proc.stop()


def read_topic(
    kafka: KafkaSettings,
    codecs: Codecs,
    topic: str,
    keys: set[str],
    timeout: float = 2.0,
) -> list[tuple[str, dict[str, Any], list[Any]]]:
    """Every message of ``topic`` keyed by one of ``keys``: (key, decoded value or raw, headers)."""
    consumer = Consumer(
        kafka.librdkafka() | {"group.id": "itest-reader", "enable.partition.eof": True, "enable.auto.commit": False}
    )
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions])
        out = []
        pending = set(md.partitions)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                if msg.error():
                    pending.discard(msg.partition())
                    continue
                key = (msg.key() or b"").decode()
                raw = msg.value() or b""
                if key in keys:
                    value = codecs[topic].deserialize(raw, key) if not topic.startswith("p2c.dlq.") else {"raw": raw}
                    out.append((key, value, list(msg.headers() or [])))
        return out
    finally:
        consumer.close()


def source_process(
    crm_url: str,
    kafka: KafkaSettings,
    registry_url: str,
    name: str,
    logs_dir: Path,
) -> ManagedProcess:
    proc = ManagedProcess(
        "source-crm",
        p2c_command("source", "run", "crm", "--entities", "accounts", "--crm-url", crm_url, "--poll-interval", "0.2"),
        log_path=logs_dir / f"source-{name}.log",
        env=component_env(kafka, registry_url, P2C_CRM_CONNECTOR_NAME=name),
    )
    proc.ready = log_says(proc, "ready")
    return proc


def test_source_full_load_changes_deletes_and_restart_without_resending(
    crm: tuple[str, Api],
    kafka: KafkaSettings,
    codecs: Codecs,
    registry_url: str,
    logs_dir: Path,
) -> None:
    crm_url, person = crm
    ids = {
        person.create(
            "accounts",
            {
                "name": f"Acme {i}",
                "accountnumber": f"ACC-{i:05d}-ITEST1",
                "creditlimit": 1000.5,
                "numberofemployees": i,
            },
        )
        for i in range(5)
    }
    name = f"itest-{uuid.uuid4().hex[:8]}"
    source = source_process(crm_url, kafka, registry_url, name, logs_dir)
    source.start(timeout=30)
    try:

        def events() -> list[tuple[str, dict[str, Any], Any]]:
            return read_topic(kafka, codecs, topics.CRM_ACCOUNTS.name, ids)

        loaded = wait_for("the full load", lambda: (e := events()) and len(e) >= 5 and e)
        assert sorted(v["op"] for _, v, _ in loaded) == ["r"] * 5
        first = next(v for _, v, _ in loaded if v["after"]["accountnumber"] == "ACC-00001-ITEST1")
        assert first["after"]["name"] == "Acme 1" and first["after"]["creditlimit"] == Decimal("1000.5000")
        assert first["source"]["version"] == first["after"]["versionnumber"]

        changed, deleted = sorted(ids)[:2]
        person.http.patch(f"accounts({changed})", json={"name": "Renamed"}).raise_for_status()
        person.http.delete(f"accounts({deleted})").raise_for_status()
        after = wait_for("an update and a delete", lambda: (e := events()) and len(e) >= 7 and e)
        ops = {(k, v["op"]) for k, v, _ in after if v["op"] != "r"}
        assert ops == {(changed, "u"), (deleted, "d")}
        update = next(v for k, v, _ in after if k == changed and v["op"] == "u")
        assert update["after"]["name"] == "Renamed"
        delete = next(v for k, v, _ in after if k == deleted and v["op"] == "d")
        assert delete["after"] is None and str(delete["before"]["accountid"]) == deleted
        wait_for("the position", lambda: "position committed" in source.log_path.read_text())  # type: ignore[union-attr]
    finally:
        source.stop()

    later = sorted(ids)[2]
    person.http.patch(f"accounts({later})", json={"telephone1": "+1 555 0100"}).raise_for_status()
    source.start(timeout=30)
    try:
        final = wait_for("the change made while stopped", lambda: (e := events()) and len(e) >= 8 and e)
        time.sleep(1.0)  # a resend would show up by now
        final = events()
        assert len(final) == 8, [(k, v["op"]) for k, v, _ in final]
        assert sorted(v["op"] for _, v, _ in final) == ["d", "r", "r", "r", "r", "r", "u", "u"]
        last = [v for k, v, _ in final if k == later][-1]  # one key, one partition: in order
        assert (last["op"], last["after"]["telephone1"]) == ("u", "+1 555 0100")

        # `p2c resync`: the running source reads the accounts in full again, each at its own version
        said = run_p2c("resync", "accounts", "--bootstrap-servers", kafka.bootstrap_servers, timeout=90)
        assert said.startswith("resynced accounts: 4 rows of accounts"), said
        again = events()
        assert sorted(v["op"] for _, v, _ in again) == ["d", *["r"] * 9, "u", "u"], [(k, v["op"]) for k, v, _ in again]
        resent = [v for k, v, _ in again if k == later][-1]
        assert (resent["op"], resent["after"]["telephone1"]) == ("r", "+1 555 0100")
        assert resent["source"]["version"] == last["source"]["version"]
    finally:
        source.stop()


# ---- ERP sink -----------------------------------------------------------------------------------------


def _erp_sandbox_available() -> bool:
    try:
        from p2c.sandbox.cli import sandbox
    except ImportError:
        return False
    return "erp" in getattr(sandbox, "commands", {})


needs_erp = pytest.mark.skipif(not _erp_sandbox_available(), reason="`p2c sandbox erp` is not built yet")


@pytest.fixture(params=["400"])
def erp(request: pytest.FixtureRequest, tmp_path: Path, logs_dir: Path) -> Iterator[tuple[str, Api]]:
    """The ERP sandbox; indirect parameter: how it answers business errors (400, or 500 as FinOps can)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    errors = ["--business-errors", request.param]
    proc = ManagedProcess(
        "erp",
        p2c_command("sandbox", "erp", "--port", str(port), "--data-dir", str(tmp_path / "erp"), *errors),
        ready=http_ok(f"{url}/data/$metadata"),
        log_path=logs_dir / f"erp-{port}.log",
    )
    proc.start(timeout=30)
    api = Api(f"{url}/data/", f"{url}/p2c/oauth2/v2.0/token", ("p2c", "p2c-sandbox-secret"))
    try:
        yield url, api
    finally:
        api.close()
        proc.stop()


def customer_write(account: str, version: int, group: str = "10", name: str | None = None) -> dict[str, Any]:
    return {
        "op": "UPSERT",
        "record": {
            "dataAreaId": "usmf",
            "CustomerAccount": account,
            "PartyType": "Organization",
            "OrganizationName": name or f"{account} v{version}",
            "CustomerGroupId": group,
            "LanguageId": "en-us",
            "SalesCurrencyCode": "USD",
        },
        "origin": {"system": "crm", "entity": "accounts", "id": account, "version": version, "ts_ms": 0},
    }


def produce_writes(kafka: KafkaSettings, codecs: Codecs, writes: list[dict[str, Any]]) -> None:
    producer = Producer(kafka.producer())
    codec = codecs[topics.ERP_CUSTOMERS.name]
    for w in writes:
        key = f"usmf|{w['record']['CustomerAccount']}"
        producer.produce(topics.ERP_CUSTOMERS.name, key=key.encode(), value=codec.serialize(w, key))
    assert producer.flush(10) == 0


def erp_customers(api: Api, prefix: str) -> dict[str, dict[str, Any]]:
    r = api.http.get(
        "CustomersV3",
        params={
            "cross-company": "true",
            "$filter": "dataAreaId eq 'usmf'",
            "$select": "CustomerAccount,OrganizationName",
        },
    )
    r.raise_for_status()
    return {c["CustomerAccount"]: c for c in r.json()["value"] if c["CustomerAccount"].startswith(prefix)}


def sink_process(
    erp_url: str, kafka: KafkaSettings, registry_url: str, logs_dir: Path, group: str, name: str = "sink-erp"
) -> ManagedProcess:
    proc = ManagedProcess(
        name,
        p2c_command("sink", "run", "erp", "--targets", "customers", "--erp-url", erp_url, "--batch-ms", "100"),
        log_path=logs_dir / f"{name}-{group}.log",
        env=component_env(
            kafka, registry_url, P2C_ERP_GROUP_PREFIX=group, P2C_ERP_SINK_STATE_DIR=str(logs_dir / f"state-{group}")
        ),
    )
    proc.ready = log_says(proc, "ready")
    return proc


@needs_erp
@pytest.mark.parametrize("erp", ["400", "500"], indirect=True)
def test_sink_writes_commits_and_dead_letters_the_rejected_record(
    erp: tuple[str, Api],
    kafka: KafkaSettings,
    codecs: Codecs,
    registry_url: str,
    logs_dir: Path,
) -> None:
    erp_url, api = erp
    prefix = f"T{uuid.uuid4().hex[:6].upper()}-"
    writes = [customer_write(f"{prefix}{i}", 1) for i in range(10)]
    writes.append(customer_write(f"{prefix}BAD", 1, group="NO-SUCH-GROUP"))  # in the middle of the batch
    writes += [customer_write(f"{prefix}{i}", 1) for i in range(10, 20)]
    produce_writes(kafka, codecs, writes)
    group = f"itest-{uuid.uuid4().hex[:6]}"
    sink = sink_process(erp_url, kafka, registry_url, logs_dir, group)
    sink.start(timeout=30)
    try:
        rows = wait_for("20 customers", lambda: (r := erp_customers(api, prefix)) and len(r) >= 20 and r)
        assert rows[f"{prefix}3"]["OrganizationName"] == f"{prefix}3 v1"
        dlq = wait_for(
            "the dead letter",
            lambda: read_topic(kafka, codecs, topics.dead_letter("accounts").name, {f"usmf|{prefix}BAD"}),
        )
        headers = dict(dlq[0][2])
        assert b"Customer group 'NO-SUCH-GROUP' does not exist (field 'CustomerGroupId')" in headers[deadletter.REASON]
        assert headers[deadletter.STAGE] == b"sink"
    finally:
        sink.stop()
    assert f"{prefix}BAD" not in erp_customers(api, prefix)


@needs_erp
def test_sigkill_mid_load_then_restart_writes_every_record_once_with_its_latest_values(
    erp: tuple[str, Api],
    kafka: KafkaSettings,
    codecs: Codecs,
    registry_url: str,
    logs_dir: Path,
) -> None:
    erp_url, api = erp
    prefix = f"K{uuid.uuid4().hex[:6].upper()}-"
    n = 3000
    writes = [customer_write(f"{prefix}{i}", 1) for i in range(n)]
    writes += [customer_write(f"{prefix}{i}", 2, name=f"latest {i}") for i in range(0, n, 3)]
    produce_writes(kafka, codecs, writes)
    group = f"itest-{uuid.uuid4().hex[:6]}"
    sink = sink_process(erp_url, kafka, registry_url, logs_dir, group)
    sink.start(timeout=30)
    wait_for("a first batch", lambda: len(erp_customers(api, prefix)) > 0, every=0.05)
    sink.kill()
    sink.start(timeout=30)
    try:
        expected = {f"{prefix}{i}": f"latest {i}" if i % 3 == 0 else f"{prefix}{i} v1" for i in range(n)}

        def converged() -> bool:
            rows = erp_customers(api, prefix)
            return {k: r["OrganizationName"] for k, r in rows.items()} == expected

        wait_for("every customer with its latest values", converged, timeout=60)
        keys = {f"usmf|{k}" for k in expected}
        assert read_topic(kafka, codecs, topics.dead_letter("accounts").name, keys) == []
    finally:
        sink.stop()
