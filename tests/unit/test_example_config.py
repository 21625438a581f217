"""p2c.example.toml stays true: every section loads with its component's settings class."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from p2c.connectors.dataverse.settings import CrmSinkSettings, CrmSourceSettings
from p2c.connectors.finops.settings import ErpSinkSettings, ErpSourceSettings
from p2c.errors import ConfigurationError
from p2c.overrides import OverrideSettings
from p2c.settings import KafkaSettings, RegistrySettings, load
from p2c.streams.settings import StreamsSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "p2c.example.toml"
SECTIONS: list[tuple[str, type[BaseSettings]]] = [
    ("kafka", KafkaSettings),
    ("registry", RegistrySettings),
    ("source.crm", CrmSourceSettings),
    ("source.erp", ErpSourceSettings),
    ("streams", StreamsSettings),
    ("sink.erp", ErpSinkSettings),
    ("sink.crm", CrmSinkSettings),
    ("mappings", OverrideSettings),
]


@pytest.fixture(autouse=True)
def no_p2c_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("P2C_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(("section", "cls"), SECTIONS)
def test_every_section_loads(section: str, cls: type[BaseSettings]) -> None:
    load(cls, section, EXAMPLE)


def test_the_values_are_the_files() -> None:
    kafka = load(KafkaSettings, "kafka", EXAMPLE)
    assert kafka.librdkafka()["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
    assert kafka.librdkafka()["sasl.mechanism"] == "PLAIN"
    erp = load(ErpSourceSettings, "source.erp", EXAMPLE)
    assert (erp.url, erp.poll_interval) == ("https://contoso.operations.dynamics.com", 60.0)
    assert load(StreamsSettings, "streams", EXAMPLE).flows == ("accounts", "contacts", "quotes", "products")


def test_a_misspelt_key_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "p2c.toml"
    bad.write_text("[sink.erp]\nhold_timout = 5\n")
    with pytest.raises(ConfigurationError, match="hold_timout"):
        load(ErpSinkSettings, "sink.erp", bad)
