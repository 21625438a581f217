from __future__ import annotations

from pathlib import Path

from p2c.up import Plan


def plan(**overrides: object) -> Plan:
    args: dict[str, object] = dict(
        data_dir=Path("/tmp/x"),
        broker_port=9092,
        registry_port=8081,
        crm_port=8701,
        erp_port=8702,
        bootstrap_servers=None,
        schema_registry_url=None,
        company="usmf",
    )
    args.update(overrides)
    return Plan(**args)  # type: ignore[arg-type]


def test_embedded_default_starts_its_own_broker_and_registry() -> None:
    names = [p.name for p in plan().infrastructure()]
    assert names == ["broker", "registry"]


def test_a_given_cluster_and_registry_replace_the_embedded_ones() -> None:
    p = plan(bootstrap_servers="kafka:9092", schema_registry_url="http://sr:8081")
    assert p.infrastructure() == []
    assert p.env()["P2C_BOOTSTRAP_SERVERS"] == "kafka:9092"
    for proc in p.pipeline():
        assert "kafka:9092" in proc.argv and "http://sr:8081" in proc.argv


def test_pipeline_components_log_to_the_data_dir() -> None:
    procs = plan(crm_port=9701).sandboxes() + plan().pipeline()
    assert [p.name for p in procs] == ["crm", "erp", "source-crm", "source-erp", "streams", "sink-erp", "sink-crm"]
    assert all(p.log_path is not None and p.log_path.parent == Path("/tmp/x/logs") for p in procs)
    assert "9701" in procs[0].argv


def test_taken_ports_are_named_with_their_option() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = plan(crm_port=port, erp_port=0, broker_port=0, registry_port=0, control_port=0).taken_ports()
        assert taken == [f"{port} (--crm-port)"]
    # a given cluster and registry are not ours to start: their ports are not checked
    assert "--broker-port" not in plan(bootstrap_servers="k:9092", schema_registry_url="http://r").ports()


def test_the_control_is_started_on_its_port_against_the_plans_kafka() -> None:
    control = plan(control_port=9780, bootstrap_servers="kafka:9092").control()
    assert control.argv[-5:] == ["control", "--port", "9780", "--bootstrap-servers", "kafka:9092"]
    assert plan(control_port=9780).ports()["--control-port"] == 9780


def test_topics_get_one_partition_on_the_embedded_broker_and_four_on_kafka() -> None:
    assert plan().topic_partitions == 1  # one process of each kind: more partitions share nothing
    assert plan(broker="kafka").topic_partitions == 4  # kept on disk, may be shared by more workers later
    assert plan(bootstrap_servers="kafka:9092").topic_partitions == 4
