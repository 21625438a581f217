"""Shared CLI options: a value given on the command line beats the --config file; an absent one does not."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from p2c import options
from p2c.settings import KafkaSettings, load


@click.command()
@options.bootstrap_servers
@options.config_file
def show(bootstrap_servers: str | None, config_file: str | None) -> None:
    click.echo(load(KafkaSettings, "kafka", config_file, bootstrap_servers=bootstrap_servers).bootstrap_servers)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "p2c.toml"
    path.write_text('[kafka]\nbootstrap_servers = "kafka-from-file:9092"\n')
    return path


def test_the_config_file_applies_when_the_option_is_absent(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P2C_BOOTSTRAP_SERVERS", raising=False)
    result = CliRunner().invoke(show, ["--config", str(config)])
    assert result.output.strip() == "kafka-from-file:9092"


def test_the_option_beats_the_config_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P2C_BOOTSTRAP_SERVERS", raising=False)
    result = CliRunner().invoke(show, ["--config", str(config), "--bootstrap-servers", "given:9092"])
    assert result.output.strip() == "given:9092"


def test_the_default_is_the_embedded_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P2C_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("P2C_CONFIG", raising=False)
    assert CliRunner().invoke(show, []).output.strip() == "127.0.0.1:9092"
    assert "[default: 127.0.0.1:9092]" in CliRunner().invoke(show, ["--help"]).output
