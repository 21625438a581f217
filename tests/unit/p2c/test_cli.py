"""The command line without a registry: help everywhere, argument checking, and what an unreachable registry says."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from p2c.cli import main
from p2c.process import free_port
from p2c.schemas_cli import EXIT_INVALID, EXIT_REGISTRY, VERSION, table

SCHEMAS_COMMANDS = ["register", "list", "show", "diff", "check"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_main_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in ("broker", "schemas", "registry"):
        assert name in result.output


@pytest.mark.parametrize("args", [["schemas"], *[["schemas", c] for c in SCHEMAS_COMMANDS], ["broker"]])
def test_every_command_has_help(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize("command", SCHEMAS_COMMANDS)
def test_registry_url_option_shows_default_and_env(runner: CliRunner, command: str) -> None:
    output = runner.invoke(main, ["schemas", command, "--help"]).output
    assert "--schema-registry-url" in output
    assert "P2C_SCHEMA_REGISTRY_URL" in output and "http://127.0.0.1:8081" in output


def test_schemas_help_names_every_command(runner: CliRunner) -> None:
    output = runner.invoke(main, ["schemas", "--help"]).output
    for command in SCHEMAS_COMMANDS:
        assert command in output


def test_check_rejects_invalid_json_with_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.avsc"
    bad.write_text("{not json")
    result = runner.invoke(main, ["schemas", "check", str(bad), "--subject", "s-value"])
    assert result.exit_code == EXIT_INVALID == 2
    assert "bad.avsc" in result.output and "not valid JSON" in result.output


def test_check_rejects_invalid_avro_with_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.avsc"
    bad.write_text('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "Nope"}]}')
    result = runner.invoke(main, ["schemas", "check", str(bad), "--subject", "s-value"])
    assert result.exit_code == 2
    assert "not a valid Avro schema" in result.output and "Nope" in result.output


def test_check_missing_file_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["schemas", "check", str(tmp_path / "none.avsc"), "--subject", "s"])
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.parametrize("args", [["list"], ["register"], ["show", "s-value"], ["diff", "s-value", "1", "2"]])
def test_unreachable_registry_says_what_to_do(runner: CliRunner, args: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(main, ["schemas", *args, "--schema-registry-url", url])
    assert result.exit_code == EXIT_REGISTRY, result.output
    assert f"cannot reach the schema registry at {url}" in result.output
    assert "p2c registry serve" in result.output and "--schema-registry-url" in result.output


def test_registry_url_comes_from_the_environment(runner: CliRunner) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(main, ["schemas", "list"], env={"P2C_SCHEMA_REGISTRY_URL": url})
    assert url in result.output


def test_bad_version_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["schemas", "diff", "s-value", "0", "latest"])
    assert result.exit_code == 2 and "not a version" in result.output


@pytest.mark.parametrize(("given", "expected"), [("latest", "latest"), ("3", 3), (2, 2)])
def test_version_param(given: object, expected: object) -> None:
    assert VERSION.convert(given, None, None) == expected


@pytest.mark.parametrize("given", ["0", "-1", "v2", "", "1.5"])
def test_version_param_rejects(given: str) -> None:
    with pytest.raises(click.BadParameter):
        VERSION.convert(given, None, None)


def test_table_aligns_columns() -> None:
    text = table(("subject", "version"), [("a-value", 1), ("longer-subject-value", 12)])
    assert text.splitlines() == [
        "subject               version",
        "a-value               1",
        "longer-subject-value  12",
    ]
