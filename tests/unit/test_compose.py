"""docker-compose.yml cannot be run here (no Docker engine): check that it parses and that every p2c
service runs a command the p2c CLI accepts, with the production shape wired by service names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from p2c.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def parse_p2c(args: list[str]) -> click.Context:
    """Resolve ``p2c <args>`` down to its leaf command and parse its options, without running it."""
    command: click.Command = main
    rest = list(args)
    while isinstance(command, click.Group):
        name, *rest = rest
        sub = command.get_command(click.Context(command), name)
        if sub is None:
            raise click.UsageError(f"unknown command {name}")
        command = sub
    return command.make_context(command.name or "", rest)


def p2c_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def test_production_shape(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["schema-registry"]["image"].startswith("confluentinc/cp-schema-registry")
    expected = {"crm", "erp", "seed", "init", "source-crm", "source-erp", "streams", "sink-erp", "sink-crm"}
    assert expected <= set(p2c_services(compose))


def test_every_p2c_service_runs_a_valid_command(compose: dict[str, Any]) -> None:
    for name, service in p2c_services(compose).items():
        ctx = parse_p2c(service["command"])
        assert ctx.command.callback is not None, name


def test_services_find_each_other_by_name(compose: dict[str, Any]) -> None:
    for service in p2c_services(compose).values():
        env = service["environment"]
        assert env["P2C_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["P2C_SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
        assert env["P2C_CRM_URL"] == "http://crm:8701"
        assert env["P2C_ERP_URL"] == "http://erp:8702"


def test_a_wrong_command_is_caught() -> None:
    with pytest.raises(click.UsageError):
        parse_p2c(["broker", "--no-such-option"])
