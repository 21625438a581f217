from __future__ import annotations

from pathlib import Path

import pytest

from p2c.errors import ConfigurationError
from p2c.settings import KafkaSettings, RegistrySettings, load


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("P2C_BOOTSTRAP_SERVERS", "P2C_SASL_PASSWORD", "P2C_CONFIG", "P2C_SCHEMA_REGISTRY_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "p2c.toml"
    path.write_text('[kafka]\nbootstrap_servers = "file:9092"\nsecurity_protocol = "SSL"\n')
    return path


def test_file_gives_values_when_nothing_else_does(config: Path) -> None:
    settings = load(KafkaSettings, "kafka", config)
    assert (settings.bootstrap_servers, settings.security_protocol) == ("file:9092", "SSL")


def test_environment_beats_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2C_BOOTSTRAP_SERVERS", "env:9092")
    settings = load(KafkaSettings, "kafka", config)
    assert settings.bootstrap_servers == "env:9092"
    assert settings.security_protocol == "SSL"  # the file still counts for keys the environment leaves alone


def test_options_beat_environment_and_none_options_are_ignored(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2C_BOOTSTRAP_SERVERS", "env:9092")
    settings = load(KafkaSettings, "kafka", config, bootstrap_servers="option:9092", security_protocol=None)
    assert settings.bootstrap_servers == "option:9092"
    assert settings.security_protocol == "SSL"


def test_config_file_named_by_environment(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2C_CONFIG", str(config))
    assert load(KafkaSettings, "kafka").bootstrap_servers == "file:9092"


def test_unknown_key_in_file_is_rejected_by_name(tmp_path: Path) -> None:
    path = tmp_path / "p2c.toml"
    path.write_text('[kafka]\nbootstrap_server = "typo:9092"\n')
    with pytest.raises(ConfigurationError, match=r"bootstrap_server\b.*\[kafka\]|\[kafka\].*bootstrap_server\b"):
        load(KafkaSettings, "kafka", path)


def test_unknown_option_is_rejected_by_name() -> None:
    with pytest.raises(ConfigurationError, match="registry_url"):
        load(RegistrySettings, registry_url="http://x")


def test_missing_and_malformed_files_say_which(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"nope\.toml not found"):
        load(KafkaSettings, "kafka", tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[kafka\n")
    with pytest.raises(ConfigurationError, match=r"bad\.toml is not valid TOML"):
        load(KafkaSettings, "kafka", bad)


def test_librdkafka_plaintext_has_no_sasl_keys() -> None:
    conf = KafkaSettings(bootstrap_servers="k:9092").librdkafka()
    assert conf == {"bootstrap.servers": "k:9092", "security.protocol": "PLAINTEXT", "enable.metrics.push": False}


def test_client_metrics_push_is_off_unless_asked() -> None:
    assert KafkaSettings().librdkafka()["enable.metrics.push"] is False
    assert KafkaSettings(client_metrics_push=True).librdkafka()["enable.metrics.push"] is True


def test_librdkafka_translates_sasl() -> None:
    settings = KafkaSettings(
        bootstrap_servers="k:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="p2c",
        sasl_password="s3cret",
    )
    assert settings.librdkafka() == {
        "bootstrap.servers": "k:9093",
        "security.protocol": "SASL_SSL",
        "enable.metrics.push": False,
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "p2c",
        "sasl.password": "s3cret",
    }
    consumer = settings.consumer("g", **{"fetch.min.bytes": 1})
    assert consumer["group.id"] == "g" and consumer["enable.auto.commit"] is False
    assert consumer["sasl.password"] == "s3cret" and consumer["fetch.min.bytes"] == 1
    assert settings.producer()["enable.idempotence"] is True


def test_secrets_do_not_leak_in_repr_or_str() -> None:
    kafka = KafkaSettings(sasl_password="s3cret")
    registry = RegistrySettings(schema_registry_basic_auth="user:s3cret")
    for text in (repr(kafka), str(kafka), repr(registry), str(registry)):
        assert "s3cret" not in text
    assert registry.client_config() == {
        "url": "http://127.0.0.1:8081",
        "basic.auth.user.info": "user:s3cret",
        "timeout": 10.0,  # bounded: the client has no timeout by default
        "max.retries": 1,
    }


def test_settings_are_frozen() -> None:
    settings = KafkaSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.bootstrap_servers = "other:9092"  # type: ignore[misc]
